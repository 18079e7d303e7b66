"""Building blocks shared by the networks: stochastic depth, convolution padding."""
from mindspore import nn, ops


class DropPath(nn.Cell):
    """Stochastic depth (Huang et al., 2016): drop a sample's whole residual branch with probability `drop_prob`.

    Survivors are scaled by 1 / (1 - drop_prob) so the expected output is unchanged; identity in eval mode.
    """

    def __init__(self, drop_prob=0.0):
        super().__init__()
        self.drop_prob = float(drop_prob)
        self.dropout = nn.Dropout(p=self.drop_prob)

    def construct(self, x):
        if not self.training or self.drop_prob == 0.0:
            return x
        # Dropout on a per-sample ones tensor gives a {0, 1/keep} mask broadcast over C, H, W.
        mask = self.dropout(ops.ones((x.shape[0], 1, 1, 1), x.dtype))
        return x * mask


def symmetric_padding(kernel_size):
    """Conv2d padding arguments for zero padding of kernel_size // 2 on every side (1x1 convs unpadded)."""
    padding = kernel_size // 2
    return dict(pad_mode="pad" if padding else "valid", padding=padding)
