"""freeze_backbone / freeze_stages: the frozen part of a fine-tuned network, BN statistics included, leaves a run
bit for bit as it came (graph mode, through train.py's Trainer), holds no optimizer state, and stays frozen on
resume."""
import os
import re
import shutil

import mindspore as ms
import numpy as np
import pytest

from engine_fixtures import make_colour_folder, tiny_recipe_args
from mindcv_resnetv2.checkpoint import read_checkpoint, save_checkpoint, split_checkpoint
from mindcv_resnetv2.config import ConfigError, parse_args
from mindcv_resnetv2.engine import cli, evaluation
from mindcv_resnetv2.engine.builders import build_network
from mindcv_resnetv2.engine.runtime import Runtime
from mindcv_resnetv2.engine.train_step import NetWithLoss
from mindcv_resnetv2.errors import InvalidInputError
from mindcv_resnetv2.models import create_model
from mindcv_resnetv2.optim import create_optimizer

MODEL = "preact_resnet20_cifar"  # stem conv1, stages layer1..layer3, head norm + classifier
STEPS = 3  # 3 classes x 8 images, batch 8


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory):
    return make_colour_folder(str(tmp_path_factory.mktemp("colours")))


@pytest.fixture(scope="module")
def source(tmp_path_factory):
    """A 10-class checkpoint (the data has 3: the head is replaced) whose BN statistics are not the initial 0/1."""
    net = create_model(MODEL, num_classes=10)
    rng = np.random.default_rng(0)
    for param in net.get_parameters():
        if "moving_mean" in param.name:
            param.set_data(ms.Tensor(rng.normal(0, 0.1, param.shape).astype(np.float32)))
        elif "moving_variance" in param.name:
            param.set_data(ms.Tensor(rng.uniform(0.5, 1.5, param.shape).astype(np.float32)))
    path = save_checkpoint(net, str(tmp_path_factory.mktemp("source") / "source.ckpt"))
    return path, {p.name: p.asnumpy() for p in net.get_parameters()}


def _args(data_dir, ckpt_dir, source_path, *extra, epochs=1):
    # weight_decay 0.01: a frozen weight that were decayed would move at once.
    return tiny_recipe_args(data_dir, str(ckpt_dir), epochs=epochs, val_while_train=False, plot=False,
                            weight_decay=0.01, ckpt_path=source_path) + list(extra)


def _checkpoint(ckpt_dir, epoch):
    return split_checkpoint(read_checkpoint(os.path.join(ckpt_dir, f"{MODEL}-{epoch}_{STEPS}.ckpt")))


def _frozen(name, stages):
    """Whether parameter `name` is in the stem or the first `stages` stages."""
    cell = name.split(".", 1)[0]
    return cell == "conv1" or cell in [f"layer{i}" for i in range(1, stages + 1)]


def test_linear_probe_trains_only_the_classifier_in_graph_mode(data_dir, source, tmp_path, graph_mode, capsys):
    path, start = source
    cli.main_train(_args(data_dir, tmp_path / "run", path, "--freeze_backbone", "True", "--opt", "adamw"))
    saved = _checkpoint(tmp_path / "run", 1)
    for name, value in saved.model.items():
        if not name.startswith("classifier."):
            np.testing.assert_array_equal(value, start[name], err_msg=name)  # BN moving statistics included
    assert saved.model["classifier.weight"].shape == (3, 64)
    assert {name for name in saved.model if name.startswith(("norm.", "layer3.2.bn2."))} >= {
        "norm.moving_mean", "norm.moving_variance", "layer3.2.bn2.moving_mean"}
    # AdamW's two moments exist for the classifier's weight and bias only: 2 x (3 x 64 + 3) numbers.
    moments = {name: value for name, value in saved.optimizer.items() if name.startswith(("adam_m.", "adam_v."))}
    assert sorted(moments) == ["adam_m.classifier.bias", "adam_m.classifier.weight", "adam_v.classifier.bias",
                               "adam_v.classifier.weight"]
    assert sum(value.size for value in moments.values()) == 2 * (3 * 64 + 3)
    summary = capsys.readouterr().out
    assert "frozen by freeze_backbone: conv1, layer1, layer2, layer3, norm, in inference mode" in summary
    assert "195 are trained" in summary


def test_freeze_stages_1_keeps_stem_and_stage_1_and_trains_the_rest(data_dir, source, tmp_path, graph_mode, capsys):
    """With layer_decay too: the frozen groups have no parameters left, the trained stages get their decayed lr."""
    path, start = source
    cli.main_train(_args(data_dir, tmp_path / "run", path, "--freeze_stages", "1", "--layer_decay", "0.5"))
    summary = capsys.readouterr().out
    assert "frozen by freeze_stages 1: conv1, layer1" in summary
    assert re.search(r"layer_decay 0.5, per group: stem \(0 tensors\).*; layer1 \(0 tensors\).*; layer2 \([1-9]\d* "
                     r"tensors\) lr x 0.25.*; layer3 \([1-9]\d* tensors\) lr x 0.5", summary), summary
    saved = _checkpoint(tmp_path / "run", 1).model
    for name, value in saved.items():
        if _frozen(name, 1):
            np.testing.assert_array_equal(value, start[name], err_msg=name)
        elif not name.startswith("classifier."):
            assert not np.array_equal(value, start[name]), f"{name} did not train"
    assert any(name.startswith("layer1.") and "moving_variance" in name for name in saved)


