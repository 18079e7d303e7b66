"""Batch-level MixUp/CutMix with one-hot (optionally smoothed) soft targets, keyed by (seed, epoch, shard, batch).

The epoch is the loader's ``EpochKey`` plus MindSpore's count of epochs into the iterator, so one iterator over
several epochs (a dataset sink) mixes epoch e as a loader moved to epoch e does.

MindSpore has ``MixUpBatch``/``CutMixBatch``, but choosing per batch between them with a probability needs
``RandomApply``/``RandomChoice`` around them, and every MindSpore random op in a pipeline is seeded with the same
global seed: the apply/choose/lambda draws would come from identical streams and be correlated. This numpy version
draws each batch's decisions from its own generator, so they are independent and reproducible.
"""
import numpy as np

from .sharding import EpochKey

_MIX_STREAM = 2


class BatchMixer:
    """``per_batch_map`` callable: (images list, labels list, BatchInfo) -> (NCHW float32, (B, C) float32)."""

    def __init__(self, num_classes, mixup=0.0, cutmix=0.0, prob=1.0, switch_prob=0.5, label_smoothing=0.0,
                 key=None):
        if mixup < 0 or cutmix < 0 or not 0 <= prob <= 1 or not 0 <= switch_prob <= 1:
            raise ValueError(f"need mixup={mixup} >= 0, cutmix={cutmix} >= 0, 0 <= cutmix_prob={prob} <= 1, "
                             f"0 <= switch_prob={switch_prob} <= 1")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.num_classes, self.mixup, self.cutmix, self.prob = num_classes, mixup, cutmix, prob
        self.switch_prob, self.label_smoothing = switch_prob, label_smoothing
        self.key = EpochKey(0, 0, 0) if key is None else key

    def soft_targets(self, labels):
        off = self.label_smoothing / self.num_classes
        targets = np.full((len(labels), self.num_classes), off, np.float32)
        targets[np.arange(len(labels)), labels] += 1.0 - self.label_smoothing
        return targets

    def __call__(self, images, labels, batch_info):
        images = np.stack(images).astype(np.float32, copy=False)
        labels = np.asarray(labels, np.int64).reshape(-1)
        if labels.max(initial=0) >= self.num_classes or labels.min(initial=0) < 0:
            raise ValueError(f"label {labels.max()} out of range for num_classes={self.num_classes}")
        targets = self.soft_targets(labels)
        salt = self.key.salt(batch_info.get_epoch_num())
        rng = np.random.default_rng([*salt, _MIX_STREAM, batch_info.get_batch_num()])
        if rng.random() >= self.prob or (self.mixup == 0 and self.cutmix == 0):
            return images, targets
        use_cutmix = self.cutmix > 0 and (self.mixup == 0 or rng.random() < self.switch_prob)
        partner = images[::-1]
        if use_cutmix:
            lam = rng.beta(self.cutmix, self.cutmix)
            top, bottom, left, right = _cut_box(rng, images.shape[2], images.shape[3], lam)
            images = images.copy()
            images[:, :, top:bottom, left:right] = partner[:, :, top:bottom, left:right]
            lam = 1.0 - (bottom - top) * (right - left) / (images.shape[2] * images.shape[3])
        else:
            lam = rng.beta(self.mixup, self.mixup)
            images = lam * images + (1.0 - lam) * partner
        targets = lam * targets + (1.0 - lam) * targets[::-1]
        return images.astype(np.float32, copy=False), targets.astype(np.float32)


def _cut_box(rng, height, width, lam):
    """A box covering about (1 - lam) of the image, centred uniformly and clipped to the image."""
    cut = np.sqrt(1.0 - lam)
    h, w = int(height * cut), int(width * cut)
    cy, cx = rng.integers(height), rng.integers(width)
    return (int(np.clip(cy - h // 2, 0, height)), int(np.clip(cy + h // 2, 0, height)),
            int(np.clip(cx - w // 2, 0, width)), int(np.clip(cx + w // 2, 0, width)))
