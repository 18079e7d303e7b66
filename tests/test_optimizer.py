"""Optimizers: MindCV 0.3.0's names and weights step for step, weight-decay groups, a compiled training step,
update formulas, and the lr schedule across a resume."""
import logging

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv_resnetv2.models import create_model
from mindcv_resnetv2.optim import create_optimizer, create_scheduler
from mindcv_resnetv2.mindcv.recipes import MINDCV_VALUES
from mindcv_resnetv2.optim.optimizer import (OPTIMIZER_NAMES, OPTIMIZER_OPTIONS, OPTIMIZERS_READING, decay_mask,
                                             resolve_weight_decay_filter)
from reference_nets import factory_names

# Learning rates small enough that one step of every optimizer stays well-behaved on the tiny network.
STEP_LR = {"lars": 1.0, "lamb": 0.01, "adam": 0.01, "adamw": 0.01, "rmsprop": 0.01, "lion": 0.01, "nadam": 0.01,
           "adan": 0.01, "adagrad": 0.01}
# The optimizers written out in optim/optimizer.py (the others are MindSpore's own).
WRITTEN = ("adamw", "lamb", "lars", "lion", "nadam", "adan")


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
    assert resolve_weight_decay_filter("disable", True) == "norm_and_bias"  # True replaces the default filter
    assert resolve_weight_decay_filter("disable", False) == "disable"
    assert resolve_weight_decay_filter() == "disable"
    for contradiction in (("norm_and_bias", False), ("auto", True), ("auto", False)):
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
    """v = m v + g; w -= lr (g + m v) with nesterov=True. (MindCV's nn.Momentum gives plain momentum on CPU: its
    kernel ignores use_nesterov, so this is checked against the formula.) opt "nesterov" alone is plain momentum,
    as in MindCV 0.3.0."""
    weight, plain, velocity, plain_velocity = W0.copy(), W0.copy(), np.zeros_like(W0), np.zeros_like(W0)
    for gradient in GRADIENTS:
        velocity = 0.9 * velocity + gradient
        weight -= 0.1 * (gradient + 0.9 * velocity)
        plain_velocity = 0.9 * plain_velocity + gradient
        plain -= 0.1 * plain_velocity
    for name in ("nesterov", "momentum", "sgd"):
        got = run_steps(name, GRADIENTS, 2, lr=0.1, momentum=0.9, weight_decay=0.0, nesterov=True)
        np.testing.assert_allclose(got, weight, rtol=1e-5)
    got_plain = run_steps("nesterov", GRADIENTS, 2, lr=0.1, momentum=0.9, weight_decay=0.0)
    np.testing.assert_allclose(got_plain, plain, rtol=1e-5)


def test_lars_matches_the_formula():
    gradient, wd, coefficient, eps = GRADIENTS[0], 0.01, 0.02, 1e-8
    trust = coefficient * np.linalg.norm(W0) / (np.linalg.norm(gradient) + wd * np.linalg.norm(W0) + eps)
    expected = W0 - 0.5 * trust * (gradient + wd * W0)
    got = run_steps("lars", GRADIENTS, 1, lr=0.5, momentum=0.9, weight_decay=wd, coefficient=coefficient, eps=eps)
    np.testing.assert_allclose(got, expected, rtol=1e-5)


@pytest.mark.parametrize("name", ["adamw", "lamb"])
def test_adamw_and_lamb_match_the_formula(name):
    """Two bias-corrected Adam steps with decoupled decay; LAMB rescales each step to |w| / |step|. eps is MindCV's
    fixed one: MindCV's AdamW's 1e-8, MindSpore's nn.Lamb's 1e-6 (MindCV's lamb is nn.Lamb, whose kernel is
    Ascend-only, so LAMB is checked against this NumPy transcription of its rule)."""
    weight, m, v, wd, lr = W0.copy(), np.zeros_like(W0), np.zeros_like(W0), 0.1, 0.01
    eps = 1e-6 if name == "lamb" else 1e-8
    for t, gradient in enumerate(GRADIENTS, start=1):
        m = 0.9 * m + 0.1 * gradient
        v = 0.999 * v + 0.001 * gradient ** 2
        direction = (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + eps) + wd * weight
        if name == "lamb":
            direction *= np.linalg.norm(weight) / np.linalg.norm(direction)
        weight = weight - lr * direction
    got = run_steps(name, GRADIENTS, 2, lr=lr, weight_decay=wd, eps=0.5)  # eps is not theirs: no effect
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
    with pytest.raises(ValueError, match="unknown optimizer 'adadelta'.*momentum.*adagrad.*lars"):
        create_optimizer(params, "adadelta")
    with pytest.raises(ValueError, match="opt 'momentum' takes no argument beta1.*none"):
        create_optimizer(params, "momentum", beta1=0.9)
    with pytest.raises(ValueError, match="opt 'lion' takes no argument beta3.*beta1=0.9, beta2=0.99, clip=False"):
        create_optimizer(params, "lion", beta3=0.9)
    with pytest.raises(ValueError, match="parameter groups"):
        create_optimizer([{"params": params}], "adam")
    with pytest.raises(ValueError, match="loss_scale"):
        create_optimizer(params, "adam", loss_scale=0.0)
    with pytest.raises(ValueError, match="weight_decay"):
        create_optimizer(params, "momentum", weight_decay=-1e-4)
    assert type(create_optimizer(params, "AdamW")).__name__ == "AdamW"
    assert isinstance(create_optimizer(params, "adam", nesterov=True), nn.Adam)
    assert isinstance(create_optimizer(params, "momentum"), nn.Momentum)


