#!/usr/bin/env bash
# The flood benchmark (docs/performance.md, "Under a flood"; docs/http.md, "Under attack"):
# hostile clients hold more connections than a server may open descriptors, while a
# well-behaved client sends `GET /` on a fresh connection every 20 ms (first for 5 s
# unattacked, then through the flood) and curl uploads 2 MB, expecting the whole early
# `413`. Servers, back to back in one run: axum on its own listener, axum on a
# `LingerListener`, hyper accepting with `Lingerer::accept`, axum-server over TLS on a
# `LingerAcceptor`, nginx as this benchmark configures it and nginx as Debian does.
# Hostile clients: connectors that send nothing, slowloris heads, slow bodies, keep-alive
# idlers, and a mix of them (`--kinds uploader,zero-window` runs the floods of lingering
# closes). Cases: a descriptor limit of 1,024 with 1,500 hostile connections, and the hard
# limit of this shell with 12,000 (raising it takes CAP_SYS_RESOURCE). Bounded in time:
# about 35 s a run, 60 runs.
#
#   benches/flood/run.sh [--servers ...] [--cases LIMIT:CONNECTIONS,...] [--kinds ...]
#                        [--seconds N] [--unattacked-seconds N] [--curls N] [--capacity N]
#                        [--server-args ARGS]  # src/bin/flood.rs
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
    hard="$(ulimit -Hn)"
    [[ "$hard" != unlimited ]] || hard=65536
    echo "the hard descriptor limit here is $hard: the second case runs at $hard" >&2
    cases=(--cases "1024:1500,$hard:12000")
fi
exec "$target/flood" --flood-server "$target/flood-server" "${cases[@]}" "$@"
