"""Our normalisation, weight-standardised convolution and pool cells compute what timm's (PyTorch) layers compute.

Same random parameters and inputs on both sides; forward output and the gradients of sum(output * upstream)
with respect to the input and every parameter (train mode), so weight standardisation is checked to be part
of the graph that trains, not a one-off transform of the stored weight. All timm layers run in one PyTorch
subprocess (tests/reference_nets.py). The exportable pool forms are checked against the training forms and
through onnxruntime.
"""
import zlib

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn
from reference_nets import relative_error, require_oracles, run_timm_layers

from mindcv_resnetv2.models.norm_act import (
    BatchNormAct2d,
    EvoNormS0,
    FilterResponseNormTLU,
    GroupNormAct,
    norm_act_layer,
)
from mindcv_resnetv2.models.pooling import AvgPool2x2Ceil, MaxPool3x3Pad1, ZeroPadMaxPool3x3, make_onnx_exportable
from mindcv_resnetv2.models.std_conv import BIT_EPS, StdConv2d

RTOL = 1e-5
# timm parameter name -> ours.
PARAM_NAMES = {"weight": "gamma", "bias": "beta", "v": "v", "tau": "tau"}

# case: (our cell factory, timm class path, timm kwargs, input shape, our parameter names that are conv weights)
CASES = {
    "std_conv_3x3_s2": (lambda: StdConv2d(8, 16, 3, stride=2), "timm.layers.StdConv2d",
                        dict(in_channel=8, out_channels=16, kernel_size=3, stride=2, eps=BIT_EPS), (2, 8, 9, 9)),
    "std_conv_7x7_s2": (lambda: StdConv2d(3, 8, 7, stride=2), "timm.layers.StdConv2d",
                        dict(in_channel=3, out_channels=8, kernel_size=7, stride=2, eps=BIT_EPS), (2, 3, 16, 16)),
    "std_conv_1x1": (lambda: StdConv2d(16, 32, 1), "timm.layers.StdConv2d",
                     dict(in_channel=16, out_channels=32, kernel_size=1, eps=BIT_EPS), (2, 16, 5, 5)),
    "group_norm_act": (lambda: GroupNormAct(64), "timm.layers.GroupNormAct",
                       dict(num_channels=64, num_groups=32), (2, 64, 5, 6)),
    "evonorm_s0": (lambda: EvoNormS0(64), "timm.layers.EvoNorm2dS0", dict(num_features=64), (2, 64, 5, 6)),
    "frn_tlu": (lambda: FilterResponseNormTLU(16), "timm.layers.FilterResponseNormTlu2d",
                dict(num_features=16), (2, 16, 5, 6)),
    "batchnorm_act": (lambda: BatchNormAct2d(16), "timm.layers.BatchNormAct2d", dict(num_features=16), (4, 16, 5, 6)),
    "max_pool_pad1_odd": (MaxPool3x3Pad1, "torch.nn.MaxPool2d", dict(kernel_size=3, stride=2, padding=1), (2, 4, 13, 13)),
    "max_pool_pad1_even": (MaxPool3x3Pad1, "torch.nn.MaxPool2d", dict(kernel_size=3, stride=2, padding=1), (2, 4, 14, 12)),
    "avg_pool_ceil_odd": (AvgPool2x2Ceil, "torch.nn.AvgPool2d",
                          dict(kernel_size=2, stride=2, ceil_mode=True, count_include_pad=False), (2, 4, 13, 7)),
}


def _timm_param_name(ours):
    return {v: k for k, v in PARAM_NAMES.items()}[ours] if ours in PARAM_NAMES.values() else ours


def _case_arrays(case, cell, shape):
    """Random input, upstream gradient and parameters (keyed by timm names); shifted so pools see negatives."""
    rng = np.random.default_rng(zlib.crc32(case.encode()))
    x = (rng.standard_normal(shape) * 2.0 - 0.5).astype(np.float32)
    arrays = {"input": x}
    for param in cell.trainable_params():
        short = param.name.rsplit(".", 1)[-1]
        if short == "weight":
            value = rng.standard_normal(param.shape) * 0.3 + 0.05  # non-zero mean: standardisation must remove it
        elif short in ("gamma", "v"):
            value = rng.uniform(0.5, 1.5, param.shape)
        else:
            value = rng.normal(0.0, 0.3, param.shape)
        arrays[_timm_param_name(short)] = value.astype(np.float32)
    return arrays


@pytest.fixture(scope="module")
def layer_references(tmp_path_factory):
    require_oracles("torch", "timm")
    cells, cases = {}, {}
    for case, (factory, cls, kwargs, shape) in CASES.items():
        cell = factory()
        arrays = _case_arrays(case, cell, shape)
        cells[case] = (cell, arrays)
        cases[case] = (cls, kwargs, arrays)
    # The upstream gradient has the output's shape: take it from a forward pass of our cell.
    for case, (cell, arrays) in cells.items():
        out_shape = _forward(cell, arrays).shape
        arrays["upstream"] = np.random.default_rng(7).standard_normal(out_shape).astype(np.float32)
    return cells, run_timm_layers(cases, tmp_path_factory.mktemp("layers"))


def _load(cell, arrays):
    for param in cell.trainable_params():
        param.set_data(ms.Tensor(arrays[_timm_param_name(param.name.rsplit(".", 1)[-1])]))


def _forward(cell, arrays):
    _load(cell, arrays)
    cell.set_train(True)
    return cell(ms.Tensor(arrays["input"])).asnumpy()


