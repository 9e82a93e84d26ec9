#!/bin/bash
# gpu-session lease agent: terminates this instance through the Lambda Cloud API
# when its lease deadline passes or SGLang has been idle too long.
#
# Everything is configurable through the environment (defaults are what
# gpu-session's cloud-init installs), so it can also run against a local fake:
#   GPU_SESSION_LAMBDA_API_URL  Lambda API base URL (.../api/v1)
#   GPU_SESSION_KEY_FILE        file holding the Lambda API key (root-only, 0600)
#   GPU_SESSION_DEADLINE_FILE   lease deadline, Unix seconds (`gpu-session extend` rewrites it)
#   GPU_SESSION_LEASE_HOURS     lease used to create the deadline file when it is missing
#   GPU_SESSION_HOSTNAME        this instance's hostname, used to find its id
#   GPU_SESSION_METRICS_URL     SGLang /metrics URL
#   GPU_SESSION_IDLE_MINUTES    idle limit in minutes, 0 disables it
#   GPU_SESSION_IDLE_SECONDS    idle limit in seconds (overrides the minutes; for tests)
#   GPU_SESSION_POLL_SECONDS    seconds between checks
#   GPU_SESSION_STATE_DIR       where the agent keeps its activity record
#   GPU_SESSION_COUNT_SSH       1 (default): logged-in SSH sessions count as activity
#   GPU_SESSION_WATCHDOG_GRACE_SECONDS
#                               with --watchdog: how long past the deadline before the
#                               watchdog acts (default 600)
#
# `gpu-session-lease-agent --watchdog` makes one deadline check and exits. A systemd
# timer runs it every few minutes, independently of the agent's own loop, so an agent
# that died or hung still cannot leave the instance billing past its lease.
set -u

API_URL="${GPU_SESSION_LAMBDA_API_URL:-https://cloud.lambda.ai/api/v1}"
KEY_FILE="${GPU_SESSION_KEY_FILE:-/etc/gpu-session/lambda-api-key}"
DEADLINE_FILE="${GPU_SESSION_DEADLINE_FILE:-/etc/gpu-session/lease-deadline}"
LEASE_HOURS="${GPU_SESSION_LEASE_HOURS:-4}"
HOST_NAME="${GPU_SESSION_HOSTNAME:-$(hostname)}"
METRICS_URL="${GPU_SESSION_METRICS_URL:-http://127.0.0.1:30000/metrics}"
IDLE_MINUTES="${GPU_SESSION_IDLE_MINUTES:-30}"
IDLE_SECONDS="${GPU_SESSION_IDLE_SECONDS:-$((IDLE_MINUTES * 60))}"
POLL_SECONDS="${GPU_SESSION_POLL_SECONDS:-30}"
STATE_DIR="${GPU_SESSION_STATE_DIR:-/var/lib/gpu-session}"
COUNT_SSH="${GPU_SESSION_COUNT_SSH:-1}"
WATCHDOG_GRACE="${GPU_SESSION_WATCHDOG_GRACE_SECONDS:-600}"

log() {
    printf 'gpu-session-lease: %s\n' "$*" >&2
}

is_number() {
    case "$1" in
        '' | *[!0-9]*) return 1 ;;
        *) return 0 ;;
    esac
}

# curl with the API key passed on stdin as a config line, never on the command line.
api() {
    local key
    if ! key="$(tr -d ' \r\n\t' <"$KEY_FILE")" || [ -z "$key" ]; then
        log "cannot read the API key from $KEY_FILE"
        return 1
    fi
    printf 'header = "Authorization: Bearer %s"\n' "$key" |
        curl --silent --show-error --fail --max-time 30 --config - "$@"
}

# Prints this instance's id: the live instance whose hostname is ours.
find_instance_id() {
    local listing
    listing="$(api "$API_URL/instances")" || return 1
    printf '%s' "$listing" | python3 -c '
import json, sys
want = sys.argv[1]
data = json.load(sys.stdin).get("data", [])
ids = [i["id"] for i in data
       if i.get("hostname") == want and i.get("status") not in ("terminating", "terminated")]
if len(ids) != 1:
    sys.exit(1)
print(ids[0])
' "$HOST_NAME"
}

