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


def group_statistics(x, groups):
    """x as (batch, groups, C/groups * H * W), centred per group, and the biased variance of each group.

    Written as sums over n and products with reciprocals, which MindSpore 2.8's CPU kernels run faster, forward
    and backward, than ReduceMean and broadcast division.
    """
    grouped = x.reshape(x.shape[0], groups, -1)
    count = grouped.shape[2]
    centred = grouped - grouped.sum(-1, keepdims=True) / count
    return centred, (centred * centred).sum(-1, keepdims=True) / count


def _reciprocal_sqrt(value, eps):
    """1 / sqrt(value + eps) on the small statistics tensor (ONNX has no Rsqrt converter in MindSpore 2.8)."""
    return 1.0 / ops.sqrt(value + eps)


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
        centred, var = group_statistics(x, self.groups)
        x = (centred * _reciprocal_sqrt(var, self.eps)).reshape(x.shape)
        return self.act(x * _per_channel(self.gamma) + _per_channel(self.beta))


class EvoNormS0(_GroupedNorm):
    """EvoNorm-S0 (Liu et al., 2020): x * sigmoid(v * x) / group_std(x) * gamma + beta, 32 groups, eps 1e-5.

    No running statistics: train and eval compute the same function.
    """

    def __init__(self, num_features, groups=NORM_GROUPS, eps=1e-5):
        super().__init__(num_features, groups, eps)
        self.v = _channel_parameter("ones", num_features, "v")

    def construct(self, x):
        _, var = group_statistics(x, self.groups)
        gated = (x * ops.sigmoid(x * _per_channel(self.v))).reshape(var.shape[0], self.groups, -1)
        x = (gated * _reciprocal_sqrt(var, self.eps)).reshape(x.shape)
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
        mean_square = (x * x).sum((2, 3), keepdims=True) / (x.shape[2] * x.shape[3])
        x = x * _reciprocal_sqrt(mean_square, self.eps)
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
