"""The process's MindSpore runtime from a recipe: mode, device, jit level, distribution, seeds, logging.

Every entry point (train, validate, infer, benchmarks) starts here so the device guards and the distributed
set-up are written once. Ascend-only settings fall back on other devices with one warning line each.
"""
import dataclasses
import logging
import os
import random
import sys

import mindspore as ms
import numpy as np

from ..utils.backend import check_cpu_convolution_speed, warn_once

_logger = logging.getLogger("mindcv_resnetv2")

# msrun (and mpirun-style launchers) export these in every worker it starts.
LAUNCHER_VARIABLES = ("MS_WORKER_NUM", "MS_ROLE", "RANK_SIZE")


@dataclasses.dataclass(frozen=True)
class Runtime:
    device: str
    rank: int = 0
    group_size: int = 1

    @property
    def distributed(self):
        return self.group_size > 1 or os.environ.get("MS_ROLE") is not None

    @property
    def is_main(self):
        return self.rank == 0


class LaunchError(RuntimeError):
    """The process was started in a way that cannot run the recipe (e.g. distribute without msrun)."""


def launched_by_msrun():
    return any(os.environ.get(name) for name in LAUNCHER_VARIABLES)


def setup_runtime(cfg):
    """Set MindSpore's context for `cfg`; initialise collectives when distributed. Returns the Runtime."""
    device = cfg.device_target
    ms.set_context(mode=ms.GRAPH_MODE if cfg.mode == 0 else ms.PYNATIVE_MODE, device_target=device)
    if cfg.mode == 0 and cfg.jit_level:
        level = cfg.jit_level
        if level == "O2" and device != "Ascend":
            warn_once("jit_o2", "jit_level O2 (graph sink) is for Ascend; using O0 on %s.", device)
            level = "O0"
        ms.set_context(jit_config={"jit_level": level})
    check_cpu_convolution_speed()
    runtime = Runtime(device)
    if cfg.distribute:
        if not launched_by_msrun():
            raise LaunchError(
                "distribute is True but this process was not started by msrun. Either launch it with "
                "`msrun --worker_num N --local_worker_num N --master_port PORT --join True python train.py ...`, "
                "or run on one device with `--distribute False`."
            )
        from mindspore.communication import get_group_size, get_rank, init

        init()
        runtime = Runtime(device, rank=get_rank(), group_size=get_group_size())
        ms.reset_auto_parallel_context()
        ms.set_auto_parallel_context(
            parallel_mode=ms.ParallelMode.DATA_PARALLEL, gradients_mean=True, device_num=runtime.group_size
        )
    elif launched_by_msrun() and int(os.environ.get("MS_WORKER_NUM", "1")) > 1:
        raise LaunchError(
            "this process was started by msrun with several workers but distribute is False: every worker would "
            "train the whole run alone. Pass `--distribute True`, or run `python train.py ...` without msrun."
        )
    seed_everything(cfg.seed)
    return runtime


def seed_everything(seed):
    """Same seed on every rank: identical initial weights without a broadcast (see README, Distributed)."""
    random.seed(seed)
    np.random.seed(seed)
    ms.set_seed(seed)


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
