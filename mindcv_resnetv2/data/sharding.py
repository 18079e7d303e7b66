"""Which samples one shard reads in one epoch, and the seeds that drive it: pure functions of (seed, epoch, shard).

A run builds its pipeline once and moves it from epoch to epoch; a resumed run starts it at the resume epoch, so
epoch 7 in a fresh process must equal epoch 7 of an uninterrupted run. Everything random in the pipeline is
therefore derived here from (seed, epoch, shard_id).

Sharding rule:
- evaluation (``equal_shards=False``): shard k takes positions k, k+S, k+2S, ... of the split. The shards partition
  the split exactly (no padding, no duplicates); their sizes differ by at most one.
- training (``equal_shards=True``): every shard takes ``n // S`` samples of the epoch's shuffled order (strided), so
  all ranks run the same number of steps. The ``n % S`` samples left over are different ones every epoch.
- repeated augmentation (``num_aug_repeats = r > 1``, DeiT style): each sample of the shuffled order appears r times
  in a row and the strided split sends the copies to different ranks; each rank still reads ``n // S`` samples.
"""
import numpy as np

from ..errors import InvalidInputError

# mt19937's default seed: MindSpore treats a global seed equal to it as "unset" and seeds from the random device.
_MT19937_DEFAULT_SEED = 5489

_ORDER_STREAM = 0
_PIPELINE_STREAM = 1


def _seed_sequence(*keys):
    return np.random.SeedSequence([int(k) for k in keys])


def shuffled_order(num_items, seed, epoch):
    """The epoch's permutation of ``range(num_items)``; the same on every rank (the shard is not in the key)."""
    rng = np.random.default_rng(_seed_sequence(seed, epoch, _ORDER_STREAM))
    return rng.permutation(num_items)


def epoch_indices(num_items, *, shuffle, seed, epoch, num_shards=1, shard_id=0, equal_shards, num_aug_repeats=0,
                  num_samples=None):
    """Indices (into the split) that shard ``shard_id`` reads this epoch, in reading order; see the module rule."""
    num_shards = num_shards or 1
    shard_id = shard_id or 0
    if not 0 <= shard_id < num_shards:
        raise ValueError(f"shard_id must be in [0, num_shards={num_shards}), got {shard_id}")
    order = shuffled_order(num_items, seed, epoch) if shuffle else np.arange(num_items)
    if num_samples is not None:
        if num_samples <= 0:
            raise ValueError(f"num_samples must be a positive number of samples, got {num_samples}")
        order = order[:num_samples]
    count = len(order)
    if num_aug_repeats and num_aug_repeats > 1:
        order = np.repeat(order, num_aug_repeats)
    mine = order[shard_id::num_shards]
    if equal_shards:
        per_shard = count // num_shards
        if per_shard == 0:
            raise InvalidInputError(f"{count} samples cannot give each of {num_shards} shards at least one sample")
        mine = mine[:per_shard]
    return mine.astype(np.int64)


def pipeline_seed(seed, epoch, shard_id):
    """The uint32 seed for MindSpore's random ops of this (seed, epoch, shard): different per rank and per epoch."""
    value = int(_seed_sequence(seed, epoch, shard_id or 0, _PIPELINE_STREAM).generate_state(1)[0])
    return value + 1 if value == _MT19937_DEFAULT_SEED else value


class EpochKey:
    """The (seed, epoch, shard) that one loader's random draws are keyed by; ``Loader.set_epoch`` moves ``epoch``.

    One object per loader, read at call time by its keyed Python ops (``keyed``, ``mixing``) and by the loader for
    MindSpore's dataset seed. MindSpore hands those Python ops to every iterator as they are (it copies the rest of
    the pipeline, the sampler included), so move the key only between iterators. ``salt(n)`` keys the n-th later
    epoch of one iterator over several (a dataset sink).
    """

    def __init__(self, seed, epoch, shard_id):
        self.seed, self.epoch, self.shard_id = int(seed), int(epoch), int(shard_id or 0)

    def salt(self, epochs_into_iterator=0):
        return self.seed, self.epoch + epochs_into_iterator, self.shard_id

    def pipeline_seed(self):
        """MindSpore's dataset seed for an iterator created at this epoch."""
        return pipeline_seed(*self.salt())
