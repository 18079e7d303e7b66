"""`register_with_mindcv()`: make this zoo's models creatable through MindCV's own `create_model`.

Our builders already have MindCV's entry-point signature and live in a module with `default_cfgs`, which is what
MindCV's registry reads, so they are registered there as they are.
"""
from ..models import list_models, model_entrypoint

__all__ = ["register_with_mindcv"]


def register_with_mindcv(overwrite=False):
    """Register our models in MindCV's registry; returns the names added (none on a second call).

    Names MindCV already has (its own resnetv2_50/101, which ours equal) are kept unless `overwrite`.
    """
    try:
        from mindcv.models import registry as mindcv_registry
    except ImportError as exc:
        raise ImportError("register_with_mindcv needs MindCV installed: pip install mindcv") from exc
    added = []
    for name in list_models():
        entrypoint = model_entrypoint(name)
        registered = mindcv_registry._model_entrypoints.get(name)
        if registered is entrypoint or (registered is not None and not overwrite):
            continue
        mindcv_registry.register_model(entrypoint)
        added.append(name)
    return added
