"""The model zoo: every registered model builds and runs, counts and names are exact, options take effect."""
import inspect
import math
import os

import mindspore as ms
import numpy as np
import pytest

from mindcv_resnetv2.models import create_model, get_default_cfg, is_model, list_models, model_entrypoint, preact_resnet_cifar
from mindcv_resnetv2.models.resnetv2 import cifar_layers
from mindcv_resnetv2.models.summary import count_flops, count_parameters, default_input_flops

REFERENCE = os.path.join(os.path.dirname(__file__), "reference")
TRAINABLE = {
    "resnetv2_50": 25_553_064,
    "resnetv2_101": 44_545_192,
    "preact_resnet18": 11_687_720,
    "preact_resnet34": 21_795_880,
    "preact_resnet50": 25_549_352,
    "preact_resnet101": 44_541_480,
    "preact_resnet152": 60_185_128,
    "preact_resnet200": 64_666_152,
}
TOTAL = {"resnetv2_50": 25_602_216, "resnetv2_101": 44_646_568}
BIG = {"preact_resnet152", "preact_resnet200", "preact_resnet1001_cifar", "resnetv2_101", "preact_resnet101",
       "preact_resnet110_cifar", "preact_resnet164_cifar"}
# timm's ResNetV2 family runs forward (and trains, and matches timm) in tests/test_timm_family*.py.
TIMM_FAMILY = {name for name in list_models("resnetv2_*") if name not in ("resnetv2_50", "resnetv2_101")}
# MindCV's BiT networks: presets of the BiT layout under MindCV's names, checked against MindCV in test_finetune.py.
MINDCV_BIT = set(list_models("BiT_*"))


def _batch(channels=3, size=32, batch=2, seed=0):
    return ms.Tensor(np.random.default_rng(seed).standard_normal((batch, channels, size, size)).astype(np.float32))


def test_registry_lists_every_family():
    names = list_models()
    for expected in ["resnetv2_50", "resnetv2_101", "preact_resnet18", "preact_resnet34", "preact_resnet50",
                     "preact_resnet101", "preact_resnet152", "preact_resnet200", "preact_resnet110_cifar",
                     "preact_resnet164_cifar", "preact_resnet1001_cifar"]:
        assert expected in names and is_model(expected)
    assert names.index("preact_resnet18") < names.index("preact_resnet101")  # natural order
    assert list_models("resnetv2_5*") == ["resnetv2_50", "resnetv2_50d", "resnetv2_50d_evos", "resnetv2_50d_frn",
                                          "resnetv2_50d_gn", "resnetv2_50t", "resnetv2_50x1_bit", "resnetv2_50x3_bit"]
    assert list_models(pretrained=True) == ["BiT_resnet50", "BiT_resnet50x3", "BiT_resnet101", "resnetv2_50",
                                            "resnetv2_101"]  # MindCV's published checkpoints
    cfg = get_default_cfg("resnetv2_50")
    assert cfg["input_size"] == (3, 224, 224) and cfg["classifier"] == "classifier" and cfg["url"].endswith(".ckpt")
    assert get_default_cfg("preact_resnet110_cifar")["input_size"] == (3, 32, 32)


def test_unknown_model_names_the_closest():
    with pytest.raises(ValueError, match="resnetv2_50") as err:
        create_model("resnetv2_5O")
    assert "Unknown model 'resnetv2_5O'" in str(err.value)
    with pytest.raises(ValueError, match="preact_resnet50"):
        model_entrypoint("preact_resnet_50")


def test_every_entry_point_defaults_to_its_default_cfgs_class_count():
    for name in list_models():
        default = inspect.signature(model_entrypoint(name)).parameters["num_classes"].default
        assert default == get_default_cfg(name)["num_classes"], name


@pytest.mark.parametrize("name, classes", [("preact_resnet20_cifar", 10), ("preact_resnet29_cifar", 10),
                                           ("preact_resnet18", 1000), ("resnetv2_18d", 1000)])
