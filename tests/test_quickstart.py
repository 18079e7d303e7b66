"""The quick-start recipe on real Fashion-MNIST, shortened: train.py then validate.py, as a user runs them.

A newcomer's first run must learn something real, not just finish: the shortened run (a few thousand training
images, one epoch, a smaller batch so it still takes ~100 updates) must be clearly better than chance (10%) on
real test images. validate.py is pointed at the epoch checkpoint train.py wrote, with the run's own recipe.yaml.
"""
import json
import os
import subprocess
import sys

import pytest
import yaml

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RECIPE = os.path.join(REPO, "configs", "resnetv2", "preact_resnet_fashion_mnist_cpu.yaml")
SHORTENED = ["--num_samples", "3072", "--epoch_size", "1", "--decay_epochs", "1", "--batch_size", "32",
             "--lr", "0.05", "--val_while_train", "False", "--log_interval", "32"]
VALIDATION_IMAGES = 2000
MIN_TOP1 = 60.0


def _run(script, args, cwd):
    completed = subprocess.run([sys.executable, os.path.join(REPO, script)] + args, cwd=cwd, capture_output=True,
                               text=True, timeout=900)
    assert completed.returncode == 0, f"{script} failed:\n{completed.stdout[-3000:]}\n{completed.stderr[-3000:]}"
    return completed


@pytest.mark.slow
def test_shortened_quickstart_learns_fashion_mnist(tmp_path):
    with open(RECIPE) as handle:
        data_dir = yaml.safe_load(handle)["data_dir"]
    if not os.path.isfile(os.path.join(data_dir, "t10k-images-idx3-ubyte.gz")):
        pytest.fail(f"Fashion-MNIST is not in {data_dir}: install it with `apt-get install -y dataset-fashion-mnist` "
                    f"(scripts/setup_tests.sh does)")
    run_dir = tmp_path / "run"
    _run("train.py", ["-c", RECIPE, "--ckpt_save_dir", str(run_dir)] + SHORTENED, cwd=tmp_path)

    checkpoint = run_dir / "preact_resnet20_cifar-1_96.ckpt"
    assert checkpoint.is_file(), f"expected {checkpoint.name}; the run wrote {sorted(os.listdir(run_dir))}"
    for name in ("metrics.csv", "learning_curves.png", "recipe.yaml", "train_rank0.log"):
        assert (run_dir / name).is_file(), name

    result_file = tmp_path / "validation.json"
    _run("validate.py", ["-c", str(run_dir / "recipe.yaml"), "--ckpt_path", str(checkpoint),
                         "--num_samples", str(VALIDATION_IMAGES), "--metrics_json", str(result_file)], cwd=tmp_path)
    result = json.loads(result_file.read_text())
    assert result["split"] == "test" and result["num_samples"] == VALIDATION_IMAGES
    assert result["top1"] >= MIN_TOP1, f"top-1 {result['top1']:.2f}% after the shortened run (chance is 10%)"
    assert result["top1"] <= result["top5"] <= 100
