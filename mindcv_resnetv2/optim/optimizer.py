"""The recipe's `opt` as a MindSpore optimizer, with weight-decay filtering.

Weight decay is always given per parameter group, so each `weight_decay_filter` means exactly what it means in
MindCV 0.3.0 on every optimizer: "disable" decays every parameter; "norm_and_bias" exempts normalisation scales
and shifts and biases; "auto" is MindCV's "leave it to MindSpore": a MindSpore optimizer given a plain parameter
list skips the parameters whose names contain "beta" or "gamma" (normalisation shifts and scales) and decays the
rest, biases included.

Gradients reach the optimizer unscaled: the training step (engine/train_step.py) owns the loss scale.

MindSpore's nn.Lamb and nn.LARS need Ascend-only kernels (Lamb, LARSUpdate) and nn.AdamWeightDecay has no bias
correction, so AdamW, LAMB and LARS are written here from elementary operations and run on every backend. Their state
(moments, global_step) is checkpointed like any MindSpore optimizer's.
"""
import mindspore as ms
from mindspore import nn, ops
from mindspore.ops import composite as C
from mindspore.ops import functional as F

from ..errors import InvalidInputError

OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adam", "adamw", "lamb", "lars", "rmsprop")
# The optimizers that read each shared create_optimizer argument (the recipe keys' help texts are built from it).
OPTIMIZERS_READING = {
    "momentum": ("sgd", "momentum", "nesterov", "lars", "rmsprop"),
    "nesterov": ("sgd", "momentum", "lars"),
    "eps": ("adam", "adamw", "lamb", "lars", "rmsprop"),
}
WEIGHT_DECAY_FILTERS = ("disable", "auto", "norm_and_bias")
# MindCV's older boolean `filter_bias_and_bn` -> the weight_decay_filter it means (also read by config.resolve).
FILTER_BIAS_AND_BN_MEANING = {True: "norm_and_bias", False: "disable"}
_NORM_AND_BIAS_NAMES = ("bias", "gamma", "beta")
# The names MindSpore's nn.Optimizer exempts from weight decay when given a plain parameter list (MindSpore 2.x).
_MINDSPORE_NORM_NAMES = ("beta", "gamma")


def is_norm_or_bias(param):
    """True for normalisation scales/shifts, biases and any other parameter of at most one dimension."""
    return len(param.shape) <= 1 or param.name.rsplit(".", 1)[-1] in _NORM_AND_BIAS_NAMES


def is_mindspore_norm(param):
    """True for the parameters MindSpore's own default filter exempts: names containing "beta" or "gamma"."""
    return any(part in param.name for part in _MINDSPORE_NORM_NAMES)


def _check_filter_name(weight_decay_filter):
    if weight_decay_filter not in WEIGHT_DECAY_FILTERS:
        raise InvalidInputError(f"unknown weight_decay_filter {weight_decay_filter!r}; "
                                f"valid: {', '.join(WEIGHT_DECAY_FILTERS)}")


def resolve_weight_decay_filter(weight_decay_filter=None, filter_bias_and_bn=None):
    """One filter name from the recipe's `weight_decay_filter` or MindCV's older `filter_bias_and_bn` flag.

    filter_bias_and_bn: see FILTER_BIAS_AND_BN_MEANING; giving both in contradiction is an error.
    """
    if weight_decay_filter is not None:
        _check_filter_name(weight_decay_filter)
    if filter_bias_and_bn is None:
        return weight_decay_filter or "disable"
    if not isinstance(filter_bias_and_bn, bool):
        raise InvalidInputError(f"filter_bias_and_bn must be true or false, got {filter_bias_and_bn!r}")
    implied = FILTER_BIAS_AND_BN_MEANING[filter_bias_and_bn]
    if weight_decay_filter is not None and weight_decay_filter != implied:
        raise InvalidInputError(f"weight_decay_filter={weight_decay_filter!r} contradicts filter_bias_and_bn="
                                f"{filter_bias_and_bn}; set only weight_decay_filter")
    return weight_decay_filter or implied


def decay_mask(params, weight_decay_filter):
    """Per parameter, whether it takes weight decay (and, for LARS/LAMB, layer-wise adaptation).

    "disable": every parameter; "norm_and_bias": all but `is_norm_or_bias` parameters; "auto": all but
    `is_mindspore_norm` parameters (biases are decayed), as MindCV's "auto" leaves it to MindSpore.
    """
    _check_filter_name(weight_decay_filter)
    exempt = {"disable": lambda param: False, "norm_and_bias": is_norm_or_bias, "auto": is_mindspore_norm}
    return tuple(not exempt[weight_decay_filter](param) for param in params)


