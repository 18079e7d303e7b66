"""What msrun tells each worker through its environment, readable before MindSpore's runtime starts."""
import os

# msrun (and mpirun-style launchers) export these in every worker they start.
LAUNCHER_VARIABLES = ("MS_WORKER_NUM", "MS_ROLE", "RANK_SIZE")


def launched_by_msrun():
    return any(os.environ.get(name) for name in LAUNCHER_VARIABLES)


def launcher_worker_count():
    """The number of workers msrun started (1 outside msrun)."""
    return int(os.environ.get("MS_WORKER_NUM") or os.environ.get("RANK_SIZE") or 1)
