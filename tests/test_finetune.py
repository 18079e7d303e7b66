"""Fine-tuning from any source: the first convolution adapted to another input channel count."""
import logging
import os

import mindspore as ms
import numpy as np
import pytest

from reference_nets import random_array, relative_error, require_oracles

from mindcv_resnetv2.checkpoint import CheckpointError, save_checkpoint
from mindcv_resnetv2.config import parse_args
from mindcv_resnetv2.engine.builders import build_evaluation_network, build_network
from mindcv_resnetv2.models import create_model

MODEL = "preact_resnet20_cifar"
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _gray(seed=0):
    return np.random.default_rng(seed).standard_normal((2, 1, 32, 32)).astype(np.float32)


def _logits(net, x):
    net.set_train(False)
    return net(ms.Tensor(x)).asnumpy()


def _saved(tmp_path, in_channels):
    net = create_model(MODEL, num_classes=10, in_channels=in_channels)
    return net, save_checkpoint(net, str(tmp_path / f"c{in_channels}.ckpt"))


def test_one_channel_weights_in_a_three_channel_network_give_the_same_logits(tmp_path, caplog, pynative_mode):
    gray_net, path = _saved(tmp_path, 1)
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2"):
        rgb_net = create_model(MODEL, num_classes=10, in_channels=3, checkpoint_path=path)
    adapted = [r.getMessage() for r in caplog.records if "conv1.weight" in r.getMessage()]
    assert len(adapted) == 1 and "repeated over 3 input channels and divided by 3" in adapted[0]
    x = _gray()
    np.testing.assert_allclose(_logits(rgb_net, np.repeat(x, 3, axis=1)), _logits(gray_net, x), rtol=1e-5, atol=1e-5)


def test_three_channel_weights_summed_for_a_one_channel_network(tmp_path, pynative_mode):
    rgb_net, path = _saved(tmp_path, 3)
    gray_net = create_model(MODEL, num_classes=10, in_channels=1, checkpoint_path=path)
    x = _gray(1)
    np.testing.assert_allclose(_logits(gray_net, x), _logits(rgb_net, np.repeat(x, 3, axis=1)), rtol=1e-5, atol=1e-5)


def test_train_ckpt_path_adapts_the_stem_and_replaces_the_head(tmp_path):
    rgb_net, path = _saved(tmp_path, 3)
    cfg = parse_args(["--model", MODEL, "--in_channels", "1", "--dataset", "synthetic", "--mean", "127",
                      "--std", "64", "--ckpt_path", path])
    net = build_network(cfg, num_classes=4, checkpoint_path=cfg.ckpt_path)
    weights = {p.name: p.asnumpy() for p in rgb_net.get_parameters()}
    loaded = {p.name: p.asnumpy() for p in net.get_parameters()}
    np.testing.assert_allclose(loaded["conv1.weight"], weights["conv1.weight"].sum(axis=1, keepdims=True), rtol=1e-6)
    assert loaded["classifier.weight"].shape == (4, 64)
    np.testing.assert_array_equal(loaded["layer1.0.conv1.weight"], weights["layer1.0.conv1.weight"])


def test_other_channel_mismatches_stay_a_strict_error_naming_both_shapes(tmp_path):
    _, path = _saved(tmp_path, 3)
    with pytest.raises(CheckpointError, match=r"conv1\.weight: checkpoint \(16, 3, 3, 3\) vs network \(16, 4, 3, 3\)"):
        create_model(MODEL, num_classes=10, in_channels=4, checkpoint_path=path)


def test_mindcv_bit_checkpoint_loads_into_both_names_and_gives_mindcv_outputs(tmp_path, pynative_mode):
    """Oracle: MindCV 0.3.0's own BiT_resnet50, its parameters saved as MindCV saves them, loaded strictly here
    into BiT_resnet50 and, through the name mapping, into timm's resnetv2_50x1_bit."""
    require_oracles("mindcv")
    import mindcv.models

    theirs = mindcv.models.create_model("BiT_resnet50", num_classes=10)
    rng = np.random.default_rng(0)
    for p in theirs.get_parameters():
        p.set_data(ms.Tensor(random_array(p.name, tuple(p.shape), rng)))
    path = str(tmp_path / "BiT_resnet50.ckpt")
    ms.save_checkpoint(theirs, path)
    ours = create_model("BiT_resnet50", num_classes=10, checkpoint_path=path)
    assert [(p.name, tuple(p.shape)) for p in ours.get_parameters()] == \
        [(p.name, tuple(p.shape)) for p in theirs.get_parameters()]
    x = rng.standard_normal((2, 3, 64, 64)).astype(np.float32)
    expected = _logits(theirs, x)
    assert relative_error(_logits(ours, x), expected)[0] < 1e-4
    # timm's name of the same network reads MindCV's file through the name mapping (its StdConv eps is timm's),
    # for fine-tuning (create_model, as train.py --ckpt_path) and for evaluation (validate.py's network).
    timm_named = create_model("resnetv2_50x1_bit", num_classes=10, checkpoint_path=path)
    assert relative_error(_logits(timm_named, x), expected)[0] < 1e-4
    cfg = parse_args(["--model", "resnetv2_50x1_bit", "--dataset", "synthetic", "--ckpt_path", path], entry="validate")
    evaluated = build_evaluation_network(cfg, 10, path)
    np.testing.assert_array_equal(evaluated(ms.Tensor(x)).asnumpy(), _logits(timm_named, x))


