"""layer_decay: per-stage learning rates, stem lowest, head at the schedule's lr."""
import logging

import mindspore as ms
import numpy as np
import pytest

from mindcv_resnetv2.config import parse_args
from mindcv_resnetv2.engine.run_state import restore_training_checkpoint, save_training_checkpoint
from mindcv_resnetv2.models import ResNetV2, create_model
from mindcv_resnetv2.optim import create_optimizer, create_scheduler

MODEL = "preact_resnet20_cifar"  # stem conv1, stages layer1..layer3 (S = 3), head norm + classifier
DECAY = 0.5
STAGES = 3


def _net():
    return create_model(MODEL, num_classes=4)


def _schedule(epochs=4):
    return create_scheduler(3, scheduler="cosine_decay", lr=0.1, min_lr=0.001, warmup_epochs=1,
                            decay_epochs=epochs - 1, num_epochs=epochs)


def _factor(group):
    """The lr factor of group g (stem 0, stage i = i, head S + 1)."""
    return DECAY ** (STAGES + 1 - group)


# One parameter of each group: stem, stage 1, stage 3, final norm (head), classifier (head).
PROBES = [("conv1.weight", 0), ("layer1.0.conv1.weight", 1), ("layer3.2.bn2.gamma", 3), ("norm.beta", 4),
          ("classifier.weight", 4)]


def test_each_group_gets_the_schedule_times_its_factor_and_is_logged(caplog):
    net, lr = _net(), _schedule()
    with caplog.at_level(logging.INFO, logger="mindcv_resnetv2"):
        optimizer = create_optimizer(net, "momentum", lr=lr, layer_decay=DECAY)
    params = {p.name: p for p in net.trainable_params()}
    k = len(lr) - 2
    for name, group in PROBES:
        schedule = optimizer.get_lr_parameter(params[name]).asnumpy()
        np.testing.assert_allclose(schedule[[0, k]], np.array(lr)[[0, k]] * _factor(group), rtol=1e-6, err_msg=name)
    logged = " ".join(r.getMessage() for r in caplog.records if "layer_decay" in r.getMessage())
    for label, group in [("stem", 0), ("layer1", 1), ("layer2", 2), ("layer3", 3), ("head", 4)]:
        assert f"{label} (" in logged and f"lr x {_factor(group):.6g}" in logged


def test_one_sgd_step_moves_each_group_by_its_lr_and_keeps_the_weight_decay_filter(pynative_mode):
    net, lr, wd = _net(), 0.1, 0.01
    optimizer = create_optimizer(net, "sgd", lr=lr, momentum=0.0, weight_decay=wd,
                                 weight_decay_filter="norm_and_bias", layer_decay=DECAY)
    params = optimizer.parameters
    before = {p.name: p.asnumpy().copy() for p in params}
    gradients = tuple(ms.Tensor(np.full(p.shape, 0.5, np.float32)) for p in params)
    optimizer(gradients)
    after = {p.name: p.asnumpy() for p in params}
    for name, group in PROBES:
        decayed = 0.0 if name.endswith(("gamma", "beta")) else wd * before[name]  # norm_and_bias exempts norms
        np.testing.assert_allclose(before[name] - after[name], lr * _factor(group) * (0.5 + decayed), rtol=1e-5,
                                   atol=1e-9, err_msg=name)


# One per step function written here (lamb shares adamw's); lars with a trust coefficient of 1 so that its first
# step is large enough to compare in float32.
@pytest.mark.parametrize("name, options", [("adamw", {}), ("lion", {}), ("nadam", {}), ("adan", {}),
                                           ("lars", {"coefficient": 1.0})])
def test_the_optimizers_written_here_scale_each_group_too(name, options, pynative_mode):
    """A first step is linear in lr for every optimizer (zero state, no weight decay), so under layer_decay each
    parameter moves by its group's factor times what it moves without."""
    tiny = dict(layers=(1, 1), block="basic", widths=(4, 8), stem="cifar", stem_channels=4, num_classes=2)
    nets = [ResNetV2(**tiny), ResNetV2(**tiny)]
    ms.load_param_into_net(nets[1], {p.name: ms.Parameter(p.asnumpy(), p.name) for p in nets[0].get_parameters()})
    optimizers = [create_optimizer(nets[0], name, lr=0.1, weight_decay=0.0, layer_decay=DECAY, **options),
                  create_optimizer(nets[1], name, lr=0.1, weight_decay=0.0, **options)]
    moved = []
    for optimizer in optimizers:
        before = [p.asnumpy().copy() for p in optimizer.parameters]
        gradients = tuple(ms.Tensor(np.random.default_rng(i).standard_normal(p.shape).astype(np.float32))
                          for i, p in enumerate(optimizer.parameters))
        optimizer(gradients)
        moved.append({p.name: p.asnumpy() - b for p, b in zip(optimizer.parameters, before)})
    factors = {"conv1.weight": DECAY ** 3, "layer1.0.conv2.weight": DECAY ** 2, "layer2.0.bn1.gamma": DECAY,
               "norm.gamma": 1.0, "classifier.weight": 1.0}  # S = 2 stages
    for param, factor in factors.items():
        np.testing.assert_allclose(moved[0][param], factor * moved[1][param], rtol=1e-4, atol=1e-7, err_msg=param)


def test_a_resumed_run_keeps_the_group_schedules_and_may_run_longer(tmp_path):
    net = _net()
    optimizer = create_optimizer(net, "momentum", lr=_schedule(), layer_decay=DECAY)
    path = save_training_checkpoint(tmp_path / "run.ckpt", net, optimizer, train_state={"epoch": 1})
    longer = create_optimizer(net, "momentum", lr=_schedule(epochs=6), layer_decay=DECAY)
    assert restore_training_checkpoint(path, net, longer)["epoch"] == 1
    stem = next(p for p in net.trainable_params() if p.name == "conv1.weight")
    np.testing.assert_allclose(longer.get_lr_parameter(stem).asnumpy(), np.array(_schedule(6)) * _factor(0),
                               rtol=1e-6)


def test_what_layer_decay_cannot_mean_is_refused():
    net = _net()
    with pytest.raises(ValueError, match="needs the network"):
        create_optimizer(net.trainable_params(), "momentum", layer_decay=DECAY)
    with pytest.raises(ValueError, match="layer_decay must be a number > 0"):
        create_optimizer(net, "momentum", layer_decay=0.0)


def test_recipe_key_is_used():
    assert parse_args(["--model", MODEL, "--layer_decay", "0.7"]).layer_decay == 0.7
    assert parse_args(["--model", MODEL]).layer_decay is None
