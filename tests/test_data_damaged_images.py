"""Damaged image files: every path that decodes refuses them with UnreadableImageError naming the file.

MindSpore 2.8's Decode and RandomCropDecodeResize kill the process (SIGFPE) on a JPEG cut between its frame header
and its scan, and hang on some cut progressive JPEGs. Code that may meet such a file in a MindSpore decoder runs in a
child process here, so a signal death or a hang fails the test instead of killing pytest.
"""
import os

import pytest

from engine_fixtures import make_colour_folder, run_entry, tiny_recipe_args
from mindcv_resnetv2.checkpoint import save_checkpoint
from mindcv_resnetv2.models import create_model

MODEL = "preact_resnet20_cifar"


def cut_jpeg(path, length=200):
    """A JPEG cut after `length` bytes (`head -c 200 good.jpg > bad.jpg`): frame header present, scan missing."""
    from PIL import Image
    import numpy as np
    pixels = np.random.default_rng(0).integers(0, 256, (16, 16, 3), dtype=np.uint8)
    Image.fromarray(pixels).save(path)
    with open(path, "rb") as handle:
        data = handle.read()
    with open(path, "wb") as handle:
        handle.write(data[:length])
    return path


@pytest.fixture(scope="module")
def damaged_folder(tmp_path_factory):
    """A tiny ImageFolder (PNG images) with one cut JPEG in train/ and in val/."""
    root = make_colour_folder(str(tmp_path_factory.mktemp("damaged")), classes=2, train_per_class=2,
                              val_per_class=2)
    for split in ("train", "val"):
        cut_jpeg(os.path.join(root, split, "class_1", "cut.jpg"))
    return root


@pytest.mark.slow
@pytest.mark.parametrize("script, crop_padding", [
    ("train.py", "null"),  # ImageNet-style training: decode fused with random-resized-crop
    ("train.py", "2"),  # small-image training: plain decode, resize, padded crop
    ("validate.py", "2"),  # evaluation: plain decode, resize, center crop
])
def test_a_cut_jpeg_is_one_line_naming_it(damaged_folder, tmp_path, script, crop_padding):
    argv = tiny_recipe_args(damaged_folder, str(tmp_path / "run"), epochs=1, batch_size=2, crop_padding=crop_padding)
    if script == "validate.py":
        save_checkpoint(create_model(MODEL, num_classes=2), str(tmp_path / "model.ckpt"))
        argv += ["--ckpt_path", str(tmp_path / "model.ckpt")]
    result = run_entry(script, argv, timeout=300)
    split = "val" if script == "validate.py" else "train"
    bad = os.path.join(damaged_folder, split, "class_1", "cut.jpg")
    assert result.returncode == 1, (result.returncode, result.stderr[-2000:])
    errors = [line for line in result.stderr.splitlines() if line.startswith(script[:-3] + ": error:")]
    assert len(errors) == 1 and repr(bad) in errors[0], result.stderr[-2000:]
