"""The compiled train step: loss scaling, overflow handling, clipping, accumulation and EMA do what they say."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import Parameter, Tensor, nn, ops

from mindcv_resnetv2.engine.train_step import (EMA_WARMUP_UPDATES, LossScaling, NetWithLoss, TrainStep,
                                               ema_parameters, ema_update_counter)
from mindcv_resnetv2.optim import create_loss

RNG = np.random.default_rng(0)
X = Tensor(RNG.standard_normal((8, 6)).astype(np.float32))
Y = Tensor(RNG.integers(0, 3, 8).astype(np.int32))


class Toy(nn.Cell):
    """BN-free, so a batch split in two gives the same mean gradient as the whole batch."""

    def __init__(self):
        super().__init__()
        self.fc1 = nn.Dense(6, 5, weight_init="normal")
        self.relu = nn.ReLU()
        self.fc2 = nn.Dense(5, 3, weight_init="normal")

    def construct(self, x):
        return self.fc2(self.relu(self.fc1(x)))


def _setup(lr=0.1, momentum=0.0, scale=1.0, dynamic=False, window=2000, **options):
    ms.set_seed(1)
    net = Toy()
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=lr, momentum=momentum)
    scaling = LossScaling(scale, dynamic=dynamic, window=window)
    step = TrainStep(NetWithLoss(net, create_loss("CE")), optimizer, scaling, **options)
    return net, optimizer, scaling, step


def _weights(net):
    return [p.asnumpy().copy() for p in net.trainable_params()]


def _grads(net, x=X, y=Y):
    loss = NetWithLoss(net, create_loss("CE"))
    return [g.asnumpy() for g in ms.grad(loss, None, net.trainable_params())(x, y)]


@pytest.fixture(autouse=True)
def _graph(graph_mode):
    yield


def test_fixed_loss_scale_is_undone_before_the_update():
    plain, _, _, step = _setup()
    step(X, Y)
    scaled, _, _, scaled_step = _setup(scale=1024.0)
    scaled_step(X, Y)
    for a, b in zip(_weights(plain), _weights(scaled)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)


def test_dynamic_scale_grows_after_window_and_overflow_skips_the_update():
    net, _, scaling, step = _setup(scale=4.0, dynamic=True, window=2)
    step(X, Y)
    assert float(scaling.scale_sense.asnumpy()) == 4.0
    step(X, Y)
    assert float(scaling.scale_sense.asnumpy()) == 8.0  # two finite steps in a row
    before = _weights(net)
    scaling.scale_sense.set_data(Tensor(3e38, ms.float32))
    step(X * 1e3, Y)  # large activations: the scaled backward overflows
    assert float(scaling.scale_sense.asnumpy()) == pytest.approx(1.5e38, rel=1e-6)
    for a, b in zip(before, _weights(net)):
        np.testing.assert_array_equal(a, b)  # update skipped


def test_drop_overflow_update_with_a_fixed_scale_keeps_the_scale():
    net, _, scaling, step = _setup(scale=3e38, skip_overflow=True)
    before = _weights(net)
    step(X * 1e3, Y)
    assert float(scaling.scale_sense.asnumpy()) == pytest.approx(3e38, rel=1e-6)
    for a, b in zip(before, _weights(net)):
        np.testing.assert_array_equal(a, b)


def test_gradient_clipping_limits_the_global_norm():
    lr, clip = 100.0, 1e-3  # a large lr keeps the weight change far above float32 rounding
    net, _, _, step = _setup(lr=lr, clip_value=clip)
    grads = _grads(net)
    assert np.sqrt(sum((g ** 2).sum() for g in grads)) > 10 * clip
    before = _weights(net)
    step(X, Y)
    update = [(b - a) / lr for a, b in zip(_weights(net), before)]
    np.testing.assert_allclose(np.sqrt(sum((u ** 2).sum() for u in update)), clip, rtol=1e-4)
    for u, g in zip(update, grads):  # same direction as the raw gradient
        np.testing.assert_allclose(u, g * clip / np.sqrt(sum((h ** 2).sum() for h in grads)), rtol=1e-3, atol=1e-9)


def _clipped_by_global_norm(grads, clip):
    """NumPy clip_by_global_norm: every gradient times clip / max(global norm, clip)."""
    norm = np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads))
    return [g * clip / max(norm, clip) for g in grads]


@pytest.mark.parametrize("scale, dynamic", [(1024.0, False), (1024.0, True), (1.0, False)],
                         ids=["fixed-1024", "dynamic-1024", "unit"])
@pytest.mark.parametrize("clip_factor", [0.01, 2.0], ids=["clipping", "not-clipping"])
def test_clipping_acts_on_the_unscaled_gradients(scale, dynamic, clip_factor):
    """With a loss scale (MindCV's recipes: fixed 1024 and clip_grad), the update is lr x clip(g), g unscaled.

    clip_factor 2 puts the limit above |g| but below |g| x 1024: clipping the scaled gradients would shrink the
    update 1024-fold in both cases."""
    grads = _grads(_setup()[0])
    clip = clip_factor * float(np.sqrt(sum((g.astype(np.float64) ** 2).sum() for g in grads)))
    lr = 10.0
    net, _, scaling, step = _setup(lr=lr, scale=scale, dynamic=dynamic, clip_value=clip)
    before = _weights(net)
    step(X, Y)
    assert float(scaling.scale_sense.asnumpy()) == scale  # one finite step: the scale is unchanged
    for b, a, g in zip(before, _weights(net), _clipped_by_global_norm(grads, clip)):
        np.testing.assert_allclose((b - a) / lr, g, rtol=2e-3, atol=1e-7)


def test_two_accumulated_half_batches_equal_one_full_batch_step():
    whole, _, _, step = _setup(momentum=0.9)
    step(X, Y)
    net, optimizer, scaling, _ = _setup(momentum=0.9)
    accumulators = ms.ParameterTuple(Parameter(ops.zeros_like(p), name="accum." + p.name, requires_grad=False)
                                     for p in optimizer.parameters)
    options = dict(accumulation=(accumulators, 2))
    net_with_loss = NetWithLoss(net, create_loss("CE"))
    add = TrainStep(net_with_loss, optimizer, scaling, apply_update=False, **options)
    apply = TrainStep(net_with_loss, optimizer, scaling, **options)
    start = _weights(net)
    add(X[:4], Y[:4])
    for a, b in zip(start, _weights(net)):
        np.testing.assert_array_equal(a, b)  # nothing applied yet
    apply(X[4:], Y[4:])
    for a, b in zip(_weights(whole), _weights(net)):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-7)
    assert all(not np.any(acc.asnumpy()) for acc in accumulators)  # cleared for the next cycle
    assert int(optimizer.global_step.asnumpy().reshape(-1)[0]) == 1  # one update, one lr step


def test_ema_follows_the_weights_with_mindcvs_warmed_up_decay_counting_applied_updates_only():
    """MindCV's EMA: at applied update t the decay is ema_decay * (1 - exp(-t / 2000)); a step skipped for
    overflow moves neither the EMA nor its update count (the count is the `updates` entry of a checkpoint)."""
    ms.set_seed(1)
    net = Toy()
    ema, updates = ema_parameters(net), ema_update_counter()
    assert [p.name for p in ema][:2] == ["ema.fc1.weight", "ema.fc1.bias"] and updates.name == "updates"
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=0.1, momentum=0.0)
    step = TrainStep(NetWithLoss(net, create_loss("CE")), optimizer, LossScaling(), skip_overflow=True,
                     ema=(ema, 0.75, updates))
    bad = Tensor(np.full((8, 6), np.inf, np.float32))
    for t, x in ((1, X), (2, X), (2, bad), (3, X)):
        start = [p.asnumpy().copy() for p in ema]
        step(x, Y)
        assert float(updates.asnumpy()) == t
        if x is bad:
            for e0, e1 in zip(start, [p.asnumpy() for p in ema]):
                np.testing.assert_array_equal(e1, e0)
            continue
        decay = 0.75 * (1 - np.exp(-t / EMA_WARMUP_UPDATES))
        for e0, e1, w in zip(start, [p.asnumpy() for p in ema], [p.asnumpy() for p in net.get_parameters()]):
            np.testing.assert_allclose(e1, decay * e0 + (1 - decay) * w, rtol=1e-5, atol=1e-7)
