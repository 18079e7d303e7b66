#!/usr/bin/env bash
# The test suite as CI runs it: scripts/setup_tests.sh, then pytest in the same interpreter (the project's .venv
# unless a virtual env is active or $PYTHON is set). Arguments go to pytest: `bash scripts/run_tests.sh -m "not slow"`.
# Two pytest workers (TEST_WORKERS=N for another count, 0 for one process), each taking whole test files, so a
# file's module fixtures are built once and its tests run in order; msrun tests pick free ports.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup_tests.sh
source scripts/python_env.sh
exec "$PYTHON" -m pytest -q -n "${TEST_WORKERS:-2}" --dist loadfile "$@"
