"""Exact evaluation: summed loss and correct counts over every sample of the split, summed over ranks.

Metrics are sums, not means of per-batch or per-rank accuracies, so an uneven last batch or an uneven split
across ranks counts every image exactly once. The all-reduce is float32 (CPU collectives have no int32): counts
stay exact up to 2^24 = 16.7M images.
"""
import numpy as np
from mindspore import Tensor, nn, ops

from .train_step import EvalStep


class _SumOverRanks(nn.Cell):
    def __init__(self):
        super().__init__()
        self.all_reduce = ops.AllReduce()

    def construct(self, x):
        return self.all_reduce(x)


def sum_over_ranks(values, runtime):
    """Element-wise sum of a small float vector over the data-parallel group (identity on one device)."""
    values = np.asarray(values, np.float64)
    if runtime.group_size <= 1:
        return values
    return _SumOverRanks()(Tensor(values.astype(np.float32))).asnumpy().astype(np.float64)


class Evaluator:
    """Evaluates a network on a loader; build once per network so the eval graph compiles once."""

    def __init__(self, net, num_classes):
        self.net = net
        self.step = EvalStep(net, top_k=min(5, num_classes))

    def __call__(self, loader, runtime):
        self.net.set_train(False)
        sums = np.zeros(4, np.float64)  # loss sum, top-1 hits, top-k hits, samples
        for images, labels in loader.create_tuple_iterator():
            loss, top1, topk = self.step(images, labels)
            sums += (float(loss.asnumpy()), float(top1.asnumpy()), float(topk.asnumpy()), images.shape[0])
        loss_sum, top1, topk, count = sum_over_ranks(sums, runtime)
        if count == 0:
            raise ValueError("evaluation saw no samples: the validation split (or this rank's shard) is empty")
        return {
            "top1": 100.0 * top1 / count,
            "top5": 100.0 * topk / count,
            "loss": loss_sum / count,
            "num_samples": int(round(count)),
        }


def copy_weights(source_params, target_net):
    """Assign values to `target_net` parameters, matched in order (used to load EMA weights into the eval net)."""
    for value, param in zip(source_params, target_net.get_parameters()):
        param.set_data(Tensor(value.asnumpy()))