def test_zero_init_head_zeroes_a_replaced_classifier_and_keeps_the_backbone(tmp_path):
    source, path = _saved(tmp_path, 3)
    weights = {p.name: p.asnumpy() for p in source.get_parameters()}
    cfg = parse_args(["-c", os.path.join(ROOT, "configs", "resnetv2", "bit_finetune.yaml"), "--model", MODEL,
                      "--bit_hyperrule", "False", "--dataset", "synthetic", "--ckpt_path", path])
    assert cfg.zero_init_head is True
    net = build_network(cfg, num_classes=4, checkpoint_path=cfg.ckpt_path)
    loaded = {p.name: p.asnumpy() for p in net.get_parameters()}
    assert not loaded["classifier.weight"].any() and not loaded["classifier.bias"].any()
    assert loaded["classifier.weight"].shape == (4, 64)
    for name in weights:
        if not name.startswith("classifier."):
            np.testing.assert_array_equal(loaded[name], weights[name], err_msg=name)
    kept = create_model(MODEL, num_classes=10, checkpoint_path=path, zero_init_head=True)  # same classes: loaded
    np.testing.assert_array_equal(kept.classifier.weight.asnumpy(), weights["classifier.weight"])


def _build_run_warnings(caplog, tmp_path, *argv, initial_weights):
    from mindcv_resnetv2.engine.builders import build_run
    from mindcv_resnetv2.engine.runtime import Runtime

    cfg = parse_args(["--model", MODEL, "--dataset", "synthetic", "--image_resize", "32", "--num_parallel_workers",
                      "1", "--val_while_train", "False", "--dataset_sink_mode", "False", *argv])
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2"):
        build_run(cfg, Runtime("CPU"), 4, initial_weights=initial_weights)
    return [r.getMessage() for r in caplog.records if "fine-tuning a new classifier" in r.getMessage()]


def test_a_new_head_at_a_from_scratch_lr_is_warned_with_the_rule_and_a_suggestion(tmp_path, caplog):
    """SGD's rule is per 256 images per update: lr 0.1 at 2 x 32 images (accumulated) is 0.4 per 256; lr 0.01 at
    256 is 0.01 (silent), as is training from scratch at lr 0.1 and the same lr with layer_decay."""
    _, path = _saved(tmp_path, 3)  # 10 classes: the 4-class run replaces the head
    sgd = ["--opt", "momentum", "--batch_size", "32"]
    warned = _build_run_warnings(caplog, tmp_path, *sgd, "--lr", "0.1", "--gradient_accumulation_steps", "2",
                                 initial_weights=path)
    assert len(warned) == 1
    assert "lr 0.1, 0.4 per 256 images (lr x 256 / 64 images per update)" in warned[0]
    assert "--lr 0.01" in warned[0] and "--layer_decay" in warned[0]
    assert _build_run_warnings(caplog, tmp_path, "--opt", "momentum", "--batch_size", "256", "--lr", "0.01",
                               initial_weights=path) == []
    assert _build_run_warnings(caplog, tmp_path, *sgd, "--lr", "0.1", initial_weights="") == []  # from scratch
    assert _build_run_warnings(caplog, tmp_path, *sgd, "--lr", "0.1", "--layer_decay", "0.7",
                               initial_weights=path) == []
    adam = _build_run_warnings(caplog, tmp_path, "--opt", "adamw", "--lr", "0.001", initial_weights=path)
    assert len(adam) == 1 and "above the 0.0005 warned at for the adaptive optimizer adamw" in adam[0]
    assert _build_run_warnings(caplog, tmp_path, "--opt", "adamw", "--lr", "0.0001", initial_weights=path) == []
