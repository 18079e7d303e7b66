"""Weight-standardised convolution (Qiao et al., 2019), as the BiT models use it.

The kernel is standardised inside the graph at every call, so gradients flow through the standardisation and
the stored `weight` stays the raw, trainable parameter (the one timm's and Google's checkpoints hold).
"""
import numpy as np
from mindspore import Tensor, nn, ops
from mindspore import dtype as mstype

from .layers import symmetric_padding

# timm builds its BiT models with StdConv2d(eps=1e-8); Google's BiT code uses the same value.
BIT_EPS = 1e-8


class StdConv2d(nn.Conv2d):
    """A bias-free Conv2d whose kernel is standardised per output channel before use.

    w_hat = (w - mean(w)) / sqrt(var(w) + eps), mean and biased variance over (in_channels, kh, kw).
    Padding is symmetric, kernel_size // 2 (what timm's StdConv2d uses for these odd kernels).

    The standardisation is MindSpore's LayerNorm kernel over the kernel's rows (unit scale, zero shift; last
    axis, the only LayerNorm MindSpore 2.8 exports to ONNX), computed when the convolution's input is ready and
    recomputed for the backward instead of kept from the forward (graph mode; PyNative gives the same
    gradients). MindSpore 2.8's CPU graph mode otherwise holds kernel-sized tensors for the whole step; what
    each form costs in memory and time is in docs/measurements.md ("cost of weight standardisation").
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, eps=BIT_EPS):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, has_bias=False,
                         **symmetric_padding(kernel_size))
        self.eps = eps
        row = in_channels * kernel_size * kernel_size
        # Marked for recomputation (graph mode): the backward recomputes the standardised kernel from the weight
        # instead of keeping every layer's standardised kernel alive from the forward until its backward.
        self.to_rows = ops.Reshape().recompute()
        self.row_norm = ops.LayerNorm(begin_norm_axis=-1, begin_params_axis=-1, epsilon=eps).recompute()
        self.to_kernel = ops.Reshape().recompute()
        self.unit_scale = Tensor(np.ones(row, np.float32))
        self.zero_shift = Tensor(np.zeros(row, np.float32))
        # The dtype the convolution runs in (None: its input's). Mixed precision (amp.py) keeps this cell in
        # float32 and sets float16 here: the standardisation's eps and variance underflow in float16.
        self.compute_dtype = None

    def standardized_weight(self, weight=None):
        """The standardised kernel of `weight` (by default this layer's own raw weight), in float32."""
        weight = ops.cast(self.weight if weight is None else weight, mstype.float32)
        rows = self.to_rows(weight, (weight.shape[0], -1))
        rows, _, _ = self.row_norm(rows, ops.cast(self.unit_scale, mstype.float32),
                                   ops.cast(self.zero_shift, mstype.float32))
        return self.to_kernel(rows, weight.shape)

    def construct(self, x):
        # The standardisation waits for the input: nothing else orders it, and graph mode would otherwise
        # standardise every kernel of the network at the start of the step and hold them all.
        kernel = self.standardized_weight(ops.depend(self.weight, x))
        if self.compute_dtype is not None:
            x = ops.cast(x, self.compute_dtype)
        return self.conv2d(x, ops.cast(kernel, x.dtype))
