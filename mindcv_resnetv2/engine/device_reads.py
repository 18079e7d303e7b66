"""What the trainer reads back from the device, and when: everything in one transfer, at log points only.

A training step returns its loss as a device tensor and does not wait for it. Reading it (`asnumpy`) makes the
host wait for the device to finish, which on Ascend stalls the pipeline of queued steps; so the trainer keeps the
step losses on the device and reads them every `log_interval` steps and at the end of an epoch, together with
the optimizer's step counter (the lr it is at; updates skipped for overflow do not count), the loss scale and whether
every weight is still finite: one transfer per read.
"""
import collections

import mindspore as ms
from mindspore import ops

from ..utils.finite import FiniteCheck

Read = collections.namedtuple("Read", "losses optimizer_step loss_scale weights_finite")


class DeviceReads:
    """Reads the step losses of `optimizer`'s training together with its counters, the loss scale of `scaling`
    and the finiteness of every parameter of `net` (BN statistics included)."""

    def __init__(self, optimizer, scaling, net):
        self.step_counter = getattr(optimizer, "global_step", None)
        self.scale = scaling.scale_sense
        self.weights_finite = FiniteCheck(net)

    def read(self, losses):
        """Fetch `losses` (device scalars, in step order) and the run's counters; returns a Read."""
        counters = [
            ops.cast(self.step_counter.reshape(-1)[0:1], ms.float32) if self.step_counter is not None
            else ops.zeros(1, ms.float32),
            ops.cast(self.scale.reshape(1), ms.float32),
            ops.cast(self.weights_finite().reshape(1), ms.float32),
        ]
        values = ops.concat([ops.cast(ops.stack(list(losses)), ms.float32).reshape(-1)] + counters).asnumpy()
        count = len(losses)
        return Read([float(v) for v in values[:count]], int(values[count]), float(values[count + 1]),
                    bool(values[count + 2]))
