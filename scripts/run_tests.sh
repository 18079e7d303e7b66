#!/usr/bin/env bash
# The test suite as CI runs it: scripts/setup_tests.sh, then pytest in the same interpreter (the project's .venv
# unless a virtual env is active or $PYTHON is set). Arguments go to pytest: `bash scripts/run_tests.sh -m "not slow"`.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_tests.sh
source scripts/python_env.sh
exec "$PYTHON" -m pytest -q "$@"
