"""mindcv_resnetv2: the ResNetV2 (pre-activation ResNet) family for MindSpore, in the MindCV style.

The factories users know from MindCV and timm are importable from the top level.
"""
from .utils.backend import check_cpu_convolution_speed

__version__ = "0.1.0"

check_cpu_convolution_speed()

from .data import create_dataset, create_loader, create_transforms  # noqa: E402
from .models import create_model, is_model, list_models, model_entrypoint, register_model  # noqa: E402
from .mindcv import register_with_mindcv  # noqa: E402
from .optim import create_loss, create_optimizer, create_scheduler  # noqa: E402

__all__ = [
    "create_dataset", "create_loader", "create_loss", "create_model", "create_optimizer", "create_scheduler",
    "create_transforms", "is_model", "list_models", "model_entrypoint", "register_model", "register_with_mindcv",
]
