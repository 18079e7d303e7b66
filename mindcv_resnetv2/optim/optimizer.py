"""The recipe's `opt` as a MindSpore optimizer, with MindCV 0.3.0's names, hyper-parameters and defaults.

Weight decay is always given per parameter group, so each `weight_decay_filter` means exactly what it means in
MindCV 0.3.0 on every optimizer: "disable" decays every parameter; "norm_and_bias" exempts normalisation scales
and shifts and biases; "auto" is MindCV's "leave it to MindSpore": a MindSpore optimizer given a plain parameter
list skips the parameters whose names contain "beta" or "gamma" (normalisation shifts and scales) and decays the
rest, biases included.

Gradients reach the optimizer unscaled from train.py: the training step (engine/train_step.py) owns the loss
scale; a Python caller may still give MindCV's `loss_scale`, which divides the gradients here as in MindCV.

MindSpore's nn.Lamb and nn.LARS need Ascend-only kernels (Lamb, LARSUpdate), nn.Momentum's CPU kernel ignores
use_nesterov and nn.AdamWeightDecay has no bias correction, so AdamW, LAMB, LARS, Lion, NAdam and Adan are written
here from elementary operations and run on every backend. Their state (moments, global_step) is checkpointed
like any MindSpore optimizer's.
"""
import logging
import os

import mindspore as ms
from mindspore import nn, ops
from mindspore.ops import composite as C
from mindspore.ops import functional as F

from ..errors import InvalidInputError

_logger = logging.getLogger(__name__)

# MindCV 0.3.0's create_optimizer names, then this project's lars.
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adam", "adamw", "lion", "nadam", "adan", "rmsprop", "adagrad",
                   "lamb", "lars")
# The optimizers that read each shared create_optimizer argument (the recipe keys' help texts and the config checks
# are built from it). As in MindCV, `nesterov` makes opt "nesterov" Nesterov (alone it is plain momentum) and adam
# NAdam-like; `eps` reaches RMSProp only (and our LARS): the other optimizers keep MindCV's fixed eps (_FIXED_EPS).
OPTIMIZERS_READING = {
    "momentum": ("sgd", "momentum", "nesterov", "rmsprop", "lars"),
    "nesterov": ("sgd", "momentum", "nesterov", "adam", "lars"),
    "eps": ("rmsprop", "lars"),
}
# The optimizer-specific keyword arguments create_optimizer passes on, with their defaults: MindCV 0.3.0's
# (its optimizers' constructor arguments); lars's `coefficient` is MindSpore's nn.LARS's name.
OPTIMIZER_OPTIONS = {
    "sgd": {"dampening": 0.0},
    "momentum": {},
    "nesterov": {},
    "adam": {"beta1": 0.9, "beta2": 0.999},
    "adamw": {"beta1": 0.9, "beta2": 0.999, "clip": False},
    "lion": {"beta1": 0.9, "beta2": 0.99, "clip": False},
    "nadam": {"beta1": 0.9, "beta2": 0.999},
    "adan": {"beta1": 0.98, "beta2": 0.92, "beta3": 0.99},
    "rmsprop": {"decay": 0.9, "centered": False},
    "adagrad": {"accum": 0.1, "update_slots": True},
    "lamb": {"beta1": 0.9, "beta2": 0.999},
    "lars": {"coefficient": 0.001},
}
# eps of the optimizers that do not read create_optimizer's `eps`: MindCV 0.3.0 cannot pass them one, so they keep
# their constructors' defaults (MindSpore's nn.Adam and nn.Lamb, MindCV's AdamW, NAdam and Adan).
_FIXED_EPS = {"adam": 1e-8, "adamw": 1e-8, "nadam": 1e-8, "adan": 1e-8, "lamb": 1e-6}
# Global-norm bound of the `clip` option of adamw and lion (MindCV's).
CLIP_NORM = 5.0
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


