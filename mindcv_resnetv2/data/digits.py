"""scikit-learn's bundled handwritten digits (1,797 8x8 gray images, 10 classes, no download) written once as an
ImageFolder, a small real labelled set to fine-tune on, on CPU.

    python -m mindcv_resnetv2.data.digits ./data/digits     # needs: pip install -e ".[digits]"

writes ./data/digits/{train,val}/<digit>/<sample index>.png: per class a fixed fraction goes to val, chosen by a
seeded permutation, so every run of the same seed writes the same split. Pixels are the set's 0-16 values scaled
to 0-255. A `digits.json` in the folder records the split and marks it complete; a second call reuses it.
"""
import argparse
import json
import os

import numpy as np
from PIL import Image

from ..errors import InvalidInputError
from ..utils.files import write_text_atomic

SPLITS = ("train", "val")
RECORD = "digits.json"
GRAY_LEVELS = 16  # the set's pixel values are 0..16


def load_digits():
    """(images uint8 N x 8 x 8 on 0-255, labels): the one call into scikit-learn."""
    try:
        from sklearn.datasets import load_digits as sklearn_digits
    except ImportError:
        raise InvalidInputError("the digits data set comes with scikit-learn: pip install -e \".[digits]\" "
                                "(or pip install scikit-learn)") from None
    digits = sklearn_digits()
    images = np.rint(digits.images * (255.0 / GRAY_LEVELS)).astype(np.uint8)
    return images, digits.target.astype(np.int64)


def split_indices(labels, val_fraction, seed):
    """{split: sorted sample indices}: per class round(count x val_fraction) samples to val, by a seeded
    permutation of that class's samples."""
    rng = np.random.default_rng(seed)
    val = []
    for label in np.unique(labels):
        members = np.flatnonzero(labels == label)
        val.extend(rng.permutation(members)[:int(round(len(members) * val_fraction))])
    val = np.sort(np.array(val, np.int64))
    return {"train": np.setdiff1d(np.arange(len(labels)), val), "val": val}


def prepare_digits(root, val_fraction=0.2, seed=0):
    """Write the digits ImageFolder into `root` (new or empty), or reuse the one written there before with the
    same split; returns its record: {split: {digit: image count}}, val_fraction, seed and the pixel statistics of
    the train split (mean, std on 0-255, the recipe's mean/std)."""
    if not 0 < val_fraction < 1:
        raise InvalidInputError(f"val_fraction must be between 0 and 1, got {val_fraction!r}")
    record_path = os.path.join(root, RECORD)
    if os.path.isfile(record_path):
        with open(record_path) as handle:
            record = json.load(handle)
        if (record["val_fraction"], record["seed"]) != (val_fraction, seed):
            raise InvalidInputError(f"{root} holds the digits split with val_fraction {record['val_fraction']} and "
                                    f"seed {record['seed']}; give another folder for val_fraction {val_fraction}, "
                                    f"seed {seed}")
        return record
    if os.path.isdir(root) and os.listdir(root):
        raise InvalidInputError(f"{root} is not empty and holds no {RECORD}: give a new or empty folder for the "
                                f"digits ImageFolder")
    images, labels = load_digits()
    record = {"val_fraction": val_fraction, "seed": seed}
    for split, indices in split_indices(labels, val_fraction, seed).items():
        counts = {}
        for index in indices:
            digit = str(labels[index])
            folder = os.path.join(root, split, digit)
            os.makedirs(folder, exist_ok=True)
            Image.fromarray(images[index], mode="L").save(os.path.join(folder, f"{index:04d}.png"))
            counts[digit] = counts.get(digit, 0) + 1
        record[split] = dict(sorted(counts.items()))
        if split == "train":
            pixels = images[indices].astype(np.float64)
            record["train_mean_255"], record["train_std_255"] = round(pixels.mean(), 2), round(pixels.std(), 2)
    write_text_atomic(record_path, json.dumps(record, indent=1) + "\n", what="digits record")  # last: complete
    return record


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("root", help="new or empty folder; gets train/ and val/")
    parser.add_argument("--val_fraction", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    record = prepare_digits(args.root, args.val_fraction, args.seed)
    print(f"digits ImageFolder in {args.root}: " + ", ".join(f"{split} {sum(record[split].values())} images"
                                                             for split in SPLITS))


if __name__ == "__main__":
    main()
