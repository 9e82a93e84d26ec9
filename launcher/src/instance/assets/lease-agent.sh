#!/bin/bash
# gpu-session lease agent: terminates this instance through the Lambda Cloud API
# when its lease deadline passes, SGLang has been idle (or dead) too long, or the first
# start failed.
#
# At start it proves it can act: it finds its own instance id (every live instance
# carrying its hostname) with the key it holds, and writes `armed <id>...` to its
# status file, or `error <why>` when it cannot act (key refused, no such instance, no
# usable API address) or `arming <why>` while it retries a passing failure. `gpu-session
# launch` reads that file over SSH and terminates an instance whose agent is not armed.
#
# Everything is configurable through the environment (defaults are what
# gpu-session's cloud-init installs), so it can also run against a local fake:
#   GPU_SESSION_LAMBDA_API_URL  Lambda API base URL (.../api/v1)
#   GPU_SESSION_ALLOW_LOOPBACK_API
#                               1: accept a loopback API URL (local tests only; on an
#                               instance loopback is the instance itself)
#   GPU_SESSION_KEY_FILE        file holding the Lambda API key (root-only, 0600)
#   GPU_SESSION_DEADLINE_FILE   lease deadline, Unix seconds (`gpu-session extend` rewrites
#                               it; the agent creates it from the boot time when missing)
#   GPU_SESSION_LEASE_HOURS     lease used to create the deadline file when it is missing
#   GPU_SESSION_MAX_LEASE_HOURS no deadline, whoever wrote it, goes past boot + this
#   GPU_SESSION_BOOT_TIME       Unix seconds of boot (default: from /proc/uptime; for tests)
#   GPU_SESSION_HOSTNAME        this instance's hostname, used to find its id
#   GPU_SESSION_METRICS_URL     SGLang /metrics URL
#   GPU_SESSION_METRICS_FROM_GROUP  1: SGLang's /metrics at the private address and
#                               worker port of the group file (a replica)
#   GPU_SESSION_GROUP_ID, GPU_SESSION_GROUP_MEMBER
#                               a group member's group id and index (see below)
#   GPU_SESSION_GROUP_NODES     a node of one model over this many nodes (see below)
#   GPU_SESSION_PHASE_FILE      the first start's phase file
#   GPU_SESSION_STARTUP_SECONDS how long SGLang may take to answer for the first time
#                               before a silent SGLang counts as idle
#   GPU_SESSION_FAILED_GRACE_SECONDS
#                               how long a `failed: ...` phase may stand (with nobody
#                               logged in) before the agent terminates (default 900)
#   GPU_SESSION_IDLE_MINUTES    idle limit in minutes, 0 disables it
#   GPU_SESSION_IDLE_SECONDS    idle limit in seconds (overrides the minutes; for tests)
#   GPU_SESSION_POLL_SECONDS    seconds between checks
#   GPU_SESSION_STATE_DIR       where the agent keeps its status file and activity record
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
ALLOW_LOOPBACK_API="${GPU_SESSION_ALLOW_LOOPBACK_API:-0}"
KEY_FILE="${GPU_SESSION_KEY_FILE:-/etc/gpu-session/lambda-api-key}"
DEADLINE_FILE="${GPU_SESSION_DEADLINE_FILE:-/etc/gpu-session/lease-deadline}"
LEASE_HOURS="${GPU_SESSION_LEASE_HOURS:-4}"
MAX_LEASE_HOURS="${GPU_SESSION_MAX_LEASE_HOURS:-24}"
HOST_NAME="${GPU_SESSION_HOSTNAME:-$(hostname)}"
METRICS_URL="${GPU_SESSION_METRICS_URL:-http://127.0.0.1:30000/metrics}"
# A replica's SGLang listens on its private address, known once the group file exists.
METRICS_FROM_GROUP="${GPU_SESSION_METRICS_FROM_GROUP:-0}"
# A group member: its group's id (the tag gpu-session:group its members carry) and its
# index. The lease deadline ends the whole group; idle or a failed start ends only this
# replica, unless it is member 0 (the gateway's host), without which the group cannot
# serve. A node of a model over GROUP_NODES nodes is useless alone: its idle or failed
# start ends every node, and so does any node's end once all were seen live.
GROUP_ID="${GPU_SESSION_GROUP_ID:-}"
GROUP_MEMBER="${GPU_SESSION_GROUP_MEMBER:-}"
GROUP_NODES="${GPU_SESSION_GROUP_NODES:-0}"
if ! [[ "$GROUP_ID" =~ ^[0-9a-f]{1,16}$ ]]; then
    GROUP_ID=""
