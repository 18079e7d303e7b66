"""Are the weights still numbers? Weights can turn NaN/Inf while the loss stays finite (lr 1e6: a loss of 2e30
over 76 non-finite tensors), so the loss alone does not tell.

`FiniteCheck(net)()` answers on the device, with no host sync until its result is read; `nonfinite_names` and
`nonfinite_parameters` name the culprits on the host, for an error message or before a checkpoint is written.
"""
import mindspore as ms
import numpy as np
from mindspore import nn, ops


class FiniteCheck(nn.Cell):
    """Calling it returns a scalar bool Tensor: True when every floating-point parameter of `net` is finite.

    Built once per network (it keeps references to the parameters, not copies, and renames nothing); compiled as
    one graph in graph mode. Any NaN or Inf element makes its tensor's sum of `x * 0` NaN, so one reduction per
    tensor and one sum decide.
    """

    def __init__(self, net):
        super().__init__()
        self.weights = ms.ParameterTuple([p for p in net.get_parameters() if p.dtype in _FLOAT_TYPES])

    def construct(self):
        total = ops.zeros((), ms.float32)
        for weight in self.weights:
            total = total + ops.sum(weight * 0).astype(ms.float32)
        return ops.isfinite(total)


_FLOAT_TYPES = (ms.float16, ms.float32, ms.float64, ms.bfloat16)


def nonfinite_names(values):
    """Names of the floating-point arrays in {name: array} that hold a NaN or an Inf, in the given order."""
    return [name for name, value in values.items()
            if isinstance(value, np.ndarray) and value.dtype.kind == "f" and not np.isfinite(value).all()]


def nonfinite_parameters(net):
    """Names of the parameters of `net` holding a NaN or an Inf (copies every parameter to the host)."""
    return nonfinite_names({p.name: host_array(p) for p in net.get_parameters()})


def host_array(value):
    """A Tensor or Parameter as numpy, bfloat16 widened to float32 (numpy has no bfloat16)."""
    if value.dtype == ms.bfloat16:
        value = value.astype(ms.float32)
    return value.asnumpy()
