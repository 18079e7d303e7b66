"""Our models through MindCV's own create_model (MindCV is installed for the equivalence tests)."""
import pytest
from reference_nets import require_oracles

from mindcv_resnetv2.mindcv_bridge import register_with_mindcv
from mindcv_resnetv2.models import ResNetV2


def test_register_with_mindcv_adds_our_models_and_keeps_mindcv_own():
    require_oracles("mindcv")
    import mindcv.models

    added = register_with_mindcv()
    assert "preact_resnet50" in added and "resnetv2_50" not in added  # MindCV's own entry stays
    assert "preact_resnet20_cifar" in mindcv.models.list_models("preact*")
    net = mindcv.models.create_model("preact_resnet20_cifar", num_classes=7, in_channels=1)
    assert isinstance(net, ResNetV2) and net.classifier.out_channels == 7 and net.conv1.in_channels == 1
    assert register_with_mindcv() == []  # idempotent
    with pytest.raises(ValueError, match="has no published weights"):
        mindcv.models.create_model("preact_resnet18", pretrained=True)
