"""What msrun tells each worker through its environment, and which rank ended a failed msrun job.

``python -m mindcv_resnetv2.utils.launcher LOG_DIR`` (run by scripts/msrun_common.sh when msrun fails) names the
rank that ended the job, from what is left in msrun's log directory: msrun's own output (``msrun.out``: the
worker whose exit it saw first, by process id), the line each worker writes when it joins
(``worker_<rank>.log``: ``rank R of N is process P``) and the scheduler's log (``scheduler.log``, on node 0: the
ranks whose heartbeat it lost).
"""
import os
import re
import signal
import sys

# msrun (and mpirun-style launchers) export these in every worker they start.
LAUNCHER_VARIABLES = ("MS_WORKER_NUM", "MS_ROLE", "RANK_SIZE")
# MindSpore's scheduler declares a worker lost after this many seconds without its heartbeat (MindSpore's default).
NODE_TIMEOUT_VARIABLE, DEFAULT_NODE_TIMEOUT = "MS_NODE_TIMEOUT", 30

_JOINED = re.compile(r"^mindcv_resnetv2: rank (\d+) of \d+ is process (\d+)", re.MULTILINE)
_EXITED = re.compile(r"Worker process (\d+) exit with exception\. Error code: (-?\d+)")
_TIMED_OUT = re.compile(r"The node: (\d+) is timed out")


def launched_by_msrun():
    return any(os.environ.get(name) for name in LAUNCHER_VARIABLES)


def launcher_worker_count():
    """The number of workers msrun started (1 outside msrun)."""
    return int(os.environ.get("MS_WORKER_NUM") or os.environ.get("RANK_SIZE") or 1)


def joined_line(rank, group_size):
    """The line a worker writes to its log when it joins the job: how a failed job's report finds its rank."""
    return f"mindcv_resnetv2: rank {rank} of {group_size} is process {os.getpid()}"


def _read(path):
    try:
        with open(path, errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _exit_description(code):
    if code < 0:
        try:
            return f"was killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"was killed by signal {-code}"
    return f"exited with status {code}"


def lost_ranks(log_dir):
    """[(line, abrupt)] per rank that ended the msrun job whose logs are in ``log_dir`` (empty when none is known).

    ``abrupt``: the rank was killed or lost rather than stopped by an error of its own (which a rerun would meet
    again).
    """
    ranks = {}
    for name in sorted(os.listdir(log_dir)) if os.path.isdir(log_dir) else ():
        if name.startswith("worker_") and name.endswith(".log"):
            ranks.update((pid, rank) for rank, pid in _JOINED.findall(_read(os.path.join(log_dir, name))))
    exits = []
    for pid, code in _EXITED.findall(_read(os.path.join(log_dir, "msrun.out"))):
        rank = ranks.get(pid)
        who = f"rank {rank} (process {pid})" if rank is not None else f"worker process {pid}"
        log = f"; its log: {os.path.join(log_dir, f'worker_{rank}.log')}" if rank is not None else ""
        exits.append((rank, f"{who} {_exit_description(int(code))}{log}", int(code) < 0))
    named = {rank for rank, _, _ in exits}
    timeout = os.environ.get(NODE_TIMEOUT_VARIABLE) or DEFAULT_NODE_TIMEOUT
    # The scheduler's lost ranks come first: a rank of this node that then failed did so because of them.
    lost = [(f"rank {rank} stopped answering the scheduler for {NODE_TIMEOUT_VARIABLE} = {timeout} s (it died or "
             f"its node was lost; its log is on its node)", True)
            for rank in dict.fromkeys(_TIMED_OUT.findall(_read(os.path.join(log_dir, "scheduler.log"))))
            if rank not in named]
    return lost + [(line, abrupt) for _, line, abrupt in exits]


def main(argv=None):
    log_dir = (sys.argv[1:] if argv is None else argv)[0]
    lines = lost_ranks(log_dir)
    for line, _ in lines:
        print(f"msrun job failed: {line}")
    if any(abrupt for _, abrupt in lines):
        print("msrun stopped the other ranks. Checkpoints are written whole or not at all: rerun the same command "
              "with `--resume auto` to continue from the last one.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