terminate_self() {
    local reason="$1" id body
    log "terminating: $reason"
    if ! id="$(find_instance_id)"; then
        log "could not find exactly one live instance with hostname $HOST_NAME; will retry"
        return 1
    fi
    body="$(printf '{"instance_ids":["%s"]}' "$id")"
    if api -X POST -H 'Content-Type: application/json' --data "$body" \
        "$API_URL/instance-operations/terminate" >/dev/null; then
        log "terminate requested for instance $id"
        return 0
    fi
    log "terminate call failed; will retry"
    return 1
}

# A fingerprint of SGLang's request counters; empty when /metrics is unreachable.
metrics_fingerprint() {
    curl --silent --fail --max-time 10 "$METRICS_URL" 2>/dev/null |
        grep -E '^sglang:(num_running_reqs|num_queue_reqs|prompt_tokens_total|generation_tokens_total|num_requests_total)' |
        tr -s ' \t' ' '
}

running_requests() {
    printf '%s\n' "$1" | awk '/^sglang:num_running_reqs/ { n += $NF } END { printf "%d\n", n }'
}

ssh_sessions() {
    if [ "$COUNT_SSH" != "1" ]; then
        echo 0
        return
    fi
    who 2>/dev/null | grep -c . || true
}

if [ "${1:-}" = "--watchdog" ]; then
    deadline="$(tr -d ' \r\n\t' <"$DEADLINE_FILE" 2>/dev/null || true)"
    is_number "$WATCHDOG_GRACE" || WATCHDOG_GRACE=600
    if is_number "$deadline" && [ "$(date +%s)" -ge $((deadline + WATCHDOG_GRACE)) ]; then
        terminate_self "watchdog: the lease ended at $deadline and the instance is still running"
        exit $?
    fi
    exit 0
fi

mkdir -p "$STATE_DIR"
ACTIVITY_FILE="$STATE_DIR/last-activity"
FINGERPRINT_FILE="$STATE_DIR/metrics-fingerprint"

if [ ! -s "$DEADLINE_FILE" ]; then
    if ! is_number "$LEASE_HOURS"; then
        LEASE_HOURS=4
    fi
    echo "$(($(date +%s) + LEASE_HOURS * 3600))" >"$DEADLINE_FILE"
    log "lease deadline set $LEASE_HOURS h from now"
fi
date +%s >"$ACTIVITY_FILE"

while true; do
    now="$(date +%s)"
    deadline="$(tr -d ' \r\n\t' <"$DEADLINE_FILE" 2>/dev/null || true)"
    if ! is_number "$deadline"; then
        log "lease deadline file $DEADLINE_FILE is missing or not a number; treating the lease as over"
        deadline=0
    fi
    if [ "$now" -ge "$deadline" ]; then
        if terminate_self "lease deadline passed"; then
            exit 0
        fi
    elif is_number "$IDLE_SECONDS" && [ "$IDLE_SECONDS" -gt 0 ]; then
        fingerprint="$(metrics_fingerprint)"
        previous="$(cat "$FINGERPRINT_FILE" 2>/dev/null || true)"
        active=0
        if [ -z "$fingerprint" ]; then
            # SGLang not answering (still loading, or restarting): not idle.
            active=1
        elif [ "$fingerprint" != "$previous" ] || [ "$(running_requests "$fingerprint")" -gt 0 ]; then
            active=1
        fi
        if [ "$(ssh_sessions)" -gt 0 ]; then
            active=1
        fi
        printf '%s' "$fingerprint" >"$FINGERPRINT_FILE"
        if [ "$active" -eq 1 ]; then
            echo "$now" >"$ACTIVITY_FILE"
        fi
        last="$(cat "$ACTIVITY_FILE" 2>/dev/null || echo "$now")"
        is_number "$last" || last="$now"
        if [ $((now - last)) -ge "$IDLE_SECONDS" ]; then
            if terminate_self "idle for $((now - last)) s"; then
                exit 0
            fi
        fi
    fi
    sleep "$POLL_SECONDS"
done
