#!/usr/bin/env bash
# Runs every packetdrill script in DIR (the conformance replay's exports: `linger-check
# --conformance N --scripts DIR`, or the committed tests/conformance/packetdrill/) through the
# packetdrill binary PACKETDRILL, each as root in a network namespace of its own (`unshare -n`)
# with the benchmark range the replay uses instead of packetdrill's default private addresses.
# Prints one line per script that fails, with packetdrill's complaint, then the counts; exits 1
# if any fails. docs/model.md ("packetdrill scripts") says where packetdrill comes from.
#
#   tests/conformance/packetdrill.sh PACKETDRILL DIR [JOBS]
set -euo pipefail

if (($# < 2)); then
    echo "usage: tests/conformance/packetdrill.sh PACKETDRILL DIR [JOBS]" >&2
    exit 2
fi
packetdrill=$(realpath "$1")
directory=$2
jobs=${3:-4}
[[ -x "$packetdrill" ]] || { echo "not an executable: $1" >&2; exit 2; }
[[ -d "$directory" ]] || { echo "not a directory: $directory" >&2; exit 2; }

# One script in a namespace of its own: loopback up, then packetdrill with its TUN device at
# 198.18.0.1, the scripted remote end at 198.18.0.2. Prints "ok NAME" or "FAIL NAME: why".
run_one() {
    local script=$1 output
    if output=$(timeout 120 unshare -n sh -c 'ip link set lo up && exec "$0" "$@"' \
        "$packetdrill" --local_ip=198.18.0.1 --remote_ip=198.18.0.2 \
        --gateway_ip=198.18.0.3 --netmask_ip=255.255.255.0 --tolerance_usecs=100000 \
        "$script" 2>&1); then
        echo "ok $(basename "$script")"
    else
        echo "FAIL $(basename "$script"): $(tail -n 3 <<<"$output" | tr '\n' ' ')"
    fi
}
export -f run_one
export packetdrill

started=$SECONDS
results=$(find "$directory" -name '*.pkt' -print0 | sort -z |
    xargs -0 -P "$jobs" -I{} bash -c 'run_one "$1"' _ {})
grep '^FAIL' <<<"$results" || true
passed=$(grep -c '^ok' <<<"$results" || true)
failed=$(grep -c '^FAIL' <<<"$results" || true)
echo "packetdrill: $passed passed, $failed failed, of $((passed + failed)) scripts in $((SECONDS - started)) s"
((failed == 0))