def resolve_weight_decay_filter(weight_decay_filter="disable", filter_bias_and_bn=None):
    """One filter name from `weight_decay_filter` and MindCV's older `filter_bias_and_bn` flag.

    filter_bias_and_bn (see FILTER_BIAS_AND_BN_MEANING) replaces the default "disable"; with another filter that it
    contradicts it is an error.
    """
    _check_filter_name(weight_decay_filter)
    if filter_bias_and_bn is None:
        return weight_decay_filter
    if not isinstance(filter_bias_and_bn, bool):
        raise InvalidInputError(f"filter_bias_and_bn must be true or false, got {filter_bias_and_bn!r}")
    implied = FILTER_BIAS_AND_BN_MEANING[filter_bias_and_bn]
    if weight_decay_filter not in ("disable", implied):
        raise InvalidInputError(f"weight_decay_filter={weight_decay_filter!r} contradicts filter_bias_and_bn="
                                f"{filter_bias_and_bn}; set only weight_decay_filter")
    return implied


def decay_mask(params, weight_decay_filter):
    """Per parameter, whether it takes weight decay (and, for LARS/LAMB, layer-wise adaptation).

    "disable": every parameter; "norm_and_bias": all but `is_norm_or_bias` parameters; "auto": all but
    `is_mindspore_norm` parameters (biases are decayed), as MindCV's "auto" leaves it to MindSpore.
    """
    _check_filter_name(weight_decay_filter)
    exempt = {"disable": lambda param: False, "norm_and_bias": is_norm_or_bias, "auto": is_mindspore_norm}
    return tuple(not exempt[weight_decay_filter](param) for param in params)


def weight_decay_groups(params, weight_decay, mask, lr_groups=None):
    """Parameter groups in MindSpore's format: decayed, not decayed, and the original order.

    lr_groups: None, or per parameter its learning rate (a float or per-step list; see layer_decay_lrs); each lr
    group is then split into its decayed and not decayed parameters, so weight_decay_filter means the same.
    """
    lr_groups = lr_groups or [None] * len(params)
    groups = []
    for lr in _distinct(lr_groups):
        for keep, wd in ((True, weight_decay), (False, 0.0)):
            members = [param for param, decay, own in zip(params, mask, lr_groups) if decay == keep and own is lr]
            if members:
                groups.append({"params": members, "weight_decay": wd, **({} if lr is None else {"lr": lr})})
    return groups + [{"order_params": params}]


def _distinct(values):
    """The distinct objects of `values` (by identity), in order of first appearance."""
    seen = {}
    for value in values:
        seen.setdefault(id(value), value)
    return list(seen.values())


def layer_decay_lrs(net, lr, layer_decay):
    """Per trainable parameter of `net` (in trainable_params order) its learning rate under layer-wise decay, and
    one log line per group.

    The groups are the network's `lr_groups()`: stem, stage 1 .. S, head (the final norm and the classifier).
    Group g (stem = 0, head = S + 1) gets lr x layer_decay ** (S + 1 - g): the head keeps lr, each group below it
    one more factor, as MindCV 0.3.0's param_groups_layer_decay scales its layers. lr: a float or the per-step
    list of create_scheduler; each group's is that list times its factor, so every scheduler keeps its shape.
    """
    if not hasattr(net, "lr_groups"):
        raise InvalidInputError(f"layer_decay needs a network that names its stem, stages and head (ResNetV2's "
                                f"lr_groups()); {type(net).__name__} does not: set layer_decay to null")
    groups = net.lr_groups()
    top = len(groups) - 1
    by_name, lines = {}, []
    for index, (label, members) in enumerate(groups):
        factor = float(layer_decay) ** (top - index)
        group_lr = [value * factor for value in lr] if isinstance(lr, (list, tuple)) else float(lr) * factor
        first = group_lr[0] if isinstance(group_lr, list) else group_lr
        lines.append(f"{label} ({len(members)} tensors) lr x {factor:.6g}, {first:.6g} at step 0")
        by_name.update({param.name: group_lr for param in members})
    lrs = [by_name[param.name] for param in net.trainable_params()]
    return lrs, lines


def _update(weight, new_weight, *states):
    """Assign the new weight and each (state, new value) pair; True once done (hyper_map's result per tensor)."""
    done = ops.assign(weight, new_weight)
    for state, value in states:
        done = ops.depend(done, ops.assign(state, value))
    return F.depend(True, done)


