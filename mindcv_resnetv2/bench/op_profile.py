"""Development profiler: where our training step's time goes, op type by op type, against the same ops alone at
the same shapes in MindSpore and in PyTorch, and the whole step against PyTorch's.

    python -m mindcv_resnetv2.bench.op_profile ops --net quickstart      # preact_resnet20_cifar, 128 x 1 x 28 x 28
    python -m mindcv_resnetv2.bench.op_profile ops --net resnetv2_50_64  # resnetv2_50, 64 x 3 x 64 x 64
    python -m mindcv_resnetv2.bench.op_profile ab                        # A/B of conv/BN/ReLU variants on one block
    python -m mindcv_resnetv2.bench.op_profile evalmem --net quickstart --batches 50
    python -m mindcv_resnetv2.bench.op_profile knobs --net quickstart --batch_sizes 64,128,256 --jit_levels O0,O1
    python -m mindcv_resnetv2.bench.op_profile fed --workers 2            # the quick-start step fed by its real loader

`ops`: (a) our step per op type from the bench's profiler; (b) every Conv2D, Conv2DBackpropInput,
Conv2DBackpropFilter, BatchNorm, BatchNormGrad, ReLU and ReluGrad shape the step runs (from the network's own
layer calls), each op alone in a compiled MindSpore cell and in PyTorch (2 threads), alternating one call of each per
round, median per shape times the number of layers of that shape; (c) our whole step alternating with a PyTorch
step of the same architecture (SGD momentum, bench/torch_twin.py). Only `ops` needs torch (`pip install torch`),
imported when it starts, after MindSpore. Measured tables: docs/measurements.md.
"""
import argparse
import collections
import os

import mindspore as ms
import numpy as np
from mindspore import Tensor, mint, nn, ops
from mindspore.ops import operations as P
from mindspore.ops.operations import _grad_ops as G

from ..engine.builders import build_network
from ..engine.runtime import setup_runtime
from .cli import parse
from .measure import interleaved, median, paired_ratio, time_calls, warm_up
from .profile import profile_ops
from .shapes import layer_calls
from .steps import fixed_batch, our_train_step

NETS = {
    "quickstart": ["-c", "configs/resnetv2/preact_resnet_fashion_mnist_cpu.yaml"],
    "resnetv2_50_64": ["--model", "resnetv2_50", "--batch_size", "64", "--image_size", "64"],
    "resnetv2_50_224": ["--model", "resnetv2_50", "--batch_size", "16", "--image_size", "224"],
}
OP_TYPES = ("Conv2D", "Conv2DBackpropInput", "Conv2DBackpropFilter", "BatchNorm", "BatchNormGrad", "ReLU",
            "ReluGrad")
THREADS = 2


# ---------------------------------------------------------------- timing
def import_torch():
    """PyTorch on THREADS threads, imported only by the subcommand that compares with it, after MindSpore (the
    order the figures in docs/measurements.md were measured with)."""
    import torch

    torch.set_num_threads(THREADS)
    return torch


def median_ms(times):
    return 1000.0 * median(times)


# ---------------------------------------------------------------- the shapes the step runs, grouped
def op_shapes(net, batch_size, image_size):
    """{op type: Counter({shape key: layers})} from the network's layer calls; shapes at `batch_size`.

    The first convolution reads the network input, which needs no gradient: no Conv2DBackpropInput for it.
    """
    calls = layer_calls(net, (image_size, image_size))
    network_input = calls[0].input_key
    shapes = collections.defaultdict(collections.Counter)
    for call in calls:
        x_shape = (batch_size,) + call.input_shape[1:]
        cell = call.cell
        if isinstance(cell, nn.Conv2d):
            pad = cell.padding if isinstance(cell.padding, int) else cell.padding[0]
            key = (x_shape, cell.out_channels, cell.kernel_size[0], cell.stride[0], cell.pad_mode, pad, cell.group)
            shapes["Conv2D"][key] += 1
            shapes["Conv2DBackpropFilter"][key] += 1
            if call.input_key != network_input:
                shapes["Conv2DBackpropInput"][key] += 1
        elif isinstance(cell, nn.BatchNorm2d):
            shapes["BatchNorm"][x_shape] += 1
            shapes["BatchNormGrad"][x_shape] += 1
        elif isinstance(cell, nn.ReLU):
            shapes["ReLU"][x_shape] += 1
            shapes["ReluGrad"][x_shape] += 1
    return shapes