def test_create_model_without_num_classes_builds_the_default_cfgs_count(name, classes):
    assert get_default_cfg(name)["num_classes"] == classes
    assert create_model(name).classifier.out_channels == classes
    assert model_entrypoint(name)().classifier.out_channels == classes
    assert create_model(name, num_classes=1000).classifier.out_channels == 1000  # an explicit count is kept


@pytest.mark.parametrize("name", sorted(TRAINABLE))
def test_exact_trainable_parameter_counts(name):
    net = create_model(name)
    assert count_parameters(net) == TRAINABLE[name]
    if name in TOTAL:
        assert count_parameters(net, trainable_only=False) == TOTAL[name]


def test_cifar_depths_and_blocks():
    # Paper CIFAR nets: 6n+2 basic (110 -> n=18), 9n+2 bottleneck (164 -> n=18, 1001 -> n=111).
    for name, block, n, width in [("preact_resnet110_cifar", "basic", 18, 64), ("preact_resnet164_cifar", "bottleneck", 18, 256)]:
        net = create_model(name, num_classes=10)
        assert [len(net.layer1), len(net.layer2), len(net.layer3)] == [n, n, n]
        assert net.layer1[0].is_bottleneck == (block == "bottleneck")
        assert net.num_features == width and not hasattr(net, "layer4")
    assert cifar_layers(1001, "bottleneck") == (111, 111, 111)
    assert preact_resnet_cifar(29).layer1[0].is_bottleneck and not preact_resnet_cifar(20).layer1[0].is_bottleneck
    with pytest.raises(ValueError, match="6n\\+2"):
        preact_resnet_cifar(21, block="basic")
    with pytest.raises(ValueError, match="9n\\+2"):
        preact_resnet_cifar(30, block="bottleneck")


def test_mindcv_layout_names_and_shapes_equal_reference():
    expected = []
    with open(os.path.join(REFERENCE, "mindcv_resnetv2_50_params.tsv")) as handle:
        for line in handle:
            name, shape, trainable = line.rstrip("\n").split("\t")
            expected.append((name, tuple(int(v) for v in shape.strip("()").split(",") if v.strip()), trainable == "trainable"))
    net = create_model("resnetv2_50")
    ours = [(p.name, tuple(p.shape), p.requires_grad) for p in net.get_parameters()]
    assert len(ours) == 267
    assert ours == expected


@pytest.mark.parametrize("name", [n for n in list_models() if n not in BIG | TIMM_FAMILY | MINDCV_BIT])
def test_every_model_runs_forward(name, any_mode):
    size = 32 if name.endswith("_cifar") else 64
    net = create_model(name, num_classes=7)
    net.set_train(False)
    out = net(_batch(size=size))
    assert out.shape == (2, 7)
    assert np.isfinite(out.asnumpy()).all()


# PyNative only: their cells are those of the smaller models above, which run in graph mode too; compiling the
# 1001-layer graph alone took ~80 s of the suite.
@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BIG))
def test_big_models_run_forward(name, pynative_mode):
    size = 32 if name.endswith("_cifar") else 64
    net = create_model(name, num_classes=5)
    net.set_train(False)
    assert net(_batch(size=size, batch=1)).shape == (1, 5)


# resnetv2_50x1_bit and resnetv2_18d: timm's family, whose oracle tests run PyNative (tests/test_timm_family.py).
@pytest.mark.parametrize("name, size", [("resnetv2_50", 96), ("resnetv2_50x1_bit", 65), ("resnetv2_18d", 65)])
def test_graph_and_pynative_logits_agree(name, size):
    net = create_model(name, num_classes=10)
    net.set_train(False)
    x = _batch(size=size, seed=3)
    previous = ms.get_context("mode")
    try:
        ms.set_context(mode=ms.GRAPH_MODE)
        graph = net(x).asnumpy()
        ms.set_context(mode=ms.PYNATIVE_MODE)
        pynative = net(x).asnumpy()
    finally:
        ms.set_context(mode=previous)
    np.testing.assert_allclose(graph, pynative, rtol=1e-5, atol=1e-5)


