#!/usr/bin/env bash
# Requests per second of an axum server answering `GET /` ("hello"), on axum's own
# `TcpListener` (plain), on a `LingerListener` with `Policy::default()` (linger: the guards
# of the life before the close on) and with `Policy::default().unguarded()` (unguarded), and,
# given `--previous BIN`, the same example built from an earlier commit and run with
# `--close linger` (previous); measured by wrk (`-t2 -c50`) in alternating rounds within
# one run. Each request on a connection of its own (`Connection: close`, every request a
# connection the server closes), or with `--keep-alive` 50 connections kept for the round.
# Prints every round, the median of each server and each one's ratio to plain and to
# previous.
#
#   benches/http_rps.sh [--keep-alive] [--previous BIN] [ROUNDS] [SECONDS]
#       # default 5 rounds of 10 s each per server; needs wrk (apt-get install wrk) and curl
#
# BIN: an `axum_early_reply` built from another commit, for instance a960145, the last
# before the guards:
#   git clone -q /path/to/linger /tmp/linger-prev && git -C /tmp/linger-prev checkout -q a960145
#   (cd /tmp/linger-prev && cargo build --release -p linger-tokio --features axum --example axum_early_reply)
#   benches/http_rps.sh --previous /tmp/linger-prev/target/release/examples/axum_early_reply
set -euo pipefail
cd "$(dirname "$0")/.."

usage="usage: benches/http_rps.sh [--keep-alive] [--previous BIN] [ROUNDS] [SECONDS]"
keep_alive=false
previous=""
numbers=()
while (($#)); do
    case "$1" in
        --keep-alive) keep_alive=true ;;
        --previous)
            (($# > 1)) || { echo "$usage" >&2; exit 2; }
            previous="$2"
            shift
            ;;
        *) numbers+=("$1") ;;
    esac
    shift
done
rounds="${numbers[0]:-5}"
seconds="${numbers[1]:-10}"
if ! [[ "$rounds" =~ ^[0-9]+$ && "$seconds" =~ ^[0-9]+$ ]] || ((rounds == 0 || seconds == 0)) ||
    ((${#numbers[@]} > 2)); then
    echo "$usage" >&2
    exit 2
fi
if [[ -n "$previous" && ! -x "$previous" ]]; then
    echo "benches/http_rps.sh: $previous is not an executable" >&2
    exit 2
fi
command -v wrk >/dev/null || { echo "benches/http_rps.sh needs wrk (apt-get install wrk)" >&2; exit 2; }
cargo build --release -q -p linger-tokio --features axum --example axum_early_reply
server="${CARGO_TARGET_DIR:-target}/release/examples/axum_early_reply"
port=18432
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT

headers=(-H 'Connection: close')
$keep_alive && headers=()
variants=(plain linger unguarded)
[[ -n "$previous" ]] && variants+=(previous)

for round in $(seq "$rounds"); do
    for variant in "${variants[@]}"; do
        case "$variant" in
            plain) command=("$server" --close plain) ;;
            linger) command=("$server" --close linger --policy default) ;;
            unguarded) command=("$server" --close linger --policy unguarded) ;;
            previous) command=("$previous" --close linger) ;;
        esac
        "${command[@]}" --listen "127.0.0.1:$port" >/dev/null &
        pid=$!
        for _ in $(seq 100); do
            curl -s -o /dev/null "http://127.0.0.1:$port/" && break
            sleep 0.05
        done
        rps="$(wrk -t2 -c50 -d"${seconds}s" "${headers[@]}" "http://127.0.0.1:$port/" |
            awk '/Requests\/sec/ { print $2 }')"
        kill -TERM "$pid"
        wait "$pid"
        echo "$rps" >>"$out/$variant"
        echo "round $round: $variant $rps requests/s"
    done
done
median() { sort -n "$1" | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
mode="Connection: close"
$keep_alive && mode="keep-alive"
echo "medians ($mode, $rounds rounds of $seconds s):"
plain="$(median "$out/plain")"
reference=""
[[ -n "$previous" ]] && reference="$(median "$out/previous")"
for variant in "${variants[@]}"; do
    awk -v name="$variant" -v rps="$(median "$out/$variant")" -v plain="$plain" -v previous="$reference" \
        'BEGIN {
            printf "  %-9s %8.0f requests/s, %.3f of plain", name, rps, rps / plain
            if (previous != "") printf ", %.3f of previous", rps / previous
            printf "\n"
        }'
done