def test_every_mindcv_optimizer_is_offered():
    """Every name MindCV's create_optimizer builds is ours (plus lars), and the compatibility table agrees."""
    mindcv_names = factory_names(pytest.importorskip("mindcv.optim.optim_factory").create_optimizer, "opt")
    assert mindcv_names == set(OPTIMIZER_NAMES) - {"lars"} == set(MINDCV_VALUES["opt"])
    assert set(OPTIMIZER_OPTIONS) == set(OPTIMIZER_NAMES)
    assert all(set(names) <= set(OPTIMIZER_NAMES) for names in OPTIMIZERS_READING.values())


def oracle_params():
    """The tiny network's parameters set to seeded random values (weights, biases and BN scales all differ)."""
    params = tiny_network().trainable_params()
    rng = np.random.default_rng(3)
    for param in params:
        param.set_data(ms.Tensor(rng.normal(size=param.shape).astype(np.float32)))
    return params


def oracle_gradients(steps=3):
    rng = np.random.default_rng(5)
    return [tuple(ms.Tensor(rng.normal(size=p.shape).astype(np.float32)) for p in oracle_params())
            for _ in range(steps)]


def weights_after(factory, gradients, *args, **kwargs):
    params = oracle_params()
    optimizer = factory(params, *args, **kwargs)
    for step in gradients:
        optimizer(step)
    return [param.asnumpy() for param in params]


# MindCV's optimizers that run on CPU, compared with ours on the same gradients. adan with weight decay and
# lamb/nesterov are compared in their own tests (MindCV loses adan's decay; nn.Lamb and Nesterov do not run on CPU).
ORACLE_CASES = [(name, wd_filter) for name in ("sgd", "momentum", "adam", "adamw", "lion", "nadam", "adagrad",
                                               "rmsprop")
                for wd_filter in ("disable", "norm_and_bias", "auto")]


@pytest.mark.parametrize("name, weight_decay_filter", ORACLE_CASES)
def test_same_weights_as_mindcv_after_three_steps(name, weight_decay_filter):
    """Same parameters, same gradients, per-step lr list, weight decay: MindCV 0.3.0's weights (AdamW within float32
    rounding: it bias-corrects with beta ** step, MindCV with a running product)."""
    mindcv_optim = pytest.importorskip("mindcv.optim")
    gradients = oracle_gradients()
    arguments = dict(lr=[0.01, 0.02, 0.03], weight_decay=0.1, weight_decay_filter=weight_decay_filter)
    expected = weights_after(mindcv_optim.create_optimizer, gradients, name, **arguments)
    got = weights_after(create_optimizer, gradients, name, **arguments)
    for ours, theirs in zip(got, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 if name == "adamw" else 0)


@pytest.mark.parametrize("name, options", [
    ("nadam", dict(lr=0.01, schedule_decay=0.5)),  # constant lr: MindCV's NAdam never advances its step index
    ("nadam", dict(lr=[0.01, 0.02, 0.03], schedule_decay=0.5, beta2=0.9)),
    ("lion", dict(lr=0.01, beta1=0.8, beta2=0.9, clip=True)),
    ("adamw", dict(lr=0.01, beta2=0.9, clip=True)),
    ("adan", dict(lr=[0.01, 0.02, 0.03], beta1=0.5, beta2=0.6, beta3=0.7)),
    ("adan", dict(lr=0.01, weight_decay_filter="norm_and_bias")),
    ("adagrad", dict(lr=0.1, accum=0.5, update_slots=True)),
    ("rmsprop", dict(lr=0.01, eps=1e-3, momentum=0.5, decay=0.8, centered=True)),
    ("adam", dict(lr=0.01, nesterov=True, beta1=0.8)),
    ("sgd", dict(lr=0.01, momentum=0.5, dampening=0.2, weight_decay=0.1)),
])
def test_mindcv_hyper_parameters_mean_the_same(name, options):
    """MindCV's optimizer-specific arguments (passed on by its create_optimizer) give MindCV's weights here."""
    mindcv_optim = pytest.importorskip("mindcv.optim")
    gradients = oracle_gradients()
    expected = weights_after(mindcv_optim.create_optimizer, gradients, name, **options)
    got = weights_after(create_optimizer, gradients, name, **options)
    for ours, theirs in zip(got, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6, atol=1e-6 if name == "adamw" else 0)


