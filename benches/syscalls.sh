#!/usr/bin/env bash
# Syscalls per graceful close: runs `close_many` (N sequential connections whose peer
# closes promptly) under `strace -c -f` for the plain close and for each linger driver, and
# prints the calls per connection and what linger adds to the plain close. Client-side calls
# are the same in every run, so the difference is the close's own.
#
#   benches/syscalls.sh [N]        # default 500; needs strace (Debian: strace)
set -euo pipefail
cd "$(dirname "$0")/.."

connections="${1:-500}"
if ! [[ "$connections" =~ ^[0-9]+$ ]] || ((connections == 0)); then
    echo "usage: benches/syscalls.sh [CONNECTIONS]" >&2
    exit 2
fi
if ! command -v strace >/dev/null; then
    echo "benches/syscalls.sh needs strace (apt-get install strace)" >&2
    exit 2
fi
cargo build --release -q --example close_many
binary="${CARGO_TARGET_DIR:-target}/release/examples/close_many"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

declare -A total
for strategy in plain linger-std linger-mio; do
    strace -f -c -o "$out/$strategy" "$binary" --strategy "$strategy" \
        --connections "$connections" >/dev/null
    total[$strategy]="$(awk '$NF == "total" { print $(NF-2) }' "$out/$strategy")"
done
for strategy in plain linger-std linger-mio; do
    awk -v name="$strategy" -v n="$connections" -v calls="${total[$strategy]}" \
        -v plain="${total[plain]}" 'BEGIN {
            printf "%-11s %8d syscalls, %6.2f per connection, %+5.2f per close vs plain\n",
                name, calls, calls / n, (calls - plain) / n }'
done
echo
for strategy in linger-std linger-mio; do
    echo "== $strategy: calls by syscall (per connection, where above 0.05)"
    awk -v n="$connections" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
            calls = $4; name = $NF; if (calls / n > 0.05) printf "  %-16s %6.2f\n", name, calls / n }' \
        "$out/$strategy"
done
echo "== plain: calls by syscall (per connection, where above 0.05)"
awk -v n="$connections" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" {
        calls = $4; name = $NF; if (calls / n > 0.05) printf "  %-16s %6.2f\n", name, calls / n }' \
    "$out/plain"
