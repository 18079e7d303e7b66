"""Optimizers: weight-decay groups, a compiled training step, update formulas, and the lr schedule across a resume."""
import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv_resnetv2.models import create_model
from mindcv_resnetv2.optim import create_optimizer, create_scheduler
from mindcv_resnetv2.optim.optimizer import OPTIMIZER_NAMES, OPTIMIZERS_READING, decay_mask, resolve_weight_decay_filter

# Learning rates small enough that one step of every optimizer stays well-behaved on the tiny network.
STEP_LR = {"lars": 1.0, "lamb": 0.01, "adam": 0.01, "adamw": 0.01, "rmsprop": 0.01}


@pytest.fixture(autouse=True)
def graph_mode():
    previous = ms.get_context("mode")
    ms.set_context(mode=ms.GRAPH_MODE)
    yield
    ms.set_context(mode=previous)


def tiny_network():
    ms.set_seed(1)
    return nn.SequentialCell([nn.Dense(4, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Dense(8, 3)])


def nonzero_params():
    """The tiny network's parameters, all set away from zero so that weight decay would visibly move each."""
    params = tiny_network().trainable_params()
    for index, param in enumerate(params):
        param.set_data(ms.Tensor(np.full(param.shape, 0.5 + index, np.float32)))
    return params


def batch():
    rng = np.random.default_rng(0)
    return ms.Tensor(rng.normal(size=(6, 4)).astype(np.float32)), ms.Tensor(np.array([0, 1, 2, 0, 1, 2], np.int32))


def values(params):
    return [param.asnumpy().copy() for param in params]


def test_norm_and_bias_filter_exempts_biases_and_batchnorm_auto_only_batchnorm():
    params = tiny_network().trainable_params()
    names = [param.name for param in params]
    assert names == ["0.weight", "0.bias", "1.gamma", "1.beta", "3.weight", "3.bias"]
    assert decay_mask(params, "norm_and_bias") == (True, False, False, False, True, False)
    assert decay_mask(params, "auto") == (True, True, False, False, True, True)  # MindSpore's gamma/beta rule
    assert decay_mask(params, "disable") == (True,) * 6
    assert resolve_weight_decay_filter(None, True) == "norm_and_bias"
    assert resolve_weight_decay_filter(None, False) == "disable"
    assert resolve_weight_decay_filter(None, None) == "disable"
    for contradiction in (("disable", True), ("auto", True), ("auto", False)):
        with pytest.raises(ValueError, match="contradicts filter_bias_and_bn"):
            resolve_weight_decay_filter(*contradiction)


@pytest.mark.parametrize("weight_decay_filter", ["disable", "auto", "norm_and_bias"])
@pytest.mark.parametrize("model", ["resnetv2_50", "preact_resnet20_cifar"])
def test_weight_decay_filter_decays_what_mindcv_decays(model, weight_decay_filter):
    """Per parameter of our models, weight decay on or off exactly as MindCV 0.3.0's create_optimizer sets it."""
    mindcv_optim = pytest.importorskip("mindcv.optim")
    network = create_model(model, num_classes=10)
    theirs = mindcv_optim.create_optimizer(network, "momentum", lr=0.1, weight_decay=1e-4,
                                           weight_decay_filter=weight_decay_filter)
    ours = create_optimizer(network.trainable_params(), "momentum", lr=0.1, weight_decay=1e-4,
                            weight_decay_filter=weight_decay_filter)
    assert [p.name for p in ours.parameters] == [p.name for p in theirs.parameters]
    assert ours.decay_flags == theirs.decay_flags
    assert any(ours.decay_flags) and (weight_decay_filter == "disable") == all(ours.decay_flags)
    with pytest.raises(ValueError, match="unknown weight_decay_filter 'bn'.*norm_and_bias"):
        resolve_weight_decay_filter("bn")


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_weight_decay_moves_only_the_decayed_parameters(name):
    """With zero gradients only weight decay moves a parameter: Dense weights move, biases and BN stay."""
    params = nonzero_params()
    before = values(params)
    optimizer = create_optimizer(params, name, lr=0.1, weight_decay=0.5, weight_decay_filter="norm_and_bias")
    optimizer(tuple(ms.ops.zeros_like(param) for param in params))
    moved = [not np.allclose(a, b) for a, b in zip(before, values(params))]
    assert moved == [True, False, False, False, True, False]


@pytest.mark.parametrize("argument, settings", [("momentum", (0.5, 0.9)), ("nesterov", (False, True)),
                                               ("eps", (1e-8, 1e-1))])
def test_each_optimizer_reads_the_arguments_the_recipe_help_says(argument, settings):
    """OPTIMIZERS_READING (the source of the momentum/use_nesterov/eps help texts) is what the optimizers do:
    two updates with the same gradients move the weights differently iff the optimizer reads the argument."""
    reads = []
    for name in OPTIMIZER_NAMES:
        results = []
        for value in settings:
            params = nonzero_params()
            optimizer = create_optimizer(params, name, lr=0.1, weight_decay=0.0, **{argument: value})
            # Uneven gradients (LAMB's trust ratio cancels a uniform scale); momentum shows from the second update.
            gradients = tuple(ms.Tensor(np.linspace(0.01, 1.0, p.size, dtype=np.float32).reshape(p.shape))
                              for p in params)
            for _ in range(2):
                optimizer(gradients)
            results.append(values(params))
        if any(not np.allclose(a, b, rtol=1e-6, atol=1e-7) for a, b in zip(*results)):
            reads.append(name)
    assert tuple(reads) == tuple(n for n in OPTIMIZER_NAMES if n in OPTIMIZERS_READING[argument])


def test_disable_filter_decays_batchnorm_too():
    """MindSpore skips 'gamma'/'beta' names for a plain parameter list; "disable" must decay everything."""
    params = nonzero_params()
    before = values(params)
    optimizer = create_optimizer(params, "momentum", lr=0.1, weight_decay=0.5, weight_decay_filter="disable")
    optimizer(tuple(ms.ops.zeros_like(param) for param in params))
    assert all(not np.allclose(a, b) for a, b in zip(before, values(params)))


@pytest.mark.parametrize("name", OPTIMIZER_NAMES)
def test_graph_mode_training_step_updates_weights(name):
    """Every optimizer compiles inside a graph-mode training step and advances its step counter."""
    network = tiny_network()
    params = network.trainable_params()
    before = values(params)
    optimizer = create_optimizer(params, name, lr=STEP_LR.get(name, 0.1), weight_decay=1e-2,
                                 weight_decay_filter="auto")
    loss_fn = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="mean")
    step = nn.TrainOneStepCell(nn.WithLossCell(network, loss_fn), optimizer)
    step.set_train()
    step(*batch())
    after = values(params)
    assert not np.allclose(before[0], after[0]) and not np.allclose(before[4], after[4])
    assert int(optimizer.global_step.asnumpy()[0]) == 1


