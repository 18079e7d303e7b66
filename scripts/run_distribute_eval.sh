#!/usr/bin/env bash
# Validation of a checkpoint on one node with one msrun worker per device (8 by default). The split is
# partitioned over the workers without padding; top-1/top-5/loss are summed over them (exact, any split size).
#
#   bash scripts/run_distribute_eval.sh CONFIG DATA_DIR CKPT_PATH [validate.py options...]
#   e.g. bash scripts/run_distribute_eval.sh configs/resnetv2/resnetv2_50_ascend.yaml /data/imagenet resnetv2_50.ckpt
#
# Environment: WORKERS (8), MASTER_PORT (8118), LOG_DIR (./msrun_log), BIND_CORE (True).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/msrun_common.sh"

[[ $# -ge 3 ]] || usage_error "expected CONFIG, DATA_DIR and CKPT_PATH"
CONFIG="$1"; DATA_DIR="$2"; CKPT_PATH="$3"; shift 3
WORKERS="${WORKERS:-8}"
require_file "$CONFIG" "CONFIG"
require_file "$CKPT_PATH" "CKPT_PATH"
require_count "$WORKERS" "WORKERS"

run_msrun --worker_num "$WORKERS" --local_worker_num "$WORKERS" \
    "$REPO_ROOT/validate.py" -c "$CONFIG" --data_dir "$DATA_DIR" --ckpt_path "$CKPT_PATH" --distribute True "$@"
