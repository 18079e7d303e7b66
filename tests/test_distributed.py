"""Data-parallel training and validation under msrun on CPU (2 workers), as a user launches them.

Each test starts msrun on a free port with a hard timeout and kills every process it started (tests/msrun_utils.py).
A failing run's assertion message carries the worker logs, where MindSpore reports the real error.
"""
import csv
import json
import os
import re
import shutil
import signal
import time

import numpy as np
import pytest
from data_fixtures import make_image_folder
from engine_fixtures import read_confusion
from instrumented_train import command as instrumented_command, compiled, read_record, read_state
from msrun_utils import (THIS_FILE as MSRUN_UTILS, msrun_worker_pids, run_launch_script, run_msrun, run_python,
                         run_two_nodes)

from mindcv_resnetv2.checkpoint import read_checkpoint
from mindcv_resnetv2.engine.run_state import read_train_state

pytestmark = pytest.mark.slow

MODEL = "preact_resnet20_cifar"
TRAIN_IMAGES = 24  # 3 classes x 8
VAL_IMAGES = 7  # uneven over 2 ranks: 4 + 3
STEPS_PER_EPOCH = 3  # 12 images per rank, batch 4
EPOCHS = 2
LAST_CHECKPOINT = f"{MODEL}-{EPOCHS}_{STEPS_PER_EPOCH}.ckpt"
# Our logger's line format (runtime.setup_logging); MindSpore's own C++ log lines look different.
OUR_LOG_LINE = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d (INFO|WARNING|ERROR) ", re.M)
VALIDATE_LINE = re.compile(r"top-1 (?P<top1>[\d.]+)%, top-5 (?P<top5>[\d.]+)%, loss (?P<loss>[\d.]+) over "
                           r"(?P<count>\d+) images")

RECIPE = f"""
mode: 0
distribute: True
device_target: CPU
num_parallel_workers: 1
val_while_train: True
seed: 7
dataset: imagenet
batch_size: 4
drop_remainder: True
image_resize: 16
crop_padding: 2
hflip: 0.5
color_jitter: null
crop_pct: 1.0
model: {MODEL}
epoch_size: 1
dataset_sink_mode: False
scheduler: constant
lr: 0.05
warmup_epochs: 0
opt: momentum
momentum: 0.9
weight_decay: 0.0001
log_interval: 1
plot: False
"""

DP_RECIPE = """
mode: 0
device_target: CPU
seed: 3
scheduler: constant
lr: 0.5
warmup_epochs: 0
opt: momentum
momentum: 0.9
weight_decay: 0.01
loss: CE
"""


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    root = tmp_path_factory.mktemp("distributed")
    data = root / "data"
    make_image_folder(data, "train", classes=("a", "b", "c"), per_class=8, size=(16, 16), ext=".png")
    make_image_folder(data, "val", classes=("a", "b", "c"), per_class=3, size=(16, 16), seed=1, ext=".png")
    os.remove(data / "val" / "c" / "img2.png")
    os.remove(data / "val" / "b" / "img2.png")
    recipe = root / "tiny.yaml"
    recipe.write_text(RECIPE + f"data_dir: {data}\n")
    return root


@pytest.fixture(scope="module")
def trained(workspace):
    """Two epochs on 2 ranks through the Trainer, recording what each rank read and its final weights."""
    ckpt, probe = workspace / "run", workspace / "probe"
    probe.mkdir()
    result = run_msrun([MSRUN_UTILS, "train-probe", probe, "-c", workspace / "tiny.yaml", "--ckpt_save_dir", ckpt,
                        "--epoch_size", str(EPOCHS)], workspace / "train_logs", timeout=240)
    assert result.returncode == 0 and not result.timed_out, result.report()
    return ckpt, probe, result


# The accumulated run: batch 2, 2 micro-steps per update: 6 steps and 3 updates per epoch per rank, for 3 epochs.
ACCUMULATED_UPDATES_PER_EPOCH = 3
ACCUMULATED_EPOCHS = 3
OVERFLOW_AT_UPDATE = 2  # on rank 1 only (tests/instrumented_train.py's overflow seam)


