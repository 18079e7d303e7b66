"""Mixed precision (mindcv_resnetv2.amp): O2 logits of every model stay close to float32 and are not collapsed,
normalisations and weight standardisation stay in float32, and a training step under O2 learns.

MindSpore 2.8 runs float16 convolutions on CPU, so these are the float16 graphs Ascend runs.
"""
import logging
import os

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn, ops

from mindcv_resnetv2.amp import auto_mixed_precision
from mindcv_resnetv2.config import parse_args
from mindcv_resnetv2.engine.builders import build_evaluation_network, build_training, effective_amp_level
from mindcv_resnetv2.engine.runtime import Runtime, setup_runtime
from mindcv_resnetv2.models import create_model, list_models
from mindcv_resnetv2.utils import backend
from engine_fixtures import REPO
from test_timm_family import BIG, BIG_ORACLES_ENV

# The widest and deepest nets: the cells of the nets checked by default, many more of them (18-136 s each here,
# 6 minutes together); they run with MINDCV_RESNETV2_BIG_ORACLES=1, as the other checks of the widest BiT nets.
BEYOND_DEFAULT = BIG | {"BiT_resnet50x3", "preact_resnet200", "preact_resnet1001_cifar"}


def _images(name, seed, batch):
    """Random images at the smallest size every model handles well (FRN normalises over space: 64 px, not 32)."""
    size = 32 if name.endswith("_cifar") else 64
    return np.random.default_rng(seed).standard_normal((batch, 3, size, size)).astype(np.float32)


def _calibrate_batch_norm(net, images):
    """Set every BatchNorm's moving statistics to its input's statistics on `images`, as training would leave them.

    At initialisation the statistics are 0 and 1, which lets activations grow through a deep pre-activation net
    until float16 overflows: a failure no trained network has. GroupNorm, EvoNorm and FRN need no statistics."""
    def set_statistics(cell, inputs):
        x = inputs[0].astype(ms.float32)
        ops.assign(cell.moving_mean, x.mean(axis=(0, 2, 3)))
        ops.assign(cell.moving_variance, x.var(axis=(0, 2, 3)))

    hooks = [cell.register_forward_pre_hook(set_statistics) for _, cell in net.cells_and_names()
             if isinstance(cell, nn.BatchNorm2d)]
    net(ms.Tensor(images))
    for hook in hooks:
        hook.remove()


def _relative_error(actual, expected):
    return float(np.linalg.norm(actual - expected) / np.linalg.norm(expected))


def _o2_against_float32(name, apply_o2=auto_mixed_precision):
    """(O2 error, float16-rounding error, O2 spread / float32 spread) of `name`'s logits on two random images, O2
    as `apply_o2(network, "O2")` casts it.

    The float16-rounding error is that of float32 arithmetic on weights and images rounded to float16: how much
    this net's logits move when only its inputs lose float16's precision, the floor O2 cannot go below."""
    ms.set_seed(0)
    net = create_model(name, num_classes=10)
    net.set_train(False)
    _calibrate_batch_norm(net, _images(name, seed=1, batch=8))
    images = _images(name, seed=2, batch=2)
    expected = net(ms.Tensor(images)).asnumpy()
    weights = {p.name: p.asnumpy() for p in net.get_parameters()}
    for parameter in net.get_parameters():
        parameter.set_data(ms.Tensor(weights[parameter.name].astype(np.float16).astype(np.float32)))
    rounded = net(ms.Tensor(images.astype(np.float16).astype(np.float32))).asnumpy()
    for parameter in net.get_parameters():
        parameter.set_data(ms.Tensor(weights[parameter.name]))
    actual = apply_o2(net, "O2")(ms.Tensor(images)).asnumpy().astype(np.float32)
    spread = float(actual.std(axis=1).mean() / expected.std(axis=1).mean())
    return _relative_error(actual, expected), _relative_error(rounded, expected), spread


def _check_o2(name):
    error, rounding, spread = _o2_against_float32(name)
    assert np.isfinite([error, spread]).all(), f"{name}: O2 logits not finite"
    assert error <= max(0.03, 4 * rounding), f"{name}: O2 error {error:.3f}, float16 rounding alone {rounding:.3f}"
    assert 0.8 <= spread <= 1.25, f"{name}: O2 logits spread {spread:.2f} x float32's (collapsed?)"


