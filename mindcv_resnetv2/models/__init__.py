"""The ResNetV2 model zoo: registry, networks, their initial weights and their summaries."""
from . import resnetv2  # noqa: F401  (registers the models)
from .model_factory import create_model
from .registry import get_default_cfg, is_model, list_models, model_entrypoint, register_model
from .pooling import make_onnx_exportable
from .resnetv2 import PreActBlock, ResNetV2, preact_resnet_cifar

__all__ = [
    "create_model",
    "get_default_cfg",
    "is_model",
    "list_models",
    "make_onnx_exportable",
    "model_entrypoint",
    "register_model",
    "PreActBlock",
    "ResNetV2",
    "preact_resnet_cifar",
]
