"""Evaluation metrics against an independent NumPy top-k on known logits: EvalStep's per-batch sums and the
Evaluator's percentages and confusion matrix over a split (uneven last batch, ties, fewer classes than 5)."""
import gc
import types
import weakref

import mindspore as ms
import numpy as np
import pytest
from mindspore import nn

from mindcv_resnetv2.engine.evaluation import CONFUSION_CLASS_LIMIT, EvalStep, Evaluator

ONE_DEVICE = types.SimpleNamespace(group_size=1)


class Logits(nn.Cell):
    """A 'network' whose input is already the logits, so the metrics are checked on known values."""

    def construct(self, x):
        return x


def numpy_top_k(logits, labels, k):
    """Per sample: (certainly a hit, possibly a hit) in the top k. A label tied with other classes across the
    k-th place is a hit or not depending on how the sort breaks the tie, so both bounds are returned."""
    own = logits[np.arange(len(labels)), labels][:, None]
    above = (logits > own).sum(axis=1)
    tied = (logits == own).sum(axis=1)  # the label itself included
    return above + tied <= k, above < k


def numpy_cross_entropy_sum(logits, labels):
    logits = logits.astype(np.float64)
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_softmax = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(labels)), labels].sum()


def known_logits():
    """7 classes; the label's place is 1st, 2nd, 3rd, 5th, 6th, last, tied inside or outside the top 5."""
    rows = [
        ([5, 1, 0, 0, 0, 0, 0], 0),  # 1st
        ([5, 4, 0, 0, 0, 0, 0], 1),  # 2nd
        ([1, 2, 3, 0, 0, 0, 0], 0),  # 3rd
        ([6, 5, 4, 3, 2, 1, 0], 4),  # 5th
        ([6, 5, 4, 3, 2, 1, 0], 5),  # 6th
        ([0, 1, 2, 3, 4, 5, 6], 0),  # last
        ([9, 2, 2, 1, 0, 0, 0], 1),  # tied 2nd/3rd: top-5 hit, top-1 miss whatever the tie-break
        ([9, 8, 7, 6, 5, 1, 1], 6),  # tied 6th/7th: missed whatever the tie-break
        ([3, 3, 3, 3, 3, 3, 3], 2),  # all equal: nothing is certain
        ([4, 4, 0, 0, 0, 0, 0], 0),  # tied 1st: top-1 depends on the tie-break, top-5 hit
        ([0.5, -1, 7, 2, 2.5, 0, 1], 3),  # 4th
    ]
    logits = np.array([row for row, _ in rows], np.float32)
    labels = np.array([label for _, label in rows], np.int32)
    return logits, labels


def test_numpy_reference_classifies_the_known_rows():
    logits, labels = known_logits()
    certain1, possible1 = numpy_top_k(logits, labels, 1)
    certain5, possible5 = numpy_top_k(logits, labels, 5)
    assert certain1.tolist() == [True] + [False] * 10
    assert possible1.tolist() == [True] + [False] * 7 + [True, True, False]
    assert certain5.tolist() == [True, True, True, True, False, False, True, False, False, True, True]
    assert possible5.tolist() == [True, True, True, True, False, False, True, False, True, True, True]


def test_eval_step_counts_top1_and_top5_as_numpy_does(graph_mode):
    logits, labels = known_logits()
    loss, top1, top5 = (float(v.asnumpy()) for v in EvalStep(Logits(), top_k=5)(ms.Tensor(logits),
                                                                                ms.Tensor(labels)))
    for hits, k in ((top1, 1), (top5, 5)):
        certain, possible = numpy_top_k(logits, labels, k)
        assert certain.sum() <= hits <= possible.sum(), f"top-{k}"
    assert top1 <= top5
    assert loss == pytest.approx(numpy_cross_entropy_sum(logits, labels), rel=1e-5)