class _StepOptimizer(nn.Optimizer):
    """Base of the optimizers written out here: weight decay `weight_decay` on the parameters whose `decay_mask` is
    True, gradients divided by `loss_scale` (and, with `clip`, bounded to global norm CLIP_NORM, MindCV's option of
    adamw and lion), and the per-step learning rate: one for all, or per parameter its `lr_groups` entry
    (layer_decay), as MindSpore's parameter groups with their own lr. Each step function takes its parameter's lr
    from the hyper_map, so both cases run the same update."""

    def __init__(self, params, learning_rate, weight_decay, decay_mask, loss_scale=1.0, clip=False, lr_groups=None):
        if lr_groups is not None:  # weight decay stays this class's own (decay_mask), so the groups carry 0
            params = weight_decay_groups(list(params), 0.0, decay_mask, lr_groups)
        super().__init__(learning_rate, params, loss_scale=float(loss_scale))
        self.decay_mask = tuple(decay_mask)
        self.masked_weight_decay = float(weight_decay)
        self.clip = bool(clip)

    def begin_step(self, gradients):
        """The gradients and this step's lr of each parameter; advances global_step (which indexes the lr lists)."""
        gradients = self.scale_grad(self.flatten_gradients(gradients))
        if self.clip:
            gradients = ops.clip_by_global_norm(gradients, CLIP_NORM)
        lr = self.get_lr()
        if not self.is_group_lr:
            lr = (lr,) * len(self.decay_mask)
        self.assignadd(self.global_step, self.global_step_increase_tensor)
        return gradients, lr

    def hold_constants(self, **values):
        """Stores each hyperparameter as a float32 tensor attribute, the form the step functions take."""
        for name, value in values.items():
            setattr(self, name, ms.Tensor(value, ms.float32))

    def zeros_like_parameters(self, prefix):
        return self._parameters.clone(prefix=prefix, init="zeros")


_lars_update = C.MultitypeFuncGraph("lars_update")


@_lars_update.register("Number", "Number", "Number", "Tensor", "Bool", "Tensor", "Bool", "Tensor", "Tensor",
                       "Tensor")
def _lars_step(coefficient, eps, weight_decay, momentum, nesterov, lr, adapt, weight, moment, gradient):
    """One LARS momentum step: with adapt, g' = (g + wd * w) * coefficient * |w| / (|g| + wd * |w| + eps)."""
    if adapt:
        weight_norm = ops.sqrt(ops.reduce_sum(weight * weight))
        gradient_norm = ops.sqrt(ops.reduce_sum(gradient * gradient))
        trust = coefficient * weight_norm / (gradient_norm + weight_decay * weight_norm + eps)
        trust = ops.select(ops.logical_and(weight_norm > 0, gradient_norm > 0), trust, ops.ones_like(trust))
        gradient = (gradient + weight_decay * weight) * trust
    new_moment = momentum * moment + gradient
    step = gradient + momentum * new_moment if nesterov else new_moment
    return _update(weight, weight - lr * step, (moment, new_moment))


class Lars(_StepOptimizer):
    """Momentum SGD with layer-wise adaptive rate scaling (You et al., 2017, "Large Batch Training of CNNs").

    Only parameters with `decay_mask` True get weight decay and the trust ratio; the rest take plain momentum.
    The momentum update is written out here because CPU's ApplyMomentum kernel ignores use_nesterov.
    """

    def __init__(self, params, learning_rate, weight_decay, decay_mask, momentum=0.9, coefficient=0.001, eps=1e-8,
                 use_nesterov=False, loss_scale=1.0, lr_groups=None):
        super().__init__(params, learning_rate, weight_decay, decay_mask, loss_scale, lr_groups=lr_groups)
        self.coefficient = float(coefficient)
        self.eps = float(eps)
        self.use_nesterov = bool(use_nesterov)
        self.hold_constants(momentum=momentum)
        self.moments = self.zeros_like_parameters("moments")

    @ms.jit
    def construct(self, gradients):
        gradients, lr = self.begin_step(gradients)
        return self.hyper_map(
            F.partial(_lars_update, self.coefficient, self.eps, self.masked_weight_decay, self.momentum,
                      self.use_nesterov),
            lr, self.decay_mask, self._parameters, self.moments, gradients)


_adam_update = C.MultitypeFuncGraph("adam_update")


@_adam_update.register("Tensor", "Tensor", "Tensor", "Tensor", "Number", "Bool", "Tensor", "Bool", "Tensor",
                       "Tensor", "Tensor", "Tensor")
def _adam_step(beta1, beta2, eps, step, weight_decay, layerwise, lr, decay, weight, moment1, moment2, gradient):
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
    return _update(weight, weight - lr * direction, (moment1, new_moment1), (moment2, new_moment2))