def weight_decay_groups(params, weight_decay, mask):
    """Parameter groups in MindSpore's format: decayed, not decayed, and the original order."""
    decayed = [param for param, keep in zip(params, mask) if keep]
    exempt = [param for param, keep in zip(params, mask) if not keep]
    groups = [{"params": group, "weight_decay": wd} for group, wd in ((decayed, weight_decay), (exempt, 0.0)) if group]
    return groups + [{"order_params": params}]


_lars_update = C.MultitypeFuncGraph("lars_update")


@_lars_update.register("Number", "Number", "Number", "Tensor", "Tensor", "Bool", "Bool", "Tensor", "Tensor",
                       "Tensor")
def _lars_step(coefficient, eps, weight_decay, momentum, lr, nesterov, adapt, weight, moment, gradient):
    """One LARS momentum step: with adapt, g' = (g + wd * w) * coefficient * |w| / (|g| + wd * |w| + eps)."""
    if adapt:
        weight_norm = ops.sqrt(ops.reduce_sum(weight * weight))
        gradient_norm = ops.sqrt(ops.reduce_sum(gradient * gradient))
        trust = coefficient * weight_norm / (gradient_norm + weight_decay * weight_norm + eps)
        trust = ops.select(ops.logical_and(weight_norm > 0, gradient_norm > 0), trust, ops.ones_like(trust))
        gradient = (gradient + weight_decay * weight) * trust
    new_moment = momentum * moment + gradient
    step = gradient + momentum * new_moment if nesterov else new_moment
    return F.depend(True, ops.depend(ops.assign(weight, weight - lr * step), ops.assign(moment, new_moment)))


class _StepOptimizer(nn.Optimizer):
    """Base of the optimizers written out here: the per-step learning rate."""

    def begin_step(self, gradients):
        """The gradients and this step's lr; advances global_step (which indexes the lr list)."""
        gradients = self.flatten_gradients(gradients)
        lr = self.get_lr()
        self.assignadd(self.global_step, self.global_step_increase_tensor)
        return gradients, lr


class Lars(_StepOptimizer):
    """Momentum SGD with layer-wise adaptive rate scaling (You et al., 2017, "Large Batch Training of CNNs").

    Only parameters with `adapt_mask` True get weight decay and the trust ratio; the rest take plain momentum.
    The momentum update is written out here because CPU's ApplyMomentum kernel ignores use_nesterov.
    """

    def __init__(self, params, learning_rate, momentum, weight_decay, adapt_mask, coefficient=0.001, eps=1e-8,
                 use_nesterov=False):
        super().__init__(learning_rate, params)
        self.adapt_mask = tuple(adapt_mask)
        self.lars_weight_decay = float(weight_decay)
        self.coefficient = float(coefficient)
        self.eps = float(eps)
        self.use_nesterov = bool(use_nesterov)
        self.momentum = ms.Tensor(momentum, ms.float32)
        self.moments = self._parameters.clone(prefix="moments", init="zeros")

    @ms.jit
    def construct(self, gradients):
        gradients, lr = self.begin_step(gradients)
        return self.hyper_map(
            F.partial(_lars_update, self.coefficient, self.eps, self.lars_weight_decay, self.momentum, lr,
                      self.use_nesterov),
            self.adapt_mask, self._parameters, self.moments, gradients)


_adam_update = C.MultitypeFuncGraph("adam_update")


@_adam_update.register("Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Number", "Bool", "Bool", "Tensor",
                       "Tensor", "Tensor", "Tensor")
def _adam_step(beta1, beta2, eps, step, lr, weight_decay, layerwise, decay, weight, moment1, moment2, gradient):
    """One bias-corrected Adam step with decoupled weight decay (AdamW, Loshchilov & Hutter 2019); with
    `layerwise`, the step is rescaled to |w| / |step| per tensor (LAMB, You et al. 2020)."""
    new_moment1 = beta1 * moment1 + (1.0 - beta1) * gradient
    new_moment2 = beta2 * moment2 + (1.0 - beta2) * gradient * gradient
    corrected1 = new_moment1 / (1.0 - ops.pow(beta1, step))
    corrected2 = new_moment2 / (1.0 - ops.pow(beta2, step))
    direction = corrected1 / (ops.sqrt(corrected2) + eps)
    if decay:
        direction = direction + weight_decay * weight
        if layerwise:
            weight_norm = ops.sqrt(ops.reduce_sum(weight * weight))
            direction_norm = ops.sqrt(ops.reduce_sum(direction * direction))
            trust = ops.select(ops.logical_and(weight_norm > 0, direction_norm > 0), weight_norm / direction_norm,
                               ops.ones_like(weight_norm))
            direction = direction * trust
    return F.depend(True, ops.depend(ops.assign(weight, weight - lr * direction),
                                     (ops.assign(moment1, new_moment1), ops.assign(moment2, new_moment2))))