def run_steps(name, gradients, steps, **kwargs):
    weight = ms.Parameter(ms.Tensor(np.array([[1.0, -2.0], [0.5, 3.0]], np.float32)), name="w")
    optimizer = create_optimizer([weight], name, **kwargs)
    for gradient in gradients[:steps]:
        optimizer((ms.Tensor(gradient),))
    return weight.asnumpy()


GRADIENTS = [np.array([[0.1, -0.3], [0.2, 0.05]], np.float32), np.array([[-0.2, 0.1], [0.4, -0.1]], np.float32)]
W0 = np.array([[1.0, -2.0], [0.5, 3.0]])


def test_nesterov_matches_the_formula():
    """v = m v + g; w -= lr (g + m v). (CPU's ApplyMomentum kernel ignores use_nesterov; this guards against it.)"""
    weight, velocity = W0.copy(), np.zeros_like(W0)
    for gradient in GRADIENTS:
        velocity = 0.9 * velocity + gradient
        weight -= 0.1 * (gradient + 0.9 * velocity)
    got = run_steps("nesterov", GRADIENTS, 2, lr=0.1, momentum=0.9, weight_decay=0.0)
    np.testing.assert_allclose(got, weight, rtol=1e-5)
    got_flag = run_steps("momentum", GRADIENTS, 2, lr=0.1, momentum=0.9, weight_decay=0.0, nesterov=True)
    np.testing.assert_allclose(got_flag, weight, rtol=1e-5)


