"""timm's ResNetV2 weights (safetensors as timm publishes them, or PyTorch state dicts) -> our MindSpore checkpoints.

Every model of timm's ResNetV2 family has a counterpart here with the same tensors under our names (TIMM_NAMES,
the table `python -m mindcv_resnetv2.models --timm` prints). safetensors files are read with the `safetensors`
package's numpy API (no PyTorch); .pth/.pt/.bin files need PyTorch. The converted weights go through the same
strict `load_state_dict` as any checkpoint (names and shapes checked against the target model), then are saved
atomically.
"""
import os
import re

from ..checkpoint import CheckpointError
from ..models.registry import is_model, unknown_model_error
from .common import check_output, classifier_weight, save_converted

# Every model name of timm's ResNetV2 family (timm 1.0.31, timm/models/resnetv2.py) -> ours. timm's resnetv2_18 ...
# resnetv2_152 are the paper's design, our preact_resnet*: our resnetv2_50 / resnetv2_101 keep MindCV's layout (and
# its checkpoints), so those timm names point elsewhere. timm's other names are ours too.
TIMM_NAMES = {
    "resnetv2_18": "preact_resnet18",
    "resnetv2_34": "preact_resnet34",
    "resnetv2_50": "preact_resnet50",
    "resnetv2_101": "preact_resnet101",
    "resnetv2_152": "preact_resnet152",
    **{
        name: name
        for name in (
            "resnetv2_18d", "resnetv2_34d", "resnetv2_50d", "resnetv2_101d", "resnetv2_152d", "resnetv2_50t",
            "resnetv2_50d_gn", "resnetv2_50d_evos", "resnetv2_50d_frn",
            "resnetv2_50x1_bit", "resnetv2_50x3_bit", "resnetv2_101x1_bit", "resnetv2_101x3_bit",
            "resnetv2_152x2_bit", "resnetv2_152x4_bit",
        )
    },
}

# timm norm field -> ours: BatchNorm's four, GroupNorm's affine pair, EvoNorm-S0's v, FRN's tau.
_NORM_FIELDS = {
    "weight": "gamma",
    "bias": "beta",
    "running_mean": "moving_mean",
    "running_var": "moving_variance",
    "v": "v",
    "tau": "tau",
}
_DIRECT = {
    "stem.conv.weight": "conv1.weight",  # 7x7 stems
    "stem.conv1.weight": "conv1.weight",  # deep / tiered stems
    "stem.conv2.weight": "stem_conv2.weight",
    "stem.conv3.weight": "stem_conv3.weight",
    "head.fc.bias": "classifier.bias",
    "head.fc.weight": "classifier.weight",
}
_BLOCK = re.compile(r"^stages\.(?P<stage>\d+)\.blocks\.(?P<block>\d+)\.(?P<rest>.+)$")
_BLOCK_NORM = re.compile(r"^norm(?P<k>\d)\.(?P<field>\w+)$")
_BLOCK_CONV = re.compile(r"^conv(?P<k>\d)\.weight$")
_STEM_NORM = re.compile(r"^stem\.norm(?P<k>[12])\.(?P<field>\w+)$")
_FINAL_NORM = re.compile(r"^norm\.(?P<field>\w+)$")
_DROPPED_FIELD = "num_batches_tracked"
_REQUIRED_KEYS = {"classifier.weight": "head.fc.weight", "conv1.weight": "stem.conv.weight' or 'stem.conv1.weight"}
PYTORCH_EXTENSIONS = (".pth", ".pt", ".bin")


def model_for_timm_weights(name):
    """Our model that holds the weights of timm's `name` (a timm name, with or without a pretrained tag such as
    '.goog_in21k', or one of ours). timm's names win where both exist: 'resnetv2_50' here means timm's."""
    architecture = name.split(".", 1)[0]
    if architecture in TIMM_NAMES:
        return TIMM_NAMES[architecture]
    if is_model(architecture):
        return architecture
    raise unknown_model_error(name, extra=sorted(TIMM_NAMES))


