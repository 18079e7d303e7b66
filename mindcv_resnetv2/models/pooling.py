"""The pools of the ResNetV2 stems and average-down shortcuts, with ONNX-exportable forms of the padded ones.

MindSpore 2.8's ONNX exporter has no converter for a max-pool with explicit padding (MaxPool3DWithArgmax) or
for a ceil-mode average pool (AvgPool3D). Each such cell here has a second, exportable form built from ops the
exporter converts (Pad, valid pools, arithmetic), computing the same outputs. Training keeps MindSpore's own
pools (the exportable max-pool is slower: docs/measurements.md); `make_onnx_exportable(net)`
switches every such cell of a network to its exportable form before `mindspore.export(..., "ONNX")`.
"""
import numpy as np
from mindspore import nn, ops

_FLOAT32_MAX = float(np.finfo(np.float32).max)


class _Exportable(nn.Cell):
    """A cell with a training form and an ONNX-exportable form of the same function."""

    def __init__(self):
        super().__init__()
        self.onnx_exportable = False


class MaxPool3x3Pad1(_Exportable):
    """3x3 stride-2 max-pool with PyTorch's padding=1 (padding never wins the max), as timm's ResNetV2 stems."""

    def __init__(self):
        super().__init__()
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2, pad_mode="pad", padding=1)
        self.valid_pool = nn.MaxPool2d(kernel_size=3, stride=2)
        self.pad = ops.Pad(((0, 0), (0, 0), (1, 1), (1, 1)))

    def construct(self, x):
        if not self.onnx_exportable:
            return self.pool(x)
        # Zero padding, then the border pushed to -FLT_MAX: interior values are untouched (x + 0).
        border = (self.pad(ops.ones_like(x)) - 1.0) * _FLOAT32_MAX
        return self.valid_pool(self.pad(x) + border)


class ZeroPadMaxPool3x3(nn.Cell):
    """BiT's 'fixed' stem pool: pad 1 with zeros on every side, then a 3x3 stride-2 valid max-pool.

    Zero padding matters: the stem output (a convolution, before any activation) can be negative. Exportable as is.
    """

    def __init__(self):
        super().__init__()
        self.pad = ops.Pad(((0, 0), (0, 0), (1, 1), (1, 1)))
        self.pool = nn.MaxPool2d(kernel_size=3, stride=2)

    def construct(self, x):
        return self.pool(self.pad(x))


class AvgPool2x2Ceil(_Exportable):
    """2x2 stride-2 average pool with ceil_mode: an odd edge gives a last window of the valid pixels only
    (count_include_pad=False), as timm's average-down shortcut ('d' ResNets)."""

    def __init__(self):
        super().__init__()
        self.pool = nn.AvgPool2d(kernel_size=2, stride=2, pad_mode="pad", ceil_mode=True, count_include_pad=False)
        self.valid_pool = nn.AvgPool2d(kernel_size=2, stride=2)

    def construct(self, x):
        if not self.onnx_exportable:
            return self.pool(x)
        odd_h, odd_w = x.shape[2] % 2, x.shape[3] % 2
        if not odd_h and not odd_w:
            return self.valid_pool(x)
        pad = ops.Pad(((0, 0), (0, 0), (0, odd_h), (0, odd_w)))
        # Mean over the zero-padded window divided by the fraction of it that is real: the mean of the real pixels.
        return self.valid_pool(pad(x)) / self.valid_pool(pad(ops.ones_like(x[:, :1])))


def make_onnx_exportable(net):
    """Switch every pool of `net` that has an exportable form to it (in place); returns how many were switched.

    The outputs are unchanged; call this on the network given to `mindspore.export(..., file_format="ONNX")`.
    """
    switched = 0
    for _, cell in net.cells_and_names():
        if isinstance(cell, _Exportable):
            cell.onnx_exportable = True
            switched += 1
    return switched
