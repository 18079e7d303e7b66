"""Checkpoint files (loading, saving, records) as train, validate and create_model rely on them, and the training
checkpoints of engine.run_state written in them."""
import errno
import hashlib
import logging
import os
import re
import stat

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv_resnetv2.checkpoint import (
    CheckpointError,
    load_checkpoint,
    load_state_dict,
    read_checkpoint,
    save_checkpoint,
    split_checkpoint,
)
from mindcv_resnetv2.engine.run_state import find_latest, restore_training_checkpoint, save_training_checkpoint
from mindcv_resnetv2.utils.files import file_digest
from mindcv_resnetv2.models import create_model
from mindcv_resnetv2.utils.files import WriteError

MINDCV_TSV = os.path.join(os.path.dirname(__file__), "reference", "mindcv_resnetv2_50_params.tsv")
SMALL_MODEL = "preact_resnet20_cifar"


def small_net(num_classes=10):
    return create_model(SMALL_MODEL, num_classes=num_classes)


def snapshot(net):
    return {name: p.asnumpy().copy() for name, p in net.parameters_dict().items()}


def random_entries(net, seed=0):
    """A state dict for `net` with values unlike its initialisation, so loading is visible."""
    rng = np.random.default_rng(seed)
    return {
        name: rng.standard_normal(p.shape).astype(np.float32) for name, p in net.parameters_dict().items()
    }


def assert_unchanged(net, before):
    after = snapshot(net)
    for name, value in before.items():
        np.testing.assert_array_equal(after[name], value, err_msg=f"{name} changed by a failed load")


def assert_loaded(net, entries, names=None):
    params = net.parameters_dict()
    for name in names or entries:
        np.testing.assert_array_equal(params[name].asnumpy(), entries[name], err_msg=name)


@pytest.mark.parametrize("ext", [".ckpt", ".safetensors"])
def test_round_trip_loads_every_parameter(tmp_path, ext):
    source = small_net()
    entries = random_entries(source)
    load_state_dict(source, entries)
    path = save_checkpoint(source, tmp_path / f"weights{ext}")

    target = small_net()
    load_checkpoint(target, path)  # strict: a missing or unexpected name would raise
    assert_loaded(target, entries)


def test_strict_missing_key_is_named_and_nothing_loaded(tmp_path):
    net = small_net()
    entries = random_entries(net)
    del entries["layer2.0.conv1.weight"]
    path = save_checkpoint(entries, tmp_path / "partial.ckpt")
    before = snapshot(net)
    with pytest.raises(CheckpointError, match=r"Missing from the checkpoint \(1\): layer2\.0\.conv1\.weight"):
        load_checkpoint(net, path)
    assert_unchanged(net, before)


def test_strict_unexpected_key_is_named(tmp_path):
    net = small_net()
    entries = random_entries(net)
    entries["layer9.0.conv1.weight"] = np.zeros((2, 2), np.float32)
    path = save_checkpoint(entries, tmp_path / "extra.ckpt")
    before = snapshot(net)
    with pytest.raises(CheckpointError, match=r"Unexpected in the checkpoint \(1\): layer9\.0\.conv1\.weight"):
        load_checkpoint(net, path)
    assert_unchanged(net, before)


def test_shape_mismatch_names_parameter_and_both_shapes(tmp_path):
    net = small_net()
    entries = random_entries(net)
    wanted = entries["layer1.0.conv2.weight"].shape
    entries["layer1.0.conv2.weight"] = np.zeros((wanted[0], wanted[1], 5, 5), np.float32)
    path = save_checkpoint(entries, tmp_path / "bad_shape.ckpt")
    before = snapshot(net)
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(net, path, strict=False)
    message = str(excinfo.value)
    assert "layer1.0.conv2.weight" in message
    assert f"checkpoint {(wanted[0], wanted[1], 5, 5)}" in message and f"network {wanted}" in message
    assert_unchanged(net, before)


def test_long_name_lists_are_truncated():
    net = small_net()
    with pytest.raises(CheckpointError) as excinfo:
        load_state_dict(net, {"conv1.weight": random_entries(net)["conv1.weight"]})
    message = str(excinfo.value)
    assert "more)" in message and len(message) < 1500