class AdamW(_StepOptimizer):
    """Adam with decoupled weight decay, MindCV 0.3.0's AdamW rule (bias-corrected; the decay wd * w is added to
    the step, so it is scaled by lr).

    Written out (rather than MindSpore's nn.AdamWeightDecay, which has no bias correction) so that it shares its
    update with Lamb. Moments are stored as `adam_m.*` / `adam_v.*`.
    """

    layerwise = False
    moment_prefix = "adam"

    def __init__(self, params, learning_rate, weight_decay, decay_mask, beta1=0.9, beta2=0.999, eps=1e-8,
                 loss_scale=1.0, clip=False, lr_groups=None):
        super().__init__(params, learning_rate, weight_decay, decay_mask, loss_scale, clip, lr_groups)
        self.hold_constants(beta1=beta1, beta2=beta2, eps=eps)
        self.moments1 = self.zeros_like_parameters(self.moment_prefix + "_m")
        self.moments2 = self.zeros_like_parameters(self.moment_prefix + "_v")

    @ms.jit
    def construct(self, gradients):
        gradients, lr = self.begin_step(gradients)
        step = self.global_step.astype(ms.float32).reshape(())
        return self.hyper_map(
            F.partial(_adam_update, self.beta1, self.beta2, self.eps, step, self.masked_weight_decay,
                      self.layerwise),
            lr, self.decay_mask, self._parameters, self.moments1, self.moments2, gradients)


class Lamb(AdamW):
    """LAMB: AdamW whose step is scaled per tensor by |w| / |step| (only where `decay_mask` is True; the other
    parameters take plain Adam steps). Moments are stored as `lamb_m.*` / `lamb_v.*`, like MindSpore's nn.Lamb,
    whose Ascend-only kernel this replaces."""

    layerwise = True
    moment_prefix = "lamb"


_lion_update = C.MultitypeFuncGraph("lion_update")


@_lion_update.register("Tensor", "Tensor", "Number", "Tensor", "Bool", "Tensor", "Tensor", "Tensor")
def _lion_step(beta1, beta2, weight_decay, lr, decay, weight, moment, gradient):
    """One Lion step: the sign of beta1 * m + (1 - beta1) * g, plus wd * w, times lr; then m moves by beta2."""
    direction = ops.sign(beta1 * moment + (1.0 - beta1) * gradient)
    if decay:
        direction = weight_decay * weight + direction
    new_moment = beta2 * moment + (1.0 - beta2) * gradient
    return _update(weight, weight - lr * direction, (moment, new_moment))


class Lion(_StepOptimizer):
    """Lion (Chen et al., 2023, "Symbolic Discovery of Optimization Algorithms"), MindCV 0.3.0's rule and defaults.
    The moment is stored as `lion_m.*`."""

    def __init__(self, params, learning_rate, weight_decay, decay_mask, beta1=0.9, beta2=0.99, loss_scale=1.0,
                 clip=False, lr_groups=None):
        super().__init__(params, learning_rate, weight_decay, decay_mask, loss_scale, clip, lr_groups)
        self.hold_constants(beta1=beta1, beta2=beta2)
        self.moments1 = self.zeros_like_parameters("lion_m")

    @ms.jit
    def construct(self, gradients):
        gradients, lr = self.begin_step(gradients)
        return self.hyper_map(F.partial(_lion_update, self.beta1, self.beta2, self.masked_weight_decay),
                              lr, self.decay_mask, self._parameters, self.moments1, gradients)


_nadam_update = C.MultitypeFuncGraph("nadam_update")


@_nadam_update.register("Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Tensor", "Number",
                        "Tensor", "Bool", "Tensor", "Tensor", "Tensor", "Tensor")
def _nadam_step(beta1, beta2, eps, mu, mu_next, schedule, schedule_next, beta2_power, weight_decay, lr, decay,
                weight, moment1, moment2, gradient):
    """One NAdam step (Dozat, 2016) with L2 weight decay added to the gradient, as MindCV 0.3.0's NAdam."""
    if decay:
        gradient = weight * weight_decay + gradient
    new_moment1 = beta1 * moment1 + (1.0 - beta1) * gradient
    new_moment2 = beta2 * moment2 + (1.0 - beta2) * ops.square(gradient)
    momentum = mu_next * new_moment1 / (1.0 - schedule_next) + (1.0 - mu) * gradient / (1.0 - schedule)
    variance = new_moment2 / (1.0 - beta2_power)
    new_weight = weight - lr * momentum / (eps + ops.sqrt(variance))
    return _update(weight, new_weight, (moment1, new_moment1), (moment2, new_moment2))


