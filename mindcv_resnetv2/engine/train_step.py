"""The compiled training step: forward, loss, scaled backward, unscale, gradient accumulation, all-reduce, overflow
check agreed over the ranks, gradient clipping, optimizer update and the EMA of the weights, in that order.

It is a Cell, like MindSpore's own TrainOneStepCell, so graph mode compiles the whole step into one graph and
dataset sink mode can run it on the device. Options that are off add no operation to the graph.

Where it follows MindSpore's TrainOneStepWithLossScaleCell: the overflow status of the reduced gradients is
summed over the data-parallel group before the skip decision, so every rank skips the same steps and moves its
loss scale the same way (on Ascend 910A each rank reads its own float-status register, which may disagree).
Where it follows MindCV's TrainStep: the EMA's decay warms up as decay * (1 - exp(-updates / 2000)), counting
applied updates only. With gradient accumulation the micro-steps add this rank's gradients locally and only the
update step all-reduces, once per update.
"""
import mindspore as ms
from mindspore import Parameter, Tensor, nn, ops

_hyper_map = ops.HyperMap()


_scale = ops.MultitypeFuncGraph("scale")
_accumulate = ops.MultitypeFuncGraph("accumulate")
_clear = ops.MultitypeFuncGraph("clear")
_ema_update = ops.MultitypeFuncGraph("ema_update")


@_scale.register("Tensor", "Tensor")
def _scale_tensor(factor, grad):
    return grad * ops.cast(factor, grad.dtype)


@_scale.register("Number", "Tensor")
def _scale_number(factor, grad):
    return grad * factor


@_accumulate.register("Tensor", "Tensor")
def _accumulate_tensor(accum, grad):
    return ops.assign_add(accum, ops.cast(grad, accum.dtype))


@_clear.register("Tensor")
def _clear_tensor(accum):
    return ops.assign(accum, ops.zeros_like(accum))


@_ema_update.register("Tensor", "Tensor", "Tensor")
def _ema_update_tensor(decay, ema, weight):
    return ops.assign(ema, ema * decay + ops.cast(weight, ema.dtype) * (1.0 - decay))


# MindCV's EMA warm-up: the decay applied at update t is ema_decay * (1 - exp(-t / EMA_WARMUP_UPDATES)).
EMA_WARMUP_UPDATES = 2000.0


def gradients_overflow(grads):
    """This rank's overflow status of `grads`: a bool scalar, True when any gradient is not finite.

    The one device-dependent call of the step: MindSpore's all_finite reads the float-status registers on
    Ascend 910A and reduces isfinite elsewhere. The step sums its result over the ranks before acting on it.
    """
    return ops.logical_not(ms.amp.all_finite(grads))


class LossScaling(nn.Cell):
    """Loss-scale state: the scale (`scale_sense`, saved in checkpoints) and, when dynamic, its update rule.

    Dynamic: after `window` finite steps in a row the scale grows by `factor`; an overflow divides it by
    `factor` (never below 1). Fixed: the scale never changes.
    """

    def __init__(self, scale=1.0, dynamic=False, factor=2.0, window=2000):
        super().__init__()
        self.dynamic = dynamic
        # A fixed scale of 1 needs no scaling at all; the step then leaves the two passes over the gradients out.
        self.is_unit = not dynamic and float(scale) == 1.0
        self.factor = float(factor)
        self.window = int(window)
        self.scale_sense = Parameter(Tensor(float(scale), ms.float32), name="scale_sense", requires_grad=False)
        self.good_steps = Parameter(Tensor(0, ms.int32), name="loss_scale_good_steps", requires_grad=False)

    def construct(self, finite):
        if not self.dynamic:
            return self.scale_sense
        good = ops.select(finite, self.good_steps + 1, ops.zeros_like(self.good_steps))
        grow = good >= self.window
        grown = ops.select(grow, self.scale_sense * self.factor, self.scale_sense)
        shrunk = ops.maximum(self.scale_sense / self.factor, ops.ones_like(self.scale_sense))
        ops.assign(self.good_steps, ops.select(grow, ops.zeros_like(good), good))
        return ops.assign(self.scale_sense, ops.select(finite, grown, shrunk))


def ema_parameters(net):
    """An EMA copy of every parameter of `net` (BN statistics included), named `ema.<name>` as MindCV does."""
    return ms.ParameterTuple(
        Parameter(Tensor(p.asnumpy()), name="ema." + p.name, requires_grad=False) for p in net.get_parameters()
    )


def ema_update_counter():
    """The count of applied updates the EMA's warm-up reads; `updates`, MindCV's name, so resume restores it."""
    return Parameter(Tensor(0.0, ms.float32), name="updates", requires_grad=False)


