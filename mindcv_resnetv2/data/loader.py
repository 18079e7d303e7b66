"""``create_loader``: map the transforms, batch, optionally MixUp/CutMix; iterate with the epoch's seed in force.

A run builds one loader and reads epoch e after ``loader.set_epoch(e)``: that moves the dataset's sampler (the
order) and the loader's ``EpochKey`` (the keyed Python ops, the mixing and MindSpore's dataset seed); call it
between iterators, not while one is read. Every ``create_tuple_iterator`` builds a new execution tree from a copy of
the pipeline (MindSpore 2.8 copies its nodes and sampler, not the Python ops), so one dataset object can be iterated
any number of times. MindSpore's C++ random ops read the global dataset seed when an iterator is created, so the
``Loader`` sets the (seed, epoch, shard) seed around iterator creation and restores the caller's seed and the
Python/numpy random states afterwards: epoch e's batches do not depend on which epochs the loader read before.
Batches are reproducible for a fixed ``num_parallel_workers`` (MindSpore gives each map worker its own generator, so
1 and 2 workers draw different, equally valid augmentations). Hand ``loader.dataset`` to ``mindspore.Model`` or
``mindspore.data_sink`` only inside ``with loader.seeded():``, and only once: MindSpore refuses a second sink over
the same dataset.

Augmentation splits (``separate=True``, MindCV's ``aug_splits``): each training image is cropped and flipped once
(the primary ops), copied into ``aug_splits`` views, the auto-augment ops run on every view but the first (the clean
one) and the final ops on all; a batch of B images is then the (aug_splits * B) rows [clean; view 1; ...] with the
labels repeated per view, as MindCV's loader concatenates them (mixing, when on, runs on that whole batch). Each
view's Python random ops draw from their own stream (``ViewKey``); MindSpore's C++ random ops would repeat one
another's choices on every copy, so with more than one augmented view only the Python-drawn ones are accepted.

A file that cannot be decoded stops iteration with ``UnreadableImageError`` naming it (MindSpore reports the
path of the failing row; this turns it into a short, typed error with the remedy). The files that would kill the
process inside MindSpore's decoders never get here: ``create_dataset`` refuses them (``file_check``).
"""
import contextlib
import random
import re

import mindspore.dataset as msds
import mindspore.dataset.transforms as mstransforms
import numpy as np
from mindspore import dtype as mstype

from ..errors import InvalidInputError
from ..unsupported import refuse_unless_default
from .image_bytes import UnreadableImageError
from .keyed import KeyedRandomOp
from .mixing import BatchMixer
from .sharding import EpochKey
from .transforms import create_transforms

# MindSpore names the failing row's file, then the error of its op.
_FAILED_FILE = re.compile(r"The corresponding data file is: (.+?)\. (.*)$", re.MULTILINE)


def _unreadable(message):
    """UnreadableImageError for a pipeline error naming a file (with the reason when known), else None."""
    failed = _FAILED_FILE.search(message)
    if not failed:
        return None
    theirs = failed.group(2).split(" Dump the ")[0].rstrip(". ")  # MindSpore's advice names a dump file, drop it
    return UnreadableImageError(failed.group(1), None if theirs == "Error description:" else theirs)


class ViewKey:
    """The loader's ``EpochKey`` with a view number: the random ops of augmented view ``view`` draw their own stream."""

    def __init__(self, key, view):
        self.key, self.view = key, int(view)

    def salt(self, epochs_into_iterator=0):
        return (*self.key.salt(epochs_into_iterator), self.view)


def stack_views(*views):
    """One sample's views as one (views, C, H, W) array, so the batch op sees one image column."""
    return np.stack(views)


class ViewBatch:
    """``per_batch_map`` of a split batch of (views, C, H, W) samples: the images view after view, the labels
    repeated per view; then mixed by ``mixer`` when given."""

    def __init__(self, mixer=None):
        self.mixer = mixer

    def __call__(self, samples, labels, batch_info):
        samples = np.stack(samples).astype(np.float32, copy=False)
        images = samples.swapaxes(0, 1).reshape(-1, *samples.shape[2:])
        labels = np.tile(np.asarray(labels, np.int32).reshape(-1), samples.shape[1])
        if self.mixer is None:
            return images, labels
        return self.mixer(images, labels, batch_info)


def _keyed(operations, key):
    return [op.keyed_by(key) if isinstance(op, KeyedRandomOp) else op for op in operations]


def _map_views(dataset, transform, key, aug_splits, workers, multiprocessing):
    """The dataset with each sample's views stacked in its image column: see the module doc."""
    if not (isinstance(transform, tuple) and len(transform) == 3):
        raise InvalidInputError("create_loader: separate=True needs the (primary, secondary, final) ops of "
                                "create_transforms(..., is_training=True, separate=True)")
    if aug_splits < 2:
        raise InvalidInputError(f"create_loader: aug_splits={aug_splits!r} with separate=True; give 2 or more "
                                f"views (MindCV uses 3: the clean image and two augmented ones)")
    primary, secondary, final = transform
    repeated = [op for op in secondary if not isinstance(op, KeyedRandomOp)]
    if aug_splits > 2 and repeated:
        raise InvalidInputError(
            f"create_loader: {type(repeated[0]).__name__} is a MindSpore random op, which makes the same choices on "
            f"every copy of an image, so the {aug_splits - 1} augmented views would be identical; use a randaug or "
            f"augmix auto_augment (drawn per view), or aug_splits=2")
    columns = ["image"] + [f"image_view{view}" for view in range(1, aug_splits)]
    options = dict(num_parallel_workers=workers, python_multiprocessing=multiprocessing)
    dataset = dataset.map(operations=_keyed(primary, key), input_columns="image", **options)
    for column in columns[1:]:
        dataset = dataset.map(operations=mstransforms.Duplicate(), input_columns="image",
                              output_columns=["image", column], **options)
    for view, column in enumerate(columns):
        view_key = key if view == 0 else ViewKey(key, view)
        operations = _keyed(final if view == 0 else list(secondary) + list(final), view_key)
        dataset = dataset.map(operations=operations, input_columns=column, **options)
    return dataset.map(operations=stack_views, input_columns=columns, output_columns=["image"], **options)


