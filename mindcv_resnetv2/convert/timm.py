"""timm's resnetv2 weights (safetensors, as timm publishes them) -> our `preact_resnet*` MindSpore checkpoints.

timm's resnetv2_50/101 are the paper's design, which our `preact_resnet*` models implement with MindSpore names.
Reading uses the `safetensors` package's numpy API only, so no PyTorch is needed. The converted weights go through
the same strict `load_state_dict` as any checkpoint (names and shapes checked against the target model), then are
saved atomically.
"""
import logging
import os
import re

from ..checkpoint import CheckpointError, load_state_dict, save_checkpoint

_logger = logging.getLogger(__name__)

# timm BatchNorm field -> MindSpore BatchNorm2d parameter.
_BN_FIELDS = {"weight": "gamma", "bias": "beta", "running_mean": "moving_mean", "running_var": "moving_variance"}

_BLOCK = re.compile(r"^stages\.(?P<stage>\d+)\.blocks\.(?P<block>\d+)\.(?P<rest>.+)$")
_BLOCK_NORM = re.compile(r"^norm(?P<k>\d)\.(?P<field>\w+)$")
_BLOCK_CONV = re.compile(r"^conv(?P<k>\d)\.weight$")
_FINAL_NORM = re.compile(r"^norm\.(?P<field>\w+)$")
_DROPPED_FIELD = "num_batches_tracked"


def timm_name_to_ours(name):
    """Our parameter name for a timm resnetv2 state-dict key; None for keys with no counterpart (BN step counters).

    Raises CheckpointError for a key this converter does not know (another timm architecture).
    """
    if name.endswith("." + _DROPPED_FIELD):
        return None
    if name == "stem.conv.weight":
        return "conv1.weight"
    if name in ("head.fc.weight", "head.fc.bias"):
        return "classifier." + name.rsplit(".", 1)[1]
    final_norm = _FINAL_NORM.match(name)
    if final_norm and final_norm["field"] in _BN_FIELDS:
        return "norm." + _BN_FIELDS[final_norm["field"]]
    block = _BLOCK.match(name)
    if block:
        prefix = f"layer{int(block['stage']) + 1}.{block['block']}."
        rest = block["rest"]
        norm, conv = _BLOCK_NORM.match(rest), _BLOCK_CONV.match(rest)
        if norm and norm["field"] in _BN_FIELDS:
            return f"{prefix}bn{norm['k']}.{_BN_FIELDS[norm['field']]}"
        if conv:
            return f"{prefix}conv{conv['k']}.weight"
        if rest == "downsample.conv.weight":
            return prefix + "down_sample.0.weight"
    raise CheckpointError(
        f"timm key '{name}' has no counterpart in our preact_resnet models. This converter handles timm's "
        "resnetv2_* with BatchNorm (e.g. resnetv2_50, resnetv2_101); BiT (GroupNorm, weight standardisation) "
        "and deep-stem ('d') variants are different architectures."
    )


def map_timm_state_dict(timm_arrays):
    """timm {key: array} -> our {name: array}; the 1x1-conv classifier becomes a Dense weight (C, F)."""
    ours = {}
    for key, value in timm_arrays.items():
        name = timm_name_to_ours(key)
        if name is None:
            continue
        if name == "classifier.weight":
            if value.ndim != 4 or value.shape[2:] != (1, 1):
                raise CheckpointError(f"timm key '{key}' has shape {value.shape}; expected (classes, features, 1, 1).")
            value = value.reshape(value.shape[:2])
        ours[name] = value
    return ours


def _read_safetensors(path):
    """All tensors of a safetensors file as numpy, with errors naming the file."""
    from safetensors.numpy import load_file

    if not os.path.isfile(path):
        raise FileNotFoundError(f"timm weights file '{path}' does not exist.")
    try:
        return load_file(path)
    except Exception as exc:  # safetensors raises its own SafetensorError for bad headers / short files
        raise CheckpointError(
            f"Cannot read '{path}' as safetensors: {exc}. Is it a complete download of timm's model.safetensors?"
        ) from exc


def convert_timm_checkpoint(input_path, output_path, model_name="preact_resnet50"):
    """Convert timm resnetv2 safetensors to a checkpoint of `model_name`, checked strictly against that model.

    The class count and input channels come from the file (head.fc, stem.conv), so fine-tuned heads convert too.
    Returns the output path.
    """
    from ..models import create_model

    ours = map_timm_state_dict(_read_safetensors(os.fspath(input_path)))
    for required in ("classifier.weight", "conv1.weight"):
        if required not in ours:
            timm_key = "head.fc.weight" if required == "classifier.weight" else "stem.conv.weight"
            raise CheckpointError(f"'{input_path}' has no '{timm_key}': not a timm resnetv2 classifier checkpoint.")
    num_classes, in_channels = ours["classifier.weight"].shape[0], ours["conv1.weight"].shape[1]
    net = create_model(model_name, num_classes=int(num_classes), in_channels=int(in_channels))
    load_state_dict(net, ours, source=os.fspath(input_path), strict=True, num_classes_mismatch="error")
    save_checkpoint(net, output_path)
    _logger.info(
        "Converted %s -> %s (%s, %d classes, %d parameters)", input_path, output_path, model_name, num_classes, len(ours)
    )
    return output_path
