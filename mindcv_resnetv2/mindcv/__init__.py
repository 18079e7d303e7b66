"""Interoperability with MindCV itself: this zoo's models in MindCV's registry, MindCV's own scripts run with them,
and whether MindCV 0.3.0's scripts can read one of our recipes.

    register_with_mindcv()                                  # registry.py
    python -m mindcv_resnetv2.mindcv path/to/mindcv/train.py --model preact_resnet50 ...   # __main__.py
    mindcv_incompatibilities(load_recipe("recipe.yaml"))     # recipes.py

MindCV's scripts have no plugin discovery: they only see a model that is in `mindcv.models.registry` of the same
process before they parse `--model`, hence the launcher. MindCV itself is imported only when a model is registered.
"""
from .recipes import MINDCV_KEYS, MINDCV_VALUES, MINDCV_VERSION, is_our_key, mindcv_incompatibilities
from .registry import register_with_mindcv

__all__ = ["MINDCV_KEYS", "MINDCV_VALUES", "MINDCV_VERSION", "is_our_key", "mindcv_incompatibilities",
           "register_with_mindcv"]