def test_non_strict_loads_what_matches_and_reports_the_rest(caplog):
    net = small_net()
    entries = random_entries(net)
    del entries["norm.gamma"]
    entries["stray.weight"] = np.ones(3, np.float32)
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2.checkpoint"):
        load_state_dict(net, entries, strict=False)
    assert "1 missing (norm.gamma), 1 unexpected (stray.weight)" in caplog.text
    assert_loaded(net, entries, names=["conv1.weight", "classifier.weight"])


def test_fine_tune_drops_classifier_with_one_log_line(tmp_path, caplog):
    source = small_net(num_classes=10)
    entries = random_entries(source)
    path = save_checkpoint(entries, tmp_path / "ten_classes.ckpt")

    net = small_net(num_classes=7)
    fresh_classifier = net.parameters_dict()["classifier.weight"].asnumpy().copy()
    with caplog.at_level(logging.INFO, logger="mindcv_resnetv2.checkpoint"):
        load_checkpoint(net, path)
    np.testing.assert_array_equal(net.parameters_dict()["classifier.weight"].asnumpy(), fresh_classifier)
    assert_loaded(net, entries, names=["conv1.weight", "layer3.2.bn2.moving_variance", "norm.beta"])
    classifier_lines = [r for r in caplog.records if "classifier" in r.getMessage()]
    assert len(classifier_lines) == 1 and "10 classes" in classifier_lines[0].getMessage()
    assert "dropped classifier.weight, classifier.bias" in classifier_lines[0].getMessage()

    with pytest.raises(CheckpointError, match="classifier.weight"):
        load_checkpoint(small_net(num_classes=7), path, num_classes_mismatch="error")


def test_create_model_checkpoint_path_fine_tunes(tmp_path):
    path = save_checkpoint(random_entries(small_net(num_classes=10)), tmp_path / "pretrained.ckpt")
    net = create_model(SMALL_MODEL, num_classes=3, checkpoint_path=str(path))
    assert net.parameters_dict()["classifier.weight"].shape == (3, 64)
    np.testing.assert_array_equal(net.parameters_dict()["conv1.weight"].asnumpy(), read_checkpoint(path)["conv1.weight"])


def test_optimizer_and_training_entries_are_ignored(tmp_path, caplog):
    net = small_net()
    entries = random_entries(net)
    names = list(entries)
    training = {
        "learning_rate": np.float32(0.1),
        "global_step": np.array([120], np.int32),
        "momentum": np.float32(0.9),
        "scale_sense": np.float32(1024.0),
        "current_iterator_step": np.int32(5),
        "last_overflow_iterator_step": np.int32(0),
        "epoch_num": np.int32(3),
        "step_num": np.int32(120),
        "beta1_power": np.float32(0.9),
        "train_state.epoch": np.int64(3),
    }
    for slot in ("moments", "adam_m", "adam_v", "moment1"):
        training.update({f"{slot}.{name}": np.zeros_like(entries[name]) for name in names[:4]})
    path = save_checkpoint({**entries, **training}, tmp_path / "with_optimizer.ckpt")
    with caplog.at_level(logging.INFO, logger="mindcv_resnetv2.checkpoint"):
        load_checkpoint(net, path)  # strict: an entry taken for an unexpected weight would raise
    assert_loaded(net, entries)
    assert f"ignored {len(training)} non-model entries" in caplog.text


def ema_checkpoint(tmp_path, net):
    raw, ema = random_entries(net, seed=1), random_entries(net, seed=2)
    path = save_checkpoint({**raw, **{"ema." + k: v for k, v in ema.items()}}, tmp_path / "ema.ckpt")
    return path, raw, ema


def test_ema_weights_chosen_on_request(tmp_path, caplog):
    path, raw, ema = ema_checkpoint(tmp_path, small_net())
    net = small_net()
    with caplog.at_level(logging.INFO, logger="mindcv_resnetv2.checkpoint"):
        load_checkpoint(net, path, use_ema=True)
    assert "(EMA weights)" in caplog.text
    assert_loaded(net, ema)
    load_checkpoint(net, path)
    assert_loaded(net, raw)


def test_ema_requested_but_absent_is_an_error(tmp_path):
    net = small_net()
    path = save_checkpoint(random_entries(net), tmp_path / "no_ema.ckpt")
    before = snapshot(net)
    with pytest.raises(CheckpointError, match="use_ema=True but .*no_ema.ckpt.* no EMA weights"):
        load_checkpoint(net, path, use_ema=True)
    assert_unchanged(net, before)


