"""Weight converters from other frameworks' checkpoints to this package's MindSpore checkpoints.

Command line: `python -m mindcv_resnetv2.convert timm INPUT.safetensors OUTPUT.ckpt --model resnetv2_50d` and
`python -m mindcv_resnetv2.convert bit BiT-M-R50x1.npz OUTPUT.ckpt`.
"""
from .bit_npz import bit_name_to_ours, convert_bit_npz
from .timm import convert_timm_checkpoint, map_timm_state_dict, timm_name_to_ours

__all__ = ["bit_name_to_ours", "convert_bit_npz", "convert_timm_checkpoint", "map_timm_state_dict", "timm_name_to_ours"]
