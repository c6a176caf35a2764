#!/usr/bin/env bash
# Requests per second of an axum server answering `GET /` ("hello") with
# `Connection: close`, on axum's own `TcpListener` (plain) and on a `LingerListener`,
# measured by wrk in alternating rounds within one run; prints every round and the ratio
# of the medians (target: linger at least 0.9 of plain).
#
#   benches/http_rps.sh [ROUNDS] [SECONDS]   # default 5 rounds of 10 s each per listener;
#                                            # needs wrk (Debian: wrk)
set -euo pipefail
cd "$(dirname "$0")/.."

rounds="${1:-5}"
seconds="${2:-10}"
if ! [[ "$rounds" =~ ^[0-9]+$ && "$seconds" =~ ^[0-9]+$ ]] || ((rounds == 0 || seconds == 0)); then
    echo "usage: benches/http_rps.sh [ROUNDS] [SECONDS]" >&2
    exit 2
fi
command -v wrk >/dev/null || { echo "benches/http_rps.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
cargo build --release -q -p linger-tokio --features axum --example axum_early_reply
server="${CARGO_TARGET_DIR:-target}/release/examples/axum_early_reply"
port=18432
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

for round in $(seq "$rounds"); do
    for close in plain linger; do
        "$server" --listen "127.0.0.1:$port" --close "$close" >/dev/null &
        pid=$!
        for _ in $(seq 100); do
            curl -s -o /dev/null "http://127.0.0.1:$port/" && break
            sleep 0.05
        done
        rps="$(wrk -t2 -c50 -d"${seconds}s" -H 'Connection: close' "http://127.0.0.1:$port/" |
            awk '/Requests\/sec/ { print $2 }')"
        kill -TERM "$pid"
        wait "$pid"
        echo "$rps" >>"$out/$close"
        echo "round $round: $close $rps requests/s"
    done
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
plain="$(median "$out/plain")"
linger="$(median "$out/linger")"
awk -v plain="$plain" -v linger="$linger" \
    'BEGIN { printf "median: plain %.0f, linger %.0f requests/s: linger/plain = %.3f\n", plain, linger, linger / plain }'
