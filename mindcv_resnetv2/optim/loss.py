"""Classification losses with label smoothing that accept hard labels and MixUp/CutMix soft targets alike.

Both losses compute in float32 whatever the logits' dtype, so mixed precision (amp O2/O3) does not lose the
loss's precision, and both work in graph mode and PyNative.
"""
import mindspore as ms
from mindspore import nn, ops

from ..errors import InvalidInputError
from ..unsupported import refuse_unless_default

LOSS_NAMES = ("CE", "BCE", "jsd")  # as MindCV's recipes spell them; matched in any case
# Why MindCV's aux_factor (the weight of an auxiliary classifier's loss, e.g. Inception's) cannot be set here.
AUX_FACTOR_REASON = "no model of this zoo has an auxiliary head, so there is no auxiliary loss to weigh"
REDUCTIONS = ("mean", "sum", "none")


def _check_fraction(name, value):
    if not 0.0 <= value < 1.0:
        raise InvalidInputError(f"{name} must be in [0, 1), got {value!r}")


class _SmoothedLoss(nn.Cell):
    """Shared part of both losses: argument checks and class weights."""

    def __init__(self, weight=None, reduction="mean", label_smoothing=0.0):
        super().__init__()
        if reduction not in REDUCTIONS:
            raise InvalidInputError(f"reduction must be one of {REDUCTIONS}, got {reduction!r}")
        _check_fraction("label_smoothing", label_smoothing)
        self.weight = None if weight is None else ms.Tensor(weight, ms.float32)
        self.reduction = reduction
        self.label_smoothing = float(label_smoothing)


class CrossEntropySmooth(_SmoothedLoss):
    """Softmax cross-entropy; labels are class indices (B,) or class probabilities (B, C).

    Smoothing mixes the target with the uniform distribution: t * (1 - s) + s / C, for both label kinds.
    Semantics are those of `mindspore.ops.cross_entropy`: with a class `weight`, the mean over hard labels
    divides by the summed weights of the labelled classes, the mean over soft targets divides by the batch size.
    """

    def construct(self, logits, labels):
        logits = logits.astype(ms.float32)
        if labels.ndim == 2:
            labels = labels.astype(ms.float32)
        return ops.cross_entropy(logits, labels, self.weight, reduction=self.reduction,
                                 label_smoothing=self.label_smoothing)


class BinaryCrossEntropySmooth(_SmoothedLoss):
    """Per-class sigmoid cross-entropy; labels are class indices (B,) (made one-hot) or targets in [0, 1] (B, C).

    Smoothing uses the same rule as CrossEntropySmooth, t * (1 - s) + s / C, so a recipe's label_smoothing means
    the same target distribution under either loss. `weight` (C,) rescales each class's term.
    """

    def construct(self, logits, labels):
        logits = logits.astype(ms.float32)
        num_classes = logits.shape[-1]
        if labels.ndim == 1:
            targets = ops.one_hot(labels, num_classes, ms.Tensor(1.0, ms.float32), ms.Tensor(0.0, ms.float32))
        else:
            targets = labels.astype(ms.float32)
        if self.label_smoothing > 0:
            targets = targets * (1.0 - self.label_smoothing) + self.label_smoothing / num_classes
        return ops.binary_cross_entropy_with_logits(logits, targets, self.weight, reduction=self.reduction)


class JSDCrossEntropy(CrossEntropySmooth):
    """AugMix's loss on a split batch (``aug_splits`` views, clean first, as the loader stacks them): the smoothed
    cross-entropy of the clean view plus ``alpha`` times the Jensen-Shannon divergence of the views' predictions,
    i.e. the mean over views of KL(p_view || M), M = the views' mean prediction clipped to [1e-7, 1], each KL
    averaged over the B images: MindCV 0.3.0's ``jsd`` loss (3 views, alpha 12), whose ``ops.split(logits, 0, 3)``
    is MindSpore 1.x's (tensor, axis, parts) and raises on MindSpore 2.x; this computes what it was written for.
    """

    def __init__(self, weight=None, reduction="mean", label_smoothing=0.0, num_splits=3, alpha=12.0):
        super().__init__(weight, reduction, label_smoothing)
        if int(num_splits) < 2:
            raise InvalidInputError(f"the jsd loss needs num_splits >= 2 views per image, got {num_splits!r}")
        self.num_splits, self.alpha = int(num_splits), float(alpha)

    def construct(self, logits, labels):
        logits = logits.astype(ms.float32)
        views = logits.reshape(self.num_splits, -1, logits.shape[-1])
        images = views.shape[1]
        loss = super().construct(views[0], labels[:images])
        log_probs = ops.log_softmax(views, -1)
        probs = ops.exp(log_probs)
        log_mixture = ops.log(ops.clamp(probs.mean(0), 1e-7, 1.0))
        divergence = (probs * (log_probs - log_mixture)).sum() / images
        return loss + self.alpha * divergence / self.num_splits


def create_loss(name="CE", weight=None, reduction="mean", label_smoothing=0.0, aux_factor=0.0, *, num_splits=3):
    """The recipe's `loss` ("CE", "BCE" or "jsd", any case) as an nn.Cell called as loss_fn(logits, labels);
    MindCV 0.3.0's parameters and defaults.

    weight: optional per-class weights (sequence or array of length C). reduction: "mean", "sum" or "none".
    label_smoothing in [0, 1). aux_factor must stay 0.0 (AUX_FACTOR_REASON). num_splits: the views per image of
    the jsd loss (the recipe's aug_splits; MindCV's is always 3).
    """
    refuse_unless_default("create_loss", "aux_factor", aux_factor, 0.0, AUX_FACTOR_REASON)
    key = str(name).lower()
    if key == "ce":
        return CrossEntropySmooth(weight, reduction, label_smoothing)
    if key == "bce":
        return BinaryCrossEntropySmooth(weight, reduction, label_smoothing)
    if key == "jsd":
        return JSDCrossEntropy(weight, reduction, label_smoothing, num_splits)
    valid = ", ".join(LOSS_NAMES)
    raise InvalidInputError(f"unknown loss {name!r}; valid names (any case): {valid}")
