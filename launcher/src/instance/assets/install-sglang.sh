#!/bin/bash
# Installs the pinned SGLang release into /opt/gpu-session/venv with a uv-managed
# CPython (independent of the image's python3), then starts it as an unprivileged
# user. Nothing unverified runs: uv is the pinned release's wheel checked against its
# sha256, and SGLang with every dependency comes from the lock gpu-session shipped
# (`cargo xtask sglang-pin` output, each file checked against its hashes). Every phase
# is written to the phase file, which `gpu-session launch` reads over SSH; a failure
# writes "failed: <reason>" and stops. The paths can be overridden
# (GPU_SESSION_SGLANG_ENV, GPU_SESSION_SGLANG_LOCK, GPU_SESSION_PHASE_FILE,
# GPU_SESSION_LOG_FILE, GPU_SESSION_OPT) so tests can run it.
set -uo pipefail

ENV_FILE="${GPU_SESSION_SGLANG_ENV:-/etc/gpu-session/sglang.env}"
PHASE_FILE="${GPU_SESSION_PHASE_FILE:-/var/lib/gpu-session/phase}"
LOG_FILE="${GPU_SESSION_LOG_FILE:-/var/log/gpu-session/first-start.log}"
LOG_DIR="$(dirname "$LOG_FILE")"
LOCK_FILE="${GPU_SESSION_SGLANG_LOCK:-/etc/gpu-session/sglang-lock.txt}"
OPT="${GPU_SESSION_OPT:-/opt/gpu-session}"
VENV="$OPT/venv"
# The unprivileged user SGLang runs as (gpu-session's SGLANG_USER): it cannot read the
# Lambda API key, which is root's alone (0600).
SGLANG_USER=gpu-session-sglang
SGLANG_HOME=/var/lib/gpu-session-sglang
# uv, pinned by version and by the sha256 of its wheel on PyPI (the index's own hashes
# for uv 0.13.9's manylinux_2_17 wheels; a file PyPI has published is never replaced).
# The wheel holds the release's static binary; nothing of it runs before the check.
UV_RELEASE=0.13.9
case "$(uname -m)" in
    x86_64)
        UV_WHEEL=uv-0.13.9-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl
        UV_WHEEL_URL=https://files.pythonhosted.org/packages/3d/aa/26d64642d808de4a652579ef950d7cd2d37f080a8babf9c67c6b75fc4c3f/$UV_WHEEL
        UV_WHEEL_SHA256=d7f459fe4fd247d830351c75686d3996ace3c6f3f728eb0e85a30b7ada0cef19
        ;;
    aarch64)
        UV_WHEEL=uv-0.13.9-py3-none-manylinux_2_17_aarch64.manylinux2014_aarch64.musllinux_1_1_aarch64.whl
        UV_WHEEL_URL=https://files.pythonhosted.org/packages/57/15/94b6cd62ac3ff6550288328e8035288875197cbc183f51554b266a69877b/$UV_WHEEL
        UV_WHEEL_SHA256=5435c5ce14a56431208ca0996416d310f1598e8c2c8ba707688985a16bb82dbe
        ;;
    *)
        UV_WHEEL=""
        ;;
esac
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

[ -n "$UV_WHEEL" ] || fail "no pinned uv for this CPU ($(uname -m))"
grep -q "^sglang==$SGLANG_VERSION " "$LOCK_FILE" 2>/dev/null ||
    fail "the lock $LOCK_FILE does not pin sglang==$SGLANG_VERSION"

mkdir -p "$OPT/bin"
if [ ! -x "$OPT/bin/uv" ]; then
    wheel="$OPT/$UV_WHEEL"
    curl -fsSL --retry 3 -o "$wheel" "$UV_WHEEL_URL" || fail "could not download uv $UV_RELEASE"
    if ! printf '%s  %s\n' "$UV_WHEEL_SHA256" "$wheel" | sha256sum --check --status; then
        rm -f "$wheel"
        fail "uv $UV_RELEASE's wheel does not match its pinned sha256; refusing to run it"
    fi
    # A wheel is a zip; python3 is on every cloud-init image (cloud-init is Python).
    python3 -c 'import sys, zipfile; open(sys.argv[2], "wb").write(zipfile.ZipFile(sys.argv[1]).read(sys.argv[3]))' \
        "$wheel" "$OPT/bin/uv" "uv-$UV_RELEASE.data/scripts/uv" || fail "could not unpack uv $UV_RELEASE"
    chmod 0755 "$OPT/bin/uv"
    rm -f "$wheel"
fi
export UV_PYTHON_INSTALL_DIR="$OPT/python"
export UV_PYTHON_PREFERENCE=only-managed
export UV_NO_CACHE=1
if ! "$OPT/bin/uv" venv --python "$PYTHON_VERSION" "$VENV"; then
    fail "uv could not create a Python $PYTHON_VERSION environment"
fi
# Exactly the lock: every package pinned, every file checked against the lock's hashes.
if ! "$OPT/bin/uv" pip sync --require-hashes --python "$VENV/bin/python" "$LOCK_FILE"; then
    fail "installing sglang==$SGLANG_VERSION from its lock failed (see the log)"
fi

# SGLang runs unprivileged, with a home for its JIT caches (FlashInfer, Triton).
if ! id -u "$SGLANG_USER" >/dev/null 2>&1; then
    useradd --system --create-home --home-dir "$SGLANG_HOME" --shell /usr/sbin/nologin "$SGLANG_USER" ||
        fail "could not create the system user $SGLANG_USER"
fi
HF_HOME="$(setting HF_HOME)"
[ -n "$HF_HOME" ] || fail "no HF_HOME in $ENV_FILE"
mkdir -p "$HF_HOME" || fail "could not create the Hugging Face cache $HF_HOME"
if ! chown -R "$SGLANG_USER:" "$HF_HOME" && ! runuser -u "$SGLANG_USER" -- test -w "$HF_HOME"; then
    fail "the Hugging Face cache $HF_HOME is not writable by $SGLANG_USER"
fi

phase downloading
# From here SGLang's wrapper, as $SGLANG_USER, writes the phase and appends to the log.
chown "$SGLANG_USER:" "$PHASE_FILE" "$LOG_FILE" || fail "could not hand the phase file and log to $SGLANG_USER"
systemctl enable --now gpu-session-sglang.service || fail "could not start gpu-session-sglang.service"
# Member 0 of a replica group also runs the gateway (user_data wrote its unit).
if [ -f /etc/systemd/system/gpu-session-gateway.service ]; then
    systemctl enable --now gpu-session-gateway.service || fail "could not start gpu-session-gateway.service"
fi
