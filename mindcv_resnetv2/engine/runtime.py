"""The process's MindSpore runtime from a recipe: mode, device, jit level, distribution, seeds, logging.

Every entry point (train, validate, infer, benchmarks) starts here so the device guards and the distributed
set-up are written once. Ascend-only settings fall back on other devices with one warning line each.
"""
import contextlib
import dataclasses
import logging
import os
import random
import signal
import sys
import threading

import mindspore as ms
import numpy as np

from ..errors import UserError
from ..utils.backend import check_cpu_convolution_speed, warn_once
from ..utils.launcher import joined_line, launched_by_msrun, launcher_worker_count

_logger = logging.getLogger("mindcv_resnetv2")


@dataclasses.dataclass(frozen=True)
class Runtime:
    device: str
    rank: int = 0
    group_size: int = 1
    jit_level: str = ""  # the graph-mode jit level in force ("" = MindSpore's default); the sink compiles with it

    @property
    def is_main(self):
        return self.rank == 0


class LaunchError(RuntimeError, UserError):
    """The process was started in a way that cannot run the recipe (e.g. distribute without msrun)."""


def _script_name():
    script = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0].endswith(".py") else ""
    return script or "train.py"


def setup_runtime(cfg):
    """Set MindSpore's context for `cfg`; initialise collectives when distributed. Returns the Runtime."""
    device = cfg.device_target
    workers = launcher_worker_count()
    script = _script_name()
    if cfg.distribute and not launched_by_msrun():
        raise LaunchError(
            f"distribute is True but this process was not started by msrun. Either launch it with `msrun "
            f"--worker_num N --local_worker_num N --master_port PORT --join True {script} ... --distribute True` "
            f"(see scripts/run_distribute_train.sh), or run on one device with `python {script} ... --distribute "
            f"False`."
        )
    if not cfg.distribute and launched_by_msrun() and workers > 1:
        raise LaunchError(
            f"this process was started by msrun with {workers} workers but distribute is False: every worker would "
            f"run the whole job alone. Pass `--distribute True`, or run `python {script} ...` without msrun."
        )
    ms.set_context(mode=ms.GRAPH_MODE if cfg.mode == 0 else ms.PYNATIVE_MODE)
    _use_device(device)
    runtime = Runtime(device)
    if cfg.distribute:
        runtime = _init_data_parallel(device)
    if not runtime.is_main:
        _silence_console()
    if cfg.mode == 0 and cfg.jit_level:
        level = cfg.jit_level
        if level == "O2" and device != "Ascend":
            warn_once("jit_o2", "jit_level O2 (graph sink) is for Ascend; using O0 on %s.", device)
            level = "O0"
        ms.set_context(jit_config={"jit_level": level})
        runtime = dataclasses.replace(runtime, jit_level=level)
    check_cpu_convolution_speed()
    seed_everything(cfg.seed)
    return runtime


def _use_device(device):
    """Select `device` for this process. MindSpore >= 2.5 refuses set_device once any kernel ran (e.g. a library
    user built and ran a network before calling train or validate); on the same device that is no conflict."""
    if not hasattr(ms, "set_device"):  # before 2.5; set_context(device_target=...) is deprecated after
        ms.set_context(device_target=device)
        return
    before = ms.get_context("device_target")  # set_device records the new target even when it then refuses
    try:
        ms.set_device(device)
    except RuntimeError:
        if before != device:
            raise


def _init_data_parallel(device):
    """Join msrun's collective group; gradients are averaged over it (the DistributedGradReducer reads this)."""
    from mindspore.communication import get_group_size, get_rank, init

    init()
    runtime = Runtime(device, rank=get_rank(), group_size=get_group_size())
    print(joined_line(runtime.rank, runtime.group_size), file=sys.stderr, flush=True)  # names a lost rank later
    ms.reset_auto_parallel_context()
    ms.set_auto_parallel_context(
        parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=runtime.group_size
    )
    return runtime


def quiet_unless_rank0():
    """Before the runtime exists (e.g. while the recipe is checked), keep msrun's non-zero ranks off the console."""
    if any(os.environ.get(name, "0") not in ("", "0") for name in ("RANK_ID", "MS_NODE_ID")):
        _silence_console()


def _silence_console():
    """Until setup_logging gives this rank its log file, its warnings go nowhere rather than to the console."""
    if not _logger.handlers:
        _logger.addHandler(logging.NullHandler())


def seed_everything(seed):
    """Same seed on every rank: every rank builds identical initial weights, no broadcast needed.

    The data pipeline does not draw from these generators: its order and augmentation seeds are derived from
    (seed, epoch, rank) in data.sharding, so each rank still augments differently.
    """
    random.seed(seed)
    np.random.seed(seed)
    ms.set_seed(seed)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


@contextlib.contextmanager
def ctrl_c_as_keyboard_interrupt():
    """Ctrl-C reaches Python as KeyboardInterrupt even while MindSpore runs graphs.

    MindSpore 2.8's backend installs its own SIGINT handler at every graph run, which re-raises the signal as
    SIGTERM (measured); without a handler for that the process dies silently with status -15. SIGTERM (also what
    schedulers send) therefore raises KeyboardInterrupt here, so the caller can say where to resume.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def log_to_files(message, *args):
    """An ERROR record in this rank's log file(s) only: the console already shows the error once, on stderr."""
    logger = logging.getLogger("mindcv_resnetv2")
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, message, args, None)
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)


@contextlib.contextmanager
def logging_restored():
    """Our logger as it was after the block: a Trainer run in-process (the benchmark's train.py loop, a test) sets
    it up for its run folder and console; the caller's handlers, propagation and level come back."""
    logger = logging.getLogger("mindcv_resnetv2")
    kept = logger.handlers[:], logger.propagate, logger.level
    try:
        yield
    finally:
        for handler in logger.handlers:
            if handler not in kept[0]:
                handler.close()
        logger.handlers[:], logger.propagate = kept[0], kept[1]
        logger.setLevel(kept[2])


def setup_logging(log_file=None, console=True, level=logging.INFO):
    """Log to the console (rank 0 only) and, when given, to a per-rank file opened for appending."""
    logger = logging.getLogger("mindcv_resnetv2")
    logger.setLevel(level)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    formatter = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    if console:
        stream = logging.StreamHandler(sys.stdout)
        stream.setFormatter(formatter)
        logger.addHandler(stream)
    if log_file:
        os.makedirs(os.path.dirname(os.path.abspath(log_file)), exist_ok=True)
        file_handler = logging.FileHandler(log_file, mode="a")
        file_handler.setFormatter(formatter)
        logger.addHandler(file_handler)
    return logger
