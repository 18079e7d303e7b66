"""Tiny on-disk datasets for the data-pipeline tests (written in the real formats)."""
import gzip
import os

import numpy as np
from PIL import Image


def make_image_folder(root, split="train", classes=("cat", "dog"), per_class=3, size=(40, 30), seed=0, ext=".jpg"):
    rng = np.random.default_rng(seed)
    for name in classes:
        folder = os.path.join(root, split, name)
        os.makedirs(folder, exist_ok=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
            Image.fromarray(pixels).save(os.path.join(folder, f"img{i}{ext}"))
    return str(root)


def write_cifar(root, name, train_count=6, test_count=4, seed=0):
    """CIFAR binary files; labels are i % num_classes so tests can check them."""
    rng = np.random.default_rng(seed)
    folder = os.path.join(root, {"cifar10": "cifar-10-batches-bin", "cifar100": "cifar-100-binary"}[name])
    os.makedirs(folder, exist_ok=True)
    classes = 10 if name == "cifar10" else 100

    def records(count, offset):
        rows = []
        for i in range(count):
            label = (i + offset) % classes
            head = [label] if name == "cifar10" else [label // 5, label]
            rows.append(np.concatenate([np.array(head, np.uint8), rng.integers(0, 256, 3072, dtype=np.uint8)]))
        return np.stack(rows)

    if name == "cifar10":
        for b in range(1, 6):
            records(train_count, b).tofile(os.path.join(folder, f"data_batch_{b}.bin"))
        records(test_count, 0).tofile(os.path.join(folder, "test_batch.bin"))
    else:
        records(train_count, 0).tofile(os.path.join(folder, "train.bin"))
        records(test_count, 0).tofile(os.path.join(folder, "test.bin"))
    return str(root)


def write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if path.endswith(".gz"):
        with gzip.open(path, "wb") as f:
            f.write(data)
    else:
        with open(path, "wb") as f:
            f.write(data)


def write_mnist(root, train_count=7, test_count=5, gz=False, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(root, exist_ok=True)
    suffix = ".gz" if gz else ""
    for prefix, count in (("train", train_count), ("t10k", test_count)):
        write_idx(os.path.join(root, f"{prefix}-images-idx3-ubyte{suffix}"),
                  rng.integers(0, 256, (count, 28, 28), dtype=np.uint8))
        write_idx(os.path.join(root, f"{prefix}-labels-idx1-ubyte{suffix}"), np.arange(count) % 10)
    return str(root)


def collect(loader):
    """All batches of a loader as numpy (images, labels) lists."""
    batches = list(loader.create_tuple_iterator(output_numpy=True))
    return [b[0] for b in batches], [b[1] for b in batches]


def labels_of(dataset):
    return [int(row[1]) for row in dataset.create_tuple_iterator(output_numpy=True)]
