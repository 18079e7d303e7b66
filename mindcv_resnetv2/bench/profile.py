"""`--profile`: where the training step's time goes, per MindSpore op type, from MindSpore's own profiler.

The whole-step figure (achieved GFLOP/s over the matmul peak) cannot exceed what the convolution and matmul
kernels reach on their own: every other op (BatchNorm, ReLU, the optimizer) adds time but no counted FLOPs.
This module measures that ceiling, so a low whole-step figure can be traced to the backend's kernels or to
the rest of the step.
"""
import csv
import glob
import os
import tempfile

from mindspore.profiler import ProfilerActivity, profile, schedule, tensorboard_trace_handler

from .measure import time_repeated

# The ops that carry the step's counted FLOPs (forward convolutions and dense layers, their two gradients), under
# the names MindSpore 2.x gives them across versions, modes and devices.
DENSE_OP_TYPES = frozenset({
    "Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "Conv2DExt", "ConvolutionGrad", "Convolution",
    "MatMul", "MatMulExt", "BatchMatMul", "Dense",
})
# MindSpore's profiler writes its per-op-type table for host (CPU) kernels here, one file per rank.
OP_TABLE_PATTERN = os.path.join("*", "FRAMEWORK", "cpu_op_type_info_*.csv")


def read_op_table(path, steps):
    """{op type: ms per step} from a cpu_op_type_info CSV covering `steps` steps."""
    with open(path, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    if not rows or "op_type" not in rows[0] or "total_compute_time" not in rows[0]:
        raise ValueError(f"{path}: expected MindSpore's op table with columns op_type and total_compute_time, "
                         f"got {list(rows[0]) if rows else 'no rows'}")
    per_step = {}
    for row in rows:
        per_step[row["op_type"]] = per_step.get(row["op_type"], 0.0) + float(row["total_compute_time"]) / steps
    return per_step


def profile_ops(call, steps):
    """({op type: ms per step}, wall ms per step) over `steps` calls of the warmed-up `call`, profiled.

    The wall time of the profiled steps themselves is returned too: the op table covers kernel time only, and
    the difference is the runtime's own work between kernels (scheduling, memory) plus the profiler's cost.
    """
    with tempfile.TemporaryDirectory(prefix="mindcv_resnetv2_profile_") as out_dir:
        wall = []
        with profile(activities=[ProfilerActivity.CPU],
                     schedule=schedule(wait=0, warmup=0, active=steps, repeat=1),
                     on_trace_ready=tensorboard_trace_handler(out_dir)) as profiler:
            for _ in range(steps):
                wall += time_repeated(call, 1)
                profiler.step()
        tables = glob.glob(os.path.join(out_dir, OP_TABLE_PATTERN))
        if not tables:
            raise RuntimeError(f"MindSpore's profiler wrote no op table ({OP_TABLE_PATTERN}) under {out_dir}; "
                               f"--profile needs MindSpore's CPU op profiling (MindSpore >= 2.5 on CPU)")
        return read_op_table(tables[0], steps), 1000.0 * sum(wall) / steps


def summarize_profile(op_ms, wall_ms_per_step, train_gflop_per_step, peak_gflop_s):
    """The profile as reported: op types by time, the share of wall time spent in kernels, and the FLOP rate of
    the dense ops alone (the ceiling)."""
    total = sum(op_ms.values())
    dense = sum(ms for op, ms in op_ms.items() if op in DENSE_OP_TYPES)
    ops = [{"op_type": op, "ms_per_step": ms, "share": ms / total if total else 0.0}
           for op, ms in sorted(op_ms.items(), key=lambda item: -item[1])]
    summary = {"ops": ops, "op_ms_per_step": total, "wall_ms_per_step": wall_ms_per_step,
               "kernel_share_of_wall": total / wall_ms_per_step, "dense_ms_per_step": dense,
               "dense_share": dense / total if total else 0.0}
    if dense > 0:
        summary["dense_gflop_s"] = train_gflop_per_step * 1000.0 / dense
        summary["dense_fraction_of_matmul_peak"] = summary["dense_gflop_s"] / peak_gflop_s
    return summary
