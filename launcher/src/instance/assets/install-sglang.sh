#!/bin/bash
# Installs the pinned SGLang release into /opt/gpu-session/venv with a uv-managed
# CPython (independent of the image's python3), then starts it. Every phase is written
# to the phase file, which `gpu-session launch` reads over SSH; a failure writes
# "failed: <reason>" and stops. The paths can be overridden (GPU_SESSION_SGLANG_ENV,
# GPU_SESSION_PHASE_FILE, GPU_SESSION_LOG_FILE, GPU_SESSION_OPT) so tests can run it.
set -uo pipefail

ENV_FILE="${GPU_SESSION_SGLANG_ENV:-/etc/gpu-session/sglang.env}"
PHASE_FILE="${GPU_SESSION_PHASE_FILE:-/var/lib/gpu-session/phase}"
LOG_FILE="${GPU_SESSION_LOG_FILE:-/var/log/gpu-session/first-start.log}"
LOG_DIR="$(dirname "$LOG_FILE")"
OPT="${GPU_SESSION_OPT:-/opt/gpu-session}"
VENV="$OPT/venv"
# uv release installed by this script (pinned: its standalone installer is versioned).
UV_RELEASE=0.13.9
# Lowest NVIDIA driver for CUDA 13, which torch 2.14.1 (SGLang 0.5.23's pin) is built
# for (NVIDIA CUDA 13.0 release notes: driver >= 580).
MIN_DRIVER_MAJOR=580

mkdir -p "$(dirname "$PHASE_FILE")" "$LOG_DIR"
chmod 0755 "$(dirname "$PHASE_FILE")" "$LOG_DIR"
touch "$LOG_FILE"
chmod 0644 "$LOG_FILE"
exec >>"$LOG_FILE" 2>&1

phase() {
    printf '%s\n' "$*" >"$PHASE_FILE.tmp"
    chmod 0644 "$PHASE_FILE.tmp"
    mv -f "$PHASE_FILE.tmp" "$PHASE_FILE"
    echo "gpu-session: phase: $*"
}

fail() {
    phase "failed: $*"
    exit 1
}

setting() {
    sed -n "s/^$1=//p" "$ENV_FILE"
}

phase installing
SGLANG_VERSION="$(setting SGLANG_VERSION)"
case "$SGLANG_VERSION" in
    '' | *[!0-9.post]*) fail "bad SGLANG_VERSION in $ENV_FILE" ;;
esac
PYTHON_VERSION="$(setting SGLANG_PYTHON_VERSION)"
case "$PYTHON_VERSION" in
    '' | *[!0-9.]*) fail "bad SGLANG_PYTHON_VERSION in $ENV_FILE" ;;
esac

# The driver first: nothing else is worth installing on one that cannot run CUDA 13.
if ! driver="$(nvidia-smi --query-gpu=driver_version --format=csv,noheader 2>&1 | head -n 1)"; then
    fail "nvidia-smi failed ($driver): no usable NVIDIA driver on this image"
fi
driver_major="${driver%%.*}"
case "$driver_major" in
    '' | *[!0-9]*) fail "could not read the NVIDIA driver version (nvidia-smi said: $driver)" ;;
esac
if [ "$driver_major" -lt "$MIN_DRIVER_MAJOR" ]; then
    fail "NVIDIA driver $driver is older than $MIN_DRIVER_MAJOR, which SGLang $SGLANG_VERSION (torch built for CUDA 13) needs; choose an image family with a newer driver (gpu.image_family, e.g. lambda-stack-24-04)"
fi
echo "gpu-session: NVIDIA driver $driver"

mkdir -p "$OPT/bin"
if [ ! -x "$OPT/bin/uv" ]; then
    if ! curl -LsSf "https://astral.sh/uv/$UV_RELEASE/install.sh" |
        env UV_INSTALL_DIR="$OPT/bin" UV_NO_MODIFY_PATH=1 sh; then
        fail "could not install uv $UV_RELEASE"
    fi
fi
export UV_PYTHON_INSTALL_DIR="$OPT/python"
export UV_PYTHON_PREFERENCE=only-managed
export UV_NO_CACHE=1
if ! "$OPT/bin/uv" venv --python "$PYTHON_VERSION" "$VENV"; then
    fail "uv could not create a Python $PYTHON_VERSION environment"
fi
if ! "$OPT/bin/uv" pip install --python "$VENV/bin/python" "sglang==${SGLANG_VERSION}"; then
    fail "installing sglang==$SGLANG_VERSION failed (see the log)"
fi

phase downloading
systemctl enable --now gpu-session-sglang.service || fail "could not start gpu-session-sglang.service"
