"""A tiny learnable ImageFolder and a runner for the entry points, for end-to-end tests."""
import csv
import json
import os
import subprocess
import sys

import numpy as np
from PIL import Image

import instrumented_train
from instrumented_train import REPO

COLOURS = ((220, 40, 40), (40, 200, 60), (50, 70, 230), (230, 210, 40))


def make_colour_folder(root, classes=3, train_per_class=8, val_per_class=3, size=16, seed=0):
    """Noisy images whose dominant colour is their class: a net learns them in a few steps."""
    rng = np.random.default_rng(seed)
    for split, count in (("train", train_per_class), ("val", val_per_class)):
        for label in range(classes):
            folder = os.path.join(root, split, f"class_{label}")
            os.makedirs(folder, exist_ok=True)
            for i in range(count):
                noise = rng.normal(0, 40, (size, size, 3))
                pixels = np.clip(np.array(COLOURS[label]) + noise, 0, 255).astype(np.uint8)
                Image.fromarray(pixels).save(os.path.join(folder, f"{i}.png"))
    return str(root)


def tiny_recipe_args(data_dir, ckpt_dir, epochs=2, **overrides):
    """Command-line overrides of the quick CPU recipe for a run on make_colour_folder data."""
    args = {
        "dataset": "imagenet",
        "data_dir": data_dir,
        "ckpt_save_dir": ckpt_dir,
        "image_resize": 16,
        "crop_padding": 2,
        "num_classes": None,
        "batch_size": 8,
        "epoch_size": epochs,
        "decay_epochs": epochs,
        "lr": 0.05,
        "num_parallel_workers": 1,
        "log_interval": 1,
        "val_while_train": True,
        "keep_checkpoint_max": 10,
    }
    args.update(overrides)
    argv = ["-c", os.path.join(REPO, "configs", "resnetv2", "resnetv2_cpu_quick.yaml")]
    for key, value in args.items():
        argv += [f"--{key}", "null" if value is None else str(value)]
    return argv


def run_counted_train(argv, out_dir, timeout=600, **seams):
    """train.py in a fresh interpreter that records in `out_dir` what the run did (tests/instrumented_train.py:
    datasets, compiled graphs, device and host reads per epoch, final step state), with the given seams."""
    return subprocess.run([sys.executable] + instrumented_train.command(out_dir, argv, **seams), capture_output=True,
                          text=True, timeout=timeout, cwd=REPO)


def run_entry(script, argv, timeout=600, **popen):
    """Run train.py / validate.py in a fresh interpreter; returns the CompletedProcess (text output)."""
    return subprocess.run([sys.executable, os.path.join(REPO, script)] + list(argv), capture_output=True, text=True,
                          timeout=timeout, cwd=REPO, **popen)


def read_json(path):
    with open(path) as handle:
        return json.load(handle)


def read_confusion(folder):
    """(class names, int matrix [true, predicted]) of the confusion_matrix.csv in `folder`; its header and first
    column must name the same classes."""
    from mindcv_resnetv2.engine.per_class import CONFUSION_CSV, CORNER

    with open(os.path.join(folder, CONFUSION_CSV), newline="") as handle:
        header, *rows = list(csv.reader(handle))
    assert header[0] == CORNER and header[1:] == [row[0] for row in rows], header
    return header[1:], np.array([row[1:] for row in rows], np.int64)