@pytest.mark.parametrize("name", sorted(set(list_models()) - BEYOND_DEFAULT))
def test_o2_logits_stay_close_to_float32_and_keep_their_spread(name, pynative_mode):
    _check_o2(name)


def test_mindspores_own_o2_collapses_the_bit_net_that_ours_keeps(pynative_mode):
    """What the check above catches: MindSpore's O2 list keeps only BatchNorm in float32, and
    resnetv2_50x1_bit's float16 GroupNorm and weight standardisation then give 0 for every class."""
    error, _, spread = _o2_against_float32("resnetv2_50x1_bit", ms.amp.auto_mixed_precision)
    assert error > 0.9 and spread < 0.1


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BEYOND_DEFAULT))
def test_o2_logits_of_the_widest_and_deepest_nets_stay_close_to_float32(name, pynative_mode):
    if os.environ.get(BIG_ORACLES_ENV) != "1":
        pytest.skip(f"{name}: one of the widest or deepest nets; set {BIG_ORACLES_ENV}=1 to check it")
    _check_o2(name)


def test_o2_training_step_of_a_bit_net_lowers_the_loss_as_the_ascend_recipe_builds_it(graph_mode):
    """The Ascend recipe's training cells (O2, MindCV's fixed loss scale 1024), built for device Ascend but run on
    CPU: the float16 BiT net (GroupNorm, weight standardisation) learns a fixed batch."""
    cfg = parse_args(["-c", os.path.join(REPO, "configs", "resnetv2", "resnetv2_50_ascend.yaml"),
                      "--model", "resnetv2_50x1_bit", "--num_classes", "3", "--distribute", "False",
                      "--epoch_size", "1", "--decay_epochs", "1", "--lr", "0.01", "--label_smoothing", "0"])
    ms.set_seed(0)
    net = create_model(cfg.model, num_classes=3)
    parts = build_training(cfg, net, updates_per_epoch=8, runtime=Runtime("Ascend"))
    assert not parts.scaling.dynamic and float(parts.scaling.scale_sense.asnumpy()) == 1024.0
    rng = np.random.default_rng(0)
    images = ms.Tensor(rng.standard_normal((4, 3, 32, 32)).astype(np.float32))
    labels = ms.Tensor(np.array([0, 1, 2, 0], np.int32))
    losses = [float(parts.step(images, labels).asnumpy()) for _ in range(8)]
    assert all(np.isfinite(losses)) and losses[-1] < 0.7 * losses[0], losses
    assert net.conv1.compute_dtype == ms.float16  # the float16 graph ran, not the CPU fallback


def test_val_amp_level_is_what_validation_runs_and_falls_back_on_cpu_naming_the_key(tmp_path, monkeypatch, caplog):
    """validate.py, infer and export build their network through build_evaluation_network, which applies
    val_amp_level: on Ascend the level itself, on CPU float32 with a warning that names val_amp_level."""
    monkeypatch.setattr(backend, "_warned", set())
    caplog.set_level(logging.WARNING, logger="mindcv_resnetv2")
    assert effective_amp_level("O2", "Ascend", "val_amp_level") == "O2"
    path = str(tmp_path / "net.ckpt")
    ms.save_checkpoint(create_model("preact_resnet20_cifar", num_classes=3), path)
    cfg = parse_args(["--model", "preact_resnet20_cifar", "--val_amp_level", "O2"])
    net = build_evaluation_network(cfg, 3, path)
    assert [r.getMessage() for r in caplog.records if "val_amp_level O2" in r.getMessage()]
    assert net.conv1.weight.dtype == ms.float32 and not net.training


def test_jit_level_o2_on_cpu_runs_o0_with_a_warning(graph_mode, monkeypatch, caplog):
    monkeypatch.setattr(backend, "_warned", set())
    caplog.set_level(logging.WARNING, logger="mindcv_resnetv2")
    runtime = setup_runtime(parse_args(["--jit_level", "O2", "--mode", "0", "--device_target", "CPU"]))
    assert runtime.jit_level == "O0" and ms.get_context("jit_config")["jit_level"] == "O0"
    assert [r for r in caplog.records if "jit_level O2" in r.getMessage()]
