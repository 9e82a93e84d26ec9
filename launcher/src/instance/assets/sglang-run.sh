#!/bin/bash
# Starts SGLang with the flags gpu-session wrote to /etc/gpu-session/sglang.args (one
# argument per line, decided by gpu-session-core) and the secrets systemd loaded from
# /etc/gpu-session/sglang.env. Every value is passed as its own argument; nothing is
# evaluated. While SGLang starts, a watcher turns its log into the phase file:
# downloading (GB in the Hugging Face cache of the checkpoint's total), loading,
# capturing, ready; an exit writes "failed: ...". The paths can be changed through the
# environment for tests only (systemd sets none of these).
set -uo pipefail

PHASE_FILE="${GPU_SESSION_PHASE_FILE:-/var/lib/gpu-session/phase}"
LOG_FILE="${GPU_SESSION_LOG_FILE:-/var/log/gpu-session/first-start.log}"
VENV="${GPU_SESSION_VENV:-/opt/gpu-session/venv}"
ARGS_FILE="${GPU_SESSION_SGLANG_ARGS_FILE:-/etc/gpu-session/sglang.args}"
PHASE_POLL_SECONDS="${GPU_SESSION_PHASE_POLL_SECONDS:-5}"

# Runs as the unprivileged SGLang user, which owns the phase file but not its root-owned
# directory: the line is rewritten in place (one short write).
phase() {
    printf '%s\n' "$*" >"$PHASE_FILE"
}

mapfile -t args < "$ARGS_FILE"
# The port and node rank gpu-session wrote (one argument per line, each checked).
port=""
node_rank=0
for ((i = 0; i + 1 < ${#args[@]}; i++)); do
    case "${args[i]}" in
        --port) port="${args[i + 1]}" ;;
        --node-rank) node_rank="${args[i + 1]}" ;;
    esac
done
args+=(--api-key "$SGLANG_API_KEY")

# A group member learns its private address (and node 0's) from the group file the
# launcher writes once every member has one; the reader checks every value first.
GROUP_ENV="${GPU_SESSION_GROUP_ENV:-/usr/local/bin/gpu-session-group-env}"
case "${GPU_SESSION_GROUP:-}" in
    replicas)
        # The gateway on member 0 reaches every replica here; never 0.0.0.0.
        private_ip="$("$GROUP_ENV" GPU_SESSION_PRIVATE_IP)" || exit 1
        args+=(--host "$private_ip")
        ;;
    nodes)
        private_ip="$("$GROUP_ENV" GPU_SESSION_PRIVATE_IP)" || exit 1
        dist_init_addr="$("$GROUP_ENV" DIST_INIT_ADDR)" || exit 1
        # NCCL and Gloo talk over the interface holding the private address (not eth0 on
        # Lambda); on-demand instances have no InfiniBand.
        ifname="$(ip -o -4 addr show | awk -v want="$private_ip" '{ split($4, a, "/"); if (a[1] == want) { print $2; exit } }')"
        if [ -z "$ifname" ]; then
            phase "failed: no network interface holds the private address $private_ip"
            exit 1
        fi
        export NCCL_SOCKET_IFNAME="$ifname" GLOO_SOCKET_IFNAME="$ifname" NCCL_IB_DISABLE=1
        args+=(--dist-init-addr "$dist_init_addr")
        ;;
esac
export HF_HOME
if [ -n "${HF_TOKEN:-}" ]; then
    export HF_TOKEN
fi

# FlashInfer JIT-compiles with CUDA_HOME's nvcc: use the CUDA 13 nvcc pip installed in
# the venv (the image's /usr/local/cuda is CUDA 12.x on Lambda Stack).
nvcc="$(find "$VENV/lib" -path '*/nvidia/*' -name nvcc -type f 2>/dev/null | head -n 1)"
if [ -n "$nvcc" ]; then
    CUDA_HOME="$(dirname "$(dirname "$nvcc")")"
    export CUDA_HOME
    export PATH="$CUDA_HOME/bin:$PATH"
else
    echo "gpu-session: no CUDA 13 nvcc in the venv; FlashInfer will use the image's" >>"$LOG_FILE"
fi

total_bytes="${GPU_SESSION_CHECKPOINT_BYTES:-0}"
case "$total_bytes" in
    '' | *[!0-9]*) total_bytes=0 ;;
esac
# huggingface_hub's cache layout: $HF_HOME/hub/models--<org>--<name>.
checkpoint="${GPU_SESSION_CHECKPOINT:-}"
checkpoint_dir="$HF_HOME/hub/models--${checkpoint//\//--}"
start_line="$(wc -l <"$LOG_FILE" 2>/dev/null || echo 0)"

# Node rank 1 and up of a multi-node model serve no HTTP API and never log "fired up":
# once their local schedulers are ready, SGLang 0.5.23 starts a health server that
# answers 200 on /health at --host:--port (sglang/srt/entrypoints/engine.py, node_rank
# >= 1: scheduler_init_result.wait_for_ready(), then launch_dummy_health_check_server,
# sglang/srt/utils/common.py). Its uvicorn logs at "warning" and the "started" line
# comes before it binds, so only its answer says it is up. --host is 127.0.0.1.
rank_ready() {
    [ "$node_rank" != "0" ] && [ -n "$port" ] &&
        curl --silent --fail --max-time 5 --output /dev/null "http://127.0.0.1:$port/health"
}

# The log strings are SGLang 0.5.23's: model_executor/model_runner.py ("Load weight
# begin."), model_runner_components/cuda_graph_setup.py ("Capture ... CUDA graph
# begin."), entrypoints/http_server.py ("The server is fired up and ready to roll!").
watch_phases() {
    local recent gb total
    while sleep "$PHASE_POLL_SECONDS"; do
        recent="$(tail -n +"$((start_line + 1))" "$LOG_FILE" 2>/dev/null)"
        if grep -q 'The server is fired up and ready to roll' <<<"$recent" || rank_ready; then
            phase ready
            return
        elif grep -q 'CUDA graph begin' <<<"$recent"; then
            phase capturing
        elif grep -q 'Load weight begin' <<<"$recent"; then
            phase loading
        else
            gb="$(du -sb "$checkpoint_dir" 2>/dev/null | awk '{ printf "%.1f", $1 / 1e9 }')"
            total="$(awk -v b="$total_bytes" 'BEGIN { printf "%.1f", b / 1e9 }')"
            if [ "$total_bytes" -gt 0 ]; then
                phase "downloading $gb of $total GB"
            else
                phase "downloading $gb GB"
            fi
        fi
    done
}

watch_phases &
watcher=$!
"$VENV/bin/python" -m sglang.launch_server "${args[@]}" >>"$LOG_FILE" 2>&1
status=$?
kill "$watcher" 2>/dev/null
phase "failed: SGLang exited with status $status (see $LOG_FILE)"
exit "$status"