def test_lars_matches_the_formula():
    gradient, wd, coefficient, eps = GRADIENTS[0], 0.01, 0.02, 1e-8
    trust = coefficient * np.linalg.norm(W0) / (np.linalg.norm(gradient) + wd * np.linalg.norm(W0) + eps)
    expected = W0 - 0.5 * trust * (gradient + wd * W0)
    got = run_steps("lars", GRADIENTS, 1, lr=0.5, momentum=0.9, weight_decay=wd, lars_coefficient=coefficient)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("name", ["adamw", "lamb"])
def test_adamw_and_lamb_match_the_formula(name):
    """Two bias-corrected Adam steps with decoupled decay; LAMB rescales each step to |w| / |step|."""
    weight, m, v, wd, lr = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), 0.1, 0.01
    for t, gradient in enumerate(GRADIENTS, start=1):
        m = 0.9 * m + 0.1 * gradient
        v = 0.999 * v + 0.001 * gradient ** 2
        direction = (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8) + wd * weight
        if name == "lamb":
            direction *= np.linalg.norm(weight) / np.linalg.norm(direction)
        weight = weight - lr * direction
    got = run_steps(name, GRADIENTS, 2, lr=lr, weight_decay=wd)
    np.testing.assert_allclose(got, weight, rtol=1e-5)


def test_restored_optimizer_continues_the_lr_schedule(tmp_path):
    """Save the optimizer's state after k steps, load it into a fresh optimizer: the next step uses lr[k]."""
    lr = create_scheduler(2, "cosine_decay", lr=0.4, warmup_epochs=1, warmup_factor=0.1, decay_epochs=3,
                          num_epochs=4)
    k, gradient = 3, np.array([[1.0, -2.0], [0.5, 0.25]], np.float32)

    def fresh(name):
        weight = ms.Parameter(ms.Tensor(np.ones((2, 2), np.float32)), name="w")
        return weight, create_optimizer([weight], name, lr=lr, momentum=0.0 if name == "sgd" else 0.9,
                                        weight_decay=0.0)

    for name in ("sgd", "momentum"):
        weight, optimizer = fresh(name)
        for _ in range(k):
            optimizer((ms.Tensor(gradient),))
        checkpoint = str(tmp_path / f"{name}.ckpt")
        ms.save_checkpoint(optimizer, checkpoint)
        saved_names = {param_name for param_name, _ in optimizer.parameters_and_names()}
        assert {"global_step", "w"} <= saved_names
        optimizer((ms.Tensor(gradient),))  # the uninterrupted run's step k
        uninterrupted = weight.asnumpy().copy()

        resumed_weight, resumed = fresh(name)
        assert float(resumed.get_lr().asnumpy()) == pytest.approx(lr[0])
        ms.load_param_into_net(resumed, ms.load_checkpoint(checkpoint), strict_load=True)
        assert int(resumed.global_step.asnumpy()[0]) == k
        assert float(resumed.get_lr().asnumpy()) == pytest.approx(lr[k])
        restored = resumed_weight.asnumpy().copy()
        resumed((ms.Tensor(gradient),))
        if name == "sgd":  # plain SGD: the applied step is exactly lr[k] * g
            np.testing.assert_allclose(restored - resumed_weight.asnumpy(), lr[k] * gradient, rtol=1e-5)
        np.testing.assert_allclose(resumed_weight.asnumpy(), uninterrupted, rtol=1e-6)


def test_bad_names_and_values_are_rejected():
    params = tiny_network().trainable_params()
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'.*momentum.*lars.*rmsprop"):
        create_optimizer(params, "adagrad")
    with pytest.raises(ValueError, match="weight_decay"):
        create_optimizer(params, "momentum", weight_decay=-1e-4)
    assert type(create_optimizer(params, "AdamW")).__name__ == "AdamW"
    assert isinstance(create_optimizer(params, "adam", nesterov=True), nn.Adam)
    assert isinstance(create_optimizer(params, "momentum"), nn.Momentum)
