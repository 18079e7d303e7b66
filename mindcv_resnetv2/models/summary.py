"""Parameter and FLOP counts of registered models, and the model tables built from them (README, docs/models.md).

FLOPs are counted from the real convolution and matmul shapes seen in one forward pass (PyNative hooks),
not from constants, so the benchmark's achieved-GFLOP/s figure and the model tables share one source.
One multiply-add counts as 2 FLOPs.
"""
import argparse
import contextlib
import gc

import mindspore as ms
import numpy as np
from mindspore import nn

from ..convert.timm import TIMM_NAMES
from .model_factory import create_model
from .registry import list_models, natural_key
from .resnetv2 import dummy_input


def count_parameters(net, trainable_only=True):
    """Number of scalar parameters; with trainable_only=False BN moving statistics count too (MindCV's figure)."""
    params = net.trainable_params() if trainable_only else net.get_parameters()
    return sum(int(p.size) for p in params)


def _layer_macs(cell, output_shape):
    """Multiply-adds of one Conv2d or Dense call producing `output_shape`."""
    if isinstance(cell, nn.Conv2d):
        kh, kw = cell.kernel_size
        per_output = (cell.in_channels // cell.group) * kh * kw
        batch, channels, height, width = output_shape
        return batch * channels * height * width * per_output
    if isinstance(cell, nn.Dense):
        return int(output_shape[0]) * cell.in_channels * cell.out_channels
    return 0


def forward_with_hooks(net, image, cell_types, hook):
    """One eval-mode PyNative forward pass of `net` on `image` that calls hook(name, cell, inputs, output) after
    every cell of `cell_types`; the execution mode and the network's training flag are restored afterwards."""
    def named(name):  # MindSpore takes plain functions as hooks only (no functools.partial)
        def call(cell, inputs, output):
            hook(name, cell, inputs, output)
        return call

    handles = [cell.register_forward_hook(named(name)) for name, cell in net.cells_and_names()
               if isinstance(cell, cell_types)]
    previous_mode, was_training = ms.get_context("mode"), net.training
    ms.set_context(mode=ms.PYNATIVE_MODE)
    try:
        net.set_train(False)
        net(image)
    finally:
        for handle in handles:
            handle.remove()
        net.set_train(was_training)
        ms.set_context(mode=previous_mode)


def count_flops(net, batch_size=1, image_size=None):
    """Forward FLOPs (2 x multiply-adds of every conv and dense layer) for one batch of the given size.

    Runs one PyNative forward pass with hooks; the previous execution mode is restored afterwards.
    """
    total = [0]

    def add(_name, cell, _inputs, output):
        total[0] += _layer_macs(cell, tuple(output.shape))

    forward_with_hooks(net, dummy_input(net, batch_size, image_size), (nn.Conv2d, nn.Dense), add)
    return 2 * total[0]


# Every network here halves its feature maps five times: 32 px is the smallest input they fully divide.
TOTAL_STRIDE = 32


def default_input_flops(net):
    """count_flops at the model's default input, computed at 32 px and scaled by the input's area.

    For an input whose sides are multiples of 32, every feature map of these networks is the input divided by its
    stride, so each convolution's work grows exactly with the area, and the classifier's does not change
    (tests/test_models.py checks this against the full count); the widest BiT nets at 448-480 px then cost a
    32 px forward pass instead of minutes.
    """
    height, width = net.default_cfg["input_size"][1:]
    if height % TOTAL_STRIDE or width % TOTAL_STRIDE:
        return count_flops(net)
    head = getattr(net, "classifier", None)  # a Dense, or a 1x1 convolution on the pooled features (conv head)
    dense = 2 * sum(cell.in_channels * cell.out_channels for _, cell in net.cells_and_names()
                    if isinstance(cell, nn.Dense) or cell is head and isinstance(cell, nn.Conv2d))
    small = count_flops(net, image_size=(TOTAL_STRIDE, TOTAL_STRIDE))
    return (small - dense) * (height * width) // (TOTAL_STRIDE * TOTAL_STRIDE) + dense


def _layout(name, cfg):
    if "layout" in cfg:
        return cfg["layout"]
    return "MindCV" if name.startswith("resnetv2") else ("paper, CIFAR" if name.endswith("_cifar") else "paper")


def _uninitialised_parameters():
    """MindSpore's context that skips drawing initial values (mindspore.nn.utils.no_init_parameters, 2.5+)."""
    from mindspore.nn import utils as nn_utils

    maker = getattr(nn_utils, "no_init_parameters", None)
    return maker() if maker else contextlib.nullcontext()


def model_table(pattern="*", flops=True):
    """Markdown table of every registered model: its timm name (convert.timm.TIMM_NAMES), trainable and total
    parameters, GFLOPs at its default input (flops=False: "-", which skips the forward pass: the widest BiT nets
    then take a fraction of a second instead of many seconds)."""
    timm_names = {ours: timm for timm, ours in TIMM_NAMES.items()}
    rows = [
        "| model | timm name | layout | input | trainable params | params incl. BN stats | GFLOPs |",
        "|---|---|---|---|---:|---:|---:|",
    ]
    for name in list_models(pattern):
        with _uninitialised_parameters():  # counts and FLOPs need shapes only; drawing 900M random values takes long
            net = create_model(name)  # its default cfg's class count
        gflops = "-"
        if flops:
            for param in net.get_parameters():  # zeros instead: FLOPs are counted by a forward pass, which needs data
                param.set_data(ms.Tensor(np.zeros(param.shape, ms.dtype_to_nptype(param.dtype))))
            gflops = f"{default_input_flops(net) / 1e9:.3f}"
        size = net.default_cfg["input_size"]
        rows.append(
            f"| {name} | {timm_names.get(name, '-')} | {_layout(name, net.default_cfg)} | {size[1]}x{size[2]} | "
            f"{count_parameters(net):,} | {count_parameters(net, trainable_only=False):,} | {gflops} |"
        )
        del net
        gc.collect()  # the widest BiT nets hold GBs each
    return "\n".join(rows)


def timm_table():
    """Markdown table: every timm ResNetV2 name and the model of ours that holds its weights."""
    rows = ["| timm name | ours |", "|---|---|"]
    rows += [f"| {timm} | {ours} |" for timm, ours in sorted(TIMM_NAMES.items(), key=lambda kv: natural_key(kv[0]))]
    return "\n".join(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m mindcv_resnetv2.models",
        description="Print the table of registered models with their timm names, parameter counts and GFLOPs "
        "(1 multiply-add = 2 FLOPs).",
    )
    parser.add_argument("--pattern", default="*", help="shell-style filter on model names (default: all)")
    parser.add_argument("--timm", action="store_true",
                        help="only print the table of timm ResNetV2 names and ours (builds no model)")
    parser.add_argument("--no-flops", dest="flops", action="store_false",
                        help="leave the GFLOPs column out (no forward pass: fast for the widest BiT nets)")
    args = parser.parse_args(argv)
    print(timm_table() if args.timm else model_table(args.pattern, args.flops))


if __name__ == "__main__":
    main()
