"""scikit-learn's digits as the ImageFolder of the CPU fine-tuning recipe: every image once, a seeded split per
class, the pixels as the set has them, reused on a second call, and the recipe's mean/std those of its train split."""
import json
import os

import numpy as np
import pytest
from PIL import Image

from mindcv_resnetv2.config import parse_args
from mindcv_resnetv2.data import create_dataset
from mindcv_resnetv2.data.digits import RECORD, load_digits, prepare_digits
from mindcv_resnetv2.errors import InvalidInputError

RECIPE = os.path.join(os.path.dirname(os.path.dirname(__file__)), "configs", "resnetv2",
                      "preact_resnet_digits_finetune_cpu.yaml")


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    root = str(tmp_path_factory.mktemp("digits") / "folder")
    return root, prepare_digits(root)


def test_every_image_lands_once_in_a_per_class_seeded_split_with_its_pixels(digits):
    root, record = digits
    images, labels = load_digits()
    seen = {}
    for split in ("train", "val"):
        for digit in sorted(os.listdir(os.path.join(root, split))):
            files = sorted(os.listdir(os.path.join(root, split, digit)))
            assert len(files) == record[split][digit]
            for name in files:
                index = int(name[:-4])
                assert index not in seen and labels[index] == int(digit)
                seen[index] = split
                pixels = np.asarray(Image.open(os.path.join(root, split, digit, name)))
                np.testing.assert_array_equal(pixels, images[index])
    assert sorted(seen) == list(range(len(labels)))
    for digit in range(10):  # a fifth of each class in val
        members = [i for i in seen if labels[i] == digit]
        assert sum(seen[i] == "val" for i in members) == round(0.2 * len(members))
    train_pixels = images[[i for i in seen if seen[i] == "train"]].astype(np.float64)
    assert record["train_mean_255"] == round(train_pixels.mean(), 2)


def test_a_second_call_reuses_the_folder_and_other_settings_or_a_used_folder_are_refused(digits, tmp_path):
    root, record = digits
    assert prepare_digits(root) == record
    with pytest.raises(InvalidInputError, match="val_fraction 0.2 and seed 0; give another folder"):
        prepare_digits(root, seed=1)
    (tmp_path / "other.txt").write_text("x")
    with pytest.raises(InvalidInputError, match="is not empty and holds no digits.json"):
        prepare_digits(str(tmp_path))
    with pytest.raises(InvalidInputError, match="val_fraction must be between 0 and 1"):
        prepare_digits(str(tmp_path / "new"), val_fraction=1.0)


def test_the_recipe_reads_the_folder_with_the_train_split_statistics(digits):
    root, record = digits
    cfg = parse_args(["-c", RECIPE, "--data_dir", root])
    assert (cfg.mean, cfg.std) == ([record["train_mean_255"]], [record["train_std_255"]])
    with open(os.path.join(root, RECORD)) as handle:
        assert json.load(handle) == record
    train = create_dataset(cfg.dataset, root, cfg.train_split, shuffle=False, in_channels=cfg.in_channels)
    assert train.get_dataset_size() == sum(record["train"].values())
