#!/bin/bash
# Installs the pinned SGLang release into /opt/gpu-session/venv, then starts it.
set -euo pipefail

# SGLANG_VERSION comes from this file, written by gpu-session from the plan.
SGLANG_VERSION="$(sed -n 's/^SGLANG_VERSION=//p' /etc/gpu-session/sglang.env)"
case "$SGLANG_VERSION" in
    '' | *[!0-9.post]*)
        echo "gpu-session: bad SGLANG_VERSION in /etc/gpu-session/sglang.env" >&2
        exit 1
        ;;
esac

if ! command -v uv >/dev/null 2>&1; then
    python3 -m pip install --upgrade uv || python3 -m pip install --break-system-packages --upgrade uv
fi
uv venv --seed /opt/gpu-session/venv --python python3
uv pip install --python /opt/gpu-session/venv/bin/python "sglang[all]==${SGLANG_VERSION}"
systemctl enable --now gpu-session-sglang.service
