"""The layers one forward pass of the real network runs, with the shapes it runs them at.

Recorded by PyNative forward hooks at batch 1 (every shape here scales with the batch), so the per-op profiler
(bench/op_profile.py) times each kernel at exactly the shapes of the training step, and the benchmark estimates
the activations the backward pass keeps from the same shapes.
"""
import dataclasses

import numpy as np
from mindspore import Tensor, nn

from ..models import pooling
from ..models.summary import forward_with_hooks

# The cells whose kernels dominate the step, and the pools (their gradients keep input and output).
POOL_TYPES = (nn.MaxPool2d, nn.AvgPool2d, pooling.MaxPool3x3Pad1, pooling.ZeroPadMaxPool3x3, pooling.AvgPool2x2Ceil)
LAYER_TYPES = (nn.Conv2d, nn.Dense, nn.BatchNorm2d, nn.ReLU) + POOL_TYPES
FLOAT32_BYTES = 4


@dataclasses.dataclass(frozen=True)
class LayerCall:
    """One call of a layer cell in the forward pass, batch 1. `input_key`/`output_key` identify the tensors within
    the pass: a ReLU's output_key is the input_key of the convolution it feeds."""

    name: str
    cell: nn.Cell
    input_shape: tuple
    output_shape: tuple
    input_key: int
    output_key: int


def layer_calls(net, image_size):
    """[LayerCall] of one eval-mode forward pass of `net` on a zero batch of 1 at `image_size` (h, w), in call order.

    The input has the in_channels of the network's first convolution. A BN cell with a built-in activation appears
    as its BN (input = the tensor it normalises) and its ReLU (separately).
    """
    first_conv = next((cell for cell in net.cells_and_names() if isinstance(cell[1], nn.Conv2d)), None)
    if first_conv is None:
        raise ValueError(f"{type(net).__name__} has no Conv2d layer: its input shape cannot be inferred")
    image = Tensor(np.zeros((1, first_conv[1].in_channels) + tuple(image_size), np.float32))
    calls, alive = [], []  # tensors stay referenced during the pass, so their ids stay unique

    def record(name, cell, inputs, output):
        alive.append((inputs, output))
        calls.append(LayerCall(name, cell, tuple(inputs[0].shape), tuple(output.shape), id(inputs[0]), id(output)))

    forward_with_hooks(net, image, LAYER_TYPES, record)
    return calls


def _elements(shape):
    count = 1
    for side in shape:
        count *= int(side)
    return count


def saved_activation_elements(calls):
    """Float elements per image that the backward pass needs from the forward pass, each tensor counted once:
    the inputs of convolutions, dense layers and BatchNorm (their weight and input gradients), the outputs of ReLU
    (MindSpore's ReluGrad reads the output), inputs and outputs of pools."""
    saved = {}
    for call in calls:
        if isinstance(call.cell, (nn.Conv2d, nn.Dense, nn.BatchNorm2d) + POOL_TYPES):
            saved[call.input_key] = _elements(call.input_shape)
        if isinstance(call.cell, (nn.ReLU,) + POOL_TYPES):
            saved[call.output_key] = _elements(call.output_shape)
    return sum(saved.values())


def training_memory_estimate(train_step, net, calls, batch_size):
    """{'parameters_mb', 'activations_mb', 'total_mb'} in MiB for float32 training: every parameter the training
    step holds (the network's weights and BN statistics, the optimizer's slots), one gradient per trainable
    parameter, and the activations a batch of `batch_size` saves for the backward pass."""
    held = sum(int(p.size) for p in train_step.get_parameters())
    gradients = sum(int(p.size) for p in net.trainable_params())
    mib = 1024.0 * 1024.0
    parameters = (held + gradients) * FLOAT32_BYTES / mib
    activations = saved_activation_elements(calls) * batch_size * FLOAT32_BYTES / mib
    return {"parameters_mb": parameters, "activations_mb": activations, "total_mb": parameters + activations}
