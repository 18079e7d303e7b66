"""The compiled training step: forward, loss, scaled backward, all-reduce, unscale, overflow check, gradient
clipping, gradient accumulation, optimizer update and the EMA of the weights, in that order.

It is a Cell, like MindSpore's own TrainOneStepCell, so graph mode compiles the whole step into one graph and
dataset sink mode can run it on the device. Options that are off add no operation to the graph.
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


@_ema_update.register("Number", "Tensor", "Tensor")
def _ema_update_tensor(decay, ema, weight):
    return ops.assign(ema, ema * decay + ops.cast(weight, ema.dtype) * (1.0 - decay))


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


class TrainStep(nn.Cell):
    """One training step over a batch; returns the unscaled loss of this rank.

    net_with_loss: Cell (images, labels) -> scalar loss. scaling: a LossScaling shared by every step cell.
    skip_overflow: skip the update when gradients are not finite (drop_overflow_update; always with dynamic scaling).
    clip_value: global-norm limit, or None. accumulation: (accumulators, steps) or None; with it, a step with
    apply_update=False only adds its gradients, and the apply_update=True step averages, updates and clears.
    ema: (ema_parameters, decay) or None. reduce_gradients: average gradients over the data-parallel group.
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
        self.model_weights = ms.ParameterTuple(net_with_loss.backbone_parameters()) if self.use_ema else None
        self.reducer = nn.DistributedGradReducer(self.weights) if reduce_gradients else None

    def construct(self, images, labels):
        loss = self.network(images, labels)
        scale = self.scaling.scale_sense
        if self.scaling.is_unit:
            grads = self.grad(self.network, self.weights)(images, labels)
        else:
            sens = ops.ones_like(loss) * ops.cast(scale, loss.dtype)
            grads = self.grad(self.network, self.weights)(images, labels, sens)
        if self.reducer is not None:
            grads = self.reducer(grads)
        if not self.scaling.is_unit:
            grads = _hyper_map(ops.partial(_scale, 1.0 / scale), grads)
        if self.accumulate:
            added = _hyper_map(_accumulate, self.accumulators, grads)
            if not self.apply_update:
                return ops.depend(loss, added)
            grads = _hyper_map(ops.partial(_scale, self.accumulation_factor), ops.depend(self.accumulators, added))
        if self.skip_overflow:
            finite = ms.amp.all_finite(grads)
            loss = ops.depend(loss, self.scaling(finite))
        if self.clip:
            grads = ops.clip_by_global_norm(grads, self.clip_value)
        if self.skip_overflow:
            if finite:
                loss = ops.depend(loss, self.optimizer(grads))
        else:
            loss = ops.depend(loss, self.optimizer(grads))
        if self.accumulate:
            loss = ops.depend(loss, _hyper_map(_clear, self.accumulators))
        if self.use_ema:
            weights = ops.depend(self.model_weights, loss)
            loss = ops.depend(loss, _hyper_map(ops.partial(_ema_update, self.ema_decay), self.ema_weights, weights))
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
