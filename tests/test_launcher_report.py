"""The report scripts/msrun_common.sh prints when msrun fails: which rank ended the job (utils.launcher).

Log lines below are as MindSpore 2.8's msrun and scheduler write them (copied from a run where rank 1 was killed);
tests/test_distributed.py checks the report of a real kill under msrun.
"""
from mindcv_resnetv2.utils.launcher import lost_ranks, main

MSRUN_KILLED = ("[ERROR] ME(5148:140551249197952,MainProcess):2026-12-03-17:32:27.487.000 [mindspore/parallel/cluster/"
                "process_entity/_api.py:358] Worker process 5159 exit with exception. Error code: -9.\n")
MSRUN_FAILED = MSRUN_KILLED.replace("5159", "5158").replace("-9", "1")
SCHEDULER_LOST = ("[ERROR] DISTRIBUTED(7309,7fb9939fd6c0,python):2026-12-03-17:35:21.127.250 [mindspore/ccsrc/cluster/"
                  "topology/meta_server_node.cc:544] UpdateTopoState] The node: 1 is timed out. It may exit with "
                  "exception, please check this node's log.\n")


def _logs(tmp_path, **files):
    for name, text in files.items():
        (tmp_path / name.replace("_log", ".log").replace("_out", ".out")).write_text(text)
    return str(tmp_path)


def test_a_killed_rank_is_named_by_the_process_msrun_saw_die(tmp_path, capsys):
    logs = _logs(tmp_path, msrun_out=MSRUN_KILLED, scheduler_log=SCHEDULER_LOST,
                 worker_0_log="mindcv_resnetv2: rank 0 of 2 is process 5158\n",
                 worker_1_log="mindcv_resnetv2: rank 1 of 2 is process 5159\n")
    assert lost_ranks(logs) == [(f"rank 1 (process 5159) was killed by SIGKILL; its log: {logs}/worker_1.log", True)]
    main([logs])
    out = capsys.readouterr().out
    assert out.startswith("msrun job failed: rank 1 (process 5159) was killed by SIGKILL") and "--resume auto" in out


def test_a_rank_lost_on_another_node_is_named_by_the_scheduler(tmp_path, monkeypatch):
    """Node 0 of two, rank 1 killed on node 1: the scheduler names it; rank 0 then failed on MindSpore's error."""
    monkeypatch.setenv("MS_NODE_TIMEOUT", "12")
    logs = _logs(tmp_path, msrun_out=MSRUN_FAILED, scheduler_log=SCHEDULER_LOST + SCHEDULER_LOST,
                 worker_0_log="mindcv_resnetv2: rank 0 of 2 is process 5158\n")
    assert lost_ranks(logs) == [("rank 1 stopped answering the scheduler for MS_NODE_TIMEOUT = 12 s (it died or its "
                                 "node was lost; its log is on its node)", True),
                                (f"rank 0 (process 5158) exited with status 1; its log: {logs}/worker_0.log", False)]


def test_a_rank_that_failed_by_itself_is_named_without_the_resume_advice(tmp_path, capsys):
    logs = _logs(tmp_path, msrun_out=MSRUN_FAILED, worker_0_log="mindcv_resnetv2: rank 0 of 2 is process 5158\n")
    main([logs])
    assert capsys.readouterr().out == f"msrun job failed: rank 0 (process 5158) exited with status 1; its log: " \
                                      f"{logs}/worker_0.log\n"
    assert lost_ranks(str(tmp_path / "missing")) == []
