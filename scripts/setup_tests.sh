#!/usr/bin/env bash
# Installs what the test suite needs on a fresh machine: the package with its cpu and test extras, and the
# Debian package with the Fashion-MNIST IDX files (tests read real images from it).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! dpkg -s dataset-fashion-mnist >/dev/null 2>&1; then
    export DEBIAN_FRONTEND=noninteractive
    SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO="sudo"
    $SUDO apt-get update -q && $SUDO apt-get install -y -q dataset-fashion-mnist
fi
python -m pip install -q -e ".[cpu,test]"
