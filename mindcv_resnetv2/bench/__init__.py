"""Training and evaluation speed of the real training step, against a plain MindSpore step and the machine's
matmul peak: ``python -m mindcv_resnetv2.bench --model resnetv2_50 --batch_size 16 --image_size 224``.

The other benchmarks run the same way: ``bench.data_pipeline`` (the data pipeline alone, against PIL),
``bench.std_conv`` (the cost of weight standardisation) and ``bench.op_profile`` (a development profiler, op by op
against PyTorch; only its ``ops`` subcommand needs torch). Measured figures: docs/measurements.md.
"""
from .measure import matmul_products, peak_memory_mb, time_calls, warm_up
from .runner import BenchOptions, run_benchmark

__all__ = ["BenchOptions", "matmul_products", "peak_memory_mb", "run_benchmark", "time_calls", "warm_up"]
