"""BiT's fine-tuning HyperRule: the numbers it derives, their conversion to our epoch-based recipe, and the whole
fine-tuning command (`train.py -c configs/resnetv2/bit_finetune.yaml --data_dir X --ckpt_path bit.ckpt
--distribute False`) on Fashion-MNIST from a BiT checkpoint that a quick-start-like run wrote (shortened)."""
import os
import subprocess
import sys

import pytest
import yaml

from mindcv_resnetv2.checkpoint import read_checkpoint
from mindcv_resnetv2.config import parse_args
from mindcv_resnetv2.config.bit_hyperrule import hyperrule, milestones_count_from_warmup_end, recipe_values
from mindcv_resnetv2.optim import create_scheduler

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = os.path.join(REPO, "configs", "resnetv2", "bit_finetune.yaml")
QUICK_RECIPE = os.path.join(REPO, "configs", "resnetv2", "resnetv2_cpu_quick.yaml")
FASHION_MNIST = "/usr/share/datasets/fashion-mnist"


@pytest.mark.parametrize("size, steps, mixup", [
    (19_999, (100, (200, 300, 400), 500), 0.0),
    (20_000, (500, (3000, 6000, 9000), 10_000), 0.1),
    (499_999, (500, (3000, 6000, 9000), 10_000), 0.1),
    (500_000, (500, (6000, 12_000, 18_000), 20_000), 0.1),
])
def test_schedule_and_mixup_follow_the_dataset_size(size, steps, mixup):
    rule = hyperrule(size, 32, 32)
    assert (rule["warmup_steps"], rule["decay_steps"], rule["total_steps"]) == steps
    assert rule["mixup"] == mixup


def test_resolution_follows_the_image_area():
    assert (hyperrule(100, 95, 96)["resize"], hyperrule(100, 95, 96)["crop"]) == (160, 128)
    assert (hyperrule(100, 96, 96)["resize"], hyperrule(100, 96, 96)["crop"]) == (512, 480)


def _lr_at_steps(values, steps_per_epoch, steps):
    rates = create_scheduler(steps_per_epoch, scheduler=values["scheduler"], lr=1.0, min_lr=0.0,
                             warmup_epochs=values["warmup_epochs"], warmup_factor=values["warmup_factor"],
                             decay_rate=values["decay_rate"], milestones=values["multi_step_decay_milestones"],
                             num_epochs=values["epoch_size"])
    return [float(rates[s]) for s in steps], len(rates)


def test_recipe_values_reproduce_the_step_schedule_when_epochs_divide_it():
    """10 steps per epoch on a small set: 500 steps, warm-up to step 100, x0.1 from steps 200, 300, 400."""
    rule = hyperrule(5000, 28, 28)
    values = recipe_values(rule, 10, milestones_count_from_warmup_end())
    assert values["epoch_size"] == 50 and values["warmup_epochs"] == 10 and values["mixup"] == 0.0
    assert values["image_resize"] == 128 and values["scale"] == [0.64, 0.64] and values["crop_pct"] == 1.0
    lrs, total = _lr_at_steps(values, 10, [50, 100, 199, 200, 299, 300, 399, 400, 499])
    assert total == 500
    assert lrs[0] == pytest.approx(0.5)  # linear warm-up, half-way
    assert lrs[1:] == pytest.approx([1.0, 1.0, 0.1, 0.1, 0.01, 0.01, 0.001, 0.001])


def test_explicit_keys_win_and_the_derived_recipe_passes_the_checks():
    if not os.path.isfile(os.path.join(FASHION_MNIST, "train-images-idx3-ubyte.gz")):
        pytest.fail(f"Fashion-MNIST is not in {FASHION_MNIST}: scripts/setup_tests.sh installs it")
    cfg = parse_args(["-c", RECIPE, "--dataset", "fashion_mnist", "--data_dir", FASHION_MNIST, "--val_split", "test",
                      "--batch_size", "128", "--image_resize", "64"])
    # 60,000 images of 28x28: 10,000 steps at 468 steps per epoch, MixUp on, 128-pixel crops (kept at 64 here).
    # x0.1 after 3,000 / 6,000 / 9,000 steps = epochs 6, 13, 19 (counted from the end of warm-up if the scheduler does).
    offset = 1 if milestones_count_from_warmup_end() else 0
    assert (cfg.epoch_size, cfg.warmup_epochs) == (21, 1)
    assert cfg.multi_step_decay_milestones == [6 - offset, 13 - offset, 19 - offset]
    assert cfg.mixup == 0.1 and cfg.image_resize == 64 and cfg.scheduler == "multi_step_decay"


