# Shared by the launch scripts (sourced, not run): defaults, argument checks and the msrun call.
# Environment overrides: MASTER_PORT (8118), LOG_DIR (./msrun_log), BIND_CORE (True), MSRUN (msrun).
REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
MASTER_PORT="${MASTER_PORT:-8118}"
LOG_DIR="${LOG_DIR:-./msrun_log}"
BIND_CORE="${BIND_CORE:-True}"
MSRUN="${MSRUN:-msrun}"

usage_error() {  # usage_error MESSAGE: print the script's usage (its header comment) and the message, exit 2
    sed -n '2,/^$/s/^# \{0,1\}//p' "$0" >&2
    echo "$(basename "$0"): error: $1" >&2
    exit 2
}

require_file() {  # require_file PATH WHAT
    [[ -f "$1" ]] || usage_error "$2 '$1' does not exist"
}

require_count() {  # require_count VALUE NAME: a positive integer
    [[ "$1" =~ ^[1-9][0-9]*$ ]] || usage_error "$2 must be a positive integer, got '$1'"
}

run_msrun() {  # run_msrun [msrun options...] SCRIPT.py [script args...]
    command -v "$MSRUN" >/dev/null ||
        usage_error "'$MSRUN' not found: activate the Python environment where MindSpore is installed"
    mkdir -p "$LOG_DIR"
    echo "worker logs: $LOG_DIR/worker_<rank>.log (the real error of a failed run is there)" >&2
    local status
    set +e -x
    # msrun's own output is kept (tee -i: Ctrl-C reaches msrun, which stops the workers) to name a lost rank below
    "$MSRUN" --bind_core="$BIND_CORE" --master_port "$MASTER_PORT" --log_dir "$LOG_DIR" --join True "$@" 2>&1 |
        tee -i "$LOG_DIR/msrun.out"
    status=${PIPESTATUS[0]}
    { set -e +x; } 2>/dev/null
    if [[ "$status" -ne 0 ]]; then
        PYTHONPATH="$REPO_ROOT${PYTHONPATH:+:$PYTHONPATH}" python -m mindcv_resnetv2.utils.launcher "$LOG_DIR" >&2 ||
            true
    fi
    exit "$status"
}
