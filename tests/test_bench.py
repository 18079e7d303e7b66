"""The benchmark command: every figure is printed and written, options reach the recipe, bad options are named."""
import json
import logging
import math
import os
import statistics
import subprocess
import sys

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv_resnetv2.bench import matmul_products, time_calls
from mindcv_resnetv2.bench.measure import burst, burst_length, paired_ratio
from mindcv_resnetv2.bench.cli import main, parse
from mindcv_resnetv2.bench.profile import DENSE_OP_TYPES, read_op_table, summarize_profile
from mindcv_resnetv2.bench.shapes import layer_calls, saved_activation_elements, training_memory_estimate
from mindcv_resnetv2.utils.backend import device_target

QUICK_RECIPE = os.path.join(os.path.dirname(__file__), "..", "configs", "resnetv2", "resnetv2_cpu_quick.yaml")

TABLE_ROWS = [
    "training (our TrainStep)", "graph compile, training", "evaluation (EvalStep)", "peak resident memory",
    "peak memory against the estimate",
    "achieved, training", "float32 matmul peak, sustained", "achieved / matmul peak (median of rounds)",
    "plain TrainOneStepCell + Momentum", "ours / plain (median of rounds)",
    "training, fixed batch (alternating with the pipeline)", "training fed by the data pipeline, sink off",
    "training fed by the data pipeline, sink on", "pipeline / fixed batch", "Conv2D", "Conv2DBackpropFilter",
    "all ops", "train.py's epoch loop (its logged img/s)", "training, fixed batch (alternating with the epochs)",
    "train.py loop / fixed batch (median of rounds)",
]


def _positive(value):
    return isinstance(value, (int, float)) and math.isfinite(value) and value > 0