@pytest.fixture(scope="module")
def accumulated(workspace):
    """3 epochs on 2 ranks with gradient accumulation, a dynamic loss scale of 1024 and drop_overflow_update, rank 1
    reporting an overflow at its 2nd update, recorded per rank (tests/instrumented_train.py)."""
    records = workspace / "accumulated_record"
    records.mkdir()
    argv = ["-c", workspace / "tiny.yaml", "--ckpt_save_dir", workspace / "accumulated", "--epoch_size",
            ACCUMULATED_EPOCHS, "--batch_size", 2, "--gradient_accumulation_steps", 2, "--loss_scale_type", "dynamic",
            "--loss_scale", 1024, "--drop_overflow_update", True]
    result = run_msrun(instrumented_command(records, argv, overflow=[1, OVERFLOW_AT_UPDATE]),
                       workspace / "accumulated_logs", timeout=240)
    assert result.returncode == 0 and not result.timed_out, result.report()
    return [read_record(records, rank) for rank in (0, 1)], [read_state(records, rank) for rank in (0, 1)]


def test_an_overflow_on_one_rank_skips_that_update_on_every_rank(accumulated):
    """The overflow flag is summed over the ranks before the skip decision: both ranks skip update 2, halve the
    dynamic scale together and end with bitwise identical weights, optimizer state and scale."""
    records, states = accumulated
    updates = ACCUMULATED_UPDATES_PER_EPOCH * ACCUMULATED_EPOCHS
    for state in states:
        assert int(state["global_step"].reshape(-1)[0]) == updates - 1  # one update skipped
        assert float(state["scale_sense"]) == 512.0  # 1024 halved once, not grown back (window 2000)
    assert sorted(states[0]) == sorted(states[1])
    for name in states[0]:
        np.testing.assert_array_equal(states[0][name], states[1][name], err_msg=name)
    for record in records:  # the device reads of epoch 1 (after each micro-step): the scale moved at update 2
        reads = record["epochs"][0]["reads"]
        assert [read["loss_scale"] for read in reads] == [1024.0] * 3 + [512.0] * 3
        assert [read["optimizer_step"] for read in reads] == [0, 1, 1, 1, 1, 2]


def test_a_distributed_accumulated_run_compiles_each_graph_once(accumulated):
    """Over 3 epochs validating after each: the update step and the accumulation micro-step compile once each, and
    only the update step all-reduces (once per update, not per micro-step); the sum over the ranks is one cell,
    compiled once per vector length (BN statistics, evaluation sums); validation once per batch shape."""
    records, _ = accumulated
    for rank, record in enumerate(records):
        assert compiled(record, "TrainStep", apply_update=True, all_reduce=True) == 1
        assert compiled(record, "TrainStep", apply_update=False, all_reduce=False) == 1
        assert compiled(record, "TrainStep") == 2
        assert compiled(record, "_SumOverRanks") == 2
        assert compiled(record, "FiniteCheck") == 1
        assert compiled(record, "EvalStep") == (1, 2)[rank]  # rank 0's 4 images in batches of 2, rank 1's 2 + 1


def _reads(probe, rank):
    with open(probe / f"reads_rank{rank}.json") as handle:
        return json.load(handle)


