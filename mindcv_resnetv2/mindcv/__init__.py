"""Run MindCV's own scripts (train.py, validate.py, ...) with this zoo's models in MindCV's registry.

    python -m mindcv_resnetv2.mindcv path/to/mindcv/train.py --model preact_resnet50 ...

MindCV's scripts have no plugin discovery: they only see a model that is in `mindcv.models.registry` of the same
process before they parse `--model`. See `__main__.py`.
"""
