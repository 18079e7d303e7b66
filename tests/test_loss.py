"""CE and BCE losses against a NumPy reference, for class-index labels and MixUp/CutMix soft targets."""
import mindspore as ms
import numpy as np
import pytest

from mindcv_resnetv2.optim import create_loss

NUM_CLASSES = 5
RNG = np.random.default_rng(0)
LOGITS = RNG.normal(size=(4, NUM_CLASSES)).astype(np.float32)
HARD = np.array([0, 3, 2, 4], np.int32)
SOFT = RNG.dirichlet(np.ones(NUM_CLASSES), size=4).astype(np.float32)
CLASS_WEIGHT = np.array([1.0, 2.0, 3.0, 0.5, 1.0], np.float32)


@pytest.fixture(params=[ms.GRAPH_MODE, ms.PYNATIVE_MODE], ids=["graph", "pynative"])
def mode(request):
    previous = ms.get_context("mode")
    ms.set_context(mode=request.param)
    yield request.param
    ms.set_context(mode=previous)


def targets_of(labels, smoothing):
    dense = np.eye(NUM_CLASSES, dtype=np.float64)[labels] if labels.ndim == 1 else labels.astype(np.float64)
    return dense * (1 - smoothing) + smoothing / NUM_CLASSES


def reference_ce(logits, labels, smoothing, weight=None):
    """Mean smoothed cross-entropy; with class weights the hard-label mean divides by the labelled classes' weights."""
    weight = np.ones(NUM_CLASSES) if weight is None else weight.astype(np.float64)
    log_probs = logits - np.log(np.exp(logits).sum(1, keepdims=True))
    per_sample = -(weight * targets_of(labels, smoothing) * log_probs).sum(1)
    return per_sample.sum() / (weight[labels].sum() if labels.ndim == 1 else len(labels))


def reference_bce(logits, labels, smoothing):
    targets = targets_of(labels, smoothing)
    probs = 1 / (1 + np.exp(-logits.astype(np.float64)))
    return -(targets * np.log(probs) + (1 - targets) * np.log(1 - probs)).mean()


@pytest.mark.parametrize("labels", [HARD, SOFT], ids=["int", "soft"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1])
def test_cross_entropy_matches_numpy(mode, labels, smoothing):
    loss_fn = create_loss("CE", label_smoothing=smoothing)
    loss = loss_fn(ms.Tensor(LOGITS), ms.Tensor(labels))
    assert loss.dtype == ms.float32 and loss.shape == ()
    assert float(loss) == pytest.approx(reference_ce(LOGITS, labels, smoothing), rel=1e-5)


@pytest.mark.parametrize("labels", [HARD, SOFT], ids=["int", "soft"])
def test_weighted_cross_entropy_matches_numpy(mode, labels):
    loss = create_loss("ce", weight=CLASS_WEIGHT, label_smoothing=0.1)(ms.Tensor(LOGITS), ms.Tensor(labels))
    assert float(loss) == pytest.approx(reference_ce(LOGITS, labels, 0.1, CLASS_WEIGHT), rel=1e-5)


@pytest.mark.parametrize("labels", [HARD, SOFT], ids=["int", "soft"])
def test_binary_cross_entropy_matches_numpy(mode, labels):
    loss = create_loss("BCE", label_smoothing=0.1)(ms.Tensor(LOGITS), ms.Tensor(labels))
    assert float(loss) == pytest.approx(reference_bce(LOGITS, labels, 0.1), rel=1e-5)


def test_reductions_and_float16_logits(mode):
    labels = ms.Tensor(HARD)
    per_sample = create_loss("CE", reduction="none", label_smoothing=0.1)(ms.Tensor(LOGITS), labels)
    total = create_loss("CE", reduction="sum", label_smoothing=0.1)(ms.Tensor(LOGITS), labels)
    assert per_sample.shape == (4,)
    assert float(total) == pytest.approx(float(per_sample.sum()), rel=1e-6)
    half = create_loss("CE", label_smoothing=0.1)(ms.Tensor(LOGITS).astype(ms.float16), labels)
    assert half.dtype == ms.float32
    assert float(half) == pytest.approx(reference_ce(LOGITS, HARD, 0.1), rel=1e-3)


def test_bad_names_and_values_are_rejected():
    with pytest.raises(ValueError, match="unknown loss 'focal'.*CE, BCE"):
        create_loss("focal")
    with pytest.raises(ValueError, match="label_smoothing"):
        create_loss("CE", label_smoothing=1.0)
    with pytest.raises(ValueError, match="reduction"):
        create_loss("CE", reduction="avg")
