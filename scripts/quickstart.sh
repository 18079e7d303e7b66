#!/usr/bin/env bash
# Quick start on real images: installs what is missing (the package with MindSpore 2.8.0 for CPU, the Debian
# package with Fashion-MNIST), trains a pre-activation ResNet-20 with the recipe below, then validates the best
# checkpoint on the 10,000 test images with validate.py; the validation result is the last line printed.
#
#   bash scripts/quickstart.sh                    # run from anywhere inside the clone
#   bash scripts/quickstart.sh --epoch_size 1     # extra arguments go to train.py (any recipe key)
#
# Running it again continues an interrupted run (--resume auto) and, once the run is complete, only validates.
# Python packages go into the project's .venv (created on first use), or into the virtual env that is active, or
# into $PYTHON's environment when PYTHON is set (scripts/python_env.sh): the user's own Python is left alone.
# RUN_DIR chooses the run folder (default ./ckpt/preact_resnet_fashion_mnist_cpu) and DATA_DIR a folder that
# already holds the four Fashion-MNIST IDX files (then nothing is installed with apt).
set -euo pipefail
cd "$(dirname "$0")/.."

RECIPE=configs/resnetv2/preact_resnet_fashion_mnist_cpu.yaml
RUN_DIR=${RUN_DIR:-./ckpt/preact_resnet_fashion_mnist_cpu}
source scripts/python_env.sh

DATA_DIR=${DATA_DIR:-}
if [ -z "$DATA_DIR" ]; then
    if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
        echo "quickstart: installing the Debian package dataset-fashion-mnist (needs root or sudo)"
        export DEBIAN_FRONTEND=noninteractive
        SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
        $SUDO apt-get update -q && $SUDO apt-get install -y -q dataset-fashion-mnist
    fi
    DATA_DIR=$(dirname "$(dpkg -L dataset-fashion-mnist | grep -m1 'train-images-idx3-ubyte')")
fi

if ! "$PYTHON" -c "import mindcv_resnetv2, mindspore" >/dev/null 2>&1; then
    echo "quickstart: installing this package with MindSpore for CPU (pip install -e \".[cpu]\")"
    "$PYTHON" -m pip install -q -e ".[cpu]"
fi

start=$SECONDS
"$PYTHON" train.py -c "$RECIPE" --data_dir "$DATA_DIR" --ckpt_save_dir "$RUN_DIR" --resume auto "$@"
train_seconds=$((SECONDS - start))

# The run's own resolved recipe (recipe.yaml) describes the network of its checkpoints, whatever was overridden;
# num_samples is reset because in validate.py it would shorten the test set instead of the training set.
best=("$RUN_DIR"/*_best.ckpt)
if [ ! -f "${best[0]}" ]; then
    echo "quickstart: no *_best.ckpt in $RUN_DIR (training ran without val_while_train?); nothing to validate" >&2
    exit 1
fi
start=$SECONDS
"$PYTHON" validate.py -c "$RUN_DIR/recipe.yaml" --num_samples null --ckpt_path "${best[0]}" \
    --metrics_json "$RUN_DIR/validation.json"
validate_seconds=$((SECONDS - start))

echo "quickstart: training ${train_seconds} s, validation ${validate_seconds} s; learning curves in" \
     "$RUN_DIR/learning_curves.png"
"$PYTHON" - "$RUN_DIR/validation.json" <<'EOF'
import json, sys
result = json.load(open(sys.argv[1]))
print(f"quickstart: {result['model']} on Fashion-MNIST {result['split']}: top-1 {result['top1']:.2f}%, "
      f"top-5 {result['top5']:.2f}% over {result['num_samples']} images ({result['checkpoint']})")
EOF
