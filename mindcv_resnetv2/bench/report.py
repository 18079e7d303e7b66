"""The benchmark's figures as a markdown table (for the terminal and docs/measurements.md) and as JSON."""
import json

from ..utils.files import write_text_atomic


def _rate(figures):
    return f"{figures['img_per_s']:.2f} img/s, {figures['ms_per_step']:.0f} ms/step"


def format_table(result):
    """A two-column markdown table of every figure in `result` (from run_benchmark), headed by the set-up."""
    peak = result["matmul_gflop_s"]
    jit = f", jit_level {result['jit_level']}" if result["jit_level"] else ""
    lines = [
        f"MindSpore {result['mindspore']} on {result['device']} ({result['cpu_count']} cores, runtime_num_threads "
        f"{result['runtime_num_threads']}, inter_op_parallel_num {result['inter_op_parallel_num']}), load average "
        f"{result['load_average_start']:.1f} -> {result['load_average_end']:.1f}",
        f"{result['model']} ({result['parameters']:,} parameters), batch {result['batch_size']} x "
        f"{result['image_size']}x{result['image_size']}, {result['mode']} mode{jit}, amp {result['amp_level']}, "
        f"median of {result['steps']} steps",
        "",
        "| figure | value |",
        "|---|---|",
        f"| training (our TrainStep) | {_rate(result['train'])} |",
        f"| {'graph compile' if result['mode'] == 'graph' else 'first-step overhead'}, training | "
        f"{result['train']['compile_s']:.1f} s |",
        f"| evaluation (EvalStep) | {_rate(result['eval'])} ({result['eval_to_train']:.2f}x training) |",
        f"| peak resident memory | {result['peak_memory_mb']:.0f} MiB |",
        _memory_row(result),
        f"| achieved, training | {result['achieved_gflop_s']:.1f} GFLOP/s ({result['train_gflop_per_step']:.1f} "
        f"GFLOP per step = 3 x forward) |",
        f"| float32 matmul peak, sustained | {peak['peak']:.1f} GFLOP/s (NumPy {peak['numpy']:.1f}, MindSpore "
        f"{peak['mindspore']:.1f}; {result['matmul_size']}^3 products in bursts as long as one step) |",
        f"| achieved / matmul peak (median of rounds) | {100.0 * result['fraction_of_matmul_peak']:.0f}% |",
    ]
    if "baseline" in result:
        lines.append(f"| plain TrainOneStepCell + Momentum | {_rate(result['baseline'])} |")
        lines.append(f"| ours / plain (median of rounds) | {result['ratio_ours_to_plain']:.3f} |")
    for name, figures in result.get("pipeline", {}).items():
        label = ("training, fixed batch (alternating with the pipeline)" if name == "fixed batch"
                 else f"training fed by the data pipeline, {name}")
        value = _rate(figures) if figures else "n/a on this device (the trainer feeds batches step by step)"
        lines.append(f"| {label} | {value} |")
    if "pipeline_to_fixed" in result:
        lines.append(f"| pipeline / fixed batch | {result['pipeline_to_fixed']:.3f} |")
    if "train_loop" in result:
        loop = result["train_loop"]
        lines.append(f"| train.py's epoch loop (its logged img/s) | {_rate(loop['train.py epoch'])} |")
        lines.append(f"| training, fixed batch (alternating with the epochs) | {_rate(loop['fixed batch'])} |")
        lines.append(f"| train.py loop / fixed batch (median of rounds) | {loop['loop_to_fixed']:.3f} |")
    if "profile" in result:
        lines += ["", *_profile_lines(result["profile"], result["steps"])]
    return "\n".join(lines)


def _memory_row(result):
    estimate = result["memory_estimate_mb"]
    growth = result["peak_memory_mb"] - result["memory_before_network_mb"]
    return (f"| peak memory against the estimate | peak - {result['memory_before_network_mb']:.0f} MiB before the "
            f"network = {growth:.0f} MiB; estimate {estimate['total_mb']:.0f} MiB = parameters, gradients and "
            f"optimizer slots {estimate['parameters_mb']:.0f} + activations kept for backward "
            f"{estimate['activations_mb']:.0f} ({growth / estimate['total_mb']:.2f}x the estimate) |")


# Op types listed one by one in the profile table; the rest are summed into one row.
PROFILE_ROWS = 12


def _profile_lines(profile, steps):
    lines = [f"Our training step per op type (MindSpore profiler, {steps} steps):", "",
             "| op type | ms/step | share |", "|---|---|---|"]
    shown, rest = profile["ops"][:PROFILE_ROWS], profile["ops"][PROFILE_ROWS:]
    lines += [f"| {op['op_type']} | {op['ms_per_step']:.1f} | {100.0 * op['share']:.1f}% |" for op in shown]
    if rest:
        lines.append(f"| {len(rest)} other op types | {sum(op['ms_per_step'] for op in rest):.1f} | "
                     f"{100.0 * sum(op['share'] for op in rest):.1f}% |")
    lines.append(f"| all ops | {profile['op_ms_per_step']:.1f} | 100% |")
    lines += ["", f"Kernels cover {100.0 * profile['kernel_share_of_wall']:.0f}% of the profiled steps' wall time "
                  f"({profile['wall_ms_per_step']:.0f} ms/step); the rest is the runtime between kernels and the "
                  f"profiler itself."]
    if "dense_gflop_s" in profile:
        lines += ["", f"Convolution and matmul ops: {profile['dense_ms_per_step']:.1f} ms/step "
                      f"({100.0 * profile['dense_share']:.0f}% of op time), {profile['dense_gflop_s']:.1f} GFLOP/s = "
                      f"{100.0 * profile['dense_fraction_of_matmul_peak']:.0f}% of the matmul peak: the ceiling of "
                      f"the whole step's figure if every other op took no time."]
    return lines


def write_json(result, path):
    return write_text_atomic(path, json.dumps(result, indent=2) + "\n", what="benchmark report")