def test_adan_weight_decay_is_mindcvs_adan_rule():
    """MindCV's Adan class given the plain parameter list decays every parameter: our weight_decay_filter
    "disable". (MindCV's create_optimizer drops adan's weight decay; here it is applied.)"""
    adan = pytest.importorskip("mindcv.optim.adan")
    gradients = oracle_gradients()
    expected = weights_after(adan.Adan, gradients, learning_rate=[0.01, 0.02, 0.03], weight_decay=0.3)
    got = weights_after(create_optimizer, gradients, "adan", lr=[0.01, 0.02, 0.03], weight_decay=0.3)
    for ours, theirs in zip(got, expected):
        np.testing.assert_allclose(ours, theirs, rtol=1e-6)
    undecayed = weights_after(create_optimizer, gradients, "adan", lr=[0.01, 0.02, 0.03])
    assert not np.allclose(got[0], undecayed[0])


def test_filter_bias_and_bn_is_norm_and_bias():
    """MindCV's older flag: filter_bias_and_bn=True gives the weights of MindCV's weight_decay_filter norm_and_bias."""
    mindcv_optim = pytest.importorskip("mindcv.optim")
    gradients = oracle_gradients(2)
    expected = weights_after(mindcv_optim.create_optimizer, gradients, "lion", lr=0.01, weight_decay=0.5,
                             weight_decay_filter="norm_and_bias")
    got = weights_after(create_optimizer, gradients, "lion", lr=0.01, weight_decay=0.5, filter_bias_and_bn=True)
    for ours, theirs in zip(got, expected):
        np.testing.assert_array_equal(ours, theirs)


@pytest.mark.parametrize("name", WRITTEN)
def test_loss_scale_divides_the_gradients(name):
    """loss_scale=8 with gradients 8 times larger gives the weights of loss_scale 1 (a power of two: exact)."""
    gradients = oracle_gradients(2)
    scaled = [tuple(g * 8 for g in step) for step in gradients]
    expected = weights_after(create_optimizer, gradients, name, lr=0.01, weight_decay=0.1)
    got = weights_after(create_optimizer, scaled, name, lr=0.01, weight_decay=0.1, loss_scale=8.0)
    for ours, theirs in zip(got, expected):
        np.testing.assert_array_equal(ours, theirs)


def test_checkpoint_path_restores_the_optimizer_state(tmp_path, caplog):
    """MindCV's checkpoint_path: the saved weights, moments and step are loaded, so the next step continues the
    run; a missing file leaves the optimizer fresh (MindCV's meaning) with a warning."""
    gradients = oracle_gradients(3)
    params = oracle_params()
    optimizer = create_optimizer(params, "nadam", lr=[0.01, 0.02, 0.03])
    for step in gradients[:2]:
        optimizer(step)
    path = str(tmp_path / "optim.ckpt")
    ms.save_checkpoint(optimizer, path)
    optimizer(gradients[2])
    resumed_params = oracle_params()  # the weights come back from the checkpoint too
    resumed = create_optimizer(resumed_params, "nadam", lr=[0.01, 0.02, 0.03], checkpoint_path=path)
    assert int(resumed.global_step.asnumpy()[0]) == 2
    resumed(gradients[2])
    for ours, uninterrupted in zip(resumed_params, params):
        np.testing.assert_array_equal(ours.asnumpy(), uninterrupted.asnumpy())
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2.optim.optimizer"):
        fresh = create_optimizer(oracle_params(), "nadam", checkpoint_path=str(tmp_path / "missing.ckpt"))
    assert int(fresh.global_step.asnumpy()[0]) == 0 and "missing.ckpt does not exist" in caplog.text


@pytest.mark.parametrize("opt, use_nesterov, expected", [
    ("momentum", True, True), ("nesterov", True, True), ("sgd", True, True), ("lars", True, True),
    ("momentum", False, False), ("adamw", True, False), ("rmsprop", True, False),
])
def test_the_run_summary_names_nesterov_only_where_the_optimizer_makes_nesterov_updates(opt, use_nesterov, expected):
    from types import SimpleNamespace

    from mindcv_resnetv2.optim.optimizer import uses_nesterov

    assert uses_nesterov(SimpleNamespace(opt=opt, use_nesterov=use_nesterov)) is expected
