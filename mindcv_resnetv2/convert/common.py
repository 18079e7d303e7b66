"""What every converter ends with: build the target model sized from the weights, load them strictly, save."""
import logging
import os

from ..checkpoint import CheckpointError, checkpoint_format, load_state_dict, save_checkpoint
from ..utils.files import check_new_output

_logger = logging.getLogger(__name__)


def check_output(input_path, output_path, overwrite=False):
    """Before reading anything: the output is a .ckpt/.safetensors name that is not the input and, unless
    `overwrite`, not an existing file."""
    checkpoint_format(os.fspath(output_path))
    check_new_output(os.fspath(output_path), overwrite, inputs=(os.fspath(input_path),))


def save_converted(ours, source, output_path, model_name, describe_key):
    """Write {our name: array} as a checkpoint of `model_name`, after a strict load into that model.

    The class count and input channels come from the weights (classifier.weight, conv1.weight), so any fine-tuned
    head converts. `describe_key(our_name)` names the source's key for an error about a missing tensor.
    Returns the output path.
    """
    from ..models import create_model

    for required in ("classifier.weight", "conv1.weight"):
        if required not in ours:
            raise CheckpointError(f"'{source}' has no '{describe_key(required)}': not a ResNetV2 classifier checkpoint.")
    num_classes, in_channels = ours["classifier.weight"].shape[0], ours["conv1.weight"].shape[1]
    net = create_model(model_name, num_classes=int(num_classes), in_channels=int(in_channels))
    load_state_dict(net, ours, source=os.fspath(source), strict=True, num_classes_mismatch="error")
    save_checkpoint(net, output_path)
    _logger.info(
        "Converted %s -> %s (%s, %d classes, %d tensors)", source, output_path, model_name, num_classes, len(ours)
    )
    return output_path


def classifier_weight(value, key):
    """A 1x1-convolution classifier kernel (classes, features, 1, 1) as a Dense weight (classes, features)."""
    if value.ndim != 4 or value.shape[2:] != (1, 1):
        raise CheckpointError(f"'{key}' has shape {value.shape}; expected (classes, features, 1, 1).")
    return value.reshape(value.shape[:2])
