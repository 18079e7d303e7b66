"""Exact evaluation: summed loss, correct counts and the confusion matrix over every sample of the split, summed
over ranks.

The per-batch sums and the count matrix (true class x top-1 prediction) accumulate on the device (float32: counts
exact up to 2^24 per rank), are read once and summed over ranks in one all-reduce.

Metrics are sums, not means of per-batch or per-rank accuracies, so an uneven last batch or an uneven split
across ranks counts every image exactly once. The all-reduce is float32 (CPU collectives have no int32): counts
stay exact up to 2^24 = 16.7M images.

Data-parallel ranks hold identical weights but each accumulates BN running statistics from its own batches; the
trainer averages those statistics over the ranks (`average_statistics_over_ranks`) after every epoch and before
evaluating an EMA copy, so every rank evaluates the same model (and the checkpoint rank 0 saves is that model).
A checkpoint loaded by validate.py is the same file on every rank and needs no averaging.
"""
import functools

import mindspore as ms
import numpy as np
from mindspore import Tensor, nn, ops

from ..errors import InvalidInputError

EXACT_COUNT_LIMIT = 2 ** 24  # largest n such that every integer up to n is exact in float32
# Above this many classes no confusion matrix is counted: it would take num_classes^2 floats on the device (4096: 64
# MiB; ImageNet-21k's 21843: 1.9 GB) and in the all-reduce.
CONFUSION_CLASS_LIMIT = 4096


class _SumOverRanks(nn.Cell):
    def __init__(self):
        super().__init__()
        self.all_reduce = ops.AllReduce()

    def construct(self, x):
        return self.all_reduce(x)


@functools.lru_cache(maxsize=None)
def _sum_cell():
    """The process's one all-reduce cell: a new cell per call would compile a new graph per call (per epoch)."""
    return _SumOverRanks()


def sum_over_ranks(values, runtime):
    """Element-wise sum of a float vector over the data-parallel group (identity on one device)."""
    values = np.asarray(values, np.float64)
    if runtime.group_size <= 1:
        return values
    return _sum_cell()(Tensor(values.astype(np.float32))).asnumpy().astype(np.float64)


def average_statistics_over_ranks(net, runtime):
    """Replace every rank's non-trainable float parameters (BN running mean/variance) by their mean over ranks.

    The frozen cells' parameters (ResNetV2.freeze) are left out: training never changes them, and a mean of equal
    values over ranks need not give the value back bit for bit."""
    if runtime.group_size <= 1:
        return
    frozen = {id(p) for p in net.frozen_parameters()} if hasattr(net, "frozen_parameters") else set()
    stats = [p for p in net.get_parameters()
             if not p.requires_grad and p.dtype in (ms.float32, ms.float16) and id(p) not in frozen]
    if not stats:
        return
    values = [p.asnumpy() for p in stats]
    flat = np.concatenate([v.reshape(-1) for v in values]).astype(np.float32)
    mean = sum_over_ranks(flat, runtime).astype(np.float32) / np.float32(runtime.group_size)
    offset = 0
    for param, value in zip(stats, values):
        param.set_data(Tensor(mean[offset:offset + value.size].reshape(value.shape).astype(value.dtype)))
        offset += value.size


class EvalStep(nn.Cell):
    """Per-batch sums for exact metrics: (loss sum, top-1 correct, top-k correct) as float32 scalars, and with
    `confusion` the batch's count matrix [true class, top-1 prediction] (float32, classes x classes)."""

    def __init__(self, net, top_k=5, confusion=False):
        super().__init__(auto_prefix=False)
        self.net = net
        self.top_k = top_k
        self.confusion = confusion
        self.ce = nn.SoftmaxCrossEntropyWithLogits(sparse=True, reduction="sum")

    def construct(self, images, labels):
        logits = ops.cast(self.net(images), ms.float32)
        labels = ops.cast(labels, ms.int32)
        loss = self.ce(logits, labels)
        _, top = ops.topk(logits, self.top_k)
        hits = ops.cast(ops.equal(top, ops.expand_dims(labels, 1)), ms.float32)
        if not self.confusion:
            return loss, hits[:, 0].sum(), hits.sum()
        classes = logits.shape[1]
        predicted = ops.one_hot(top[:, 0], classes, ops.ones((), ms.float32), ops.zeros((), ms.float32))
        # Row l sums the one-hot predictions of the samples labelled l: a sum of 0/1 values, exact.
        return loss, hits[:, 0].sum(), hits.sum(), ops.unsorted_segment_sum(predicted, labels, classes)


class Evaluator:
    """Evaluates a network on a loader; build once per network so the eval graph compiles once.

    The result holds top1, top5 (%), loss (mean), num_samples and, up to CONFUSION_CLASS_LIMIT classes,
    `confusion`: int64 counts [true class, predicted class] over the whole split (all ranks)."""

    def __init__(self, net, num_classes):
        self.net = net
        self.num_classes = num_classes
        self.confusion = num_classes <= CONFUSION_CLASS_LIMIT
        self.step = EvalStep(net, top_k=min(5, num_classes), confusion=self.confusion)

    def __call__(self, loader, runtime):
        self.net.set_train(False)
        # Summed on the device (loss sum, top-1 hits, top-k hits; the count matrix) and read once at the end: no
        # host wait per batch.
        total, matrix, samples = None, None, 0
        for images, labels in loader.create_tuple_iterator():
            outputs = self.step(images, labels)
            batch = ops.stack(outputs[:3])
            total = batch if total is None else total + batch
            if self.confusion:
                matrix = outputs[3] if matrix is None else matrix + outputs[3]
            samples += images.shape[0]
        sums = np.zeros(3) if total is None else total.asnumpy().astype(np.float64)
        cells = self.num_classes ** 2 if self.confusion else 0
        counts = np.zeros(cells) if matrix is None else matrix.asnumpy().reshape(-1).astype(np.float64)
        reduced = sum_over_ranks(np.concatenate([sums, [samples], counts]), runtime)  # one all-reduce
        loss_sum, top1, topk, count = reduced[:4]
        if count == 0:
            raise InvalidInputError("evaluation saw no samples: the validation split (or this rank's shard) is empty")
        if runtime.group_size > 1 and count > EXACT_COUNT_LIMIT:
            raise InvalidInputError(f"{count:.0f} validation samples over {runtime.group_size} ranks: counts above "
                                    f"{EXACT_COUNT_LIMIT} are not exact in the float32 all-reduce; use num_samples")
        result = {
            "top1": 100.0 * top1 / count,
            "top5": 100.0 * topk / count,
            "loss": loss_sum / count,
            "num_samples": int(round(count)),
        }
        if self.confusion:
            result["confusion"] = np.rint(reduced[4:]).astype(np.int64).reshape(self.num_classes, self.num_classes)
        return result


def copy_weights(source_params, target_net):
    """Assign values to `target_net` parameters, matched in order (used to load EMA weights into the eval net)."""
    for value, param in zip(source_params, target_net.get_parameters()):
        param.set_data(Tensor(value.asnumpy()))
