"""Weight converters on synthetic files: timm ResNetV2 state dicts (safetensors, PyTorch) with timm's keys and
shapes, and Google's BiT npz layout. Numerical equality with timm is in tests/test_timm_family.py."""
import os
import subprocess
import sys

import numpy as np
import pytest
from safetensors.numpy import save_file

from mindcv_resnetv2.checkpoint import CheckpointError, load_checkpoint, read_checkpoint
from mindcv_resnetv2.convert import convert_bit_npz, convert_timm_checkpoint, timm_name_to_ours
from mindcv_resnetv2.convert.__main__ import main
from mindcv_resnetv2.models import create_model
from mindcv_resnetv2.convert.timm import model_for_timm_weights

TIMM_TSV = os.path.join(
    os.path.dirname(__file__), "reference", "timm_resnetv2_50_state_dict.tsv"
)


def timm_shapes(num_classes=1000):
    """timm resnetv2_50's state-dict shapes, with the head resized to `num_classes`."""
    shapes = {}
    for line in open(TIMM_TSV):
        name, shape = line.rstrip("\n").split("\t")[:2]
        shapes[name] = tuple(int(d) for d in shape.strip("()").split(",") if d.strip())
    shapes["head.fc.weight"] = (num_classes,) + shapes["head.fc.weight"][1:]
    shapes["head.fc.bias"] = (num_classes,)
    return shapes


def write_timm_file(path, num_classes=1000, drop=(), extra=None):
    rng = np.random.default_rng(0)
    arrays = {}
    for name, shape in timm_shapes(num_classes).items():
        if name in drop:
            continue
        if name.endswith("num_batches_tracked"):
            arrays[name] = np.array(1234, np.int64)
        elif name.endswith("running_var"):
            arrays[name] = rng.uniform(0.5, 2.0, shape).astype(np.float32)
        else:
            arrays[name] = rng.standard_normal(shape).astype(np.float32)
    arrays.update(extra or {})
    save_file(arrays, str(path), metadata={"format": "pt"})
    return arrays


def test_cli_converts_and_values_land_in_the_right_parameters(tmp_path):
    source, output = tmp_path / "model.safetensors", tmp_path / "preact_resnet50.ckpt"
    timm = write_timm_file(source)
    assert main(["timm", str(source), str(output), "--model", "preact_resnet50"]) == 0

    net = create_model("preact_resnet50", num_classes=1000)
    load_checkpoint(net, output)  # strict: a missing or unexpected name would raise
    params = {name: p.asnumpy() for name, p in net.parameters_dict().items()}
    expected = {
        "conv1.weight": timm["stem.conv.weight"],
        "classifier.weight": timm["head.fc.weight"][:, :, 0, 0],
        "classifier.bias": timm["head.fc.bias"],
        "layer1.0.down_sample.0.weight": timm["stages.0.blocks.0.downsample.conv.weight"],
        "layer4.2.bn3.moving_variance": timm["stages.3.blocks.2.norm3.running_var"],
        "layer3.5.bn1.gamma": timm["stages.2.blocks.5.norm1.weight"],
        "layer2.3.conv2.weight": timm["stages.1.blocks.3.conv2.weight"],
        "norm.moving_mean": timm["norm.running_mean"],
        "norm.beta": timm["norm.bias"],
    }
    assert params["classifier.weight"].shape == (1000, 2048)
    for name, value in expected.items():
        np.testing.assert_array_equal(params[name], value, err_msg=name)
    # Every non-counter timm tensor arrived somewhere, each exactly once.
    assert len(read_checkpoint(output)) == len([k for k in timm if not k.endswith("num_batches_tracked")])


def test_fine_tuned_head_sets_the_class_count(tmp_path):
    source, output = tmp_path / "ft.safetensors", tmp_path / "ft.ckpt"
    write_timm_file(source, num_classes=10)
    convert_timm_checkpoint(source, output, model_name="preact_resnet50")
    assert read_checkpoint(output)["classifier.weight"].shape == (10, 2048)


def test_unknown_timm_key_is_named(tmp_path):
    source = tmp_path / "not_preact.safetensors"  # a non-pre-activation backbone normalises its projection
    write_timm_file(source, num_classes=2, extra={"stages.0.blocks.0.downsample.norm.weight": np.ones(256, np.float32)})
    with pytest.raises(CheckpointError, match=r"timm key 'stages\.0\.blocks\.0\.downsample\.norm\.weight'"):
        convert_timm_checkpoint(source, tmp_path / "out.ckpt")
    assert not (tmp_path / "out.ckpt").exists()


def test_missing_timm_key_is_named_by_our_name(tmp_path):
    source = tmp_path / "incomplete.safetensors"
    write_timm_file(source, num_classes=2, drop=("stages.2.blocks.1.norm2.running_var",))
    with pytest.raises(CheckpointError, match=r"Missing from the checkpoint \(1\): layer3\.1\.bn2\.moving_variance"):
        convert_timm_checkpoint(source, tmp_path / "out.ckpt")
    assert not (tmp_path / "out.ckpt").exists()


