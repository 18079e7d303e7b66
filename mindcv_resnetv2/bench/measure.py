"""Timing primitives: per-call wall times with a host sync, float32 matrix products, the peak resident memory.

Every timed call ends in ``.asnumpy()`` so the time covers the device work; the training loop itself never
syncs like this in sink mode. Times are medians: the machine may be shared, and the median ignores the
steps another process happened to steal.
"""
import resource
import statistics
import sys
import time

import numpy as np
from mindspore import Tensor, ops


def _sync(result):
    """Wait for the device: fetch the first output of a call to the host."""
    first = result[0] if isinstance(result, (tuple, list)) else result
    if isinstance(first, Tensor):
        first.asnumpy()


def warm_up(call, warmup=1):
    """Seconds of the first of `warmup` untimed calls: in graph mode it compiles, so first - median = compile time."""
    if warmup < 1:
        raise ValueError(f"warmup must be >= 1, got {warmup}")
    start = time.perf_counter()
    _sync(call())
    first = time.perf_counter() - start
    for _ in range(warmup - 1):
        _sync(call())
    return first


def time_calls(call, steps, warmup=1):
    """(seconds of the first call, [seconds of each of `steps` timed calls]) after `warmup` untimed calls."""
    if steps < 1:
        raise ValueError(f"steps must be >= 1, got {steps}")
    return warm_up(call, warmup), time_repeated(call, steps)


def time_repeated(call, steps):
    """Wall seconds of each of `steps` calls of an already warmed-up `call`."""
    times = []
    for _ in range(steps):
        start = time.perf_counter()
        _sync(call())
        times.append(time.perf_counter() - start)
    return times


def interleaved(calls, steps):
    """Per-call times of several warmed-up callables, alternating one call of each per round, `steps` rounds.

    On a shared machine the load changes from second to second; alternating makes every callable see the same
    load, so their ratios hold even when the absolute times do not.
    """
    times = [[] for _ in calls]
    for _ in range(steps):
        for call, bucket in zip(calls, times):
            bucket.extend(time_repeated(call, 1))
    return times


def burst(call, count):
    """A callable that runs `call` `count` times back to back, each call synced: one sustained stretch of work."""
    def run():
        for _ in range(count):
            _sync(call())
    return run


def burst_length(target_seconds, call_seconds, most=1000):
    """How many calls of `call_seconds` each fill about `target_seconds` (at least 1, at most `most`)."""
    return max(1, min(most, round(target_seconds / max(call_seconds, 1e-9))))


def median(values):
    return statistics.median(values)


def paired_ratio(numerators, denominators):
    """Median of the per-round ratios numerator_i / denominator_i of two interleaved series of times.

    On a shared machine both calls of a round see the same load, so the per-round ratio is steadier than the
    ratio of the two medians, which may come from different rounds.
    """
    if len(numerators) != len(denominators) or not numerators:
        raise ValueError(f"paired_ratio needs two equally long, non-empty series, got {len(numerators)} and "
                         f"{len(denominators)}")
    return median([a / b for a, b in zip(numerators, denominators)])


def matmul_products(size=2048):
    """{'numpy': call, 'mindspore': call}: one float32 size x size x size matrix product each, returning the result.

    MindSpore's product runs on the same thread pool (runtime_num_threads) as the network's kernels; NumPy's on
    its BLAS threads.
    """
    rng = np.random.default_rng(0)
    a = rng.standard_normal((size, size), dtype=np.float32)
    b = rng.standard_normal((size, size), dtype=np.float32)
    ta, tb = Tensor(a), Tensor(b)
    return {"numpy": lambda: a @ b, "mindspore": lambda: ops.matmul(ta, tb)}


def matmul_gflop_s(size, seconds):
    return 2.0 * size ** 3 / seconds / 1e9


def peak_memory_mb():
    """Peak resident set size of this process so far, in MiB (Linux reports KiB, macOS bytes)."""
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (1024.0 * 1024.0) if sys.platform == "darwin" else peak / 1024.0