class NAdam(_StepOptimizer):
    """Adam with Nesterov momentum and Dozat's momentum schedule mu_t = beta1 (1 - 0.5 * 0.96 ** (t *
    schedule_decay)), MindCV 0.3.0's rule and defaults.

    MindCV's step index t is kept: with a per-step lr list it is the number of steps taken plus one (so the first
    step uses t = 2), with a constant lr it stays 1 (MindSpore only counts steps for a schedule); the products of
    mu_t and of beta2 advance at every step either way. Moments are stored as `nadam_m.*` / `nadam_v.*`.
    """

    def __init__(self, params, learning_rate, weight_decay, decay_mask, beta1=0.9, beta2=0.999, eps=1e-8,
                 schedule_decay=4e-3, loss_scale=1.0, lr_groups=None):
        super().__init__(params, learning_rate, weight_decay, decay_mask, loss_scale, lr_groups=lr_groups)
        self.hold_constants(beta1=beta1, beta2=beta2, eps=eps, schedule_decay=schedule_decay)
        self.moments1 = self.zeros_like_parameters("nadam_m")
        self.moments2 = self.zeros_like_parameters("nadam_v")
        self.mu_schedule = ms.Parameter(ms.Tensor([1.0], ms.float32), name="mu_schedule")
        self.beta2_power = ms.Parameter(ms.Tensor([1.0], ms.float32), name="beta2_power")

    def _mu(self, step):
        return self.beta1 * (1.0 - 0.5 * ops.pow(ms.Tensor(0.96, ms.float32), step * self.schedule_decay))

    @ms.jit
    def construct(self, gradients):
        gradients, lr = self.begin_step(gradients)
        step = ops.ones((1,), ms.float32)
        if self.dynamic_lr:
            step = self.global_step.astype(ms.float32) + 1.0
        mu, mu_next = self._mu(step), self._mu(step + 1.0)
        schedule = self.mu_schedule * mu
        schedule_next = schedule * mu_next
        beta2_power = self.beta2_power * self.beta2
        ops.assign(self.mu_schedule, schedule)
        ops.assign(self.beta2_power, beta2_power)
        return self.hyper_map(
            F.partial(_nadam_update, self.beta1, self.beta2, self.eps, mu, mu_next, schedule, schedule_next,
                      beta2_power, self.masked_weight_decay),
            lr, self.decay_mask, self._parameters, self.moments1, self.moments2, gradients)


_adan_update = C.MultitypeFuncGraph("adan_update")


@_adan_update.register("Tensor", "Tensor", "Tensor", "Tensor", "Number", "Tensor", "Bool", "Tensor", "Tensor",
                       "Tensor", "Tensor", "Tensor", "Tensor")
def _adan_step(beta1, beta2, beta3, eps, weight_decay, lr, decay, weight, moment1, moment2, moment3,
               stored_previous, gradient):
    """One Adan step, MindCV 0.3.0's rule: each beta weighs the new term (m = (1 - b1) m + b1 g), no bias
    correction, the gradient difference is 0 while the stored previous gradient sums to 0 (the first step), and
    weight decay divides the weight by 1 + wd * lr / (eps + sqrt(n))."""
    previous = ops.where(ops.reduce_sum(stored_previous) == 0.0, gradient, stored_previous)
    difference = gradient - previous
    new_moment1 = (1.0 - beta1) * moment1 + beta1 * gradient
    new_moment2 = (1.0 - beta2) * moment2 + beta2 * difference
    new_moment3 = (1.0 - beta3) * moment3 + beta3 * ops.square(gradient + (1.0 - beta2) * difference)
    step_size = lr / (eps + ops.sqrt(new_moment3))
    new_weight = weight - step_size * (new_moment1 + (1.0 - beta2) * new_moment2)
    if decay:
        new_weight = new_weight / (1.0 + weight_decay * step_size)
    return _update(weight, new_weight, (moment1, new_moment1), (moment2, new_moment2), (moment3, new_moment3),
                   (stored_previous, gradient))