class _Objective(nn.Cell):
    def __init__(self, cell, upstream):
        super().__init__()
        self.cell = cell
        self.upstream = ms.Tensor(upstream)

    def construct(self, x):
        return (self.cell(x) * self.upstream).sum()


def _close(actual, expected, what):
    assert actual.shape == expected.shape, f"{what}: shape {actual.shape} != timm's {expected.shape}"
    rel, max_abs = relative_error(actual, expected)
    assert rel <= RTOL, f"{what}: max |diff| {max_abs:.3g} = {rel:.3g} of max |timm| (allowed {RTOL:g})"


@pytest.mark.slow  # one PyTorch process (~13 s) and a graph compilation per case
@pytest.mark.parametrize("case", sorted(CASES))
def test_layer_matches_timm(case, layer_references, graph_mode):
    cells, references = layer_references
    cell, arrays = cells[case]
    expected = references[case]
    _close(_forward(cell, arrays), expected["output"], f"{case} output")

    params = cell.trainable_params()
    grad_fn = ms.value_and_grad(_Objective(cell, arrays["upstream"]), grad_position=0, weights=params or None)
    _, grads = grad_fn(ms.Tensor(arrays["input"]))
    input_grad, param_grads = (grads[0], grads[1]) if params else (grads, ())
    _close(input_grad.asnumpy(), expected["grad.input"], f"{case} input gradient")
    for param, grad in zip(params, param_grads):
        timm_name = _timm_param_name(param.name.rsplit(".", 1)[-1])
        _close(grad.asnumpy(), expected[f"grad.{timm_name}"], f"{case} gradient of {timm_name}")


def test_std_conv_keeps_the_raw_weight_and_standardises_per_output_channel(pynative_mode):
    conv = StdConv2d(4, 3, 3)
    raw = np.random.default_rng(0).normal(2.0, 5.0, (3, 4, 3, 3)).astype(np.float32)
    conv.weight.set_data(ms.Tensor(raw))
    standardized = conv.standardized_weight().asnumpy().reshape(3, -1)
    np.testing.assert_allclose(standardized.mean(1), 0, atol=1e-5)
    np.testing.assert_allclose(standardized.std(1), 1, rtol=1e-4)
    np.testing.assert_array_equal(conv.weight.asnumpy(), raw)


def test_zero_pad_max_pool_pads_with_zeros(pynative_mode):
    """BiT's stem pool: an all-negative input gives 0 on the border windows, the inner maximum elsewhere."""
    x = -np.arange(1, 1 + 2 * 7 * 7, dtype=np.float32).reshape(1, 2, 7, 7)
    padded = np.pad(x, ((0, 0), (0, 0), (1, 1), (1, 1)))
    expected = np.stack([padded[:, :, i:i + 3, j:j + 3].max((2, 3)) for i in range(0, 7, 2) for j in range(0, 7, 2)], -1)
    out = ZeroPadMaxPool3x3()(ms.Tensor(x)).asnumpy()
    np.testing.assert_array_equal(out, expected.reshape(1, 2, 4, 4))


@pytest.mark.parametrize("cell_type, shape", [(MaxPool3x3Pad1, (2, 3, 13, 13)), (MaxPool3x3Pad1, (1, 2, 14, 12)),
                                               (AvgPool2x2Ceil, (2, 3, 13, 7)), (AvgPool2x2Ceil, (1, 2, 8, 8))])
def test_exportable_pool_form_computes_the_same(cell_type, shape, graph_mode):
    x = ms.Tensor(np.random.default_rng(1).standard_normal(shape).astype(np.float32) - 1.0)
    training_form = cell_type()(x).asnumpy()
    exportable = cell_type()
    assert make_onnx_exportable(exportable) == 1
    np.testing.assert_allclose(exportable(x).asnumpy(), training_form, rtol=1e-6, atol=1e-7)


class _PoolStack(nn.Cell):
    """A stem-like stack using every pool that has an exportable form, plus the norms (which export as they are)."""

    def __init__(self):
        super().__init__()
        self.conv = StdConv2d(3, 32, 3)
        self.norm = GroupNormAct(32)
        self.max_pool = MaxPool3x3Pad1()
        self.zero_pool = ZeroPadMaxPool3x3()
        self.avg_pool = AvgPool2x2Ceil()
        self.evo = EvoNormS0(32)
        self.frn = FilterResponseNormTLU(32)

    def construct(self, x):
        x = self.norm(self.conv(x))
        return self.frn(self.evo(self.avg_pool(self.zero_pool(x) + self.max_pool(x))))


def test_onnx_export_of_the_exportable_forms_runs_in_onnxruntime(tmp_path, graph_mode):
    ort = pytest.importorskip("onnxruntime")
    net = _PoolStack()
    net.set_train(False)
    x = np.random.default_rng(2).standard_normal((1, 3, 25, 25)).astype(np.float32)
    expected = net(ms.Tensor(x)).asnumpy()
    assert make_onnx_exportable(net) == 2
    path = str(tmp_path / "stack")
    ms.export(net, ms.Tensor(x), file_name=path, file_format="ONNX")
    session = ort.InferenceSession(path + ".onnx", providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: x})[0]
    np.testing.assert_allclose(out, expected, rtol=1e-4, atol=1e-5)


def test_norm_kinds_are_named_in_errors():
    assert norm_act_layer("frn") is FilterResponseNormTLU
    with pytest.raises(ValueError, match="norm must be one of .*'groupnorm'.*got 'layernorm'"):
        norm_act_layer("layernorm")
    with pytest.raises(ValueError, match="48 channels cannot be split into 32"):
        GroupNormAct(48)
