"""`run_benchmark(cfg, options)`: every figure of the benchmark for one recipe, as a dict.

Order matters on a shared machine: our step, the plain step, the evaluation step and the matmul bursts that
give the machine's peak run alternately, one each per round, so a burst of load from elsewhere hits all of
them, and every ratio is the median of its per-round ratios. Peak memory is read before any other graph exists,
and set against an estimate of what training must hold (parameters, gradients, optimizer slots, saved activations).
"""
import dataclasses
import logging
import os

import mindspore as ms

from ..engine.builders import build_network
from ..engine.runtime import setup_runtime
from ..models.summary import count_flops, count_parameters
from ..utils.backend import device_target
from .measure import (burst, burst_length, interleaved, matmul_gflop_s, matmul_products, median, paired_ratio,
                      peak_memory_mb, time_repeated, warm_up)
from .pipeline import pipeline_rates
from .profile import profile_ops, summarize_profile
from .shapes import layer_calls, training_memory_estimate
from .steps import eval_step, fixed_batch, our_train_step, plain_train_step
from .train_loop import train_loop_rates

_logger = logging.getLogger("mindcv_resnetv2")

# A training image costs its forward FLOPs plus about twice that in the backward pass (input and weight grads).
TRAINING_FLOPS_PER_FORWARD = 3


@dataclasses.dataclass
class BenchOptions:
    """What to time beyond our training step, and how long."""

    steps: int = 5
    warmup: int = 2
    baseline: bool = False
    pipeline: bool = False
    profile: bool = False
    pipeline_workers: int = 2
    matmul_size: int = 2048
    train_loop: int = 0  # timed train.py epochs; 0 = off

    def __post_init__(self):
        for name in ("steps", "warmup", "pipeline_workers", "matmul_size"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.train_loop < 0:
            raise ValueError(f"train_loop must be >= 0, got {self.train_loop}")


def _step_figures(times, batch_size):
    seconds = median(times)
    return {"ms_per_step": 1000.0 * seconds, "img_per_s": batch_size / seconds, "times_s": list(times)}


def run_benchmark(cfg, options=None):
    """Time training, evaluation (and optionally the plain step and the data pipeline) for `cfg`."""
    options = options or BenchOptions()
    runtime = setup_runtime(cfg)
    memory_before_network = peak_memory_mb()  # the process's own cost: libraries, runtime
    num_classes = cfg.num_classes or 1000
    net = build_network(cfg, num_classes)
    result = {
        "model": cfg.model,
        "batch_size": cfg.batch_size,
        "image_size": cfg.image_resize,
        "mode": "graph" if cfg.mode == 0 else "pynative",
        "jit_level": cfg.jit_level if cfg.mode == 0 else None,
        "amp_level": cfg.amp_level,
        "device": device_target(),
        "mindspore": ms.__version__,
        "runtime_num_threads": ms.get_context("runtime_num_threads"),
        "inter_op_parallel_num": ms.get_context("inter_op_parallel_num"),
        "cpu_count": os.cpu_count(),
        "load_average_start": os.getloadavg()[0],
        "parameters": count_parameters(net),
        "steps": options.steps,
        "matmul_size": options.matmul_size,
    }
    forward_flops = count_flops(net, cfg.batch_size, (cfg.image_resize, cfg.image_resize))
    result["train_gflop_per_step"] = TRAINING_FLOPS_PER_FORWARD * forward_flops / 1e9

    images, labels = fixed_batch(cfg.batch_size, cfg.in_channels, cfg.image_resize, num_classes, cfg.seed)
    ours = our_train_step(cfg, net, runtime)
    calls = {"train": lambda: ours(images, labels)}
    first = {"train": warm_up(calls["train"], options.warmup)}
    result["peak_memory_mb"] = peak_memory_mb()
    result["memory_before_network_mb"] = memory_before_network
    result["memory_estimate_mb"] = training_memory_estimate(
        ours, net, layer_calls(net, (cfg.image_resize, cfg.image_resize)), cfg.batch_size)
    if options.baseline:
        plain = plain_train_step(net, cfg.lr, cfg.momentum, cfg.weight_decay)
        calls["baseline"] = lambda: plain(images, labels)
    # A second instance of the network, so evaluation (BN in inference mode) alternates with the training steps
    # without switching the trained network's mode back and forth.
    eval_net = build_network(cfg, num_classes)
    eval_net.set_train(False)
    evaluate = eval_step(eval_net, num_classes)
    calls["eval"] = lambda: evaluate(images, labels)
    for name, call in calls.items():
        if name not in first:
            first[name] = warm_up(call, options.warmup)
    # The peak is a sustained rate: each round runs a burst of back-to-back products about as long as one
    # training step, since a lone product is often much slower or faster than the machine's steady state.
    step_seconds = time_repeated(calls["train"], 1)[0]
    bursts = {}
    for library, product in matmul_products(options.matmul_size).items():
        warm_up(product)
        count = burst_length(step_seconds, time_repeated(product, 1)[0])
        bursts[library] = (burst(product, count), count)
    every_call = dict(calls, **{library: run for library, (run, _) in bursts.items()})
    timed = dict(zip(every_call, interleaved(list(every_call.values()), options.steps)))
    burst_counts = {library: count for library, (_, count) in bursts.items()}
    for library, count in burst_counts.items():
        timed[library] = [seconds / count for seconds in timed[library]]  # seconds per product
    result["matmul_burst_products"] = burst_counts
    for name in calls:
        result[name] = dict(_step_figures(timed[name], cfg.batch_size),
                            compile_s=max(first[name] - median(timed[name]), 0.0))
    rates = {library: matmul_gflop_s(options.matmul_size, median(timed[library])) for library in burst_counts}
    result["matmul_gflop_s"] = dict(rates, peak=max(rates.values()))
    result["achieved_gflop_s"] = result["train_gflop_per_step"] / median(timed["train"])
    # Ratios are medians of per-round ratios: the calls of one round ran back to back under the same load.
    fastest_product = [min(round_times) for round_times in zip(*(timed[library] for library in burst_counts))]
    gflop_per_product = matmul_gflop_s(options.matmul_size, 1.0)
    result["fraction_of_matmul_peak"] = (paired_ratio(fastest_product, timed["train"])
                                         * result["train_gflop_per_step"] / gflop_per_product)
    result["eval_to_train"] = paired_ratio(timed["train"], timed["eval"])
    if options.baseline:
        result["ratio_ours_to_plain"] = paired_ratio(timed["baseline"], timed["train"])
    if options.pipeline:
        result["pipeline"] = pipeline_rates(cfg, runtime, ours, (images, labels), num_classes, options.steps,
                                            options.warmup, options.pipeline_workers)
        fed = result["pipeline"]
        result["pipeline_to_fixed"] = fed["sink off"]["img_per_s"] / fed["fixed batch"]["img_per_s"]
    if options.train_loop:
        result["train_loop"] = train_loop_rates(cfg, options.train_loop)
    if options.profile:
        _add_profile(result, calls["train"], options.steps)
    result["load_average_end"] = os.getloadavg()[0]
    return result


def _add_profile(result, train_call, steps):
    """result["profile"]: our step's time per op type (CPU only: the profiler's op table is host kernels)."""
    if result["device"] != "CPU":
        _logger.warning("--profile reads MindSpore's CPU op table; on %s use MindSpore Insight with "
                        "mindspore.profiler instead. Skipped.", result["device"])
        return
    op_ms, wall_ms = profile_ops(train_call, steps)
    result["profile"] = summarize_profile(op_ms, wall_ms, result["train_gflop_per_step"],
                                          result["matmul_gflop_s"]["peak"])
