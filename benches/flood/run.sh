#!/usr/bin/env bash
# The flood benchmark (docs/performance.md, "Under a flood"; docs/http.md, "Under attack"):
# hostile clients hold more connections than a server may open descriptors, while a
# well-behaved client sends `GET /` on a fresh connection every 20 ms and curl uploads 2 MB,
# expecting the whole early `413`. Servers, back to back in one run: axum on its own
# listener, axum on a `LingerListener`, nginx (`lingering_close on`, a static `413`).
# Hostile clients: uploaders that trickle 1 KiB every 2 s and never read, connectors that
# send nothing, readers with a zero window. Cases: a descriptor limit of 1,024 with 1,500
# hostile connections, and of 65,536 with 12,000 (the hard limit of this shell caps the
# latter: raising it takes CAP_SYS_RESOURCE). Bounded in time: about 25 s a run, 18 runs.
#
#   benches/flood/run.sh [--servers ...] [--cases LIMIT:CONNECTIONS,...] [--kinds ...]
#                        [--seconds N] [--curls N] [--capacity N]  # src/bin/flood.rs
#
# Needs nginx and curl (benches/anchors/install.sh installs them) and a kernel that lets
# loopback carry 12,000 connections (the clients spread over 127.0.0.2-9).
set -euo pipefail
cd "$(dirname "$0")/../.."

for tool in nginx curl; do
    command -v "$tool" >/dev/null || { echo "benches/flood needs $tool (benches/anchors/install.sh)" >&2; exit 2; }
done
cargo build --release -q -p linger-flood --bins
target="${CARGO_TARGET_DIR:-target}/release"

cases=()
if [[ " $* " != *" --cases "* ]]; then
    large=65536
    hard="$(ulimit -Hn)"
    if [[ "$hard" != unlimited ]] && ((hard < large)); then
        echo "the hard descriptor limit here is $hard: the 65,536 case runs at $hard" >&2
        large="$hard"
    fi
    cases=(--cases "1024:1500,$large:12000")
fi
exec "$target/flood" --flood-server "$target/flood-server" "${cases[@]}" "$@"
