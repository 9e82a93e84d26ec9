#!/bin/bash
# Starts the SGLang Model Gateway (smg) on member 0 of a replica group, in front of every
# member's SGLang at its private address. It listens on loopback only (the SSH tunnel
# reaches it there, on the plan's serving port), and so do its metrics (smg's default
# metrics host is 0.0.0.0). Waits for the group file and for the install to put smg in
# the venv; the API key is the one SGLang requires, so clients send the same key.
set -euo pipefail

VENV="${GPU_SESSION_OPT:-/opt/gpu-session}/venv"
GROUP_ENV="${GPU_SESSION_GROUP_ENV:-/usr/local/bin/gpu-session-group-env}"

for value in "${GPU_SESSION_GATEWAY_PORT:-}" "${GPU_SESSION_GATEWAY_METRICS_PORT:-}"; do
    case "$value" in
        '' | *[!0-9]*)
            echo "gpu-session-gateway: no valid gateway port in the environment" >&2
            exit 1
            ;;
    esac
done

ips="$("$GROUP_ENV" GPU_SESSION_WORKER_IPS)"
port="$("$GROUP_ENV" GPU_SESSION_WORKER_PORT)"
until [ -x "$VENV/bin/smg" ]; do
    sleep 5
done

urls=()
IFS=',' read -r -a members <<<"$ips"
for ip in "${members[@]}"; do
    urls+=("http://$ip:$port")
done

exec "$VENV/bin/smg" launch --worker-urls "${urls[@]}" --policy cache_aware \
    --host 127.0.0.1 --port "$GPU_SESSION_GATEWAY_PORT" \
    --prometheus-host 127.0.0.1 --prometheus-port "$GPU_SESSION_GATEWAY_METRICS_PORT" \
    --api-key "$SGLANG_API_KEY"