def _bit_recipe(*args):
    # 256 generated training images: 256 // 25 = 10 batches of 25 per epoch on one device.
    return parse_args(["-c", RECIPE, "--dataset", "synthetic", "--batch_size", "25", *args], entry="train")


def test_the_rule_counts_optimizer_updates_of_the_global_batch(monkeypatch, caplog):
    """Under msrun each update takes batch_size x devices (x accumulation) images: an epoch has fewer updates, so the
    rule's 500 updates (warm-up 100) take more epochs than on one device with the same per-device batch."""
    one_device = _bit_recipe()
    assert (one_device.epoch_size, one_device.warmup_epochs) == (50, 10)  # 10 updates per epoch
    accumulated = _bit_recipe("--gradient_accumulation_steps", "2")
    assert (accumulated.epoch_size, accumulated.warmup_epochs) == (100, 20)  # 5 updates per epoch
    monkeypatch.setenv("MS_WORKER_NUM", "2")  # what msrun --worker_num 2 exports in each worker
    with caplog.at_level("INFO", logger="mindcv_resnetv2"):
        two_devices = _bit_recipe("--distribute", "True")
    assert (two_devices.epoch_size, two_devices.warmup_epochs) == (100, 20)  # 128 images per shard: 5 updates
    assert "50 images per update (batch 25 x 2 devices x 1 accumulation step(s)), 5 updates per epoch" in caplog.text
    # Without --distribute the launcher's variables do not count: the run is one device's.
    assert _bit_recipe().epoch_size == 50


def _run(args, cwd):
    done = subprocess.run([sys.executable, os.path.join(REPO, "train.py")] + args, cwd=cwd, capture_output=True,
                          text=True, timeout=1200)
    assert done.returncode == 0, f"train.py failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}"
    return done


@pytest.mark.slow
def test_bit_finetune_recipe_runs_from_a_quick_start_checkpoint(tmp_path):
    if not os.path.isfile(os.path.join(FASHION_MNIST, "train-images-idx3-ubyte.gz")):
        pytest.fail(f"Fashion-MNIST is not in {FASHION_MNIST}: scripts/setup_tests.sh installs it")
    # A quick-start-like run of a BiT net on generated images (4 classes) stands in for the downloaded weights.
    pretrain = tmp_path / "pretrain"
    _run(["-c", QUICK_RECIPE, "--model", "resnetv2_50x1_bit", "--num_classes", "4", "--image_resize", "32",
          "--crop_padding", "0", "--num_samples", "16", "--batch_size", "8", "--epoch_size", "1",
          "--decay_epochs", "1", "--val_while_train", "False", "--ckpt_save_dir", str(pretrain)], tmp_path)
    checkpoint = pretrain / "resnetv2_50x1_bit-1_2.ckpt"
    assert checkpoint.is_file(), sorted(os.listdir(pretrain))

    # The documented command, shortened: 32 images at 64 pixels, one epoch without warm-up.
    finetune = tmp_path / "finetune"
    _run(["-c", RECIPE, "--dataset", "fashion_mnist", "--data_dir", FASHION_MNIST, "--val_split", "test",
          "--ckpt_path", str(checkpoint), "--distribute", "False",
          "--num_samples", "32", "--batch_size", "8", "--image_resize", "64", "--epoch_size", "1",
          "--warmup_epochs", "0", "--val_while_train", "False", "--ckpt_save_dir", str(finetune)], tmp_path)
    finetuned = finetune / "resnetv2_50x1_bit-1_4.ckpt"
    assert finetuned.is_file(), sorted(os.listdir(finetune))
    assert read_checkpoint(finetuned)["classifier.weight"].shape == (10, 2048)  # a new head for the 10 classes
    with open(finetune / "recipe.yaml") as handle:
        saved = yaml.safe_load(handle)
    # The rule's choices for 32 images of 28x28 are what the run used and recorded: no MixUp, 500-step schedule.
    assert saved["mixup"] == 0.0 and saved["scheduler"] == "multi_step_decay" and saved["scale"] == [0.64, 0.64]
    assert saved["bit_hyperrule"] is True and saved["model"] == "resnetv2_50x1_bit"