class Adan(_StepOptimizer):
    """Adan (Xie et al., 2022, "Adaptive Nesterov Momentum Algorithm"), MindCV 0.3.0's rule and defaults.

    MindCV 0.3.0's create_optimizer loses adan's weight decay under weight_decay_filter disable/norm_and_bias
    (its Adan reads a weight decay of 0 and ignores the groups) and decays every parameter under auto; here
    weight decay follows weight_decay_filter as on every optimizer. With weight_decay 0 the weights are MindCV's.
    """

    def __init__(self, params, learning_rate, weight_decay, decay_mask, beta1=0.98, beta2=0.92, beta3=0.99,
                 eps=1e-8, loss_scale=1.0, lr_groups=None):
        super().__init__(params, learning_rate, weight_decay, decay_mask, loss_scale, lr_groups=lr_groups)
        self.hold_constants(beta1=beta1, beta2=beta2, beta3=beta3, eps=eps)
        self.moments1 = self.zeros_like_parameters("adan_m")
        self.moments2 = self.zeros_like_parameters("adan_v")
        self.moments3 = self.zeros_like_parameters("adan_n")
        self.previous_gradients = self.zeros_like_parameters("adan_previous_gradient")

    @ms.jit
    def construct(self, gradients):
        gradients, lr = self.begin_step(gradients)
        return self.hyper_map(
            F.partial(_adan_update, self.beta1, self.beta2, self.beta3, self.eps, self.masked_weight_decay),
            lr, self.decay_mask, self._parameters, self.moments1, self.moments2, self.moments3,
            self.previous_gradients, gradients)


def _options(name, given):
    """OPTIMIZER_OPTIONS[name] updated with the caller's keyword arguments; one the optimizer lacks is an error."""
    options = dict(OPTIMIZER_OPTIONS[name])
    unknown = sorted(set(given) - set(options))
    if unknown:
        accepted = ", ".join(f"{key}={value!r}" for key, value in options.items()) or "none"
        raise InvalidInputError(f"create_optimizer: opt {name!r} takes no argument {', '.join(unknown)}; its own "
                                f"arguments (MindCV's, with their defaults): {accepted}")
    options.update(given)
    return options


def _parameters(model_or_params):
    """The Parameters to optimize: a network's trainable parameters, or the given list of Parameters."""
    if isinstance(model_or_params, nn.Cell):
        return model_or_params.trainable_params()
    params = list(model_or_params)
    if not params:
        raise InvalidInputError("create_optimizer: the parameter list is empty; pass the network or "
                                "network.trainable_params()")
    if not all(isinstance(param, ms.Parameter) for param in params):
        raise InvalidInputError("create_optimizer: model_or_params must be a network or a list of Parameters; "
                                "parameter groups (dicts) are not supported, weight decay groups come from "
                                "weight_decay_filter")
    return params


# The optimizers that are MindSpore's own; the others are written out here (_StepOptimizer).
MINDSPORE_OPTIMIZERS = ("sgd", "momentum", "nesterov", "adam", "rmsprop", "adagrad")
def uses_nesterov(cfg):
    """Whether the recipe's optimizer makes Nesterov updates (use_nesterov on an optimizer that has them)."""
    return bool(cfg.use_nesterov) and cfg.opt in OPTIMIZERS_READING["nesterov"]


def _build(name, params, mask, lr, weight_decay, momentum, nesterov, loss_scale, schedule_decay, eps, options,
           lr_groups=None):
    """The optimizer `name` (see create_optimizer); `options` are its OPTIMIZER_OPTIONS."""
    if name in MINDSPORE_OPTIMIZERS:
        groups = weight_decay_groups(params, weight_decay, mask, lr_groups)
        if name in ("momentum", "nesterov") and not nesterov:
            return nn.Momentum(groups, lr, momentum, loss_scale=loss_scale)
        if name in ("sgd", "momentum", "nesterov"):
            # nn.SGD with dampening 0 is momentum SGD; it also serves Nesterov because nn.Momentum's CPU kernel
            # ignores use_nesterov (measured on MindSpore 2.8.0).
            return nn.SGD(groups, lr, momentum=momentum, nesterov=nesterov, loss_scale=loss_scale, **options)
        if name == "adam":
            return nn.Adam(groups, lr, eps=_FIXED_EPS[name], use_nesterov=nesterov, loss_scale=loss_scale,
                           **options)
        if name == "rmsprop":
            return nn.RMSProp(groups, lr, momentum=momentum, epsilon=eps, loss_scale=loss_scale, **options)
        return nn.Adagrad(groups, learning_rate=lr, loss_scale=loss_scale, **options)
    written = {"adamw": AdamW, "lamb": Lamb, "lion": Lion, "nadam": NAdam, "adan": Adan, "lars": Lars}[name]
    if name == "lars":
        options.update(momentum=momentum, eps=eps, use_nesterov=nesterov)
    elif name == "nadam":
        options.update(schedule_decay=schedule_decay)
    if name in _FIXED_EPS:
        options.update(eps=_FIXED_EPS[name])
    return written(params, lr, weight_decay, mask, loss_scale=loss_scale, lr_groups=lr_groups, **options)


