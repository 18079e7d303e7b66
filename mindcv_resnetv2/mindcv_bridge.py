"""`register_with_mindcv()`: make this zoo's models creatable through MindCV's own `create_model`.

MindCV's registry records each entry point's module and reads that module's `default_cfgs`, so the entry
points registered there live in this module, with the configurations of our registry.
"""
import sys

from .models import create_model, get_default_cfg, list_models

__all__ = ["register_with_mindcv"]
default_cfgs = {}


def _entrypoint(name):
    def entrypoint(pretrained=False, num_classes=1000, in_channels=3, **kwargs):
        return create_model(name, pretrained=pretrained, num_classes=num_classes, in_channels=in_channels, **kwargs)

    entrypoint.__name__ = entrypoint.__qualname__ = name
    entrypoint.__module__ = __name__
    entrypoint.__doc__ = f"{name} from mindcv_resnetv2 (see mindcv_resnetv2.models)."
    return entrypoint


def register_with_mindcv(overwrite=False):
    """Register our models in MindCV's registry; returns the names added.

    Names MindCV already has (its own resnetv2_50/101, which ours equal) are kept unless `overwrite`.
    """
    try:
        from mindcv.models import registry as mindcv_registry
    except ImportError as exc:
        raise ImportError("register_with_mindcv needs MindCV installed: pip install mindcv") from exc
    module = sys.modules[__name__]
    added = []
    for name in list_models():
        if name in mindcv_registry._model_entrypoints and not overwrite:
            continue
        default_cfgs[name] = get_default_cfg(name)
        entrypoint = _entrypoint(name)
        setattr(module, name, entrypoint)
        mindcv_registry.register_model(entrypoint)
        added.append(name)
    return added