def test_ema_only_file_hints_at_use_ema(tmp_path):
    net = small_net()
    path = save_checkpoint({"ema." + k: v for k, v in random_entries(net).items()}, tmp_path / "ema_only.ckpt")
    with pytest.raises(CheckpointError, match="pass use_ema=True"):
        load_checkpoint(net, path)


def hash_named_copy(tmp_path, source, digest_prefix, suffix=""):
    target = tmp_path / f"preact-{digest_prefix}{suffix}.ckpt"
    target.write_bytes(source.read_bytes())
    return target


def test_hash_named_file_is_verified(tmp_path):
    net = small_net()
    entries = random_entries(net)
    plain = save_checkpoint(entries, tmp_path / "plain.ckpt")
    digest = hashlib.sha256(open(plain, "rb").read()).hexdigest()
    good = hash_named_copy(tmp_path, tmp_path / "plain.ckpt", digest[:8], suffix="-in1k")
    load_checkpoint(net, good)
    assert_loaded(net, entries)

    wrong = "00000000" if not digest.startswith("00000000") else "11111111"
    bad = hash_named_copy(tmp_path, tmp_path / "plain.ckpt", wrong)
    before = snapshot(net)
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(net, bad)
    assert str(bad) in str(excinfo.value) and wrong in str(excinfo.value) and digest[:8] in str(excinfo.value)
    assert_unchanged(net, before)