class AdamW(_StepOptimizer):
    """Adam with decoupled weight decay on the parameters whose `decay_mask` is True.

    Written out (rather than MindSpore's nn.AdamWeightDecay, which has no bias correction) so that it shares its
    update with Lamb. Moments are stored as `adam_m.*` / `adam_v.*`.
    """

    layerwise = False
    moment_prefix = "adam"

    def __init__(self, params, learning_rate, weight_decay, decay_mask, beta1=0.9, beta2=0.999, eps=1e-8):
        super().__init__(learning_rate, params)
        self.decay_mask = tuple(decay_mask)
        self.decoupled_weight_decay = float(weight_decay)
        self.beta1 = ms.Tensor(beta1, ms.float32)
        self.beta2 = ms.Tensor(beta2, ms.float32)
        self.eps = ms.Tensor(eps, ms.float32)
        self.moments1 = self._parameters.clone(prefix=self.moment_prefix + "_m", init="zeros")
        self.moments2 = self._parameters.clone(prefix=self.moment_prefix + "_v", init="zeros")

    @ms.jit
    def construct(self, gradients):
        gradients, lr = self.begin_step(gradients)
        step = self.global_step.astype(ms.float32).reshape(())
        return self.hyper_map(
            F.partial(_adam_update, self.beta1, self.beta2, self.eps, step, lr, self.decoupled_weight_decay,
                      self.layerwise),
            self.decay_mask, self._parameters, self.moments1, self.moments2, gradients)


class Lamb(AdamW):
    """LAMB: AdamW whose step is scaled per tensor by |w| / |step| (only where `decay_mask` is True; the other
    parameters take plain Adam steps). Moments are stored as `lamb_m.*` / `lamb_v.*`, like MindSpore's nn.Lamb,
    whose Ascend-only kernel this replaces."""

    layerwise = True
    moment_prefix = "lamb"


def create_optimizer(params, opt="momentum", lr=0.1, weight_decay=1e-4, momentum=0.9, nesterov=False,
                     weight_decay_filter=None, filter_bias_and_bn=None, eps=1e-8,
                     betas=(0.9, 0.999), rmsprop_decay=0.9, lars_coefficient=0.001):
    """The recipe's optimizer over `params` (e.g. model.trainable_params()).

    opt: one of OPTIMIZER_NAMES, any case. "nesterov" is "momentum" with nesterov=True; "sgd" is nn.SGD with
    `momentum`. lr: a float or the per-step list from create_scheduler. weight_decay_filter / filter_bias_and_bn:
    see resolve_weight_decay_filter. OPTIMIZERS_READING says which optimizers read momentum, nesterov and eps;
    betas serve adam/adamw/lamb.
    """
    name = str(opt).lower()
    if name not in OPTIMIZER_NAMES:
        raise InvalidInputError(f"unknown optimizer {opt!r}; valid names (any case): {', '.join(OPTIMIZER_NAMES)}")
    params = list(params)
    if not params:
        raise ValueError("create_optimizer: params is empty; pass model.trainable_params()")
    if weight_decay < 0:
        raise InvalidInputError(f"weight_decay must be >= 0, got {weight_decay!r}")
    mask = decay_mask(params, resolve_weight_decay_filter(weight_decay_filter, filter_bias_and_bn))
    weight_decay, momentum, eps = float(weight_decay), float(momentum), float(eps)
    beta1, beta2 = (float(beta) for beta in betas)

    if name == "lars":
        return Lars(params, lr, momentum, weight_decay, mask, coefficient=lars_coefficient, eps=eps,
                    use_nesterov=nesterov)
    if name == "lamb":
        return Lamb(params, lr, weight_decay, mask, beta1=beta1, beta2=beta2, eps=eps)
    if name == "adamw":
        return AdamW(params, lr, weight_decay, mask, beta1=beta1, beta2=beta2, eps=eps)
    groups = weight_decay_groups(params, weight_decay, mask)
    if name in ("sgd", "momentum", "nesterov"):
        use_nesterov = nesterov or name == "nesterov"
        if name == "momentum" and not use_nesterov:
            return nn.Momentum(groups, lr, momentum)
        # nn.SGD with dampening 0 is momentum SGD; it also serves Nesterov because nn.Momentum's CPU kernel
        # ignores use_nesterov (measured on MindSpore 2.8.0).
        return nn.SGD(groups, lr, momentum=momentum, nesterov=use_nesterov)
    if name == "adam":
        return nn.Adam(groups, lr, beta1=beta1, beta2=beta2, eps=eps)
    return nn.RMSProp(groups, lr, decay=rmsprop_decay, momentum=momentum, epsilon=eps)
