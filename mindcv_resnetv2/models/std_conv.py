"""Weight-standardised convolution (Qiao et al., 2019), as the BiT models use it.

The kernel is standardised inside the graph at every call, so gradients flow through the standardisation and
the stored `weight` stays the raw, trainable parameter (the one timm's and Google's checkpoints hold).
"""
from mindspore import nn, ops

from .layers import symmetric_padding

# timm builds its BiT models with StdConv2d(eps=1e-8); Google's BiT code uses the same value.
BIT_EPS = 1e-8


class StdConv2d(nn.Conv2d):
    """A bias-free Conv2d whose kernel is standardised per output channel before use.

    w_hat = (w - mean(w)) / sqrt(var(w) + eps), mean and biased variance over (in_channels, kh, kw).
    Padding is symmetric, kernel_size // 2 (what timm's StdConv2d uses for these odd kernels).
    """

    def __init__(self, in_channels, out_channels, kernel_size, stride=1, eps=BIT_EPS):
        super().__init__(in_channels, out_channels, kernel_size, stride=stride, has_bias=False,
                         **symmetric_padding(kernel_size))
        self.eps = eps

    def standardized_weight(self):
        """Sums over n and a product with the reciprocal std: about 2x faster (forward + backward) than
        ReduceMean and broadcast division on MindSpore 2.8's CPU kernels, measured on a 2048 x 512 kernel."""
        weight = self.weight
        flat = weight.reshape(weight.shape[0], -1)
        count = flat.shape[1]
        centred = flat - flat.sum(-1, keepdims=True) / count
        var = (centred * centred).sum(-1, keepdims=True) / count
        return (centred * (1.0 / ops.sqrt(var + self.eps))).reshape(weight.shape)

    def construct(self, x):
        return self.conv2d(x, self.standardized_weight())
