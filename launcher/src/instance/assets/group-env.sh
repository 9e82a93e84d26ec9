#!/bin/bash
# Prints one value of the group file gpu-session writes over SSH once every member of a
# group has a private IP (KEY=value lines of IPv4 literals and integers). Every line is
# checked against a strict pattern first, so a caller only ever sees a value in its
# strict form; nothing in the file is evaluated. Waits for the file unless --no-wait
# (then a missing file exits 1).
set -euo pipefail

FILE="${GPU_SESSION_GROUP_FILE:-/etc/gpu-session/group.env}"
wait=1
if [ "${1:-}" = "--no-wait" ]; then
    wait=0
    shift
fi
want="${1:?usage: gpu-session-group-env [--no-wait] KEY}"

# The launcher writes the file whole (a temporary file, then a rename).
while [ ! -s "$FILE" ]; do
    [ "$wait" -eq 1 ] || exit 1
    sleep 2
done

octet='(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])'
ip="$octet\\.$octet\\.$octet\\.$octet"
int='[0-9]{1,5}'
found=""
while IFS= read -r line || [ -n "$line" ]; do
    case "$line" in
        '' | '#'*) continue ;;
    esac
    key="${line%%=*}"
    value="${line#*=}"
    case "$key" in
        GPU_SESSION_PRIVATE_IP) pattern="^$ip\$" ;;
        GPU_SESSION_WORKER_IPS) pattern="^$ip(,$ip){0,7}\$" ;;
        DIST_INIT_ADDR) pattern="^$ip:$int\$" ;;
        GPU_SESSION_MEMBER | GPU_SESSION_MEMBERS | GPU_SESSION_WORKER_PORT | NNODES | NODE_RANK)
            pattern="^$int\$"
            ;;
        GPU_SESSION_GROUP_ID) pattern='^[0-9a-f]{1,16}$' ;;
        *)
            echo "gpu-session-group-env: unknown key in $FILE" >&2
            exit 1
            ;;
    esac
    if ! [[ "$value" =~ $pattern ]]; then
        echo "gpu-session-group-env: $key in $FILE is not valid" >&2
        exit 1
    fi
    if [ "$key" = "$want" ]; then
        found="$value"
    fi
done <"$FILE"

if [ -z "$found" ]; then
    echo "gpu-session-group-env: no $want in $FILE" >&2
    exit 1
fi
printf '%s\n' "$found"