fi
if ! [[ "$GROUP_NODES" =~ ^[0-9]{1,2}$ ]] || [ -z "$GROUP_ID" ]; then
    GROUP_NODES=0
fi
GROUP_ENV="${GPU_SESSION_GROUP_ENV:-/usr/local/bin/gpu-session-group-env}"
PHASE_FILE="${GPU_SESSION_PHASE_FILE:-/var/lib/gpu-session/phase}"
STARTUP_SECONDS="${GPU_SESSION_STARTUP_SECONDS:-3600}"
FAILED_GRACE="${GPU_SESSION_FAILED_GRACE_SECONDS:-900}"
IDLE_MINUTES="${GPU_SESSION_IDLE_MINUTES:-30}"
IDLE_SECONDS="${GPU_SESSION_IDLE_SECONDS:-$((IDLE_MINUTES * 60))}"
POLL_SECONDS="${GPU_SESSION_POLL_SECONDS:-30}"
STATE_DIR="${GPU_SESSION_STATE_DIR:-/var/lib/gpu-session}"
COUNT_SSH="${GPU_SESSION_COUNT_SSH:-1}"
WATCHDOG_GRACE="${GPU_SESSION_WATCHDOG_GRACE_SECONDS:-600}"

STATUS_FILE="$STATE_DIR/agent-status"

log() {
    printf 'gpu-session-lease: %s\n' "$*" >&2
}

is_number() {
    case "$1" in
        '' | *[!0-9]*) return 1 ;;
        *) return 0 ;;
    esac
}

for setting in LEASE_HOURS MAX_LEASE_HOURS STARTUP_SECONDS FAILED_GRACE POLL_SECONDS WATCHDOG_GRACE; do
    if ! is_number "${!setting}"; then
        log "$setting is not a number (${!setting}); using the safe default"
        case "$setting" in
            LEASE_HOURS) LEASE_HOURS=4 ;;
            MAX_LEASE_HOURS) MAX_LEASE_HOURS=24 ;;
            STARTUP_SECONDS) STARTUP_SECONDS=3600 ;;
            FAILED_GRACE) FAILED_GRACE=900 ;;
            POLL_SECONDS) POLL_SECONDS=30 ;;
            WATCHDOG_GRACE) WATCHDOG_GRACE=600 ;;
        esac
    fi
done

BOOT_TIME="${GPU_SESSION_BOOT_TIME:-$(($(date +%s) - $(cut -d. -f1 /proc/uptime 2>/dev/null || echo 0)))}"
is_number "$BOOT_TIME" || BOOT_TIME="$(date +%s)"
# No deadline goes past this, whatever the deadline file says (extend caps there too).
DEADLINE_CAP=$((BOOT_TIME + MAX_LEASE_HOURS * 3600))