class _ReportingIterator:
    def __init__(self, iterator):
        self.iterator = iterator

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return next(self.iterator)
        except RuntimeError as exc:
            error = _unreadable(str(exc))
            if error:
                raise error from exc
            raise


class Loader:
    """The batched pipeline of every epoch, and the epoch its next iterator reads (``set_epoch``)."""

    def __init__(self, dataset, key, sampler):
        self.dataset, self.key, self.sampler = dataset, key, sampler

    @property
    def epoch(self):
        return self.key.epoch

    @property
    def seed(self):
        """MindSpore's dataset seed for this epoch's iterator: different per (seed, epoch, shard)."""
        return self.key.pipeline_seed()

    def set_epoch(self, epoch):
        """Read epoch ``epoch`` (its order, augmentation and mixing) from the next iterator on."""
        self.key.epoch = self.sampler.epoch = int(epoch)

    @contextlib.contextmanager
    def seeded(self):
        """Set this epoch's dataset seed; restore the previous seed and Python/numpy random states on exit."""
        previous, py_state, np_state = msds.config.get_seed(), random.getstate(), np.random.get_state()
        msds.config.set_seed(self.seed)
        try:
            yield self.dataset
        finally:
            msds.config.set_seed(previous)
            random.setstate(py_state)
            np.random.set_state(np_state)

    def create_tuple_iterator(self, num_epochs=1, output_numpy=False, do_copy=True):
        """This epoch's batches (``num_epochs`` > 1: then the following epochs' orders and mixing, while C++
        augmentation continues one random stream instead of taking each epoch's seed)."""
        with self.seeded():
            iterator = self.dataset.create_tuple_iterator(num_epochs=num_epochs, output_numpy=output_numpy,
                                                          do_copy=do_copy)
        return _ReportingIterator(iterator)

    def __iter__(self):
        return self.create_tuple_iterator()

    def get_dataset_size(self):
        """Batches per epoch on this shard."""
        return self.dataset.get_dataset_size()


def create_loader(dataset, batch_size, drop_remainder=False, is_training=False, mixup=0.0, cutmix=0.0, cutmix_prob=0.0,
                  num_classes=1000, transform=None, target_transform=None, num_parallel_workers=None,
                  python_multiprocessing=False, separate=False, *, label_smoothing=0.0, seed=None, epoch=None,
                  switch_prob=0.5, aug_splits=3):
    """Batches of (float32 NCHW images, int32 (B,) labels), or float32 (B, num_classes) soft targets with mixing.

    ``dataset`` comes from ``create_dataset`` and belongs to this loader (``set_epoch`` moves its sampler).
    ``seed`` (of augmentation and mixing) defaults to the dataset's; ``epoch``, to the dataset's first epoch (given,
    the loader starts there: order included). Mixing (training only): ``cutmix_prob`` is the probability a batch
    is mixed at all (MindCV's meaning); with both alphas > 0, CutMix is picked with ``switch_prob``, else MixUp.
    With mixing on, ``label_smoothing`` is applied to the soft targets here (the loss must not smooth again);
    without it, labels stay int32 and smoothing is the loss's job.
    ``separate=True`` (training only, as in MindCV): ``transform`` is ``create_transforms(..., separate=True)``'s
    tuple and every batch holds ``aug_splits`` views of its images (see the module doc), ``aug_splits * batch_size``
    rows.
    """
    refuse_unless_default("create_loader", "target_transform", target_transform, None, "labels are class indices")
    info, sampler = dataset.shard_info, dataset.sampler
    key = EpochKey(info.seed if seed is None else seed, sampler.epoch, info.shard_id)
    split = bool(separate) and is_training
    if transform is None:
        transform = create_transforms(dataset_name=info.name, is_training=is_training, separate=split)
    mixing = is_training and (mixup > 0 or cutmix > 0)
    mixer = BatchMixer(num_classes, mixup, cutmix, cutmix_prob, switch_prob, label_smoothing, key) if mixing else None
    if split:
        dataset = _map_views(dataset, transform, key, aug_splits, num_parallel_workers, python_multiprocessing)
        dataset = dataset.batch(batch_size, drop_remainder=drop_remainder, input_columns=["image", "label"],
                                per_batch_map=ViewBatch(mixer))
    else:
        dataset = dataset.map(operations=_keyed(transform, key), input_columns="image",
                              num_parallel_workers=num_parallel_workers, python_multiprocessing=python_multiprocessing)
        if mixing:
            dataset = dataset.batch(batch_size, drop_remainder=drop_remainder, input_columns=["image", "label"],
                                    per_batch_map=mixer)
        else:
            dataset = dataset.map(operations=mstransforms.TypeCast(mstype.int32), input_columns="label")
            dataset = dataset.batch(batch_size, drop_remainder=drop_remainder)
    loader = Loader(dataset, key, sampler)
    if epoch is not None:
        loader.set_epoch(epoch)
    return loader