def test_set_train_true_above_the_network_leaves_the_frozen_cells_in_inference_mode():
    net = create_model(MODEL, num_classes=3)
    assert net.freeze(num_stages=2) == ("conv1", "layer1", "layer2")
    NetWithLoss(net, ms.nn.CrossEntropyLoss()).set_train(True)  # what the training step does
    assert not net.layer2[0].bn1.training and not net.conv1.training
    assert net.layer3[0].bn1.training and net.norm.training and net.training
    net.set_train(False)
    net.set_train(True)
    assert not net.layer1[2].bn2.training and net.classifier.training


def test_frozen_parameters_get_no_optimizer_slot_and_no_weight_decay(pynative_mode):
    net = create_model(MODEL, num_classes=3)
    net.freeze(num_stages=3)
    trainable = [p.name for p in net.trainable_params()]
    assert trainable == ["norm.gamma", "norm.beta", "classifier.weight", "classifier.bias"]
    optimizer = create_optimizer(net, "momentum", lr=0.1, weight_decay=0.5)
    assert [p.name for p in optimizer.parameters] == trainable
    assert [p.name for p in optimizer.moments] == [f"moments.{name}" for name in trainable]
    before = {p.name: p.asnumpy().copy() for p in net.get_parameters()}
    optimizer(tuple(ms.Tensor(np.zeros(p.shape, np.float32)) for p in optimizer.parameters))  # decay alone
    after = {p.name: p.asnumpy() for p in net.get_parameters()}
    np.testing.assert_allclose(after["classifier.weight"], before["classifier.weight"] * (1 - 0.1 * 0.5), rtol=1e-6)
    for name in before:
        if name not in trainable:
            np.testing.assert_array_equal(after[name], before[name], err_msg=name)


def test_more_stages_than_the_network_has_and_both_keys_are_refused(source):
    cfg = parse_args(["--model", MODEL, "--dataset", "synthetic", "--ckpt_path", source[0], "--freeze_stages", "4"])
    with pytest.raises(InvalidInputError, match=r"freeze_stages 4: this network has 3 stages \(layer1, layer2, "
                                                r"layer3\); give 0 to 3"):
        build_network(cfg, num_classes=3, checkpoint_path=cfg.ckpt_path)
    with pytest.raises(ConfigError, match="freeze_backbone already freezes every stage"):
        parse_args(["--model", MODEL, "--ckpt_path", source[0], "--freeze_backbone", "True", "--freeze_stages", "1"])


def test_statistics_averaged_over_ranks_leave_the_frozen_ones_alone(monkeypatch):
    """Under msrun the BN statistics are averaged after each epoch; the seam sum_over_ranks (the all-reduce) is
    replaced by the sum three ranks with these values and two others 0.3 higher would give."""
    net = create_model(MODEL, num_classes=3)
    net.freeze(num_stages=1)
    before = {p.name: p.asnumpy().copy() for p in net.get_parameters()}
    monkeypatch.setattr(evaluation, "sum_over_ranks", lambda values, runtime: 3 * values + 0.6)
    evaluation.average_statistics_over_ranks(net, Runtime(device="CPU", rank=0, group_size=3, jit_level="O0"))
    after = {p.name: p.asnumpy() for p in net.get_parameters()}
    for name in before:
        if _frozen(name, 1) or "moving" not in name:
            np.testing.assert_array_equal(after[name], before[name], err_msg=name)
        else:
            np.testing.assert_allclose(after[name], before[name] + 0.2, rtol=1e-5, err_msg=name)


def test_a_resumed_frozen_run_stays_frozen_and_ends_as_the_uninterrupted_one(data_dir, source, tmp_path,
                                                                             graph_mode):
    path, start = source
    run, resumed = tmp_path / "run", tmp_path / "resumed"
    cli.main_train(_args(data_dir, run, path, "--freeze_stages", "2", epochs=2))
    shutil.copytree(run, resumed)
    for name in (f"{MODEL}-2_{STEPS}.ckpt", f"{MODEL}-2_{STEPS}.ckpt.json"):
        if os.path.exists(resumed / name):
            os.remove(resumed / name)
    cli.main_train(["-c", str(resumed / "recipe.yaml"), "--ckpt_save_dir", str(resumed), "--resume", "auto"])
    uninterrupted, again = read_checkpoint(os.path.join(run, f"{MODEL}-2_{STEPS}.ckpt")), \
        read_checkpoint(os.path.join(resumed, f"{MODEL}-2_{STEPS}.ckpt"))
    assert sorted(again) == sorted(uninterrupted)  # the file holds every weight, frozen ones included
    for name, value in split_checkpoint(again).model.items():
        np.testing.assert_array_equal(value, uninterrupted[name], err_msg=name)
        if _frozen(name, 2):
            np.testing.assert_array_equal(value, start[name], err_msg=name)
    assert not any(_frozen(name.split(".", 1)[1], 2) for name in split_checkpoint(again).optimizer
                   if name.startswith("moments."))