def conv_output_shape(key):
    (n, _, h, w), out_channels, kernel, stride, pad_mode, pad, _ = key
    if pad_mode == "same":
        return n, out_channels, -(-h // stride), -(-w // stride)
    side = lambda size: (size + 2 * pad - kernel) // stride + 1  # noqa: E731
    return n, out_channels, side(h), side(w)


# ---------------------------------------------------------------- one op alone, MindSpore (graph mode) and PyTorch
class _Op(nn.Cell):
    """One primitive applied to the cell's inputs, plus constant trailing arguments (sizes)."""

    def __init__(self, primitive, *constants):
        super().__init__()
        self.primitive = primitive
        self.constants = constants

    def construct(self, a, b):
        return self.primitive(a, b, *self.constants)


class _BatchNormTrain(nn.Cell):
    def __init__(self, channels):
        super().__init__()
        self.bn = P.BatchNorm(is_training=True, epsilon=1e-5, momentum=0.1)
        self.mean = ms.Parameter(Tensor(np.zeros(channels, np.float32)), name="mean")
        self.var = ms.Parameter(Tensor(np.ones(channels, np.float32)), name="var")

    def construct(self, x, gamma, beta):
        return self.bn(x, gamma, beta, self.mean, self.var)


class _BatchNormGrad(nn.Cell):
    def __init__(self):
        super().__init__()
        self.grad = G.BatchNormGrad(is_training=True, epsilon=1e-5)

    def construct(self, dy, x, gamma, mean, inv_std, reserve):
        return self.grad(dy, x, gamma, mean, inv_std, reserve)


class _Relu(nn.Cell):
    def __init__(self):
        super().__init__()
        self.relu = P.ReLU()

    def construct(self, x):
        return self.relu(x)


def _normal(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape, dtype=np.float32)


def op_pair(op_type, key):
    """(MindSpore call, PyTorch call) of `op_type` alone at shape `key`. PyTorch's returns after the work is done;
    MindSpore's returns its output, which the timing loop (bench.measure) fetches to the host to wait for the
    kernels (ms.runtime.synchronize is not supported on CPU in MindSpore 2.8), the copy included in the figure."""
    torch = import_torch()
    import torch.nn.functional as F
    if op_type.startswith("Conv2D"):
        x_shape, out_channels, kernel, stride, pad_mode, pad, group = key
        w_shape = (out_channels, x_shape[1] // group, kernel, kernel)
        y_shape = conv_output_shape(key)
        x, w, dy = _normal(x_shape), _normal(w_shape, 1), _normal(y_shape, 2)
        mx, mw, mdy = Tensor(x), Tensor(w), Tensor(dy)
        tx, tw, tdy = torch.from_numpy(x), torch.from_numpy(w), torch.from_numpy(dy)
        torch_pad = pad if pad_mode == "pad" else (kernel // 2 if pad_mode == "same" else 0)
        common = dict(pad_mode=pad_mode, pad=pad, stride=stride, group=group)
        conv_args = (None, (stride, stride), (torch_pad, torch_pad), (1, 1), False, (0, 0), group)
        if op_type == "Conv2D":
            cell = _Op(P.Conv2D(out_channels, kernel, **common))
            return (lambda: cell(mx, mw),
                    lambda: F.conv2d(tx, tw, None, stride, torch_pad, 1, group))
        if op_type == "Conv2DBackpropInput":
            cell = _Op(P.Conv2DBackpropInput(out_channels, kernel, **common), x_shape)
            return (lambda: cell(mdy, mw),
                    lambda: torch.ops.aten.convolution_backward(tdy, tx, tw, *conv_args, (True, False, False)))
        common["stride"] = (stride, stride)
        cell = _Op(G.Conv2DBackpropFilter(out_channels, kernel, pad_list=(pad,) * 4, **common), w_shape)
        return (lambda: cell(mdy, mx),
                lambda: torch.ops.aten.convolution_backward(tdy, tx, tw, *conv_args, (False, True, False)))
    x, dy = _normal(key), _normal(key, 2)
    channels = key[1]
    gamma, beta = np.ones(channels, np.float32), np.zeros(channels, np.float32)
    mx, mdy, mgamma, mbeta = Tensor(x), Tensor(dy), Tensor(gamma), Tensor(beta)
    tx, tdy, tgamma, tbeta = (torch.from_numpy(a) for a in (x, dy, gamma, beta))
    tmean, tvar = torch.zeros(channels), torch.ones(channels)
    if op_type == "BatchNorm":
        cell = _BatchNormTrain(channels)
        return (lambda: cell(mx, mgamma, mbeta),
                lambda: torch.ops.aten.native_batch_norm(tx, tgamma, tbeta, tmean, tvar, True, 0.1, 1e-5))
    if op_type == "BatchNormGrad":
        _, saved_mean, saved_inv, reserve, _ = _BatchNormTrain(channels)(mx, mgamma, mbeta)
        _, t_mean, t_inv = torch.ops.aten.native_batch_norm(tx, tgamma, tbeta, tmean, tvar, True, 0.1, 1e-5)
        cell = _BatchNormGrad()
        return (lambda: cell(mdy, mx, mgamma, saved_mean, saved_inv, reserve),
                lambda: torch.ops.aten.native_batch_norm_backward(tdy, tx, tgamma, tmean, tvar, t_mean, t_inv,
                                                                  True, 1e-5, (True, True, True)))
    if op_type == "ReLU":
        cell = _Relu()
        return lambda: cell(mx), lambda: torch.relu(tx)
    cell = _Op(G.ReluGrad())
    y = np.maximum(x, 0)
    my, ty = Tensor(y), torch.from_numpy(y)
    return lambda: cell(mdy, my), lambda: torch.ops.aten.threshold_backward(tdy, ty, 0)


def time_ops_alone(shapes, rounds):
    """{op type: (MindSpore ms per step, PyTorch ms per step, [per-shape rows])}: per-shape medians x layer count."""
    torch = import_torch()
    results = {}
    with torch.no_grad():
        for op_type in OP_TYPES:
            ms_total = torch_total = 0.0
            rows = []
            for key, count in shapes[op_type].items():
                ms_call, torch_call = op_pair(op_type, key)
                for call in (ms_call, torch_call):
                    warm_up(call, 2)
                ms_times, torch_times = interleaved([ms_call, torch_call], rounds)
                rows.append((key, count, median_ms(ms_times), median_ms(torch_times)))
                ms_total += count * median_ms(ms_times)
                torch_total += count * median_ms(torch_times)
            results[op_type] = (ms_total, torch_total, rows)
    return results


def launch_overhead_ms(rounds):
    """Wall time of a compiled MindSpore cell doing (almost) nothing: ReLU of one float."""
    cell = _Relu()
    one = Tensor(np.ones((1,), np.float32))
    _, times = time_calls(lambda: cell(one), rounds)
    return median_ms(times)


# ---------------------------------------------------------------- ops: the per-op table
def ops_table(net_name, rounds, step_rounds):
    from .torch_twin import torch_step, torch_twin

    torch = import_torch()
    cfg, _, _ = parse(NETS[net_name])
    runtime = setup_runtime(cfg)
    num_classes = cfg.num_classes or 1000
    net = build_network(cfg, num_classes)
    images, labels = fixed_batch(cfg.batch_size, cfg.in_channels, cfg.image_resize, num_classes, cfg.seed)
    shapes = op_shapes(net, cfg.batch_size, cfg.image_resize)
    ours = our_train_step(cfg, net, runtime)
    ours_call = lambda: ours(images, labels)  # noqa: E731  (the bench's timing syncs on its first output)
    warm_up(ours_call, 2)
    op_ms, profiled_wall = profile_ops(ours_call, step_rounds)

    twin = torch_twin(net, cfg.in_channels, num_classes)
    theirs_call = torch_step(twin, cfg, images, labels)
    warm_up(theirs_call, 2)
    ours_times, theirs_times = interleaved([ours_call, theirs_call], step_rounds)

    alone = time_ops_alone(shapes, rounds)
    overhead = launch_overhead_ms(rounds)
    load = os.getloadavg()[0]
    print(f"\n{cfg.model}, batch {cfg.batch_size} x {cfg.in_channels} x {cfg.image_resize} x {cfg.image_resize}; "
          f"MindSpore {ms.__version__} (graph mode, {ms.get_context('runtime_num_threads')} threads), torch "
          f"{torch.__version__} ({torch.get_num_threads()} threads), {os.cpu_count()} cores, load average after "
          f"{load:.1f}; ops alone: median of {rounds} alternating rounds per shape x layers of that shape; whole "
          f"step: {step_rounds} alternating rounds; a compiled MindSpore cell's own launch costs {overhead:.2f} ms "
          f"per call (included in 'alone, MindSpore')\n")
    print("| op type | ms/step in our step (profiler) | same op alone, MindSpore | same op alone, PyTorch | "
          "alone: MindSpore / PyTorch | in our step / PyTorch alone | shapes (layers) |")
    print("|---|---|---|---|---|---|---|")
    for op_type in OP_TYPES:
        ms_total, torch_total, rows = alone[op_type]
        in_step = op_ms.get(op_type, 0.0)
        print(f"| {op_type} | {in_step:.1f} | {ms_total:.1f} | {torch_total:.1f} | {ms_total / torch_total:.2f} | "
              f"{in_step / torch_total:.2f} | {len(rows)} ({sum(r[1] for r in rows)}) |")
    rest = sum(v for k, v in op_ms.items() if k not in OP_TYPES)
    print(f"| other op types ({len(op_ms) - len(set(op_ms) & set(OP_TYPES))}) | {rest:.1f} | | | | | |")
    in_step = sum(op_ms.get(op_type, 0.0) for op_type in OP_TYPES)
    torch_total = sum(a[1] for a in alone.values())
    print(f"| the 7 op types above | {in_step:.1f} | {sum(a[0] for a in alone.values()):.1f} | {torch_total:.1f} | "
          f"| {in_step / torch_total:.2f} | |")
    print(f"| all op types (profiled steps' wall) | {sum(op_ms.values()):.1f} ({profiled_wall:.1f}) | | | | | |")
    ratio = paired_ratio(ours_times, theirs_times)
    print(f"| **whole training step** (ours vs PyTorch {cfg.opt} step, same layout) | {median_ms(ours_times):.1f} "
          f"({cfg.batch_size / median(ours_times):.1f} img/s) | | {median_ms(theirs_times):.1f} "
          f"({cfg.batch_size / median(theirs_times):.1f} img/s) | | {ratio:.2f} (median of rounds) | |")
    print("\nPer shape (ms per call, MindSpore / PyTorch):")
    for op_type in OP_TYPES:
        for key, count, ms_ms, torch_ms in sorted(alone[op_type][2], key=lambda r: -r[1] * r[2]):
            print(f"  {op_type:22s} {str(key):70s} x{count:2d}  {ms_ms:8.2f} {torch_ms:8.2f}  {ms_ms / torch_ms:5.2f}")


# ---------------------------------------------------------------- ab: variants of one pre-activation unit
class _Unit(nn.Cell):
    """BN -> ReLU -> 3x3 conv, built from `nn` cells (pad mode "pad" or "same") or from `mint` functional ops."""

    def __init__(self, channels, variant):
        super().__init__()
        self.variant = variant
        self.bn = nn.BatchNorm2d(channels)
        self.relu = nn.ReLU()
        pad = dict(pad_mode="same") if variant == "nn, pad_mode same" else dict(pad_mode="pad", padding=1)
        self.conv = nn.Conv2d(channels, channels, 3, has_bias=False, **pad)
        self.mint_bn = mint.nn.BatchNorm2d(channels) if variant == "mint.nn.BatchNorm2d" else None

    def construct(self, x):
        if self.variant == "mint functional":
            y = mint.nn.functional.batch_norm(x, self.bn.moving_mean, self.bn.moving_variance, self.bn.gamma,
                                              self.bn.beta, True, 0.1, 1e-5)
            return mint.nn.functional.conv2d(mint.nn.functional.relu(y), self.conv.weight, None, 1, 1)
        if self.variant == "mint.nn.BatchNorm2d":
            return self.conv(self.relu(self.mint_bn(x)))
        if self.variant == "mint.nn.functional.relu":
            return self.conv(mint.nn.functional.relu(self.bn(x)))
        if self.variant == "ops.batch_norm":
            y = ops.batch_norm(x, self.bn.moving_mean, self.bn.moving_variance, self.bn.gamma, self.bn.beta, True)
            return self.conv(self.relu(y))
        return self.conv(self.relu(self.bn(x)))


class _UnitGrad(nn.Cell):
    """Gradients of the unit's summed output with respect to its input and its weights: forward + backward."""

    def __init__(self, unit):
        super().__init__()
        self.unit = unit
        self.weights = ms.ParameterTuple(unit.trainable_params())
        self.grad = ops.GradOperation(get_all=True, get_by_list=True)

    def construct(self, x):
        return self.grad(self.unit, self.weights)(x)


AB_VARIANTS = ("nn, pad_mode pad", "nn, pad_mode same", "mint functional", "mint.nn.BatchNorm2d",
               "mint.nn.functional.relu", "ops.batch_norm")
AB_SHAPES = {"quick-start stage 1": (128, 16, 28, 28), "resnetv2_50 at 64, stage 1": (64, 64, 16, 16)}


def ab_table(rounds):
    """Forward + backward (grads of input and weights) of one unit per variant, alternating, in graph mode."""
    ms.set_context(mode=ms.GRAPH_MODE)
    print(f"MindSpore {ms.__version__}, graph mode, {ms.get_context('runtime_num_threads')} threads; median ms of "
          f"{rounds} alternating rounds (forward + backward of BN-ReLU-conv3x3); load {os.getloadavg()[0]:.1f}\n")
    print("| unit shape | " + " | ".join(AB_VARIANTS) + " |")
    print("|---|" + "---|" * len(AB_VARIANTS))
    for label, shape in AB_SHAPES.items():
        x = Tensor(_normal(shape))
        calls, notes = [], {}
        for variant in AB_VARIANTS:
            unit = _Unit(shape[1], variant)
            unit.set_train()
            grad = _UnitGrad(unit)
            call = lambda g=grad: g(x)  # noqa: E731
            try:
                call()[0][0].asnumpy()
                call()
            except Exception as err:  # noqa: BLE001  (a variant CPU cannot run is a result, reported in the table)
                lines = [line.strip(" -") for line in str(err).splitlines() if line.strip(" -")]
                notes[variant] = "fails: " + next((line for line in lines if "kernel" in line.lower()), lines[0])[:60]
                continue
            calls.append((variant, call))
        times = dict(zip([v for v, _ in calls], interleaved([c for _, c in calls], rounds)))
        cells = [notes.get(v) or f"{median_ms(times[v]):.1f}" for v in AB_VARIANTS]
        print(f"| {label} {shape} | " + " | ".join(cells) + " |")


# ---------------------------------------------------------------- evalmem: evaluation holds one batch
def eval_memory(net_name, batches):
    """Peak RSS after evaluating 1 batch, then after `batches` batches, with the Evaluator validate.py runs."""
    from ..engine.evaluation import Evaluator
    from .measure import peak_memory_mb

    cfg, _, _ = parse(NETS[net_name])
    runtime = setup_runtime(cfg)
    num_classes = cfg.num_classes or 1000
    net = build_network(cfg, num_classes)
    evaluator = Evaluator(net, num_classes)
    shape = (cfg.batch_size, cfg.in_channels, cfg.image_resize, cfg.image_resize)
    rng = np.random.default_rng(0)

    def loader(count):
        images = rng.standard_normal((count * cfg.batch_size,) + shape[1:], dtype=np.float32)
        labels = rng.integers(0, num_classes, count * cfg.batch_size).astype(np.int32)
        return ms.dataset.NumpySlicesDataset({"image": images, "label": labels}, shuffle=False).batch(
            cfg.batch_size)

    one = loader(1)
    before = peak_memory_mb()
    evaluator(one, runtime)
    after_one = peak_memory_mb()
    many = loader(batches)  # its source arrays are built before the peak is read again
    data = peak_memory_mb()
    evaluator(many, runtime)
    after_many = peak_memory_mb()
    evaluator(many, runtime)  # the same split again: growth here would be memory kept per batch
    after_again = peak_memory_mb()
    batch_mb = np.prod(shape) * 4 / 2 ** 20
    print(f"\n{cfg.model}, evaluation batches of {shape}, one batch of images = {batch_mb:.1f} MiB; "
          f"MindSpore {ms.__version__}, load {os.getloadavg()[0]:.1f}\n")
    print("| peak resident memory | MiB |\n|---|---|")
    print(f"| before evaluating (network built, 1-batch source) | {before:.0f} |")
    print(f"| after evaluating 1 batch (graph compiled) | {after_one:.0f} |")
    print(f"| after building the {batches}-batch source ({batches * batch_mb:.0f} MiB of images) | {data:.0f} |")
    print(f"| after evaluating {batches} batches (the data pipeline's prefetch queue included) | {after_many:.0f} "
          f"(+{after_many - data:.0f}) |")
    print(f"| after evaluating the {batches} batches a second time | {after_again:.0f} "
          f"(+{after_again - after_many:.0f}) |")


# ---------------------------------------------------------------- knobs: training-step variants in one process
def knobs_table(net_name, batch_sizes, jit_levels, rounds):
    """Our training step at every (batch size, jit level), each on its own network, alternating one step of each
    per round: img/s, and img/s relative to the first variant as the median of per-round ratios."""
    import copy

    base, _, _ = parse(NETS[net_name])
    runtime = setup_runtime(base)
    num_classes = base.num_classes or 1000
    labels, calls = [], []
    for batch_size in batch_sizes:
        for level in jit_levels:
            cfg = copy.copy(base)
            cfg.batch_size = batch_size
            net = build_network(cfg, num_classes)
            step = our_train_step(cfg, net, runtime)
            step.set_jit_config(ms.JitConfig(jit_level=level))
            images, targets = fixed_batch(batch_size, cfg.in_channels, cfg.image_resize, num_classes, cfg.seed)
            call = lambda s=step, x=images, y=targets: s(x, y)  # noqa: E731
            warm_up(call, 2)
            labels.append((batch_size, level))
            calls.append(call)
    load_before = os.getloadavg()[0]
    times = interleaved(calls, rounds)
    print(f"\n{base.model} at {base.image_resize}x{base.image_resize}, MindSpore {ms.__version__}, "
          f"{ms.get_context('runtime_num_threads')} threads; {rounds} alternating rounds; load average "
          f"{load_before:.1f} -> {os.getloadavg()[0]:.1f}\n")
    print("| batch | jit_level | ms/step | img/s | img/s relative to the first row (median of rounds) |")
    print("|---|---|---|---|---|")
    first_rate = [labels[0][0] / t for t in times[0]]
    for (batch_size, level), series in zip(labels, times):
        relative = median([batch_size / t / r for t, r in zip(series, first_rate)])
        print(f"| {batch_size} | {level} | {median_ms(series):.0f} | {batch_size / median(series):.1f} "
              f"| {relative:.3f} |")


# ---------------------------------------------------------------- fed: data workers beside the compute threads
def fed_table(workers, rounds, data_dir):
    """The quick-start step fed by the real Fashion-MNIST loader with `workers` pipeline workers, alternating with
    the same step on a fixed batch: does the loader (its threads share the 2 cores) slow the step?"""
    from ..engine.builders import build_train_loader

    cfg, _, _ = parse(NETS["quickstart"] + ["--num_parallel_workers", str(workers), "--data_dir", data_dir])
    runtime = setup_runtime(cfg)
    net = build_network(cfg, cfg.num_classes)
    step = our_train_step(cfg, net, runtime)
    images, labels = fixed_batch(cfg.batch_size, cfg.in_channels, cfg.image_resize, cfg.num_classes, cfg.seed)
    batches = build_train_loader(cfg, runtime, cfg.num_classes).create_tuple_iterator()
    calls = [lambda: step(images, labels), lambda: step(*next(batches))]
    for call in calls:
        warm_up(call, 2)
    load_before = os.getloadavg()[0]
    fixed, fed = interleaved(calls, rounds)
    ratio = paired_ratio(fed, fixed)
    print(f"\n{cfg.model}, batch {cfg.batch_size}, {workers} pipeline worker(s), {rounds} alternating rounds, "
          f"MindSpore {ms.__version__}, load {load_before:.1f} -> {os.getloadavg()[0]:.1f}: fixed batch "
          f"{median_ms(fixed):.0f} ms/step, fed by the loader {median_ms(fed):.0f} ms/step, fed / fixed "
          f"(median of rounds) {ratio:.3f}")


def build_parser():
    parser = argparse.ArgumentParser(prog="python -m mindcv_resnetv2.bench.op_profile",
                                     description=__doc__.split("\n\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    ops_parser = sub.add_parser("ops", help="the per-op table of one network")
    ops_parser.add_argument("--net", choices=sorted(NETS), default="quickstart")
    ops_parser.add_argument("--rounds", type=int, default=7, help="alternating rounds per op shape")
    ops_parser.add_argument("--step_rounds", type=int, default=6, help="profiled steps and whole-step rounds")
    ab_parser = sub.add_parser("ab", help="variants of one BN-ReLU-conv unit, alternating")
    ab_parser.add_argument("--rounds", type=int, default=15)
    knobs_parser = sub.add_parser("knobs", help="our step at several batch sizes and jit levels, alternating")
    knobs_parser.add_argument("--net", choices=sorted(NETS), default="quickstart")
    knobs_parser.add_argument("--batch_sizes", default="", help="comma-separated (default: the net's own)")
    knobs_parser.add_argument("--jit_levels", default="O0", help="comma-separated, e.g. O0,O1")
    knobs_parser.add_argument("--rounds", type=int, default=8)
    mem_parser = sub.add_parser("evalmem", help="peak memory of evaluation: 1 batch, then many")
    mem_parser.add_argument("--net", choices=sorted(NETS), default="quickstart")
    mem_parser.add_argument("--batches", type=int, default=50)
    fed_parser = sub.add_parser("fed", help="the quick-start step fed by its loader vs a fixed batch")
    fed_parser.add_argument("--workers", type=int, default=2)
    fed_parser.add_argument("--rounds", type=int, default=30)
    fed_parser.add_argument("--data_dir", default="/usr/share/datasets/fashion-mnist")
    return parser


def main(argv=None):
    args = build_parser().parse_args(argv)
    if args.command == "ops":
        ops_table(args.net, args.rounds, args.step_rounds)
    elif args.command == "fed":
        fed_table(args.workers, args.rounds, args.data_dir)
    elif args.command == "evalmem":
        eval_memory(args.net, args.batches)
    elif args.command == "knobs":
        default_batch = parse(NETS[args.net])[0].batch_size
        batch_sizes = [int(b) for b in args.batch_sizes.split(",") if b] or [default_batch]
        knobs_table(args.net, batch_sizes, args.jit_levels.split(","), args.rounds)
    else:
        ab_table(args.rounds)


if __name__ == "__main__":
    main()