# The API's last answer: API_BODY on success; API_ERROR and API_FATAL (1 when retrying
# cannot help: the key is refused or missing) on failure. The key goes to curl on
# stdin as a config line, never on the command line.
api() {
    local key response rc code
    API_BODY=""
    API_ERROR=""
    API_FATAL=0
    if ! key="$(tr -d ' \r\n\t' <"$KEY_FILE" 2>/dev/null)" || [ -z "$key" ]; then
        API_ERROR="cannot read the Lambda API key from $KEY_FILE"
        API_FATAL=1
        return 1
    fi
    response="$(printf 'header = "Authorization: Bearer %s"\n' "$key" |
        curl --silent --show-error --max-time 30 --config - --write-out '\n%{http_code}' "$@" 2>&1)"
    rc=$?
    code="${response##*$'\n'}"
    API_BODY="${response%$'\n'*}"
    if [ "$rc" -ne 0 ]; then
        API_ERROR="cannot reach the Lambda API at $API_URL (curl exit $rc: $(printf '%s' "$API_BODY" | tail -n 1))"
        return 1
    fi
    case "$code" in
        2??) return 0 ;;
        401 | 403)
            API_ERROR="the Lambda API refused the key (HTTP $code): it was revoked or is not valid"
            API_FATAL=1
            ;;
        *) API_ERROR="the Lambda API answered HTTP $code" ;;
    esac
    return 1
}

# Sets LIVE_IDS to every live instance whose hostname is ours (after a lost launch
# response there can be two: both are ours to end). Fails with API_ERROR set.
find_instance_ids() {
    LIVE_IDS=""
    api "$API_URL/instances" || return 1
    # With a group id ($1), also every live member of that group (tag gpu-session:group).
    if ! LIVE_IDS="$(printf '%s' "$API_BODY" | python3 -c '
import json, sys
want, group = sys.argv[1], sys.argv[2]
def in_group(i):
    return group != "" and any(t.get("key") == "gpu-session:group" and t.get("value") == group
                               for t in (i.get("tags") or []))
data = json.load(sys.stdin).get("data", [])
print(" ".join(i["id"] for i in data
               if (i.get("hostname") == want or in_group(i))
               and i.get("status") not in ("terminating", "terminated")))
' "$HOST_NAME" "${1:-}")"; then
        API_ERROR="could not read the Lambda API's instance list"
        return 1
    fi
    if [ -z "$LIVE_IDS" ]; then
        API_ERROR="no live instance has the hostname $HOST_NAME"
        API_FATAL=1
        return 1
    fi
}

write_status() {
    mkdir -p "$STATE_DIR"
    printf '%s\n' "$*" >"$STATUS_FILE.tmp" && chmod 0644 "$STATUS_FILE.tmp" &&
        mv -f "$STATUS_FILE.tmp" "$STATUS_FILE"
}

is_loopback_url() {
    case "$1" in
        http://127.* | https://127.* | http://localhost[:/]* | https://localhost[:/]* | \
            http://localhost | https://localhost | http://\[::1\]* | https://\[::1\]*)
            return 0
            ;;
    esac
    return 1
}

# Proves the agent can act, and says so in the status file. Returns 0 when armed.
arm() {
    local tool
    for tool in curl python3; do
        if ! command -v "$tool" >/dev/null 2>&1; then
            write_status "error $tool is not installed on this image; the agent cannot call the Lambda API"
            return 1
        fi
    done
    if [ "$ALLOW_LOOPBACK_API" != "1" ] && is_loopback_url "$API_URL"; then
        write_status "error the Lambda API URL $API_URL is a loopback address, which on this instance is the instance itself"
        return 1
    fi
    if find_instance_ids; then
        write_status "armed $LIVE_IDS"
        log "armed for instance(s) $LIVE_IDS"
        return 0
    fi
    if [ "$API_FATAL" -eq 1 ]; then
        write_status "error $API_ERROR"
    else
        write_status "arming $API_ERROR"
    fi
    log "not armed: $API_ERROR"
    return 1
}

# "group" for member 0 of a group or any node of a multi-node group, else nothing:
# what idle or a failed start ends.
member_scope() {
    if [ -n "$GROUP_ID" ] && { [ "$GROUP_MEMBER" = "0" ] || [ "$GROUP_NODES" -gt 1 ]; }; then
        echo group
    fi
}

