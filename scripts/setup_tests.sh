#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine, into the project's .venv (or the virtual env that is
# active, or $PYTHON; see scripts/python_env.sh): the package with its cpu and test extras, the Debian package
# with the Fashion-MNIST IDX files (tests read real images from it), and the reference implementations for the
# equivalence tests.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/python_env.sh
if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q && $SUDO apt-get install -y -q dataset-fashion-mnist
fi
# The test extra brings tensorboard (tests/test_summary.py reads event files back); pinned to the release tested.
"$PYTHON" -m pip install -q -e ".[cpu,test]" tensorboard==2.21.0
# Reference implementations the equivalence tests compare against (tests/test_reference_equivalence.py):
# MindCV's own resnetv2, and timm's on the CPU build of PyTorch 2.13.0 (an unpinned torch pulls a CUDA build
# of several GB). --no-deps keeps them from replacing MindSpore or NumPy; timm's torchvision is not needed.
"$PYTHON" -m pip install -q torch==2.13.0
"$PYTHON" -m pip install -q --no-deps timm==1.0.31 mindcv==0.3.0
