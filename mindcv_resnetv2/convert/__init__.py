"""Weight converters from other frameworks' checkpoints to this package's MindSpore checkpoints.

Command line: `python -m mindcv_resnetv2.convert timm INPUT.safetensors OUTPUT.ckpt --model preact_resnet50`.
"""
from .timm import convert_timm_checkpoint, map_timm_state_dict, timm_name_to_ours

__all__ = ["convert_timm_checkpoint", "map_timm_state_dict", "timm_name_to_ours"]
