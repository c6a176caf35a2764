#!/usr/bin/env bash
# Syscalls per connection of an axum server, plain (`TcpListener`: hyper's shutdown, then
# close) against linger (`LingerListener`), counted by `strace -f -c` on the server process
# only, for two cases:
#
#   keep_alive:   the client sends one request on a keep-alive connection, reads the
#                 answer and closes first (the common case: the close finds the peer's EOF
#                 read and, on loopback, our FIN acknowledged);
#   server_first: the client asks `Connection: close`, so the server closes first and the
#                 close waits for the client's FIN, as under a load generator;
#   early:        curl uploads 20 MB, the server answers 413 with 1 MiB without reading it.
#
#   benches/http_syscalls.sh [N]     # N connections per case (default 300); needs strace,
#                                     # curl and python3
set -euo pipefail
cd "$(dirname "$0")/.."

connections="${1:-300}"
if ! [[ "$connections" =~ ^[0-9]+$ ]] || ((connections == 0)); then
    echo "usage: benches/http_syscalls.sh [CONNECTIONS]" >&2
    exit 2
fi
for tool in strace curl python3; do
    command -v "$tool" >/dev/null || { echo "benches/http_syscalls.sh needs $tool" >&2; exit 2; }
done
cargo build --release -q -p linger-tokio --features axum --example axum_early_reply
server="${CARGO_TARGET_DIR:-target}/release/examples/axum_early_reply"
out="$(mktemp -d)"
trap 'rm -rf "$out"' EXIT
head -c 20000000 /dev/zero >"$out/upload"
port=18431

# python_client HEADER: N sequential GETs of `/`, each on a connection of its own with
# HEADER, read up to the answer ("hello"), then closed.
python_client() {
    python3 - "$port" "$connections" "$1" <<'EOF'
import socket, sys
port, count, header = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3].encode()
for _ in range(count):
    with socket.create_connection(("127.0.0.1", port)) as client:
        client.sendall(b"GET / HTTP/1.1\r\nhost: bench\r\n" + header + b"\r\n\r\n")
        answer = b""
        while not answer.endswith(b"hello\n"):
            chunk = client.recv(4096)
            if not chunk:
                sys.exit("the server closed before answering")
            answer += chunk
EOF
}

keep_alive_client() { python_client "connection: keep-alive"; }
server_first_client() { python_client "connection: close"; }

early_client() {
    for _ in $(seq "$connections"); do
        curl -s -o /dev/null -H 'Expect:' --data-binary "@$out/upload" \
            "http://127.0.0.1:$port/" || true
    done
}

# measure CASE CLOSE: runs the server under strace for one case; leaves the summary in
# $out/CASE-CLOSE.
measure() {
    local case="$1" close="$2"
    strace -f -c -o "$out/$case-$close" "$server" --listen "127.0.0.1:$port" \
        --close "$close" >/dev/null &
    local tracer=$!
    for _ in $(seq 100); do
        curl -s -o /dev/null "http://127.0.0.1:$port/" && break
        sleep 0.05
    done
    "${case}_client"
    pkill -TERM -P "$tracer"
    wait "$tracer"
}

calls() { awk '$NF == "total" { print $(NF-2) }' "$1"; }
by_name() { awk -v name="$2" '$NF == name { print $4 }' "$1"; }

for case in keep_alive server_first early; do
    for close in plain linger; do
        measure "$case" "$close"
    done
    plain="$(calls "$out/$case-plain")"
    linger="$(calls "$out/$case-linger")"
    # The readiness probe before the clients is one extra connection in both runs.
    awk -v case="$case" -v n="$((connections + 1))" -v plain="$plain" -v linger="$linger" \
        'BEGIN { printf "%-10s plain %6.2f, linger %6.2f syscalls per connection: %+5.2f\n",
                 case, plain / n, linger / n, (linger - plain) / n }'
    for name in shutdown ioctl recvfrom close epoll_ctl epoll_wait futex writev; do
        awk -v name="$name" -v n="$((connections + 1))" \
            -v plain="$(by_name "$out/$case-plain" "$name")" \
            -v linger="$(by_name "$out/$case-linger" "$name")" \
            'BEGIN { printf "  %-10s plain %6.2f  linger %6.2f\n", name, plain / n, linger / n }'
    done
done
