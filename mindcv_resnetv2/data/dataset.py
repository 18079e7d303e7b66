"""``create_dataset``: one shard of one split, as a MindSpore dataset with its class names attached, read in the
order of the epoch its sampler is at.

Sample order is decided in Python (``sharding.epoch_indices``) by the dataset's ``EpochSampler``, so the order is a
pure function of (seed, epoch, shard) and never depends on MindSpore's global random state. A run builds the dataset
once; ``Loader.set_epoch`` moves it to each epoch (``epoch`` is the first one it reads, e.g. a resumed run's).
``get_dataset_size()`` is the number of samples this shard yields per epoch (the same every epoch).

Corrupt images: ImageFolder data is decoded lazily by MindSpore's C++ ops. Building the dataset checks every file
of the split once (``file_check``: files that would kill MindSpore's decoders, cached between runs) and raises
``UnreadableImageError`` naming the first one; a file only MindSpore's decoder refuses stops the iteration with
the same error (see ``loader``). ``python -m mindcv_resnetv2.data.check ROOT`` also decodes every file with PIL and
lists every unreadable one at once.
"""
import dataclasses
import os

import mindspore.dataset as msds

from ..errors import InvalidInputError
from . import sources
from .download import download_dataset
from .file_check import refuse_damaged_files
from .sharding import epoch_indices

ARRAY_DATASETS = ("cifar10", "cifar100", "mnist", "fashion_mnist", "synthetic")
SMALL_IMAGE_DATASETS = ("cifar10", "cifar100", "mnist", "fashion_mnist")
SYNTHETIC_LENGTH = {True: 256, False: 64}


@dataclasses.dataclass(frozen=True)
class ShardInfo:
    """What the loader needs to know about the dataset it batches (its name and seeds)."""
    name: str
    seed: int
    shard_id: int
    num_shards: int
    is_training: bool


class EpochSampler(msds.Sampler):
    """This shard's ``epoch_indices`` of the epoch ``self.epoch``: one sampler serves every epoch of a run.

    MindSpore deep-copies the sampler into each iterator it creates, so ``epoch`` counts when an iterator is created;
    in an iterator over several epochs (a dataset sink) MindSpore calls ``reset`` after each epoch and the copy moves
    on to the next epoch's order.
    """

    def __init__(self, num_items, epoch, **order):
        self.num_items, self.epoch, self.order = num_items, int(epoch), order
        super().__init__(num_samples=len(self.indices()))

    def indices(self):
        return epoch_indices(self.num_items, epoch=self.epoch, **self.order)

    def __iter__(self):
        return iter(self.indices().tolist())

    def reset(self):
        self.epoch += 1


def _canonical(name):
    return name.lower().replace("-", "_")


def read_class_names(name, root, split="train", num_classes=None, require_files=True):
    """Class names, index = label, without building a pipeline (e.g. to write them next to checkpoints);
    ``require_files=False`` names MNIST/Fashion-MNIST classes without their files on disk."""
    name = _canonical(name)
    if name in ("cifar10", "cifar100"):
        return sources.cifar_class_names(name, root)
    if name in ("mnist", "fashion_mnist"):
        return sources.idx_class_names(name, root, split, require_files)
    if name == "synthetic":
        return [str(i) for i in range(num_classes or 10)]
    return sources.scan_image_folder(root, split)[0]


def create_dataset(name="", root=None, split="train", shuffle=True, num_samples=None, num_shards=None,
                   shard_id=None, num_parallel_workers=None, download=False, num_aug_repeats=0, *, seed=0, epoch=0,
                   is_training=None, in_channels=3, image_size=224, num_classes=10, synthetic_length=None,
                   check_files=True):
    """One shard's samples of ``split``, from ``epoch`` on; names other than cifar/mnist/synthetic read an ImageFolder.

    The parameters up to ``num_aug_repeats`` and their defaults are MindCV 0.3.0's (``name=""``: an ImageFolder,
    as ``imagenet``); the keyword-only ones are this project's.

    ``is_training`` (default: ``shuffle``) picks the sharding rule: equal shard sizes for training, an exact
    partition for evaluation (see ``sharding``). ``image_size``, ``num_classes`` and ``synthetic_length`` only
    apply to ``name="synthetic"``. Grayscale data is repeated to 3 channels unless ``in_channels=1``.
    ``check_files=False`` skips the ImageFolder file check (``file_check``): only for data checked otherwise, as
    the benchmark does to measure the check; a damaged JPEG can then kill the process.
    """
    name = _canonical(name)
    training = bool(shuffle) if is_training is None else bool(is_training)
    if in_channels not in (1, 3):
        raise InvalidInputError(f"in_channels must be 1 or 3, got {in_channels}")
    if download:
        download_dataset(name, root)
    if name in ARRAY_DATASETS:
        class_names, source = _array_source(name, root, split, seed, training, in_channels, image_size, num_classes,
                                            synthetic_length)
        length = len(source)
    else:
        class_names, counts = sources.scan_image_folder(root, split)
        length = sum(counts)
        if check_files:
            refuse_damaged_files(os.path.join(root, split), class_names)
    sampler = EpochSampler(length, epoch, shuffle=shuffle, seed=seed, num_shards=num_shards, shard_id=shard_id,
                           equal_shards=training, num_aug_repeats=num_aug_repeats, num_samples=num_samples)
    if name in ARRAY_DATASETS:
        dataset = msds.GeneratorDataset(source, column_names=["image", "label"], sampler=sampler,
                                        num_parallel_workers=1, python_multiprocessing=False)
    else:
        dataset = msds.ImageFolderDataset(
            os.path.join(root, split), decode=False, extensions=list(sources.IMAGE_EXTENSIONS),
            class_indexing={c: i for i, c in enumerate(class_names)}, sampler=sampler,
            num_parallel_workers=num_parallel_workers)
    dataset.class_names = class_names
    dataset.shard_info = ShardInfo(name, seed, shard_id or 0, num_shards or 1, training)
    return dataset


def _array_source(name, root, split, seed, training, in_channels, image_size, num_classes, synthetic_length):
    """(class names, random-access source over the whole split) for in-memory datasets."""
    if name == "synthetic":
        length = synthetic_length or SYNTHETIC_LENGTH[training]
        split_seed = seed * 2 + int(training)
        source = sources.SyntheticSource(image_size, num_classes, length, in_channels, split_seed)
        return [str(i) for i in range(num_classes)], source
    train_half = sources.is_training_split(name, split)
    if root is None:
        raise sources.DatasetLayoutError(f"{name} needs root= (the folder with its files)")
    if name in ("cifar10", "cifar100"):
        images, labels = sources.read_cifar(name, root, train_half)
    else:
        images, labels = sources.read_idx_pair(root, train_half)
    return read_class_names(name, root, split), sources.ArraySource(images, labels, in_channels)
