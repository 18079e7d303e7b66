#!/usr/bin/env bash
# Data-parallel training on several nodes (2 nodes x 8 devices by default). Run it on every node, the same
# command except NODE_RANK (0 on the node at MASTER_ADDR, then 1, 2, ...); msrun there starts CARDS_PER_NODE
# workers whose ranks are NODE_RANK x CARDS_PER_NODE + 0 .. CARDS_PER_NODE - 1.
#
#   bash scripts/run_multinode_train.sh MASTER_ADDR NODE_RANK CONFIG DATA_DIR [train.py options...]
#   e.g. on node 0: bash scripts/run_multinode_train.sh 192.168.1.10 0 configs/resnetv2/resnetv2_50_ascend.yaml /data/imagenet
#        on node 1: bash scripts/run_multinode_train.sh 192.168.1.10 1 configs/resnetv2/resnetv2_50_ascend.yaml /data/imagenet
#
# MASTER_ADDR: an address of node 0 every node can reach; MASTER_PORT must be free there and open between nodes.
# DATA_DIR must hold the same data on every node; ckpt_save_dir should be on a shared file system, so that
# --resume auto finds rank 0's checkpoints on every node.
# Environment: NODES (2), CARDS_PER_NODE (8), MASTER_PORT (8118), LOG_DIR (./msrun_log), BIND_CORE (True).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/msrun_common.sh"

[[ $# -ge 4 ]] || usage_error "expected MASTER_ADDR, NODE_RANK, CONFIG and DATA_DIR"
MASTER_ADDR="$1"; NODE_RANK="$2"; CONFIG="$3"; DATA_DIR="$4"; shift 4
NODES="${NODES:-2}"
CARDS_PER_NODE="${CARDS_PER_NODE:-8}"
require_file "$CONFIG" "CONFIG"
require_count "$NODES" "NODES"
require_count "$CARDS_PER_NODE" "CARDS_PER_NODE"
[[ "$NODE_RANK" =~ ^[0-9]+$ && "$NODE_RANK" -lt "$NODES" ]] ||
    usage_error "NODE_RANK must be one of 0 .. $((NODES - 1)), got '$NODE_RANK'"

run_msrun --worker_num $((NODES * CARDS_PER_NODE)) --local_worker_num "$CARDS_PER_NODE" \
    --master_addr "$MASTER_ADDR" --node_rank "$NODE_RANK" \
    "$REPO_ROOT/train.py" -c "$CONFIG" --data_dir "$DATA_DIR" --distribute True "$@"
