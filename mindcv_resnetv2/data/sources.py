"""Readers for the on-disk layouts: ImageFolder trees, CIFAR binary releases, MNIST-style IDX files, synthetic data.

Each reader checks the layout and raises ``DatasetLayoutError`` naming the path and the layout it expected, so a
wrong ``root`` fails at start-up instead of deep inside MindSpore's C++ engine.
"""
import gzip
import os

import numpy as np

from ..errors import InvalidInputError, UserError

# What MindSpore's ImageFolderDataset is told to read; the scan below applies the same filter.
IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp",
                    ".JPG", ".JPEG", ".PNG", ".BMP", ".TIF", ".TIFF", ".WEBP")

IMAGEFOLDER_LAYOUT = "ROOT/<split>/<class name>/<image file> (e.g. ROOT/train/n01440764/img_001.JPEG)"
CIFAR_LAYOUT = {
    "cifar10": "ROOT/cifar-10-batches-bin/{data_batch_1..5,test_batch}.bin (the CIFAR-10 binary version)",
    "cifar100": "ROOT/cifar-100-binary/{train,test}.bin (the CIFAR-100 binary version)",
}
IDX_LAYOUT = "ROOT/{train,t10k}-{images-idx3,labels-idx1}-ubyte (raw or .gz, as distributed)"

CIFAR_DIRS = {"cifar10": "cifar-10-batches-bin", "cifar100": "cifar-100-binary"}
CIFAR_FILES = {
    ("cifar10", True): [f"data_batch_{i}.bin" for i in range(1, 6)],
    ("cifar10", False): ["test_batch.bin"],
    ("cifar100", True): ["train.bin"],
    ("cifar100", False): ["test.bin"],
}
CIFAR_NAME_FILES = {"cifar10": "batches.meta.txt", "cifar100": "fine_label_names.txt"}
CIFAR_NUM_CLASSES = {"cifar10": 10, "cifar100": 100}
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker",
                         "Bag", "Ankle boot"]


class DatasetLayoutError(FileNotFoundError, UserError):
    """The data on disk is missing or not laid out as expected; the message names the path and the layout."""


def is_training_split(name, split):
    """Map a recipe split name to the train/test half of a two-split dataset (CIFAR, MNIST): val and test = test set."""
    if split == "train":
        return True
    if split in ("val", "test"):
        return False
    raise InvalidInputError(f"{name} has a training set and a test set: split must be 'train', or 'val'/'test' "
                            f"(both read the test set), got {split!r}")


def _refuse_non_utf8(path, what):
    """MindSpore hands folder paths and class names to its C++ reader as UTF-8: a name that is not cannot be read."""
    try:
        path.encode("utf-8")
    except UnicodeEncodeError:
        raise DatasetLayoutError(f"{what} {os.fsencode(path)!r} has a name that is not UTF-8, which MindSpore's "
                                 f"ImageFolderDataset cannot read; rename it to a UTF-8 name") from None


def scan_image_folder(root, split):
    """(class names sorted by folder name, image count per class) of ``root/split``; errors name the bad folder."""
    if not os.path.isdir(root):
        raise DatasetLayoutError(f"dataset root {root!r} is not a directory; expected {IMAGEFOLDER_LAYOUT}")
    split_dir = os.path.join(root, split)
    if not os.path.isdir(split_dir):
        present = sorted(e.name for e in os.scandir(root) if e.is_dir())
        raise DatasetLayoutError(f"split folder {split_dir!r} does not exist (folders in root: {present}); "
                                 f"expected {IMAGEFOLDER_LAYOUT}")
    _refuse_non_utf8(split_dir, "split folder")
    class_dirs = sorted(e.name for e in os.scandir(split_dir) if e.is_dir())
    if not class_dirs:
        raise DatasetLayoutError(f"split folder {split_dir!r} has no class folders; expected {IMAGEFOLDER_LAYOUT}")
    counts = []
    for name in class_dirs:
        class_dir = os.path.join(split_dir, name)
        _refuse_non_utf8(class_dir, "class folder")
        entries = [e for e in os.scandir(class_dir) if e.is_file()]
        images = [e for e in entries if e.name.endswith(IMAGE_EXTENSIONS)]
        if not images:
            what = "is empty" if not entries else f"has {len(entries)} files but no images"
            raise DatasetLayoutError(f"class folder {class_dir!r} {what}; every class folder needs at least one "
                                     f"image with an extension in {sorted(set(x.lower() for x in IMAGE_EXTENSIONS))}; "
                                     f"expected {IMAGEFOLDER_LAYOUT}")
        counts.append(len(images))
    return class_dirs, counts


def _cifar_dir(name, root):
    nested = os.path.join(root, CIFAR_DIRS[name])
    return nested if os.path.isdir(nested) else root


def cifar_class_names(name, root):
    """Class names from the release's name file; ``str(index)`` when it is absent."""
    path = os.path.join(_cifar_dir(name, root), CIFAR_NAME_FILES[name])
    if os.path.isfile(path):
        with open(path, encoding="utf-8") as f:
            names = [line.strip() for line in f if line.strip()]
        if len(names) == CIFAR_NUM_CLASSES[name]:
            return names
    return [str(i) for i in range(CIFAR_NUM_CLASSES[name])]


