"""Normalisation + activation cells: each normalises and applies its non-linearity in one call.

A pre-activation block calls `norm(x)` and gets the activated tensor, whatever the kind, because two of the
kinds have their own non-linearity built in (EvoNorm-S0's x * sigmoid(v * x), FRN's TLU).

All affine parameters are named `gamma` / `beta` (MindSpore's BatchNorm names), per channel; every cell
initialises itself (scale 1, shift 0, EvoNorm's v 1, FRN's tau 0). Epsilons and the group count are timm's.
The group statistics are written with reshape / mean, not MindSpore's GroupNorm primitive, so that they
also export to ONNX (MindSpore 2.8's exporter has no GroupNorm converter).
"""
from mindspore import Parameter, nn, ops
from mindspore.common import initializer as init

NORM_GROUPS = 32


def _channel_parameter(value, channels, name):
    return Parameter(init.initializer(value, (channels,)), name=name)


def _per_channel(param):
    """A (C,) parameter as (1, C, 1, 1), to broadcast over NCHW."""
    return param.reshape(1, -1, 1, 1)


def _check_groups(channels, groups):
    if channels % groups:
        raise ValueError(f"{channels} channels cannot be split into {groups} normalisation groups")


def group_moments(x, groups):
    """Mean and biased variance over each group of C/groups channels and all pixels, broadcast back to x's shape."""
    batch, channels, height, width = x.shape
    grouped = x.reshape(batch, groups, -1)
    mean = grouped.mean(-1, keep_dims=True)
    var = ops.square(grouped - mean).mean(-1, keep_dims=True)
    expand = (batch, groups, (channels // groups) * height * width)
    return (
        ops.broadcast_to(mean, expand).reshape(x.shape),
        ops.broadcast_to(var, expand).reshape(x.shape),
    )


class BatchNormAct2d(nn.BatchNorm2d):
    """BatchNorm (eps 1e-5, momentum 0.9 = PyTorch's 0.1) followed by ReLU; parameter names are BatchNorm2d's."""

    def __init__(self, num_features):
        super().__init__(num_features)
        self.act = nn.ReLU()

    def construct(self, x):
        return self.act(super().construct(x))


class _GroupedNorm(nn.Cell):
    """Shared by the group-statistics norms: `groups` groups, eps, per-channel gamma (1) and beta (0)."""

    def __init__(self, num_features, groups, eps):
        super().__init__()
        _check_groups(num_features, groups)
        self.groups = groups
        self.eps = eps
        self.gamma = _channel_parameter("ones", num_features, "gamma")
        self.beta = _channel_parameter("zeros", num_features, "beta")


class GroupNormAct(_GroupedNorm):
    """GroupNorm with 32 groups (eps 1e-5) and a per-channel affine, followed by ReLU (BiT, resnetv2_50d_gn)."""

    def __init__(self, num_features, groups=NORM_GROUPS, eps=1e-5):
        super().__init__(num_features, groups, eps)
        self.act = nn.ReLU()

    def construct(self, x):
        mean, var = group_moments(x, self.groups)
        x = (x - mean) / ops.sqrt(var + self.eps)
        return self.act(x * _per_channel(self.gamma) + _per_channel(self.beta))


class EvoNormS0(_GroupedNorm):
    """EvoNorm-S0 (Liu et al., 2020): x * sigmoid(v * x) / group_std(x) * gamma + beta, 32 groups, eps 1e-5.

    No running statistics: train and eval compute the same function.
    """

    def __init__(self, num_features, groups=NORM_GROUPS, eps=1e-5):
        super().__init__(num_features, groups, eps)
        self.v = _channel_parameter("ones", num_features, "v")

    def construct(self, x):
        _, var = group_moments(x, self.groups)
        x = x * ops.sigmoid(x * _per_channel(self.v)) / ops.sqrt(var + self.eps)
        return x * _per_channel(self.gamma) + _per_channel(self.beta)


class FilterResponseNormTLU(nn.Cell):
    """Filter response normalisation with a thresholded linear unit (Singh & Krishnan, 2020).

    x / sqrt(mean over H, W of x^2 + eps) * gamma + beta, then max(x, tau); eps 1e-5 (fixed, as timm).
    """

    def __init__(self, num_features, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.gamma = _channel_parameter("ones", num_features, "gamma")
        self.beta = _channel_parameter("zeros", num_features, "beta")
        self.tau = _channel_parameter("zeros", num_features, "tau")

    def construct(self, x):
        x = x / ops.sqrt(ops.square(x).mean((2, 3), keep_dims=True) + self.eps)  # no Rsqrt: ONNX exports
        x = x * _per_channel(self.gamma) + _per_channel(self.beta)
        return ops.maximum(x, _per_channel(self.tau))


NORM_ACT_LAYERS = {
    "batchnorm": BatchNormAct2d,
    "groupnorm": GroupNormAct,
    "evonorm_s0": EvoNormS0,
    "frn": FilterResponseNormTLU,
}


def norm_act_layer(kind):
    """The norm-act cell class for `kind` (one of NORM_ACT_LAYERS), with an error naming the accepted kinds."""
    if kind not in NORM_ACT_LAYERS:
        raise ValueError(f"norm must be one of {tuple(NORM_ACT_LAYERS)}, got {kind!r}")
    return NORM_ACT_LAYERS[kind]