@pytest.mark.slow
def test_command_prints_and_writes_every_figure(tmp_path, capsys):
    out = tmp_path / "bench.json"
    handlers = logging.getLogger("mindcv_resnetv2").handlers[:]
    main(["--model", "preact_resnet20_cifar", "--num_classes", "10", "--batch_size", "2", "--image_size", "32",
          "--steps", "2", "--warmup", "1", "--matmul_size", "128", "--baseline", "--pipeline", "--profile",
          "--train_loop", "2", "--num_samples", "4", "--json", str(out)])
    table = capsys.readouterr().out
    for row in TABLE_ROWS:
        assert f"| {row} |" in table, row
    assert f"MindSpore {ms.__version__} on {device_target()}" in table

    result = json.loads(out.read_text())
    for part in ("train", "eval", "baseline"):
        assert _positive(result[part]["img_per_s"]) and _positive(result[part]["ms_per_step"])
        assert result[part]["compile_s"] >= 0
    for key in ("peak_memory_mb", "achieved_gflop_s", "fraction_of_matmul_peak", "ratio_ours_to_plain",
                "pipeline_to_fixed", "eval_to_train", "train_gflop_per_step"):
        assert _positive(result[key]), key
    estimate = result["memory_estimate_mb"]
    assert _positive(estimate["parameters_mb"]) and _positive(estimate["activations_mb"])
    assert estimate["total_mb"] == pytest.approx(estimate["parameters_mb"] + estimate["activations_mb"])
    assert 0 < result["memory_before_network_mb"] <= result["peak_memory_mb"]
    assert result["train"]["img_per_s"] == pytest.approx(2000.0 / result["train"]["ms_per_step"])
    assert result["achieved_gflop_s"] == pytest.approx(
        result["train_gflop_per_step"] * 1000.0 / result["train"]["ms_per_step"])
    rates = result["matmul_gflop_s"]
    assert _positive(rates["numpy"]) and _positive(rates["mindspore"])
    assert rates["peak"] == max(rates["numpy"], rates["mindspore"])
    assert all(count >= 1 for count in result["matmul_burst_products"].values())
    assert _positive(result["pipeline"]["sink off"]["img_per_s"])
    # The trainer sinks batches only on Ascend/GPU; on CPU the 'sink on' figure is reported as not applicable.
    assert (result["pipeline"]["sink on"] is None) == (device_target() == "CPU")
    assert (result["model"], result["batch_size"], result["image_size"], result["mode"]) == (
        "preact_resnet20_cifar", 2, 32, "graph")
    # train.py's loop: 2 timed epochs of 2 steps (num_samples 4, batch 2), each followed by 2 fixed-batch steps
    loop = result["train_loop"]
    for part in ("train.py epoch", "fixed batch"):
        assert len(loop[part]["epoch_times_s"]) == 2 and _positive(loop[part]["img_per_s"])
        assert loop[part]["img_per_s"] == pytest.approx(4 / statistics.median(loop[part]["epoch_times_s"]))
    assert loop["loop_to_fixed"] == pytest.approx(paired_ratio(loop["fixed batch"]["epoch_times_s"],
                                                               loop["train.py epoch"]["epoch_times_s"]))
    assert logging.getLogger("mindcv_resnetv2").handlers == handlers  # the trainer's log handlers are gone

    # The profile covers the real step: its convolutions and their two gradients (the stem's input gradient is
    # not needed) and BatchNorm; its figures follow from the op table and from each other. How long anything
    # took depends on the machine's load and is never asserted.
    profile = result["profile"]
    op_ms = {op["op_type"]: op["ms_per_step"] for op in profile["ops"]}
    assert {"Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "BatchNorm", "BatchNormGrad"} <= set(op_ms)
    assert list(op_ms.values()) == sorted(op_ms.values(), reverse=True)
    assert _positive(profile["op_ms_per_step"]) and _positive(profile["wall_ms_per_step"])
    assert profile["op_ms_per_step"] == pytest.approx(sum(op_ms.values()))
    dense = sum(ms for op, ms in op_ms.items() if op in DENSE_OP_TYPES)
    assert 0 < profile["dense_ms_per_step"] == pytest.approx(dense) and dense <= profile["op_ms_per_step"]
    assert profile["dense_share"] == pytest.approx(dense / profile["op_ms_per_step"])
    assert profile["kernel_share_of_wall"] == pytest.approx(profile["op_ms_per_step"] / profile["wall_ms_per_step"])
    assert profile["dense_gflop_s"] == pytest.approx(result["train_gflop_per_step"] * 1000.0 / dense)
    assert profile["dense_fraction_of_matmul_peak"] == pytest.approx(profile["dense_gflop_s"] / rates["peak"])
    assert "Convolution and matmul ops:" in table and "Kernels cover" in table


def test_options_reach_the_recipe_and_defaults_do_not_override_a_recipe():
    cfg, options, _ = parse(["--image_size", "64", "--lr", "0.2", "--steps", "3", "--baseline"])
    assert (cfg.image_resize, cfg.lr, cfg.opt, cfg.num_classes) == (64, 0.2, "momentum", 1000)
    assert (options.steps, options.baseline, options.pipeline) == (3, True, False)
    cfg, _, _ = parse(["-c", QUICK_RECIPE])
    assert (cfg.model, cfg.lr, cfg.num_classes) == ("preact_resnet20_cifar", 0.05, 10)


@pytest.mark.parametrize("argv, named", [
    (["--steps", "0"], "steps"),
    (["--warmup", "0"], "warmup"),
    (["--train_loop", "-1"], "train_loop"),
    (["--threads", "0"], "threads"),
    (["--inter_op_parallel_num", "0"], "inter_op_parallel_num"),
    (["--dispatch_threads", "0"], "dispatch_threads"),
    (["--modle", "resnetv2_50"], "modle"),
])
def test_bad_option_exits_naming_it(argv, named, capsys):
    with pytest.raises(SystemExit) as exit_info:
        parse(argv)
    assert exit_info.value.code == 2
    assert named in capsys.readouterr().err


def test_json_into_a_directory_fails_before_any_benchmarking(tmp_path, capsys):
    """A benchmark that ran would print its table (and these tiny arguments would take a second): nothing is printed."""
    with pytest.raises(SystemExit) as exit_info:
        main(["--model", "preact_resnet20_cifar", "--num_classes", "10", "--batch_size", "1", "--image_size", "8",
              "--steps", "1", "--warmup", "1", "--matmul_size", "8", "--json", str(tmp_path)])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and f"'{tmp_path}' is a directory" in captured.err


def test_time_calls_runs_warmup_then_times_each_step():
    calls = []

    def step():
        calls.append(1)
        return ms.Tensor(1.0)

    first, times = time_calls(step, steps=3, warmup=2)
    assert len(calls) == 5 and len(times) == 3
    assert first >= 0 and all(t >= 0 for t in times)
    with pytest.raises(ValueError, match="warmup"):
        time_calls(step, steps=1, warmup=0)


def test_matmul_products_of_both_libraries_agree():
    products = matmul_products(size=64)
    assert set(products) == {"numpy", "mindspore"}
    np.testing.assert_allclose(products["mindspore"]().asnumpy(), products["numpy"](), rtol=1e-4, atol=1e-3)


def test_paired_ratio_is_the_median_of_per_round_ratios():
    # The load doubles in rounds 2 and 4 and a burst hits only the plain call of round 5; within every other
    # round the plain step takes 1.1x ours.
    ours = [1.0, 2.0, 1.0, 2.0, 1.0]
    plain = [1.1, 2.2, 1.1, 2.2, 3.0]
    assert paired_ratio(plain, ours) == pytest.approx(1.1)
    with pytest.raises(ValueError, match="equally long"):
        paired_ratio([1.0], [1.0, 2.0])


def test_burst_runs_the_call_back_to_back_and_fills_about_one_step():
    calls = []
    burst(lambda: calls.append(1), 4)()
    assert len(calls) == 4
    assert burst_length(4.0, 0.1) == 40
    assert burst_length(0.05, 0.5) == 1  # a product longer than the step still runs once
    assert burst_length(100.0, 1e-6, most=50) == 50


OP_TABLE = """op_type,type_occurrences,execution_frequency(per-step),total_compute_time,avg_time(ms),percent
Conv2D,4,2,40.0,10.0,0.4
Conv2DBackpropFilter,2,1,30.0,15.0,0.3
BatchNorm,4,2,20.0,5.0,0.2
ApplyMomentum,2,1,10.0,5.0,0.1
"""


def test_profile_summary_separates_the_dense_ops_that_carry_the_flops(tmp_path):
    table = tmp_path / "cpu_op_type_info_0.csv"
    table.write_text(OP_TABLE)
    op_ms = read_op_table(str(table), steps=2)
    assert op_ms == {"Conv2D": 20.0, "Conv2DBackpropFilter": 15.0, "BatchNorm": 10.0, "ApplyMomentum": 5.0}
    summary = summarize_profile(op_ms, wall_ms_per_step=62.5, train_gflop_per_step=7.0, peak_gflop_s=400.0)
    assert [op["op_type"] for op in summary["ops"]] == ["Conv2D", "Conv2DBackpropFilter", "BatchNorm",
                                                       "ApplyMomentum"]
    assert summary["op_ms_per_step"] == 50.0 and summary["dense_ms_per_step"] == 35.0
    assert summary["dense_share"] == pytest.approx(0.7)
    assert summary["kernel_share_of_wall"] == pytest.approx(0.8)
    assert summary["dense_gflop_s"] == pytest.approx(200.0)  # 7 GFLOP in 35 ms
    assert summary["dense_fraction_of_matmul_peak"] == pytest.approx(0.5)


def test_profile_table_of_another_format_is_refused_naming_the_file(tmp_path):
    table = tmp_path / "kernel_details.csv"
    table.write_text("Name,Duration(us)\nConv2D,5\n")
    with pytest.raises(ValueError, match="kernel_details.csv.*op_type"):
        read_op_table(str(table), steps=1)


def test_memory_estimate_counts_each_saved_activation_once_from_the_real_shapes():
    """conv(1->2, 3x3) -> BN -> ReLU -> conv(2->3, 1x1) on 4x4 images: backward keeps the first conv's input (16),
    BN's input (32) and ReLU's output (32), which is also the second conv's input: 80 floats per image."""
    net = nn.SequentialCell([nn.Conv2d(1, 2, 3, pad_mode="pad", padding=1, has_bias=False), nn.BatchNorm2d(2),
                             nn.ReLU(), nn.Conv2d(2, 3, 1, has_bias=False)])
    calls = layer_calls(net, (4, 4))
    assert [(type(c.cell).__name__, c.input_shape, c.output_shape) for c in calls] == [
        ("Conv2d", (1, 1, 4, 4), (1, 2, 4, 4)), ("BatchNorm2d", (1, 2, 4, 4), (1, 2, 4, 4)),
        ("ReLU", (1, 2, 4, 4), (1, 2, 4, 4)), ("Conv2d", (1, 2, 4, 4), (1, 3, 4, 4))]
    assert calls[2].output_key == calls[3].input_key
    assert saved_activation_elements(calls) == 80
    # Held: conv 18 + BN gamma, beta 4 + BN statistics 4 + conv 6 = 32; gradients of the 28 trainable ones.
    estimate = training_memory_estimate(net, net, calls, batch_size=1024)
    assert estimate["parameters_mb"] == pytest.approx((32 + 28) * 4 / 2 ** 20)
    assert estimate["activations_mb"] == pytest.approx(80 * 1024 * 4 / 2 ** 20)
    assert estimate["total_mb"] == pytest.approx(estimate["parameters_mb"] + estimate["activations_mb"])


def _data_pipeline(*args):
    """Stdout lines of `python -m mindcv_resnetv2.bench.data_pipeline` on 8 small generated images."""
    result = subprocess.run([sys.executable, "-m", "mindcv_resnetv2.bench.data_pipeline", "--images", "8",
                             "--width", "64", "--height", "48", "--size", "32", "--batch-size", "4", *args],
                            check=True, capture_output=True, text=True, cwd=os.path.dirname(os.path.dirname(__file__)))
    return result.stdout.splitlines()


def test_data_pipeline_command_prints_every_figure():
    lines = _data_pipeline()
    assert lines[0].startswith(f"cores: {os.cpu_count()}")
    rows = [line.split() for line in lines[2:]]
    assert [(r[0], r[1]) for r in rows] == [("train", "1"), ("train", "2"), ("eval", "1"), ("eval", "2")]
    assert all(float(v.rstrip("x")) > 0 for r in rows for v in r[2:])


def test_data_pipeline_file_check_prints_the_check_cost_and_a_median_row():
    lines = _data_pipeline("--file-check", "--repeats", "1", "--workers", "1")
    assert lines[1].startswith("file check alone: ") and "us/file cached" in lines[1]
    rows = [line.split() for line in lines[3:]]
    assert [(r[0], r[1]) for r in rows] == [("train", "1"), ("train", "median"), ("eval", "1"), ("eval", "median")]
    assert all(float(v.rstrip("x")) > 0 for r in rows for v in r[2:])


def test_op_profile_and_the_bench_package_import_without_torch():
    script = ("import sys; import mindcv_resnetv2.bench, mindcv_resnetv2.bench.op_profile; "
              "assert 'torch' not in sys.modules, 'torch imported'")
    subprocess.run([sys.executable, "-c", script], check=True, cwd=os.path.dirname(os.path.dirname(__file__)))


def test_op_profile_parses_every_subcommand():
    from mindcv_resnetv2.bench.op_profile import build_parser

    parser = build_parser()
    assert parser.parse_args(["ops", "--net", "resnetv2_50_64"]).step_rounds == 6
    knobs = parser.parse_args(["knobs", "--batch_sizes", "64,128", "--jit_levels", "O0,O1"])
    assert (knobs.net, knobs.batch_sizes, knobs.jit_levels, knobs.rounds) == ("quickstart", "64,128", "O0,O1", 8)
    assert parser.parse_args(["ab"]).rounds == 15
    assert parser.parse_args(["evalmem", "--batches", "3"]).batches == 3
    assert parser.parse_args(["fed", "--workers", "1"]).workers == 1
    with pytest.raises(SystemExit):
        parser.parse_args(["ops", "--net", "nonexistent"])


def test_op_profile_times_each_op_alone_and_builds_the_torch_twin(pynative_mode):
    """`ops` on a tiny input: every op type of the step at one of its shapes, MindSpore and PyTorch, and the PyTorch
    twin of the network (its parameter count must equal ours)."""
    pytest.importorskip("torch")
    from mindcv_resnetv2.bench.op_profile import OP_TYPES, op_shapes, time_ops_alone
    from mindcv_resnetv2.bench.torch_twin import torch_twin
    from mindcv_resnetv2.models import create_model

    net = create_model("preact_resnet20_cifar", num_classes=10, in_channels=1)
    shapes = op_shapes(net, 2, 8)
    assert set(shapes) == set(OP_TYPES)
    one_each = {op_type: dict([next(iter(shapes[op_type].items()))]) for op_type in OP_TYPES}
    results = time_ops_alone(one_each, 1)
    for op_type in OP_TYPES:
        ms_total, torch_total, rows = results[op_type]
        assert _positive(ms_total) and _positive(torch_total) and len(rows) == 1
    torch_twin(net, 1, 10)


def test_std_conv_plain_variant_has_no_weight_standardised_convolution_and_needs_a_variant():
    from mindcv_resnetv2.bench import std_conv
    from mindcv_resnetv2.models import is_model
    from mindcv_resnetv2.models.std_conv import StdConv2d

    net = std_conv.resnetv2_50x1_bit_plain_convs(num_classes=10)
    assert not any(isinstance(cell, StdConv2d) for _, cell in net.cells_and_names())
    assert any(isinstance(cell, nn.Conv2d) for _, cell in net.cells_and_names())
    assert not is_model(std_conv.PLAIN)  # registered only when the plain variant is benchmarked
    with pytest.raises(SystemExit) as exited:
        std_conv.main(["resnet"])
    assert "python -m mindcv_resnetv2.bench.std_conv plain" in str(exited.value.code)