def _restore(optimizer, checkpoint_path):
    """Load the optimizer state saved at `checkpoint_path`, as MindCV does when that file exists."""
    if not checkpoint_path:
        return
    if not os.path.exists(checkpoint_path):
        _logger.warning("create_optimizer: checkpoint_path %s does not exist; the optimizer starts afresh",
                        checkpoint_path)
        return
    ms.load_param_into_net(optimizer, ms.load_checkpoint(checkpoint_path))


def create_optimizer(model_or_params, opt="adam", lr=1e-3, weight_decay=0, momentum=0.9, nesterov=False,
                     weight_decay_filter="disable", layer_decay=None, loss_scale=1.0, schedule_decay=4e-3,
                     checkpoint_path="", eps=1e-10, *, filter_bias_and_bn=None, **kwargs):
    """MindCV 0.3.0's create_optimizer: the optimizer `opt` over `model_or_params` (a network or a list of its
    Parameters), with MindCV's parameters, defaults and meaning.

    opt: one of OPTIMIZER_NAMES, any case; "nesterov" is momentum SGD, Nesterov only with nesterov=True (as in
    MindCV), and every Nesterov update here is real (MindCV's nn.Momentum ignores it on CPU). lr: a float or the
    per-step list from create_scheduler. OPTIMIZERS_READING says which optimizers read momentum, nesterov and
    eps; schedule_decay is NAdam's. loss_scale divides the gradients. checkpoint_path: optimizer state loaded when
    the file exists. kwargs: the optimizer's own arguments (OPTIMIZER_OPTIONS), e.g. beta1=0.95 for adamw.
    filter_bias_and_bn (keyword-only, older MindCV's flag): see resolve_weight_decay_filter. layer_decay: None,
    or the per-stage lr factor (see layer_decay_lrs; needs the network, not a parameter list); each group's lr is
    logged.
    """
    name = str(opt).lower()
    if name not in OPTIMIZER_NAMES:
        raise InvalidInputError(f"unknown optimizer {opt!r}; valid names (any case): {', '.join(OPTIMIZER_NAMES)}")
    lr_groups = None
    if layer_decay is not None:
        lr_groups = _layer_decay_groups(model_or_params, lr, layer_decay)
    if weight_decay < 0:
        raise InvalidInputError(f"weight_decay must be >= 0, got {weight_decay!r}")
    if not loss_scale > 0:
        raise InvalidInputError(f"loss_scale must be > 0, got {loss_scale!r}")
    params = _parameters(model_or_params)
    options = _options(name, kwargs)
    mask = decay_mask(params, resolve_weight_decay_filter(weight_decay_filter, filter_bias_and_bn))
    optimizer = _build(name, params, mask, lr, float(weight_decay), float(momentum), bool(nesterov),
                       float(loss_scale), float(schedule_decay), float(eps), options, lr_groups)
    _restore(optimizer, checkpoint_path)
    return optimizer


def _layer_decay_groups(model_or_params, lr, layer_decay):
    """layer_decay_lrs of the network, after checking what layer_decay needs; logs each group's lr."""
    if not isinstance(layer_decay, (int, float)) or isinstance(layer_decay, bool) or not layer_decay > 0:
        raise InvalidInputError(f"layer_decay must be a number > 0 (or None: off), got {layer_decay!r}")
    if not isinstance(model_or_params, nn.Cell):
        raise InvalidInputError("create_optimizer: layer_decay needs the network (its stages name the groups), not a "
                                "parameter list: pass the network itself")
    lrs, lines = layer_decay_lrs(model_or_params, lr, layer_decay)
    _logger.info("layer_decay %s, per group: %s", layer_decay, "; ".join(lines))
    return lrs