# One model per family: MindCV layout, paper layout, CIFAR. (name, input size, [(channels, reduction)] per level)
FEATURE_LEVELS = [
    ("resnetv2_50", 64, [(64, 2), (256, 4), (512, 8), (1024, 16), (2048, 32)]),
    ("preact_resnet18", 64, [(64, 2), (64, 4), (128, 8), (256, 16), (512, 32)]),
    ("preact_resnet20_cifar", 32, [(16, 1), (16, 1), (32, 2), (64, 4)]),
]


@pytest.mark.parametrize("name, size, levels", FEATURE_LEVELS, ids=[case[0] for case in FEATURE_LEVELS])
def test_features_only_returns_every_level_with_feature_info(name, size, levels, graph_mode):
    net = create_model(name, features_only=True)
    net.set_train(False)
    feats = net(_batch(size=size))
    assert [tuple(f.shape) for f in feats] == [(2, c, size // r, size // r) for c, r in levels]
    assert net.out_channels == [c for c, _ in levels]
    assert [(i["chs"], i["reduction"]) for i in net.feature_info] == levels
    assert all(i["num_chs"] == i["chs"] and i["module"] == i["name"] for i in net.feature_info)
    cells = dict(net.name_cells())
    assert all(i["name"] in cells for i in net.feature_info)  # names MindCV's FeatureExtractWrapper looks up


@pytest.mark.parametrize("name, size, levels", FEATURE_LEVELS, ids=[case[0] for case in FEATURE_LEVELS])
def test_out_indices_count_from_zero_in_level_order(name, size, levels, pynative_mode):
    net = create_model(name, features_only=True, out_indices=[2, 0, 1])
    net.set_train(False)
    feats = net(_batch(size=size))
    assert len(feats) == 3 and net.out_channels == [c for c, _ in levels[:3]]
    assert [f.shape[1] for f in feats] == net.out_channels
    with pytest.raises(ValueError, match=f"out_indices .* 0..{len(levels) - 1}"):
        create_model(name, out_indices=(len(levels),))
    with pytest.raises(ValueError, match="distinct"):
        create_model(name, out_indices=(1, 1))


def test_features_only_levels_equal_the_classifier_path(pynative_mode):
    """The last level is the last stage's raw output; the paper layout's final BN-ReLU stays in the head."""
    net = create_model("preact_resnet18", num_classes=3)
    features = create_model("preact_resnet18", num_classes=3, features_only=True, out_indices=[4])
    ms.load_param_into_net(features, {p.name: p for p in net.get_parameters()}, strict_load=True)
    net.set_train(False)
    features.set_train(False)
    x = _batch(size=64)
    (last,) = features(x)
    head_input = net.norm(last)  # the final norm-act cell: BN + ReLU
    np.testing.assert_allclose(net.forward_head(head_input).asnumpy(), net(x).asnumpy(), rtol=1e-5, atol=1e-6)


def test_forward_features_head_and_num_features(pynative_mode):
    net = create_model("resnetv2_50", num_classes=3)
    net.set_train(False)
    x = _batch(size=64)
    features = net.forward_features(x)
    assert features.shape == (2, 2048, 2, 2) and net.num_features == 2048
    assert net.forward_head(features, pre_logits=True).shape == (2, 2048)
    np.testing.assert_allclose(net.forward_head(features).asnumpy(), net(x).asnumpy(), rtol=1e-6)
    headless = create_model("preact_resnet20_cifar", num_classes=0)
    headless.set_train(False)
    assert headless(_batch(size=32)).shape == (2, 64)


@pytest.mark.parametrize("name", ["preact_resnet20_cifar", "preact_resnet18"])
def test_paper_layout_ends_with_a_bn_relu_before_pooling(name, pynative_mode):
    """No oracle needed: in eval mode, forward_features and the logits equal the last stage's output through a
    NumPy BN (the final norm's own statistics and affine) and ReLU; features_only returns the stage's raw output."""
    net = create_model(name, num_classes=3)
    net.set_train(False)
    rng = np.random.default_rng(0)
    channels = net.num_features
    values = {"gamma": rng.uniform(-1.5, 1.5, channels), "beta": rng.uniform(-0.5, 0.5, channels),
              "moving_mean": rng.uniform(-0.2, 0.2, channels), "moving_variance": rng.uniform(0.5, 2.0, channels)}
    for attribute, value in values.items():
        getattr(net.norm, attribute).set_data(ms.Tensor(value.astype(np.float32)))
    x = _batch(size=64 if name == "preact_resnet18" else 32)
    last_stage = net.max_pool(net.forward_stem(x)) if net.max_pool is not None else net.forward_stem(x)
    for stage in net.stage_names:
        last_stage = getattr(net, stage)(last_stage)
    scale = values["gamma"] / np.sqrt(values["moving_variance"] + net.norm.eps)
    shift = values["beta"] - values["moving_mean"] * scale
    expected = np.maximum(last_stage.asnumpy() * scale[:, None, None] + shift[:, None, None], 0.0)
    assert (expected == 0).mean() > 0.2 and (expected > 0).mean() > 0.2  # both sides of the ReLU are exercised
    np.testing.assert_allclose(net.forward_features(x).asnumpy(), expected, rtol=1e-4, atol=1e-5)
    logits = expected.mean(axis=(2, 3)) @ net.classifier.weight.asnumpy().T + net.classifier.bias.asnumpy()
    np.testing.assert_allclose(net(x).asnumpy(), logits, rtol=1e-4, atol=1e-5)
    net.features_only = True
    np.testing.assert_allclose(net(x)[-1].asnumpy(), last_stage.asnumpy(), rtol=1e-5, atol=1e-6)


def test_in_channels_and_num_classes(graph_mode):
    net = create_model("preact_resnet20_cifar", in_channels=1, num_classes=4)
    net.set_train(False)
    assert net.conv1.weight.shape == (16, 1, 3, 3)
    assert net(_batch(channels=1, size=28)).shape == (2, 4)


def test_dropout_and_drop_path_are_active_only_in_training(pynative_mode):
    net = create_model("preact_resnet20_cifar", num_classes=4, drop_rate=0.5, drop_path_rate=0.5)
    x = _batch(size=32)
    rates = [float(getattr(block.drop_path, "drop_prob", 0.0)) for stage in (net.layer1, net.layer2, net.layer3) for block in stage]
    assert rates[0] == 0.0 and math.isclose(rates[-1], 0.5) and rates == sorted(rates)
    net.set_train(False)
    np.testing.assert_array_equal(net(x).asnumpy(), net(x).asnumpy())
    net.set_train(True)
    first, second = net(x).asnumpy(), net(x).asnumpy()
    assert not np.allclose(first, second)  # randomness only while training


def test_weight_init_follows_the_paper():
    net = create_model("preact_resnet50")
    conv = net.layer3[0].conv2.weight.asnumpy()  # 256 -> 256, 3x3: fan_out = 256 * 9
    assert abs(conv.std() - math.sqrt(2.0 / (256 * 9))) < 0.05 * math.sqrt(2.0 / (256 * 9))
    assert np.all(net.layer2[1].bn1.gamma.asnumpy() == 1) and np.all(net.layer2[1].bn1.beta.asnumpy() == 0)
    assert np.all(net.classifier.bias.asnumpy() == 0)


def test_flop_count_from_real_shapes():
    net = create_model("resnetv2_50")
    assert abs(count_flops(net) / 1e9 - 8.18) < 0.05  # 4.09 GMACs at 224x224
    small = create_model("preact_resnet20_cifar", num_classes=10)
    assert count_flops(small, batch_size=2) == 2 * count_flops(small)


@pytest.mark.parametrize("name", ["resnetv2_50", "preact_resnet18", "resnetv2_50d_evos", "resnetv2_50t",
                                  "resnetv2_50x1_bit"])
def test_flops_scaled_from_32_pixels_equal_the_full_count(name):
    """The model table (docs/models.md) scales a 32 px count by area; each family's stem, pools and head must allow it."""
    net = create_model(name, num_classes=1000)
    assert default_input_flops(net) == count_flops(net)