def timm_name_to_ours(name):
    """Our parameter name for a timm ResNetV2 state-dict key; None for keys with no counterpart (BN step counters).

    Raises CheckpointError for a key this converter does not know (another timm architecture).
    """
    if name.endswith("." + _DROPPED_FIELD):
        return None
    if name in _DIRECT:
        return _DIRECT[name]
    norm = _FINAL_NORM.match(name) or _STEM_NORM.match(name)
    if norm and norm["field"] in _NORM_FIELDS:
        prefix = f"stem_bn{norm['k']}" if name.startswith("stem.") else "norm"
        return f"{prefix}.{_NORM_FIELDS[norm['field']]}"
    block = _BLOCK.match(name)
    if block:
        prefix = f"layer{int(block['stage']) + 1}.{block['block']}."
        rest = block["rest"]
        norm, conv = _BLOCK_NORM.match(rest), _BLOCK_CONV.match(rest)
        if norm and norm["field"] in _NORM_FIELDS:
            return f"{prefix}bn{norm['k']}.{_NORM_FIELDS[norm['field']]}"
        if conv:
            return f"{prefix}conv{conv['k']}.weight"
        if rest == "downsample.conv.weight":
            return prefix + "down_sample.0.weight"
    raise CheckpointError(
        f"timm key '{name}' has no counterpart in our models. This converter handles timm's ResNetV2 family "
        "(resnetv2_*: the paper's nets, 'd'/'t' stems, GroupNorm/EvoNorm/FRN variants and BiT); ViT hybrids and "
        "non-pre-activation backbones are other architectures."
    )


def map_timm_state_dict(timm_arrays):
    """timm {key: array} -> our {name: array}; the 1x1-conv classifier becomes a Dense weight (C, F)."""
    ours = {}
    for key, value in timm_arrays.items():
        name = timm_name_to_ours(key)
        if name is None:
            continue
        ours[name] = classifier_weight(value, key) if name == "classifier.weight" else value
    return ours


def _read_safetensors(path):
    from safetensors.numpy import load_file

    try:
        return load_file(path)
    except Exception as exc:  # safetensors raises its own SafetensorError for bad headers / short files
        raise CheckpointError(
            f"Cannot read '{path}' as safetensors: {exc}. Is it a complete download of timm's model.safetensors?"
        ) from exc


def _read_pytorch(path):
    """A PyTorch state dict file as numpy; timm training checkpoints keep it under 'state_dict' (EMA not taken)."""
    try:
        import torch
    except ImportError as exc:
        raise CheckpointError(
            f"'{path}' is a PyTorch file; reading it needs PyTorch (pip install torch), or give the .safetensors file."
        ) from exc
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:
        raise CheckpointError(f"Cannot read '{path}' as a PyTorch state dict: {exc}") from exc
    if isinstance(state, dict) and not any(torch.is_tensor(v) for v in state.values()):
        for key in ("state_dict", "model"):
            if isinstance(state.get(key), dict):
                state = state[key]
                break
    if not isinstance(state, dict) or not all(torch.is_tensor(v) for v in state.values()):
        raise CheckpointError(f"'{path}' holds no state dict of tensors (top-level keys: {list(state)[:8]}).")
    return {key: value.detach().cpu().numpy() for key, value in state.items()}


def read_timm_weights(path):
    """All tensors of a timm weights file as {key: numpy array}: .safetensors, or .pth/.pt/.bin via PyTorch."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"timm weights file '{path}' does not exist.")
    if path.lower().endswith(PYTORCH_EXTENSIONS):
        return _read_pytorch(path)
    return _read_safetensors(path)


def convert_timm_checkpoint(input_path, output_path, model_name="preact_resnet50", overwrite=False):
    """Convert timm ResNetV2 weights to a checkpoint of the matching model of ours, checked strictly against it.

    model_name: timm's name (e.g. 'resnetv2_50d', 'resnetv2_50x1_bit.goog_in21k', or 'resnetv2_50', which is
    timm's and so our preact_resnet50) or ours. An existing output is replaced only with `overwrite`, the input
    never. Returns the output path.
    """
    check_output(input_path, output_path, overwrite)
    target = model_for_timm_weights(model_name)
    ours = map_timm_state_dict(read_timm_weights(input_path))
    return save_converted(ours, input_path, output_path, target, _REQUIRED_KEYS.get)
