"""Timing primitives: per-call wall times with a host sync, the float32 matmul peak, the peak resident memory.

Every timed call ends in ``.asnumpy()`` so the time covers the device work; the training loop itself never
syncs like this in sink mode. Times are medians: the machine may be shared, and the median ignores the
steps another process happened to steal.
"""
import resource
import statistics
import sys
import time

import mindspore as ms
import numpy as np
from mindspore import Tensor, ops


def _sync(result):
    """Wait for the device: fetch the first output of a call to the host."""
    first = result[0] if isinstance(result, (tuple, list)) else result
    first.asnumpy()


def time_calls(call, steps, warmup=1):
    """(seconds of the first call, [seconds of each of `steps` timed calls]) after `warmup` calls in total.

    The first call compiles the graph in graph mode, so `first - median` is the compile time.
    """
    if warmup < 1 or steps < 1:
        raise ValueError(f"warmup and steps must be >= 1, got warmup={warmup}, steps={steps}")
    start = time.perf_counter()
    _sync(call())
    first = time.perf_counter() - start
    for _ in range(warmup - 1):
        _sync(call())
    return first, time_repeated(call, steps)


def time_repeated(call, steps):
    """Wall seconds of each of `steps` calls of an already warmed-up `call`."""
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        _sync(call())
        times.append(time.perf_counter() - start)
    return times


def median(values):
    return statistics.median(values)


def matmul_peak(size=2048, repeats=5):
    """Float32 GFLOP/s of a size^3 matrix product: {'numpy': ..., 'mindspore': ..., 'peak': best of both}.

    MindSpore's product runs on the same thread pool (runtime_num_threads) as the network's kernels; NumPy's
    on its BLAS threads. Each figure is the median of `repeats` products after one warm-up product.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    flops = 2.0 * size ** 3
    rates = {"numpy": flops / median(_product_times(lambda: a @ b, repeats)) / 1e9}
    previous_mode = ms.get_context("mode")
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        ta, tb = Tensor(a), Tensor(b)
        rates["mindspore"] = flops / median(_product_times(lambda: ops.matmul(ta, tb).asnumpy(), repeats)) / 1e9
    finally:
        ms.set_context(mode=previous_mode)
    rates["peak"] = max(rates["numpy"], rates["mindspore"])
    return rates


def _product_times(product, repeats):
    product()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        product()
        times.append(time.perf_counter() - start)
    return times


def peak_memory_mb():
    """Peak resident set size of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
