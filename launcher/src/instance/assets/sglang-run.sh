#!/bin/bash
# Starts SGLang with the flags gpu-session wrote to /etc/gpu-session/sglang.args (one
# argument per line, decided by gpu-session-core) and the secrets systemd loaded from
# /etc/gpu-session/sglang.env. Every value is passed as its own argument; nothing is
# evaluated.
set -euo pipefail

mapfile -t args < /etc/gpu-session/sglang.args
args+=(--api-key "$SGLANG_API_KEY")
export HF_HOME
if [ -n "${HF_TOKEN:-}" ]; then
    export HF_TOKEN
fi
mkdir -p "$HF_HOME"
exec /opt/gpu-session/venv/bin/python -m sglang.launch_server "${args[@]}"