def test_wrong_target_model_fails_with_shapes(tmp_path, capsys):
    source = tmp_path / "r50.safetensors"
    write_timm_file(source, num_classes=2)
    assert main(["timm", str(source), str(tmp_path / "out.ckpt"), "--model", "preact_resnet18"]) == 1
    assert "layer1.0.conv3.weight" in capsys.readouterr().err


def test_name_mapping_rules():
    assert timm_name_to_ours("stages.1.blocks.0.norm1.running_mean") == "layer2.0.bn1.moving_mean"
    assert timm_name_to_ours("stages.0.blocks.0.norm1.num_batches_tracked") is None
    assert timm_name_to_ours("head.fc.bias") == "classifier.bias"


def test_command_line_help_runs():
    result = subprocess.run(
        [sys.executable, "-m", "mindcv_resnetv2.convert", "timm", "--help"], capture_output=True, text=True
    )
    assert result.returncode == 0 and "--model" in result.stdout


def test_family_key_rules():
    """Deep stems, EvoNorm's v and FRN's tau, GroupNorm's affine pair: each timm key has one name of ours."""
    assert timm_name_to_ours("stem.conv1.weight") == "conv1.weight"
    assert timm_name_to_ours("stem.norm2.running_var") == "stem_bn2.moving_variance"
    assert timm_name_to_ours("stem.conv3.weight") == "stem_conv3.weight"
    assert timm_name_to_ours("stages.2.blocks.0.norm1.v") == "layer3.0.bn1.v"
    assert timm_name_to_ours("norm.tau") == "norm.tau"
    assert timm_name_to_ours("stages.3.blocks.2.norm3.bias") == "layer4.2.bn3.beta"


def test_timm_names_resolve_to_ours():
    assert model_for_timm_weights("resnetv2_50") == "preact_resnet50"  # timm's name wins over our MindCV layout
    assert model_for_timm_weights("resnetv2_50x1_bit.goog_in21k") == "resnetv2_50x1_bit"
    assert model_for_timm_weights("preact_resnet18") == "preact_resnet18"
    with pytest.raises(ValueError, match="Unknown model 'resnetv2_50x2_bit'.*resnetv2_50x1_bit"):
        model_for_timm_weights("resnetv2_50x2_bit")


def test_pytorch_state_dict_converts_like_safetensors(tmp_path):
    torch = pytest.importorskip("torch")
    arrays = write_timm_file(tmp_path / "model.safetensors", num_classes=3)
    torch.save({"state_dict": {k: torch.from_numpy(np.asarray(v)) for k, v in arrays.items()}}, tmp_path / "m.pth")
    convert_timm_checkpoint(tmp_path / "m.pth", tmp_path / "from_pth.ckpt", model_name="resnetv2_50")
    convert_timm_checkpoint(tmp_path / "model.safetensors", tmp_path / "from_st.ckpt", model_name="resnetv2_50")
    from_pth, from_st = read_checkpoint(tmp_path / "from_pth.ckpt"), read_checkpoint(tmp_path / "from_st.ckpt")
    assert from_pth.keys() == from_st.keys()
    for name in from_st:
        np.testing.assert_array_equal(from_pth[name], from_st[name], err_msg=name)


def test_bit_npz_layout_and_errors(tmp_path):
    from test_timm_family import bit_npz_arrays

    arrays = bit_npz_arrays(num_classes=5)
    np.savez(tmp_path / "r50.npz", **arrays)
    assert main(["bit", str(tmp_path / "r50.npz"), str(tmp_path / "r50.ckpt")]) == 0
    ours = read_checkpoint(tmp_path / "r50.ckpt")
    kernel = arrays["resnet/block2/unit01/b/standardized_conv2d/kernel"]  # HWIO
    np.testing.assert_array_equal(ours["layer2.0.conv2.weight"], kernel.transpose(3, 2, 0, 1))
    np.testing.assert_array_equal(ours["layer4.2.bn3.gamma"], arrays["resnet/block4/unit03/c/group_norm/gamma"])
    np.testing.assert_array_equal(ours["layer1.0.down_sample.0.weight"][:, :, 0, 0],
                                  arrays["resnet/block1/unit01/a/proj/standardized_conv2d/kernel"][0, 0].T)
    assert ours["classifier.weight"].shape == (5, 2048)
    with pytest.raises(CheckpointError, match="holds resnetv2_50x1_bit weights, not resnetv2_101x1_bit"):
        convert_bit_npz(tmp_path / "r50.npz", tmp_path / "x.ckpt", model_name="resnetv2_101x1_bit")
    np.savez(tmp_path / "other.npz", **{"model/conv/kernel": np.zeros((3, 3, 3, 8), np.float32)})
    with pytest.raises(CheckpointError, match="not one of Google's BiT ResNet .npz files"):
        convert_bit_npz(tmp_path / "other.npz", tmp_path / "x.ckpt")
    del arrays["resnet/block3/unit02/b/group_norm/beta"]
    np.savez(tmp_path / "missing.npz", **arrays)
    with pytest.raises(CheckpointError, match=r"layer3\.1\.bn2\.beta"):
        convert_bit_npz(tmp_path / "missing.npz", tmp_path / "x.ckpt")
    assert not (tmp_path / "x.ckpt").exists()
