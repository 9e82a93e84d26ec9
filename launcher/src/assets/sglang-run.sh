#!/bin/bash
# Starts SGLang with the values systemd loaded from /etc/gpu-session/sglang.env.
# Every value is passed as its own quoted argument; nothing is evaluated.
set -euo pipefail

args=(
    --model-path "$MODEL_PATH"
    --served-model-name "$SERVED_NAME"
    --host 127.0.0.1
    --port "$PORT"
    --tp-size "$TP"
    --context-length "$CONTEXT"
    --mem-fraction-static "$MEM_FRACTION"
    --kv-cache-dtype "$KV_DTYPE"
    --max-running-requests "$MAX_RUNNING"
    --api-key "$SGLANG_API_KEY"
    --enable-metrics
)
if [ -n "${QUANT:-}" ]; then
    args+=(--quantization "$QUANT")
fi
export HF_HOME
if [ -n "${HF_TOKEN:-}" ]; then
    export HF_TOKEN
fi
mkdir -p "$HF_HOME"
exec /opt/gpu-session/venv/bin/python -m sglang.launch_server "${args[@]}"
