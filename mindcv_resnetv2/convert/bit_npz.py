"""Google's original Big Transfer weights (`BiT-M-R50x1.npz` ...) -> checkpoints of our resnetv2_*_bit models.

Key layout of those files (as timm's resnetv2 `_load_weights` reads them), under the prefix 'resnet/':
`root_block/standardized_conv2d/kernel` (stem), `block{S}/unit{UU}/{a,b,c}/standardized_conv2d/kernel` and
`.../{a,b,c}/group_norm/{gamma,beta}` (a, b, c = the unit's 1st, 2nd, 3rd norm and conv), `.../a/proj/
standardized_conv2d/kernel` (projection shortcut), `group_norm/{gamma,beta}` (final norm) and `head/conv2d/
{kernel,bias}`. Kernels are TensorFlow's HWIO and become OIHW. Stages and units count from 1, units with two digits.
The model (depth and width factor) is read from the file: units per block and the stem width.
"""
import os
import re

import numpy as np

from ..checkpoint import CheckpointError
from .common import check_output, classifier_weight, save_converted
from .timm import model_for_timm_weights

PREFIX = "resnet/"
_CONV = "standardized_conv2d/kernel"
_UNIT = re.compile(r"^block(?P<stage>\d+)/unit(?P<unit>\d+)/(?P<part>[abc])/(?P<rest>.+)$")
_PART_INDEX = {"a": 1, "b": 2, "c": 3}
_NORM_FIELDS = {"gamma": "gamma", "beta": "beta"}
# Units per block -> depth of BiT's ResNets.
BIT_DEPTHS = {(3, 4, 6, 3): 50, (3, 4, 23, 3): 101, (3, 8, 36, 3): 152}
BASE_STEM_WIDTH = 64


def bit_name_to_ours(key):
    """Our parameter name for a BiT npz key (without the 'resnet/' prefix); CheckpointError for an unknown key."""
    fixed = {
        f"root_block/{_CONV}": "conv1.weight",
        "group_norm/gamma": "norm.gamma",
        "group_norm/beta": "norm.beta",
        "head/conv2d/kernel": "classifier.weight",
        "head/conv2d/bias": "classifier.bias",
    }
    if key in fixed:
        return fixed[key]
    unit = _UNIT.match(key)
    if unit:
        prefix = f"layer{int(unit['stage'])}.{int(unit['unit']) - 1}."
        k, rest = _PART_INDEX[unit["part"]], unit["rest"]
        if rest == _CONV:
            return f"{prefix}conv{k}.weight"
        if rest.startswith("group_norm/") and rest.split("/")[1] in _NORM_FIELDS:
            return f"{prefix}bn{k}.{_NORM_FIELDS[rest.split('/')[1]]}"
        if unit["part"] == "a" and rest == f"proj/{_CONV}":
            return prefix + "down_sample.0.weight"
    raise CheckpointError(f"BiT npz key '{PREFIX}{key}' has no counterpart in our resnetv2_*_bit models.")


def _to_ours(name, value, key):
    """TensorFlow layouts -> ours: HWIO kernels to OIHW, the 1x1 head kernel to a Dense weight, norms to (C,)."""
    if name == "classifier.weight":
        return classifier_weight(np.ascontiguousarray(value.transpose(3, 2, 0, 1)), PREFIX + key)
    if value.ndim == 4:
        return np.ascontiguousarray(value.transpose(3, 2, 0, 1))
    if value.ndim > 1 and set(value.shape[:-1]) == {1}:  # (1, 1, 1, C) norm parameters
        return value.reshape(-1)
    return value


def read_bit_npz(path):
    """{our name: array} from a BiT .npz, with errors naming the file."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"BiT weights file '{path}' does not exist.")
    try:
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except Exception as exc:
        raise CheckpointError(f"Cannot read '{path}' as a .npz archive: {exc}") from exc
    if f"{PREFIX}root_block/{_CONV}" not in arrays:
        raise CheckpointError(
            f"'{path}' has no '{PREFIX}root_block/{_CONV}': not one of Google's BiT ResNet .npz files "
            "(BiT-M-R50x1.npz layout)."
        )
    ours = {}
    for key, value in arrays.items():
        if not key.startswith(PREFIX):
            raise CheckpointError(f"'{path}': key '{key}' is outside '{PREFIX}'; not a BiT ResNet .npz file.")
        short = key[len(PREFIX):]
        name = bit_name_to_ours(short)
        ours[name] = _to_ours(name, value, short).astype(np.float32)
    return ours


def bit_model_name(ours, source):
    """resnetv2_{depth}x{width}_bit from the units per stage and the stem width of converted weights."""
    units = [len({n.split(".")[1] for n in ours if n.startswith(f"layer{s}.")}) for s in range(1, 5)]
    depth = BIT_DEPTHS.get(tuple(units))
    stem_width = ours["conv1.weight"].shape[0]
    if depth is None or stem_width % BASE_STEM_WIDTH:
        raise CheckpointError(
            f"'{source}' has {units} units per block and a {stem_width}-channel stem: not a BiT ResNet-50/101/152 "
            f"(units {', '.join(map(str, BIT_DEPTHS))}; stem 64 x width factor)."
        )
    return f"resnetv2_{depth}x{stem_width // BASE_STEM_WIDTH}_bit"


def convert_bit_npz(input_path, output_path, model_name=None, overwrite=False):
    """Convert a BiT .npz to a checkpoint of our resnetv2_*_bit model (read from the file; if `model_name` is
    given, it must be that model, by timm's name or ours). An existing output is replaced only with `overwrite`,
    the input never. Returns the output path."""
    check_output(input_path, output_path, overwrite)
    ours = read_bit_npz(input_path)
    found = bit_model_name(ours, input_path)
    if model_name and model_for_timm_weights(model_name) != found:
        raise CheckpointError(f"'{input_path}' holds {found} weights, not {model_name}.")
    return save_converted(ours, input_path, output_path, found, lambda name: PREFIX + {
        "classifier.weight": "head/conv2d/kernel", "conv1.weight": f"root_block/{_CONV}"}[name])
