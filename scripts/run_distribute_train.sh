#!/usr/bin/env bash
# Data-parallel training on one node: one msrun worker per device (8 by default).
#
#   bash scripts/run_distribute_train.sh CONFIG DATA_DIR [train.py options...]
#   e.g. bash scripts/run_distribute_train.sh configs/resnetv2/resnetv2_50_ascend.yaml /data/imagenet
#
# The recipe's lr is for its global batch, batch_size x WORKERS (docs/distributed.md).
# Environment: WORKERS (8), MASTER_PORT (8118), LOG_DIR (./msrun_log), BIND_CORE (True).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/msrun_common.sh"

[[ $# -ge 2 ]] || usage_error "expected CONFIG and DATA_DIR"
CONFIG="$1"; DATA_DIR="$2"; shift 2
WORKERS="${WORKERS:-8}"
require_file "$CONFIG" "CONFIG"
require_count "$WORKERS" "WORKERS"

run_msrun --worker_num "$WORKERS" --local_worker_num "$WORKERS" \
    "$REPO_ROOT/train.py" -c "$CONFIG" --data_dir "$DATA_DIR" --distribute True "$@"
