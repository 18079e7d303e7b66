"""Python-side random ops whose randomness is a pure function of (pipeline salt, input pixels).

MindSpore's C++ random ops are made deterministic by the global dataset seed, but a Python op running in several map
worker threads cannot share one generator deterministically. These ops instead draw from a generator keyed by the
loader's ``EpochKey`` (seed, epoch, shard), read when the op runs, and a hash of the image they receive; that image
was already randomly cropped and flipped by the C++ ops, so repeated draws of one file still differ.
``create_loader`` binds the loader's key via ``keyed_by``; ``Loader.set_epoch`` then moves it.

A map op does not know which epoch of a multi-epoch iterator (a dataset sink) its image belongs to, so there it
stays keyed by the epoch the iterator started at (its images still differ every epoch).
"""
import copy
import hashlib

import numpy as np

from .sharding import EpochKey


class KeyedRandomOp:
    """Base: ``self.rng(image)`` gives the generator for this image under the bound key."""

    key = EpochKey(0, 0, 0)

    def keyed_by(self, key):
        """A copy of this op drawing from the stream of ``key`` (an ``EpochKey``, read at every call)."""
        bound = copy.copy(self)
        bound.key = key
        return bound

    def rng(self, image):
        flat = np.ascontiguousarray(image).reshape(-1)
        digest = hashlib.blake2b(flat[:: max(1, flat.size // 4096)].tobytes(), digest_size=8).digest()
        return np.random.default_rng([*self.key.salt(), int.from_bytes(digest, "little")])


class RandomErasing(KeyedRandomOp):
    """Erase one random rectangle of a normalized CHW float image with probability ``prob``.

    ``value`` is a number (constant fill, 0 = the mean after normalization) or ``"random"`` (per-pixel normal noise).
    The rectangle's area fraction is drawn from ``scale`` and its aspect ratio log-uniformly from ``ratio``;
    after ``max_attempts`` rectangles that do not fit, the image is left unchanged.
    """

    def __init__(self, prob=0.5, scale=(0.02, 0.33), ratio=(0.3, 3.3), value=0, max_attempts=10):
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"re_prob must be in [0, 1], got {prob}")
        if not (isinstance(value, (int, float)) or value == "random"):
            raise ValueError(f"re_value must be a number or 'random', got {value!r}")
        self.prob, self.scale, self.ratio, self.value, self.max_attempts = prob, scale, ratio, value, max_attempts

    def __call__(self, image):
        rng = self.rng(image)
        if rng.random() >= self.prob:
            return image
        channels, height, width = image.shape
        log_ratio = np.log(self.ratio)
        for _ in range(self.max_attempts):
            area = rng.uniform(*self.scale) * height * width
            aspect = np.exp(rng.uniform(*log_ratio))
            h, w = int(round(np.sqrt(area * aspect))), int(round(np.sqrt(area / aspect)))
            if 0 < h < height and 0 < w < width:
                top, left = rng.integers(0, height - h + 1), rng.integers(0, width - w + 1)
                erased = image.copy()
                if self.value == "random":
                    erased[:, top:top + h, left:left + w] = rng.standard_normal((channels, h, w), dtype=np.float32)
                else:
                    erased[:, top:top + h, left:left + w] = self.value
                return erased
        return image