@pytest.mark.parametrize("ext", [".ckpt", ".safetensors"])
def test_truncated_file_is_named_as_possibly_partial(tmp_path, ext):
    net = small_net()
    path = save_checkpoint(random_entries(net), tmp_path / f"whole{ext}")
    data = open(path, "rb").read()
    cut = tmp_path / f"cut{ext}"
    cut.write_bytes(data[: len(data) // 2])
    before = snapshot(net)
    with pytest.raises(CheckpointError, match=r"cut.*truncated.*partial download"):
        load_checkpoint(net, cut)
    assert_unchanged(net, before)


def test_missing_file_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere\.ckpt' does not exist"):
        load_checkpoint(small_net(), tmp_path / "nowhere.ckpt")


def test_unknown_extension_is_refused(tmp_path):
    with pytest.raises(CheckpointError, match=r"'\.pth'.*\.ckpt, \.safetensors"):
        save_checkpoint(small_net(), tmp_path / "weights.pth")


def test_crash_during_save_keeps_previous_file_and_leaves_no_temp(tmp_path, monkeypatch):
    net = small_net()
    path = save_checkpoint(net, tmp_path / "last.ckpt")
    previous = open(path, "rb").read()

    def crash_mid_write(save_obj, ckpt_file_name, **kwargs):
        with open(ckpt_file_name, "wb") as f:
            f.write(previous[:100])
        raise OSError("disk full")

    monkeypatch.setattr(ms, "save_checkpoint", crash_mid_write)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(net, path)
    assert open(path, "rb").read() == previous
    assert sorted(os.listdir(tmp_path)) == ["last.ckpt", "last.ckpt.json"]
    read_checkpoint(path)  # the previous file still matches its sha256 record


def test_full_disk_during_save_is_a_write_error_and_removes_mindsporess_temporaries(tmp_path, monkeypatch):
    """MindSpore 2.8 writes `<name without extension>.tmp` and leaves it behind when the disk is full."""
    net = small_net()

    def full_disk(save_obj, ckpt_file_name, **kwargs):
        with open(os.path.splitext(ckpt_file_name)[0] + ".tmp", "wb") as f:
            f.write(b"partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(ms, "save_checkpoint", full_disk)
    with pytest.raises(WriteError, match=r"cannot write checkpoint '.*epoch-1_3\.ckpt': No space left on device "
                                         r"\(\d+\.\d MiB free in .*\)"):
        save_checkpoint(net, tmp_path / "epoch-1_3.ckpt")
    assert os.listdir(tmp_path) == []


def test_saved_file_is_writable_by_owner_and_can_be_overwritten(tmp_path):
    net = small_net()
    path = save_checkpoint(net, tmp_path / "mode.ckpt")
    assert os.stat(path).st_mode & stat.S_IWUSR
    os.chmod(path, 0o400)  # as MindSpore or MindCV would have left it
    save_checkpoint(net, path)
    assert os.stat(path).st_mode & stat.S_IWUSR


def training_objects(seed):
    net = small_net()
    load_state_dict(net, random_entries(net, seed=seed))
    optimizer = nn.Momentum(net.trainable_params(), learning_rate=0.1, momentum=0.9)
    ema = ms.ParameterTuple(list(net.get_parameters())).clone("ema", init="same")
    return net, optimizer, ema


def test_training_checkpoint_restores_every_part(tmp_path):
    net, optimizer, ema = training_objects(seed=3)
    optimizer.moments[0].set_data(ms.Tensor(np.full(optimizer.moments[0].shape, 0.25, np.float32)))
    optimizer.global_step.set_data(ms.Tensor([57], ms.int32))
    ema[0].set_data(ms.Tensor(np.full(ema[0].shape, -1.0, np.float32)))
    state = {"epoch": 4, "step": 57, "loss_scale": 1024.0, "best_top1": 0.625, "seed": 42}
    path = save_training_checkpoint(tmp_path / "resume.ckpt", net, optimizer, ema, state)

    net2, optimizer2, ema2 = training_objects(seed=4)
    assert restore_training_checkpoint(path, net2, optimizer2, ema2) == state
    assert_loaded(net2, snapshot(net))
    np.testing.assert_array_equal(optimizer2.moments[0].asnumpy(), 0.25)
    assert optimizer2.global_step.asnumpy().tolist() == [57]
    np.testing.assert_array_equal(ema2[0].asnumpy(), -1.0)

    parts = split_checkpoint(read_checkpoint(path))
    assert parts.train_state == state and not parts.unknown
    assert set(parts.ema) == set(parts.model) == set(net.parameters_dict())
    assert "moments.conv1.weight" in parts.optimizer and "global_step" in parts.optimizer

    weights_only = small_net()
    load_checkpoint(weights_only, path)  # a resume file is also a weights file (strict: nothing unexpected)


def test_training_checkpoint_lacking_a_part_restores_nothing(tmp_path):
    net, optimizer, _ = training_objects(seed=5)
    path = save_training_checkpoint(tmp_path / "no_ema.ckpt", net, optimizer, train_state={"epoch": 1})
    net2, optimizer2, ema2 = training_objects(seed=6)
    before = snapshot(net2)
    with pytest.raises(CheckpointError, match=r"lacks \d+ entries.*ema\.conv1\.weight"):
        restore_training_checkpoint(path, net2, optimizer2, ema2)
    assert_unchanged(net2, before)


def test_training_checkpoint_with_extra_parts_restores_nothing(tmp_path):
    """Strict both ways: a file holding more than the run has (here EMA weights) is another run's file."""
    net, optimizer, ema = training_objects(seed=5)
    path = save_training_checkpoint(tmp_path / "with_ema.ckpt", net, optimizer, ema, train_state={"epoch": 1})
    net2, optimizer2, _ = training_objects(seed=6)
    before = snapshot(net2)
    with pytest.raises(CheckpointError, match=r"99 unexpected entries the run does not: ema\.classifier\.bias, "
                                              r"ema\.classifier\.weight, ema\.conv1\.weight"):
        restore_training_checkpoint(path, net2, optimizer2)
    assert_unchanged(net2, before)


def test_train_state_values_must_be_numbers(tmp_path):
    with pytest.raises(TypeError, match=r"train_state\['run'\]"):
        save_training_checkpoint(tmp_path / "x.ckpt", small_net(), train_state={"run": "abc"})


def read_tsv(path):
    rows = [line.rstrip("\n").split("\t") for line in open(path) if line.strip()]
    return {name: tuple(int(d) for d in shape.strip("()").split(",") if d.strip()) for name, shape, _ in rows}


def test_mindcv_style_checkpoint_loads_into_resnetv2_50(tmp_path):
    """A file with MindCV's names and shapes (from its published network) plus MindCV's training entries."""
    shapes = read_tsv(MINDCV_TSV)
    rng = np.random.default_rng(0)
    weights = {name: rng.standard_normal(shape).astype(np.float32) for name, shape in shapes.items()}
    training = {"learning_rate": np.float32(0.1), "global_step": np.array([10], np.int32)}
    training["moments.layer1.0.conv1.weight"] = np.zeros(shapes["layer1.0.conv1.weight"], np.float32)
    path = save_checkpoint({**weights, **training}, tmp_path / "resnetv2_50_mindcv.ckpt")

    net = create_model("resnetv2_50")
    load_checkpoint(net, path)  # strict: every parameter filled, nothing unexpected
    assert len(net.parameters_dict()) == len(shapes) == 267
    assert_loaded(net, weights)


# sha256 records (issue 25 item 4) ------------------------------------------------------------------------------

def flip_bytes(path, count=64):
    """Invert `count` bytes in the middle of a file: a damage MindSpore's parser does not notice."""
    data = bytearray(open(path, "rb").read())
    middle = len(data) // 2
    data[middle:middle + count] = bytes(255 - b for b in data[middle:middle + count])
    open(path, "wb").write(bytes(data))


def read_record(path):
    import json

    with open(str(path) + ".json") as handle:
        return json.load(handle)


@pytest.mark.parametrize("ext", [".ckpt", ".safetensors"])
def test_every_saved_checkpoint_records_its_sha256(tmp_path, ext):
    path = save_checkpoint(small_net(), tmp_path / f"weights{ext}")
    assert read_record(path)["sha256"] == file_digest(path)


def test_a_training_checkpoint_records_its_sha256_and_its_run_state(tmp_path):
    net, optimizer, ema = training_objects(seed=0)
    path = save_training_checkpoint(str(tmp_path / "m-1_3.ckpt"), net, optimizer, ema, train_state={"epoch": 1})
    record = read_record(path)
    assert record["sha256"] == file_digest(path) and record["train_state"] == {"epoch": 1}


@pytest.mark.parametrize("ext", [".ckpt", ".safetensors"])
def test_a_checkpoint_with_flipped_bytes_is_refused_with_both_digests(tmp_path, ext):
    path = save_checkpoint(random_entries(small_net()), tmp_path / f"weights{ext}")
    recorded = file_digest(path)
    flip_bytes(path)
    net = small_net()
    before = snapshot(net)
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(net, path)
    message = str(excinfo.value)
    assert str(path) in message and recorded in message and file_digest(path) in message
    assert_unchanged(net, before)


def test_resume_from_a_damaged_training_checkpoint_is_refused(tmp_path):
    net, optimizer, ema = training_objects(seed=0)
    path = save_training_checkpoint(str(tmp_path / "m-1_3.ckpt"), net, optimizer, ema, train_state={"epoch": 1})
    flip_bytes(path)
    with pytest.raises(CheckpointError, match="sha256"):
        restore_training_checkpoint(path, *training_objects(seed=1))


def test_a_file_without_a_record_still_loads(tmp_path, capfd):
    """MindCV's published checkpoints and files written by MindSpore itself have no record (and no CRC: MindSpore's
    warning about that would only alarm the user)."""
    net = small_net()
    entries = random_entries(net)
    path = str(tmp_path / "plain.ckpt")
    ms.save_checkpoint([{"name": name, "data": ms.Tensor(value)} for name, value in entries.items()], path)
    capfd.readouterr()
    load_checkpoint(net, path)
    assert_loaded(net, entries)
    assert "crc" not in capfd.readouterr().err


def test_resume_auto_skips_a_damaged_newest_checkpoint(tmp_path, caplog):
    net, optimizer, ema = training_objects(seed=0)
    for epoch in (1, 2):
        save_training_checkpoint(str(tmp_path / f"m-{epoch}_3.ckpt"), net, optimizer, ema,
                                 train_state={"epoch": epoch})
    flip_bytes(tmp_path / "m-2_3.ckpt")
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2"):
        assert find_latest(str(tmp_path)) == str(tmp_path / "m-1_3.ckpt")
    assert "m-2_3.ckpt" in caplog.text and "sha256" in caplog.text


# Non-finite weights (issue 25 item 3) --------------------------------------------------------------------------

def with_nonfinite(net, names=("layer2.0.conv1.weight", "norm.moving_variance")):
    """Put a NaN into the first and an Inf into the second named parameter of `net`."""
    params = net.parameters_dict()
    for name, bad in zip(names, (np.nan, np.inf)):
        value = params[name].asnumpy().copy()
        value.flat[0] = bad
        params[name].set_data(ms.Tensor(value))
    return net


def test_a_checkpoint_with_nonfinite_weights_is_never_saved(tmp_path):
    path = save_checkpoint(small_net(), tmp_path / "best.ckpt")
    before = {name: open(tmp_path / name, "rb").read() for name in os.listdir(tmp_path)}
    with pytest.raises(CheckpointError) as excinfo:
        save_checkpoint(with_nonfinite(small_net()), path)
    message = str(excinfo.value)
    assert "layer2.0.conv1.weight" in message and "norm.moving_variance" in message and str(path) in message
    assert {name: open(tmp_path / name, "rb").read() for name in os.listdir(tmp_path)} == before


def test_a_training_checkpoint_with_a_nonfinite_optimizer_slot_is_never_saved(tmp_path):
    net, optimizer, ema = training_objects(seed=0)
    optimizer.moments[0].set_data(ms.Tensor(np.full(optimizer.moments[0].shape, np.nan, np.float32)))
    with pytest.raises(CheckpointError, match=r"moments\.conv1\.weight"):
        save_training_checkpoint(str(tmp_path / "m-1_3.ckpt"), net, optimizer, ema, train_state={"epoch": 1})
    assert os.listdir(tmp_path) == []


def _nonfinite_file(tmp_path):
    """Non-finite weights as an older version, or another tool, would have saved them: no check, no record."""
    net = with_nonfinite(small_net())
    path = str(tmp_path / "m-2_3.ckpt")
    entries = [{"name": p.name, "data": p} for p in net.get_parameters()]
    ms.save_checkpoint(entries + [{"name": "train_state.epoch", "data": ms.Tensor(np.asarray(2))}], path)
    return path


def test_loading_nonfinite_weights_is_refused_naming_them(tmp_path):
    path = _nonfinite_file(tmp_path)
    net = small_net()
    before = snapshot(net)
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(net, path)
    message = str(excinfo.value)
    assert path in message and "2 tensors" in message
    assert "layer2.0.conv1.weight" in message and "norm.moving_variance" in message
    assert_unchanged(net, before)


def test_resume_auto_skips_a_checkpoint_with_nonfinite_weights(tmp_path, caplog):
    net, optimizer, ema = training_objects(seed=0)
    save_training_checkpoint(str(tmp_path / "m-1_3.ckpt"), net, optimizer, ema, train_state={"epoch": 1})
    _nonfinite_file(tmp_path)
    with caplog.at_level(logging.WARNING, logger="mindcv_resnetv2"):
        assert find_latest(str(tmp_path)) == str(tmp_path / "m-1_3.ckpt")
    assert "m-2_3.ckpt" in caplog.text and "NaN/Inf values in 2 tensors" in caplog.text


@pytest.mark.parametrize("mode", [ms.GRAPH_MODE, ms.PYNATIVE_MODE])
def test_the_device_check_of_the_weights_sees_nan_and_inf(mode):
    from mindcv_resnetv2.utils.finite import FiniteCheck, nonfinite_parameters

    previous = ms.get_context("mode")
    ms.set_context(mode=mode)
    try:
        net = small_net()
        names = [p.name for p in net.get_parameters()]
        check = FiniteCheck(net)
        assert [p.name for p in net.get_parameters()] == names  # the net's own names are kept
        result = check()
        assert isinstance(result, ms.Tensor) and result.shape == () and bool(result.asnumpy()) is True
        with_nonfinite(net)
        assert bool(check().asnumpy()) is False
        assert nonfinite_parameters(net) == ["layer2.0.conv1.weight", "norm.moving_variance"]
    finally:
        ms.set_context(mode=previous)


# Poorly handled before (issue 25) ------------------------------------------------------------------------------

@pytest.mark.parametrize("ext", [".ckpt", ".safetensors"])
def test_a_zero_byte_checkpoint_is_named_as_empty(tmp_path, ext):
    empty = tmp_path / f"empty{ext}"
    empty.write_bytes(b"")
    with pytest.raises(CheckpointError, match=rf"Checkpoint file '{re.escape(str(empty))}' is empty \(0 bytes\)"):
        load_checkpoint(small_net(), empty)


def test_a_strict_load_error_says_what_a_user_of_the_tools_can_do(tmp_path):
    path = save_checkpoint(create_model("preact_resnet18", num_classes=10), tmp_path / "r18.ckpt")
    with pytest.raises(CheckpointError) as excinfo:
        load_checkpoint(small_net(), path)
    message = str(excinfo.value)
    assert "Pass strict=False" not in message
    assert "--model" in message and "--ckpt_path" in message
