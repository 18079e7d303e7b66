"""Our models through MindCV's own API: its registry, create_model and FeatureExtractWrapper (MindCV 0.3.0)."""
import inspect

import mindspore as ms
import numpy as np
import pytest
from reference_nets import require_oracles

from mindcv_resnetv2.mindcv import register_with_mindcv
from mindcv_resnetv2.models import ResNetV2, create_model, get_default_cfg, list_models, model_entrypoint

# One model per family (MindCV layout, paper layout, CIFAR) with its input size and number of feature levels.
FAMILIES = [("resnetv2_50", 64, 5), ("preact_resnet18", 64, 5), ("preact_resnet20_cifar", 32, 4),
            ("resnetv2_50x1_bit", 64, 5), ("resnetv2_50d_evos", 64, 5)]


@pytest.fixture(scope="module")
def mindcv_models():
    require_oracles("mindcv")
    import mindcv.models

    register_with_mindcv()
    return mindcv.models


def _batch(size):
    return ms.Tensor(np.random.default_rng(0).standard_normal((2, 3, size, size)).astype(np.float32))


def test_register_with_mindcv_adds_our_models_and_keeps_mindcv_own(mindcv_models):
    from mindcv.models import registry as mindcv_registry

    assert mindcv_registry._model_entrypoints["resnetv2_50"] is not model_entrypoint("resnetv2_50")  # MindCV's own
    assert "preact_resnet20_cifar" in mindcv_models.list_models("preact*")
    net = mindcv_models.create_model("preact_resnet20_cifar", num_classes=7, in_channels=1)
    assert isinstance(net, ResNetV2) and net.classifier.out_channels == 7 and net.conv1.in_channels == 1
    assert register_with_mindcv() == []  # idempotent
    with pytest.raises(ValueError, match="has no published weights"):
        mindcv_models.create_model("preact_resnet18", pretrained=True)


def test_every_entry_point_has_the_signature_both_ecosystems_use(mindcv_models):
    from mindcv.models import registry as mindcv_registry

    for name in list_models():
        builder = model_entrypoint(name)
        params = list(inspect.signature(builder).parameters.values())
        num_classes = get_default_cfg(name)["num_classes"]  # 1000, or 10 for the CIFAR nets
        assert [(p.name, p.default) for p in params[:3]] == [("pretrained", False), ("num_classes", num_classes),
                                                             ("in_channels", 3)], name
        assert params[3].kind is inspect.Parameter.VAR_KEYWORD, name
        if name not in ("resnetv2_50", "resnetv2_101") and not name.startswith("BiT_"):  # MindCV keeps its own
            assert mindcv_registry._model_entrypoints[name] is builder  # held directly, no wrapper


@pytest.mark.parametrize("name, size, levels", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_mindcv_feature_extract_wrapper_gives_our_levels(name, size, levels, mindcv_models, pynative_mode):
    from mindcv.models.features import FeatureExtractWrapper

    net = create_model(name)
    ours = create_model(name, features_only=True)
    ms.load_param_into_net(ours, {p.name: p for p in net.get_parameters()}, strict_load=True)
    wrapped = FeatureExtractWrapper(net, [0, 1, 2, 3, 4])  # a CIFAR net has 4 levels: index 4 selects nothing
    wrapped.set_train(False)
    ours.set_train(False)
    x = _batch(size)
    theirs, expected = wrapped(x), ours(x)
    assert len(theirs) == levels and wrapped.out_channels == ours.out_channels
    for level, (a, b) in enumerate(zip(theirs, expected)):
        np.testing.assert_array_equal(a.asnumpy(), b.asnumpy(), err_msg=f"{name} level {level}")


@pytest.mark.parametrize("name, size, levels", FAMILIES, ids=[f[0] for f in FAMILIES])
def test_mindcv_create_model_features_only(name, size, levels, mindcv_models, pynative_mode):
    if name == "resnetv2_50":
        name = "preact_resnet50"  # MindCV builds its own resnetv2_50; the contract is about ours
    net = mindcv_models.create_model(name, features_only=True)
    net.set_train(False)
    assert len(net(_batch(size))) == levels
    picked = mindcv_models.create_model(name, features_only=True, out_indices=[0, 1, 2])
    picked.set_train(False)
    feats = picked(_batch(size))
    assert len(feats) == 3 and len(picked.out_channels) == 3
    assert [f.shape[1] for f in feats] == picked.out_channels