def read_cifar(name, root, training):
    """(images uint8 N x 32 x 32 x 3, labels int32 N) of a CIFAR binary release; CIFAR-100 uses fine labels."""
    folder = _cifar_dir(name, root)
    files = [os.path.join(folder, f) for f in CIFAR_FILES[(name, training)]]
    missing = [f for f in files if not os.path.isfile(f)]
    if missing:
        raise DatasetLayoutError(f"{name} file(s) missing: {missing}; expected {CIFAR_LAYOUT[name]} "
                                 f"(or pass download=True)")
    label_bytes = 1 if name == "cifar10" else 2
    record = label_bytes + 3 * 32 * 32
    chunks = []
    for path in files:
        raw = np.fromfile(path, dtype=np.uint8)
        if raw.size == 0 or raw.size % record:
            raise DatasetLayoutError(f"{path!r} has {raw.size} bytes, not a multiple of the {record}-byte "
                                     f"{name} record; expected {CIFAR_LAYOUT[name]}")
        chunks.append(raw.reshape(-1, record))
    rows = np.concatenate(chunks)
    labels = rows[:, label_bytes - 1].astype(np.int32)
    images = rows[:, label_bytes:].reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def _idx_path(root, stem):
    for candidate in (os.path.join(root, stem), os.path.join(root, stem + ".gz")):
        if os.path.isfile(candidate):
            return candidate
    raise DatasetLayoutError(f"IDX file {os.path.join(root, stem)!r} (or .gz) not found; expected {IDX_LAYOUT} "
                             f"(or pass download=True)")


def read_idx(path):
    """An IDX array (the MNIST file format) from a raw or gzip-compressed file."""
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        data = f.read()
    if len(data) < 4 or data[0] != 0 or data[1] != 0 or data[2] != 0x08:
        raise DatasetLayoutError(f"{path!r} is not an unsigned-byte IDX file (bad magic number)")
    ndim = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim)
    if body.size != int(np.prod(shape)):
        raise DatasetLayoutError(f"{path!r} holds {body.size} bytes of data, its header says shape {shape}")
    return body.reshape(shape)


def read_idx_pair(root, training):
    """(images uint8 N x 28 x 28 x 1, labels int32 N) of an MNIST-style dataset."""
    prefix = "train" if training else "t10k"
    images = read_idx(_idx_path(root, f"{prefix}-images-idx3-ubyte"))
    labels = read_idx(_idx_path(root, f"{prefix}-labels-idx1-ubyte")).astype(np.int32)
    if len(images) != len(labels):
        raise DatasetLayoutError(f"{root!r}: {len(images)} {prefix} images but {len(labels)} labels")
    return images[..., None], labels


def idx_class_names(name, root, split, require_files=True):
    """The class names of an MNIST-style dataset whose `split` has its label file in `root`: a data_dir holding
    something else (an ImageFolder given to a Fashion-MNIST recipe) is an error naming the file looked for.
    ``require_files=False`` gives the names without the files (inference on a machine without the dataset)."""
    if require_files:
        prefix = "train" if is_training_split(name, split) else "t10k"
        _idx_path(root, f"{prefix}-labels-idx1-ubyte")
    return FASHION_MNIST_CLASSES if name == "fashion_mnist" else [str(i) for i in range(10)]


class ArraySource:
    """Random-access source for GeneratorDataset over a whole split: row i is (images[i], labels[i]); the dataset's
    sampler decides which rows an epoch reads."""

    def __init__(self, images, labels, in_channels):
        self.images, self.labels, self.in_channels = images, labels, in_channels

    def __len__(self):
        return len(self.labels)

    def __getitem__(self, index):
        return adapt_channels(self.images[index], self.in_channels), self.labels[index]


class SyntheticSource:
    """``length`` random uint8 images and labels; sample j is the same in every epoch and process (keyed by seed, j)."""

    def __init__(self, image_size, num_classes, length, in_channels, seed):
        self.height, self.width = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        self.num_classes, self.length, self.in_channels, self.seed = num_classes, length, in_channels, seed

    def __len__(self):
        return self.length

    def __getitem__(self, index):
        rng = np.random.default_rng([self.seed, int(index)])
        image = rng.integers(0, 256, (self.height, self.width, self.in_channels), dtype=np.uint8)
        return image, np.int32(rng.integers(self.num_classes))


def adapt_channels(image, in_channels):
    """HWC uint8 image with ``in_channels`` channels: gray is repeated to RGB, RGB is averaged to gray."""
    channels = image.shape[-1]
    if channels == in_channels:
        return image
    if channels == 1 and in_channels == 3:
        return np.repeat(image, 3, axis=-1)
    if channels == 3 and in_channels == 1:
        return image.mean(axis=-1, keepdims=True).round().astype(np.uint8)
    raise ValueError(f"cannot turn a {channels}-channel image into {in_channels} channels (in_channels is 1 or 3)")