# For a node of a multi-node group: succeeds when a node that was live is gone (every
# node was seen live at once before, so the nodes still launching do not count). Sets
# NODES_LIVE; API trouble is no verdict (fails).
SEEN_ALL_NODES=0
node_gone() {
    [ "$GROUP_NODES" -gt 1 ] || return 1
    api "$API_URL/instances" || return 1
    NODES_LIVE="$(printf '%s' "$API_BODY" | python3 -c '
import json, sys
group = sys.argv[1]
def tag(i, key):
    return next((t.get("value") for t in (i.get("tags") or []) if t.get("key") == key), None)
data = json.load(sys.stdin).get("data", [])
print(len({tag(i, "gpu-session:member") for i in data
           if tag(i, "gpu-session:group") == group
           and i.get("status") not in ("terminating", "terminated")}))
' "$GROUP_ID")" || return 1
    if [ "$NODES_LIVE" -ge "$GROUP_NODES" ]; then
        if [ "$SEEN_ALL_NODES" -eq 0 ]; then
            log "all $GROUP_NODES nodes of group $GROUP_ID are live; the end of any ends all"
            SEEN_ALL_NODES=1
        fi
        return 1
    fi
    [ "$SEEN_ALL_NODES" -eq 1 ]
}

# Terminates this instance; with "group" as $2, every member of its group too.
terminate_self() {
    local reason="$1" body scope=""
    if [ "${2:-}" = "group" ]; then
        scope="$GROUP_ID"
    fi
    log "terminating: $reason${scope:+ (with group $scope)}"
    if ! find_instance_ids "$scope"; then
        log "cannot find this instance ($API_ERROR); will retry"
        return 1
    fi
    body="$(printf '{"instance_ids":["%s"]}' "${LIVE_IDS// /\",\"}")"
    if api -X POST -H 'Content-Type: application/json' --data "$body" \
        "$API_URL/instance-operations/terminate"; then
        log "terminate requested for instance(s) $LIVE_IDS"
        return 0
    fi
    log "terminate call failed ($API_ERROR); will retry"
    return 1
}

# The first deadline, from this machine's own clock: boot + the lease.
initial_deadline() {
    echo $((BOOT_TIME + LEASE_HOURS * 3600))
}

# The deadline in force: the file's (or the initial one when there is no file), never
# past DEADLINE_CAP; 0 (over) when the file holds something that is not a number.
current_deadline() {
    local deadline
    if [ ! -s "$DEADLINE_FILE" ]; then
        deadline="$(initial_deadline)"
    else
        deadline="$(tr -d ' \r\n\t' <"$DEADLINE_FILE" 2>/dev/null || true)"
        if ! is_number "$deadline"; then
            log "lease deadline file $DEADLINE_FILE is not a number; treating the lease as over"
            deadline=0
        fi
    fi
    if [ "$deadline" -gt "$DEADLINE_CAP" ]; then
        deadline="$DEADLINE_CAP"
    fi
    echo "$deadline"
}

# SGLang's /metrics: sets METRICS_OK (1 when it answered 200 with SGLang's metrics) and
# FINGERPRINT (its request counters). A refused connection, 401 or 5xx is not an answer.
read_metrics() {
    local text ip port
    METRICS_OK=0
    FINGERPRINT=""
    if [ "$METRICS_FROM_GROUP" = "1" ] &&
        ip="$("$GROUP_ENV" --no-wait GPU_SESSION_PRIVATE_IP 2>/dev/null)" &&
        port="$("$GROUP_ENV" --no-wait GPU_SESSION_WORKER_PORT 2>/dev/null)"; then
        METRICS_URL="http://$ip:$port/metrics"
    fi
    if text="$(curl --silent --fail --max-time 10 "$METRICS_URL" 2>/dev/null)" &&
        grep -q '^sglang:' <<<"$text"; then
        METRICS_OK=1
        FINGERPRINT="$(grep -E '^sglang:(num_running_reqs|num_queue_reqs|prompt_tokens_total|generation_tokens_total|num_requests_total)' <<<"$text" |
            tr -s ' \t' ' ')"
    fi
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
    deadline="$(current_deadline)"
    if [ "$(date +%s)" -ge $((deadline + WATCHDOG_GRACE)) ]; then
        terminate_self "watchdog: the lease ended at $deadline and the instance is still running" group
        exit $?
    fi
    exit 0
fi

mkdir -p "$STATE_DIR"
chmod 0755 "$STATE_DIR"
ACTIVITY_FILE="$STATE_DIR/last-activity"
FINGERPRINT_FILE="$STATE_DIR/metrics-fingerprint"
ANSWERED_FILE="$STATE_DIR/sglang-answered"
FAILED_SINCE_FILE="$STATE_DIR/failed-since"

if [ ! -s "$DEADLINE_FILE" ]; then
    initial_deadline >"$DEADLINE_FILE"
    log "lease deadline set $LEASE_HOURS h from boot"
fi
date +%s >"$ACTIVITY_FILE"
armed=0

while true; do
    now="$(date +%s)"
    if [ "$armed" -eq 0 ] && arm; then
        armed=1
    fi
    deadline="$(current_deadline)"
    read_metrics
    sessions="$(ssh_sessions)"
    phase="$(head -n 1 "$PHASE_FILE" 2>/dev/null || true)"
    if [ "$METRICS_OK" -eq 1 ]; then
        touch "$ANSWERED_FILE"
        rm -f "$FAILED_SINCE_FILE"
    elif [ "${phase#failed:}" != "$phase" ] && [ ! -s "$FAILED_SINCE_FILE" ]; then
        echo "$now" >"$FAILED_SINCE_FILE"
    fi
    failed_since="$(cat "$FAILED_SINCE_FILE" 2>/dev/null || true)"

    if [ "$now" -ge "$deadline" ]; then
        if terminate_self "lease deadline passed" group; then
            exit 0
        fi
    elif [ "$armed" -eq 1 ] && node_gone; then
        if terminate_self "only $NODES_LIVE of the group's $GROUP_NODES nodes are live; the model needs every node" group; then
            exit 0
        fi
    elif is_number "$failed_since" && [ $((now - failed_since)) -ge "$FAILED_GRACE" ] &&
        [ "$sessions" -eq 0 ]; then
        # systemd restarts SGLang after a failure; only a server that has not come
        # back (answered) within the grace ends the instance.
        if terminate_self "the first start failed ($phase) and SGLang has not recovered for $((now - failed_since)) s" "$(member_scope)"; then
            exit 0
        fi
    elif is_number "$IDLE_SECONDS" && [ "$IDLE_SECONDS" -gt 0 ]; then
        previous="$(cat "$FINGERPRINT_FILE" 2>/dev/null || true)"
        active=0
        if [ "$METRICS_OK" -eq 1 ]; then
            if [ "$FINGERPRINT" != "$previous" ] || [ "$(running_requests "$FINGERPRINT")" -gt 0 ]; then
                active=1
            fi
        elif [ ! -e "$ANSWERED_FILE" ] && [ $((now - BOOT_TIME)) -lt "$STARTUP_SECONDS" ] &&
            [ "${phase#failed:}" = "$phase" ]; then
            # The first start (install, download, load) is still within its time.
            active=1
        fi
        # Otherwise a dead, failed or refusing SGLang is idle: it serves nobody.
        if [ "$sessions" -gt 0 ]; then
            active=1
        fi
        printf '%s' "$FINGERPRINT" >"$FINGERPRINT_FILE"
        if [ "$active" -eq 1 ]; then
            echo "$now" >"$ACTIVITY_FILE"
        fi
        last="$(cat "$ACTIVITY_FILE" 2>/dev/null || echo "$now")"
        is_number "$last" || last="$now"
        if [ $((now - last)) -ge "$IDLE_SECONDS" ]; then
            if terminate_self "idle for $((now - last)) s" "$(member_scope)"; then
                exit 0
            fi
        fi
    fi
    sleep "$POLL_SECONDS"
done