def test_ranks_read_disjoint_shards_with_their_own_augmentation(trained):
    _, probe, _ = trained
    ranks = [_reads(probe, r) for r in (0, 1)]
    assert [r["rank"] for r in ranks] == [0, 1] and [r["group_size"] for r in ranks] == [2, 2]
    for epoch in range(EPOCHS):
        # the iterator each rank created for this epoch is the one it trained on
        reads = [[x for x in r["reads"] if x["training"] and x["epoch"] == epoch][-1] for r in ranks]
        shards = [set(x["indices"]) for x in reads]
        assert [len(s) for s in shards] == [TRAIN_IMAGES // 2] * 2
        assert not shards[0] & shards[1]
        assert shards[0] | shards[1] == set(range(TRAIN_IMAGES))
        assert [x["shard_id"] for x in reads] == [0, 1] and [x["num_shards"] for x in reads] == [2, 2]
        assert reads[0]["pipeline_seed"] != reads[1]["pipeline_seed"]  # each rank augments differently
    val = [[x for x in r["reads"] if not x["training"]][-1] for r in ranks]
    val_shards = [set(x["indices"]) for x in val]
    assert sorted(len(s) for s in val_shards) == [3, 4]
    assert not val_shards[0] & val_shards[1] and val_shards[0] | val_shards[1] == set(range(VAL_IMAGES))


def test_a_distributed_run_compiles_its_step_and_its_sum_over_ranks_once(trained):
    """2 epochs validating after each: the training step (which all-reduces) compiles once, the sum over the ranks
    once per vector length (BN statistics, evaluation sums) although it runs 4 times, each rank's one validation
    batch shape once."""
    _, probe, _ = trained
    for rank in (0, 1):
        record = _reads(probe, rank)
        assert compiled(record, "TrainStep", all_reduce=True) == compiled(record, "TrainStep") == 1
        assert compiled(record, "_SumOverRanks") == 2
        assert compiled(record, "EvalStep") == 1


def test_ranks_end_with_identical_weights_and_rank0_alone_writes_the_run(trained):
    ckpt, probe, _ = trained
    weights = [np.load(probe / f"weights_rank{r}.npz") for r in (0, 1)]
    assert sorted(weights[0].files) == sorted(weights[1].files)
    for name in weights[0].files:  # trainable weights and the (averaged) BN statistics
        np.testing.assert_array_equal(weights[0][name], weights[1][name], err_msg=name)
    saved = read_checkpoint(ckpt / LAST_CHECKPOINT)
    for name in weights[0].files:
        np.testing.assert_array_equal(saved[name], weights[0][name], err_msg=name)
    checkpoints = sorted(p.name for p in ckpt.iterdir() if p.suffix == ".ckpt")
    assert checkpoints == [f"{MODEL}-1_{STEPS_PER_EPOCH}.ckpt", LAST_CHECKPOINT, f"{MODEL}_best.ckpt"]
    logs = sorted(p.name for p in ckpt.iterdir() if p.suffix == ".log")
    assert logs == ["train_rank0.log", "train_rank1.log"]
    for name in ("recipe.yaml", "metrics.csv", "class_names.txt"):
        assert (ckpt / name).is_file(), name
    with open(ckpt / "metrics.csv") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1", "2"]


def test_a_distributed_fine_tune_with_frozen_stages_keeps_them_bit_for_bit_on_every_rank(workspace, trained):
    """freeze_stages 1 under msrun from the trained run's checkpoint: the stem and layer1 (weights and BN statistics,
    which the ranks' statistics averaging leaves alone) end as they came on both ranks; the rest trains."""
    ckpt, _, _ = trained
    probe = workspace / "frozen_probe"
    probe.mkdir()
    result = run_msrun([MSRUN_UTILS, "train-probe", probe, "-c", workspace / "tiny.yaml", "--ckpt_save_dir",
                        workspace / "frozen", "--ckpt_path", ckpt / LAST_CHECKPOINT, "--freeze_stages", 1,
                        "--val_while_train", False], workspace / "frozen_logs", timeout=240)
    assert result.returncode == 0 and not result.timed_out, result.report()
    assert "frozen by freeze_stages 1: conv1, layer1" in result.log("worker_0.log")
    source = read_checkpoint(ckpt / LAST_CHECKPOINT)
    weights = [np.load(probe / f"weights_rank{r}.npz") for r in (0, 1)]
    frozen = [n for n in weights[0].files if n.split(".", 1)[0] in ("conv1", "layer1")]
    assert any("moving_mean" in n for n in frozen) and any("weight" in n for n in frozen), frozen
    for name in weights[0].files:
        np.testing.assert_array_equal(weights[0][name], weights[1][name], err_msg=name)
        if name in frozen:
            np.testing.assert_array_equal(weights[0][name], source[name], err_msg=name)
    assert not np.array_equal(weights[0]["layer2.0.conv1.weight"], source["layer2.0.conv1.weight"])


def test_console_is_rank0_and_every_rank_logs_to_its_file(trained):
    ckpt, _, result = trained
    assert "epoch 2/2: train loss" in result.log("worker_0.log")
    assert "(7 images)" in result.log("worker_0.log")
    assert OUR_LOG_LINE.findall(result.log("worker_1.log")) == [], result.log("worker_1.log")
    for rank in (0, 1):
        text = (ckpt / f"train_rank{rank}.log").read_text()
        assert "epoch 2/2: train loss" in text and "(7 images)" in text
    assert "Training " + MODEL in (ckpt / "train_rank0.log").read_text()


def _validate_line(text, where):
    match = VALIDATE_LINE.search(text)
    assert match, f"no metrics line in {where}:\n{text[-3000:]}"
    return {k: float(v) for k, v in match.groupdict().items()}


def test_validate_under_msrun_on_an_uneven_split_equals_one_process(workspace, trained):
    """scripts/run_distribute_eval.sh on 2 workers (4 + 3 images) prints the one-process numbers and writes the
    one-process confusion matrix, which is also the one the distributed training wrote after its last validation."""
    ckpt, _, _ = trained
    checkpoint = ckpt / LAST_CHECKPOINT
    single = run_python(["validate.py", "-c", workspace / "tiny.yaml", "--ckpt_path", checkpoint, "--distribute",
                         "False", "--confusion_matrix_dir", workspace / "matrix_one"])
    assert single.returncode == 0, single.report()
    data = workspace / "data"
    result = run_launch_script("run_distribute_eval.sh", [workspace / "tiny.yaml", data, checkpoint,
                                                          "--confusion_matrix_dir", workspace / "matrix_two"],
                               workspace / "validate_logs", timeout=180)
    assert result.returncode == 0, result.report()
    one = _validate_line(single.output, "one-process output")
    two = _validate_line(result.log("worker_0.log"), "worker_0.log")
    assert not VALIDATE_LINE.search(result.log("worker_1.log"))
    assert one["count"] == two["count"] == VAL_IMAGES
    assert 0 <= one["top1"] <= one["top5"] <= 100
    assert (one["top1"], one["top5"]) == (two["top1"], two["top5"])
    assert two["loss"] == pytest.approx(one["loss"], abs=1.01e-4)  # printed with 4 decimals
    classes, matrix = read_confusion(workspace / "matrix_one")
    assert classes == ["a", "b", "c"] and matrix.sum(axis=1).tolist() == [3, 2, 2]
    assert 100 * np.trace(matrix) / VAL_IMAGES == pytest.approx(one["top1"], abs=1e-3)
    for other in (workspace / "matrix_two", ckpt):
        np.testing.assert_array_equal(read_confusion(other)[1], matrix, err_msg=str(other))
    # validation during the distributed training evaluated exactly the model in the checkpoint
    with open(ckpt / "metrics.csv") as handle:
        row = list(csv.DictReader(handle))[-1]
    assert float(row["val_top1"]) == pytest.approx(one["top1"], abs=1e-3)
    assert float(row["val_top5"]) == pytest.approx(one["top5"], abs=1e-3)
    assert float(row["val_loss"]) == pytest.approx(one["loss"], abs=1.01e-4)


def test_resume_auto_continues_a_distributed_run(workspace, trained):
    """A run stopped during epoch 2 (only epoch 1's checkpoint left) resumes through scripts/run_distribute_train.sh
    on 2 workers and ends with the uninterrupted run's checkpoint."""
    ckpt, _, _ = trained
    resumed = workspace / "resumed"
    shutil.copytree(ckpt, resumed)
    os.remove(resumed / LAST_CHECKPOINT)
    os.remove(resumed / (LAST_CHECKPOINT + ".json"))
    result = run_launch_script("run_distribute_train.sh", [
        workspace / "tiny.yaml", workspace / "data", "--ckpt_save_dir", resumed, "--resume", "auto",
        "--epoch_size", str(EPOCHS)], workspace / "resume_logs", timeout=240)
    assert result.returncode == 0, result.report()
    log0 = (resumed / "train_rank0.log").read_text()
    assert re.search(rf"Resuming from .*{MODEL}-1_{STEPS_PER_EPOCH}\.ckpt at epoch 1 of 2", log0), log0
    for rank in (0, 1):  # the log file is appended to: the first run's two epochs, then epoch 2 once more
        text = (resumed / f"train_rank{rank}.log").read_text()
        assert text.count("epoch 1/2: train loss") == 1 and text.count("epoch 2/2: train loss") == 2, text
    state = read_train_state(resumed / LAST_CHECKPOINT)
    assert state["epoch"] == 2 and state["step"] == 2 * STEPS_PER_EPOCH
    with open(resumed / "metrics.csv") as handle:
        assert [row["epoch"] for row in csv.DictReader(handle)] == ["1", "2"]
    uninterrupted, again = read_checkpoint(ckpt / LAST_CHECKPOINT), read_checkpoint(resumed / LAST_CHECKPOINT)
    assert sorted(uninterrupted) == sorted(again)
    for name, value in uninterrupted.items():
        np.testing.assert_allclose(again[name], value, rtol=0, atol=1e-6, err_msg=name)


def test_two_workers_with_batch_b_step_like_one_worker_with_batch_2b(tmp_path):
    """Gradient averaging through the engine's TrainStep: 2 x b on msrun == 2b on one process (BN-free net)."""
    recipe = tmp_path / "dp.yaml"
    recipe.write_text(DP_RECIPE)
    result = run_msrun([MSRUN_UTILS, "dp-step", tmp_path, recipe, "rank"], tmp_path / "logs", timeout=180)
    assert result.returncode == 0, result.report()
    single = run_python([MSRUN_UTILS, "dp-step", tmp_path, recipe, "all", "0"])
    assert single.returncode == 0, single.report()
    ranks = [np.load(tmp_path / f"rank{r}.npz") for r in (0, 1)]
    whole, half0 = np.load(tmp_path / "all.npz"), np.load(tmp_path / "0.npz")
    names = [n for n in whole.files if n != "losses" and not n.startswith("initial.")]
    assert len(names) == 4
    for name in names:  # the shared seed gives every rank the same initial weights
        np.testing.assert_array_equal(ranks[0]["initial." + name], ranks[1]["initial." + name], err_msg=name)
        np.testing.assert_array_equal(half0["initial." + name], whole["initial." + name], err_msg=name)
        # one process draws them within float32 rounding of the data-parallel ranks
        np.testing.assert_allclose(ranks[0]["initial." + name], whole["initial." + name], rtol=0, atol=1e-7)
    for name in names:
        np.testing.assert_array_equal(ranks[0][name], ranks[1][name], err_msg=name)
        np.testing.assert_allclose(ranks[0][name], whole[name], rtol=0, atol=1e-5, err_msg=name)
    # the comparison has teeth: rank 0's steps without the all-reduce would have ended far from it
    assert max(np.abs(half0[n] - whole[n]).max() for n in names) > 1e-3
    # the first loss (before any update) of each rank is its half's mean; their mean is the global mean
    assert (ranks[0]["losses"][0] + ranks[1]["losses"][0]) / 2 == pytest.approx(whole["losses"][0], abs=1e-5)


def test_distribute_without_msrun_and_msrun_without_distribute_say_what_to_run(workspace, tmp_path):
    alone = run_python(["train.py", "-c", workspace / "tiny.yaml", "--ckpt_save_dir", tmp_path / "a"])
    assert alone.returncode == 1, alone.report()
    assert "not started by msrun" in alone.output and "msrun --worker_num" in alone.output, alone.output
    assert "Traceback" not in alone.output
    result = run_msrun(["train.py", "-c", workspace / "tiny.yaml", "--distribute", "False", "--ckpt_save_dir",
                        tmp_path / "b"], tmp_path / "logs", timeout=120)
    assert result.returncode != 0 and not result.timed_out, result.report()
    # msrun stops the other worker as soon as one fails: at least one worker log has the message
    workers = result.log("worker_0.log") + result.log("worker_1.log")
    assert "started by msrun with 2 workers but distribute is False" in workers, result.report()
    assert "Pass `--distribute True`" in workers
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def _assert_same_checkpoint(path, reference):
    """Weights, BN statistics, optimizer and run state bit for bit; the recorded metrics to float32 precision (a
    resumed run records an epoch's mean loss rounded to float32, an uninterrupted one in float64)."""
    ours, theirs = read_checkpoint(path), read_checkpoint(reference)
    assert sorted(ours) == sorted(theirs)
    for name, value in theirs.items():
        if name.startswith("train_state.metrics."):
            np.testing.assert_allclose(ours[name], value, rtol=1e-6, err_msg=name)
        else:
            np.testing.assert_array_equal(ours[name], value, err_msg=name)


def test_two_nodes_on_one_machine_train_like_one_node_with_two_workers(workspace, trained):
    """scripts/run_multinode_train.sh as node 0 and node 1 (one worker each, master 127.0.0.1; node 1 sees no
    interface holding that address, as a second machine would): the scheduler runs on node 0 alone, the ranks are
    0 and 1, and the run ends with the one-node two-worker run's weights, bit for bit."""
    ckpt, _, _ = trained
    run = workspace / "two_nodes_run"
    nodes = run_two_nodes([workspace / "tiny.yaml", workspace / "data", "--ckpt_save_dir", run,
                           "--epoch_size", str(EPOCHS)], workspace / "two_nodes_logs", timeout=240)
    for node in nodes:
        assert node.returncode == 0 and not node.timed_out, node.report()
    assert [sorted(os.listdir(node.log_dir)) for node in nodes] == [
        ["launcher.out", "msrun.out", "scheduler.log", "worker_0.log"], ["launcher.out", "msrun.out", "worker_1.log"]]
    assert "rank 1 of 2 is process" in nodes[1].log("worker_1.log")
    assert "epoch 2/2: train loss" in nodes[0].log("worker_0.log")
    for rank in (0, 1):
        assert "epoch 2/2: train loss" in (run / f"train_rank{rank}.log").read_text()
    _assert_same_checkpoint(run / LAST_CHECKPOINT, ckpt / LAST_CHECKPOINT)


def test_a_killed_worker_ends_the_job_naming_it_and_resume_auto_is_bit_identical(workspace, trained):
    """kill -9 of rank 1 during epoch 2: msrun stops rank 0 at once and ends after the scheduler's heartbeat
    timeout (MS_NODE_TIMEOUT, 30 s; about 35 s in all), nothing left running; the launcher names rank 1; epoch 1's
    checkpoint is intact and `--resume auto` ends with the uninterrupted run's weights, bit for bit."""
    ckpt, _, _ = trained
    killed_run = workspace / "killed_run"
    first = killed_run / f"{MODEL}-1_{STEPS_PER_EPOCH}.ckpt"
    seen = {}

    def kill_rank1_in_epoch2(processes, tag):
        while not first.exists() and processes[0].poll() is None:
            time.sleep(0.05)
        seen["second saved"] = (killed_run / LAST_CHECKPOINT).exists()
        seen["pids"] = msrun_worker_pids(tag, 1)
        for pid in seen["pids"]:
            os.kill(pid, signal.SIGKILL)

    args = [workspace / "tiny.yaml", workspace / "data", "--ckpt_save_dir", killed_run, "--epoch_size", str(EPOCHS)]
    result = run_launch_script("run_distribute_train.sh", args, workspace / "killed_logs", timeout=180,
                               during=kill_rank1_in_epoch2)
    assert len(seen["pids"]) == 1 and not seen["second saved"], (seen, result.report())
    assert result.returncode != 0 and not result.timed_out and result.left_running == 0, result.report()
    assert (f"msrun job failed: rank 1 (process {seen['pids'][0]}) was killed by SIGKILL; its log: "
            f"{workspace / 'killed_logs' / 'worker_1.log'}") in result.output, result.report()
    assert "--resume auto" in result.output
    _assert_same_checkpoint(first, ckpt / f"{MODEL}-1_{STEPS_PER_EPOCH}.ckpt")
    resumed = run_launch_script("run_distribute_train.sh", args + ["--resume", "auto"], workspace / "resumed_logs",
                                timeout=180)
    assert resumed.returncode == 0, resumed.report()
    assert "Resuming from" in (killed_run / "train_rank0.log").read_text()
    _assert_same_checkpoint(killed_run / LAST_CHECKPOINT, ckpt / LAST_CHECKPOINT)
