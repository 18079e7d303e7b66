"""What MindSpore and which device we run on, and the warnings that follow from it.

Every part of the package that must behave differently per backend (CPU fallbacks for Ascend-only
settings, the CPU convolution slowdown of MindSpore >= 2.9) asks here, so the rule lives in one place.
"""
import logging
import re

import mindspore as ms

_logger = logging.getLogger("mindcv_resnetv2")
_warned = set()

# From MindSpore 2.9.0 on, CPU convolutions with 3x3/7x7 kernels or strides run oneDNN's reference kernel.
FIRST_SLOW_CPU_VERSION = (2, 9)


def mindspore_version():
    """MindSpore's version as a tuple of ints, e.g. (2, 8, 0); suffixes like rc1 are dropped."""
    parts = []
    for piece in ms.__version__.split(".")[:3]:
        match = re.match(r"\d+", piece)
        parts.append(int(match.group()) if match else 0)
    return tuple(parts)


def device_target():
    """The device MindSpore will run on: the context's target, which MindSpore sets from the installed package."""
    return ms.get_context("device_target")


def warn_once(key, message, *args):
    """Log a warning the first time `key` is seen in this process; later calls are silent."""
    if key in _warned:
        return
    _warned.add(key)
    _logger.warning(message, *args)


def check_cpu_convolution_speed():
    """Warn once when a slow-convolution MindSpore release runs on CPU (docs/performance.md, 'MindSpore releases on CPU')."""
    if device_target() == "CPU" and mindspore_version()[:2] >= FIRST_SLOW_CPU_VERSION:
        warn_once(
            "slow_cpu_conv",
            "MindSpore %s on CPU runs 3x3, 7x7 and strided convolutions through oneDNN's reference kernel, "
            "about 100x slower than 2.8.0. Install the fast CPU release with: pip install 'mindspore==2.8.0' "
            "(or pip install -e '.[cpu]').",
            ms.__version__,
        )