class TrainStep(nn.Cell):
    """One training step over a batch; returns the unscaled loss of this rank.

    net_with_loss: Cell (images, labels) -> scalar loss. scaling: a LossScaling shared by every step cell.
    skip_overflow: skip the update when gradients are not finite on any rank (drop_overflow_update; always with
    dynamic scaling). clip_value: global-norm limit, or None. accumulation: (accumulators, steps) or None; with it,
    a step with apply_update=False only adds this rank's gradients, and the apply_update=True step averages,
    all-reduces, updates and clears. ema: (ema_parameters, decay, updates) or None, `updates` the Parameter
    counting applied updates (shared by the step cells, saved in checkpoints). reduce_gradients: average gradients
    over the data-parallel group.
    """

    def __init__(self, net_with_loss, optimizer, scaling, skip_overflow=False, clip_value=None, accumulation=None,
                 apply_update=True, ema=None, reduce_gradients=False):
        super().__init__(auto_prefix=False)
        self.network = net_with_loss
        self.network.set_grad()
        self.network.set_train()
        self.optimizer = optimizer
        self.weights = optimizer.parameters
        self.grad = ops.GradOperation(get_by_list=True, sens_param=not scaling.is_unit)
        self.scaling = scaling
        self.skip_overflow = skip_overflow or scaling.dynamic  # a dynamic scale exists to skip overflows
        self.clip = clip_value is not None
        self.clip_value = float(clip_value) if self.clip else 1.0
        self.accumulate = accumulation is not None
        self.accumulators = accumulation[0] if self.accumulate else None
        self.accumulation_factor = 1.0 / accumulation[1] if self.accumulate else 1.0
        self.apply_update = apply_update
        self.use_ema = ema is not None
        self.ema_weights = ema[0] if self.use_ema else None
        self.ema_decay = float(ema[1]) if self.use_ema else 0.0
        self.ema_updates = ema[2] if self.use_ema else None
        self.model_weights = ms.ParameterTuple(net_with_loss.backbone_parameters()) if self.use_ema else None
        self.reducer = nn.DistributedGradReducer(self.weights) if reduce_gradients else None
        # float32: CPU collectives have no integer all-reduce
        self.overflow_sum = ops.AllReduce() if reduce_gradients and self.skip_overflow else None

    def construct(self, images, labels):
        loss = self.network(images, labels)
        scale = self.scaling.scale_sense
        if self.scaling.is_unit:
            grads = self.grad(self.network, self.weights)(images, labels)
        else:
            sens = ops.ones_like(loss) * ops.cast(scale, loss.dtype)
            grads = self.grad(self.network, self.weights)(images, labels, sens)
            grads = _hyper_map(ops.partial(_scale, 1.0 / scale), grads)
        if self.accumulate:
            added = _hyper_map(_accumulate, self.accumulators, grads)
            if not self.apply_update:
                return ops.depend(loss, added)
            grads = _hyper_map(ops.partial(_scale, self.accumulation_factor), ops.depend(self.accumulators, added))
        if self.reducer is not None:
            grads = self.reducer(grads)
        if self.skip_overflow:
            overflow = gradients_overflow(grads)
            if self.overflow_sum is not None:
                overflow = self.overflow_sum(ops.cast(overflow, ms.float32)) > 0
            finite = ops.logical_not(overflow)
            loss = ops.depend(loss, self.scaling(finite))
        if self.clip:
            grads = ops.clip_by_global_norm(grads, self.clip_value)
        if self.skip_overflow:
            if finite:
                loss = self._update(loss, grads)
        else:
            loss = self._update(loss, grads)
        if self.accumulate:
            loss = ops.depend(loss, _hyper_map(_clear, self.accumulators))
        return loss

    def _update(self, loss, grads):
        """The optimizer update and, after it, the EMA's: both only on a step that is applied."""
        loss = ops.depend(loss, self.optimizer(grads))
        if self.use_ema:
            updates = ops.assign_add(self.ema_updates, ops.ones_like(self.ema_updates))
            decay = self.ema_decay * (1.0 - ops.exp(-updates / EMA_WARMUP_UPDATES))
            weights = ops.depend(self.model_weights, loss)
            loss = ops.depend(loss, _hyper_map(ops.partial(_ema_update, decay), self.ema_weights, weights))
        return loss


class NetWithLoss(nn.Cell):
    """Network followed by the loss: the forward the gradient is taken of."""

    def __init__(self, net, loss_fn):
        super().__init__(auto_prefix=False)
        self.net = net
        self.loss_fn = loss_fn

    def construct(self, images, labels):
        return self.loss_fn(self.net(images), labels)

    def backbone_parameters(self):
        return self.net.get_parameters()