def numpy_confusion(logits, labels, num_classes):
    counts = np.zeros((num_classes, num_classes), np.int64)
    np.add.at(counts, (labels, logits.argmax(axis=1)), 1)
    return counts


@pytest.mark.parametrize("num_classes", [10, 5, 3])
def test_evaluator_reports_numpy_top1_top5_and_confusion_matrix_over_uneven_batches(num_classes, graph_mode):
    """Random logits (no ties) over 13 samples in batches of 4; with fewer than 5 classes top-5 is top-all. The
    confusion matrix counts every sample once, [label, argmax], the last batch of 1 included."""
    rng = np.random.default_rng(num_classes)
    logits = rng.standard_normal((13, num_classes)).astype(np.float32)
    labels = rng.integers(0, num_classes, 13).astype(np.int32)
    logits[:4, :] -= 10.0
    logits[np.arange(4), labels[:4]] += 20.0  # some certain top-1 hits
    loader = ms.dataset.NumpySlicesDataset({"image": logits, "label": labels}, shuffle=False).batch(4)
    metrics = Evaluator(Logits(), num_classes)(loader, ONE_DEVICE)
    top1 = 100.0 * numpy_top_k(logits, labels, 1)[0].mean()
    top5 = 100.0 * numpy_top_k(logits, labels, min(5, num_classes))[0].mean()
    assert metrics["num_samples"] == 13
    assert metrics["top1"] == pytest.approx(top1) and metrics["top5"] == pytest.approx(top5)
    assert 0.0 <= metrics["top1"] <= metrics["top5"] <= 100.0
    assert metrics["top1"] < metrics["top5"]  # the data tells top-1 and top-5 apart
    if num_classes < 5:
        assert metrics["top5"] == 100.0
    assert metrics["loss"] == pytest.approx(numpy_cross_entropy_sum(logits, labels) / 13, rel=1e-5)
    confusion = metrics["confusion"]
    assert confusion.dtype == np.int64 and confusion.shape == (num_classes, num_classes)
    np.testing.assert_array_equal(confusion, numpy_confusion(logits, labels, num_classes))
    assert np.trace(confusion) == pytest.approx(metrics["top1"] * 13 / 100)


def test_evaluator_counts_no_confusion_matrix_above_its_class_limit(graph_mode):
    classes = CONFUSION_CLASS_LIMIT + 1
    logits = np.zeros((3, classes), np.float32)
    labels = np.array([0, 7, classes - 1], np.int32)
    logits[[0, 1, 2], [0, 7, 5]] = 1.0  # two top-1 hits
    loader = ms.dataset.NumpySlicesDataset({"image": logits, "label": labels}, shuffle=False).batch(2)
    metrics = Evaluator(Logits(), classes)(loader, ONE_DEVICE)
    assert "confusion" not in metrics
    assert metrics["top1"] == pytest.approx(200 / 3) and metrics["num_samples"] == 3


def test_evaluator_keeps_running_sums_not_the_batches_or_their_outputs(graph_mode):
    """Memory stays at one batch however long the split: once evaluation returns, no batch, logit or per-batch
    metric tensor is referenced any more (the Evaluator keeps one running sum)."""
    logits = np.random.default_rng(0).standard_normal((13, 10)).astype(np.float32)
    labels = np.arange(13, dtype=np.int32) % 10
    loader = ms.dataset.NumpySlicesDataset({"image": logits, "label": labels}, shuffle=False).batch(4)
    evaluator = Evaluator(Logits(), 10)
    step, seen = evaluator.step, []

    def recording_step(images, batch_labels):
        outputs = step(images, batch_labels)
        seen.extend(weakref.ref(tensor) for tensor in (images, batch_labels, *outputs))
        return outputs

    evaluator.step = recording_step
    assert evaluator(loader, ONE_DEVICE)["num_samples"] == 13
    gc.collect()
    assert len(seen) == 4 * 6  # 4 batches: images, labels, the step's 3 sums and its count matrix each
    assert [ref() for ref in seen if ref() is not None] == []
