"""Fine-tuning on CPU, measured: the quick start's Fashion-MNIST network taken to scikit-learn's handwritten digits
four ways (linear probe, stem + 2 stages frozen, full fine-tune, and the same recipe from scratch), each a
`python train.py` run of configs/resnetv2/preact_resnet_digits_finetune_cpu.yaml; prints a Markdown table of
the validation top-1 and the wall time of each (docs/fine_tuning.md; the figures are in docs/measurements.md).

    pip install -e ".[cpu,digits]"
    python scripts/finetune_digits.py                         # trains the source first (1 epoch, 12,000 images)
    python scripts/finetune_digits.py --source ckpt/preact_resnet_fashion_mnist_cpu/preact_resnet20_cifar_best.ckpt

Every run writes into --out (default ./ckpt/finetune_digits, which must not hold an earlier measurement).
"""
import argparse
import csv
import os
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
if ROOT not in sys.path:  # this checkout's package
    sys.path.insert(0, ROOT)

from mindcv_resnetv2.data.digits import prepare_digits  # noqa: E402

SOURCE_RECIPE = os.path.join(ROOT, "configs", "resnetv2", "preact_resnet_fashion_mnist_cpu.yaml")
RECIPE = os.path.join(ROOT, "configs", "resnetv2", "preact_resnet_digits_finetune_cpu.yaml")
VARIANTS = (  # (name, what train.py gets beyond the recipe; True = from the source checkpoint)
    ("linear probe (freeze_backbone)", ["--freeze_backbone", "True"], True),
    ("stem + 2 stages frozen (freeze_stages 2)", ["--freeze_stages", "2"], True),
    ("full fine-tune", [], True),
    ("from scratch", [], False),
)


def train(folder, argv):
    """Seconds of `python train.py argv --ckpt_save_dir folder`, and its metrics.csv rows; a failed run stops here."""
    start = time.perf_counter()
    subprocess.run([sys.executable, os.path.join(ROOT, "train.py"), *argv, "--ckpt_save_dir", folder], check=True,
                   cwd=ROOT)
    seconds = time.perf_counter() - start
    with open(os.path.join(folder, "metrics.csv"), newline="") as handle:
        return seconds, list(csv.DictReader(handle))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", help="the Fashion-MNIST checkpoint to start from (default: train one)")
    parser.add_argument("--fashion_mnist_dir", default="/usr/share/datasets/fashion-mnist",
                        help="IDX files for training the source (default: where dataset-fashion-mnist puts them)")
    parser.add_argument("--data_dir", default=os.path.join(ROOT, "data", "digits"), help="the digits ImageFolder")
    parser.add_argument("--out", default=os.path.join(ROOT, "ckpt", "finetune_digits"), help="run folders")
    parser.add_argument("--epoch_size", type=int, default=10, help="fine-tuning epochs (the recipe's: 10)")
    args = parser.parse_args(argv)
    record = prepare_digits(args.data_dir)
    source = args.source
    if not source:
        folder = os.path.join(args.out, "source")
        seconds, _ = train(folder, ["-c", SOURCE_RECIPE, "--data_dir", args.fashion_mnist_dir, "--num_samples",
                                    "12000", "--epoch_size", "1", "--decay_epochs", "1"])
        source = os.path.join(folder, "preact_resnet20_cifar_best.ckpt")
        print(f"source: {source} (1 epoch on 12,000 Fashion-MNIST images, {seconds:.0f} s)")
    common = ["-c", RECIPE, "--data_dir", args.data_dir, "--epoch_size", str(args.epoch_size), "--decay_epochs",
              str(args.epoch_size)]
    rows = []
    for index, (name, extra, from_source) in enumerate(VARIANTS):
        seconds, metrics = train(os.path.join(args.out, f"variant{index}"),
                                 common + (["--ckpt_path", source] if from_source else []) + extra)
        top1 = [float(row["val_top1"]) for row in metrics]
        rows.append(f"| {name} | {top1[-1]:.2f} | {max(top1):.2f} | {seconds:.0f} |")
    print(f"\nDigits: {sum(record['train'].values())} train / {sum(record['val'].values())} val images, "
          f"{args.epoch_size} epochs, recipe {os.path.relpath(RECIPE, ROOT)}\n")
    print("| variant | val top-1 % (last epoch) | val top-1 % (best epoch) | wall time s (train.py, incl. start-up) |")
    print("|---|---|---|---|")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
