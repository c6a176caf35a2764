#!/usr/bin/env python3
"""Early-reply anchors: a client uploads a large body, the server answers 413 without reading it.

Each server runs under strace, which timestamps its socket calls; for every connection that
received a response we measure the time from the server's last response write to its
close() of that socket ("time to release"). Each client runs RUNS times against each server;
we record how each run ended (curl: its exit code, 0 = whole response, 56 = connection
reset; the others: ok or the error) and the bytes of body it received.

Clients (--clients): `curl` (unthrottled), `curl-10M` (reading at 10 MB/s, as across a
network), `python` (`requests`, which sends the whole upload before it reads), and three on
plain sockets: `reads-while-sending` (as browsers and curl), `sends-first` (as `requests`),
`sends-first-5M` (the same at 5 MB/s, as a slow uplink).

Servers: `nginx` (lingering_close on, the 413 body served by error_page), `go` (net/http,
whose closeWriteAndWait shuts down writing and sleeps a fixed 500 ms), `actix` (actix-web 4's
HttpServer, whose dispatcher reads and discards after an early answer until the client's EOF
or its 1 s client_disconnect_timeout; built from actix-early-reply/ into target/anchors), and
any command given with --server NAME=COMMAND, where {port} and {body_bytes} are substituted.
Everything listens on 127.0.0.1 only.

Usage: early_reply.py [--runs 20] [--upload-mib 20] [--body-bytes 3145728]
                      [--anchors nginx,go] [--clients curl] [--server NAME=COMMAND ...]
                      [--json FILE]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
import threading
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 64; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    sendfile off;
    lingering_close on;
    server {{
        listen 127.0.0.1:{port};
        root {tmp}/www;
        client_max_body_size 1k;
        error_page 413 /body.bin;
        location = /body.bin {{ internal; }}
    }}
}}
"""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, process, seconds=20):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"nothing listened on 127.0.0.1:{port} within {seconds} s")


def nginx_command(tmp, port, body_bytes):
    tmp.chmod(0o755)  # nginx's worker runs as nobody and must read the body file
    (tmp / "www").mkdir()
    (tmp / "www" / "body.bin").write_bytes(b"x" * body_bytes)
    conf = tmp / "nginx.conf"
    conf.write_text(NGINX_CONF.format(tmp=tmp, port=port))
    return ["nginx", "-p", str(tmp), "-c", str(conf)]


def go_command(tmp, port, body_bytes):
    binary = tmp / "go-early-reply"
    env = dict(os.environ, GOCACHE=str(tmp / "gocache"), GOFLAGS="-mod=mod", GO111MODULE="on")
    subprocess.run(
        ["go", "build", "-o", str(binary), "."],
        cwd=HERE / "go-early-reply", env=env, check=True,
    )
    return [str(binary), "--listen", f"127.0.0.1:{port}", "--body-bytes", str(body_bytes)]


def actix_command(tmp, port, body_bytes):
    target = HERE.parent.parent / "target" / "anchors"
    subprocess.run(
        ["cargo", "build", "--release", "-q", "--manifest-path",
         str(HERE / "actix-early-reply" / "Cargo.toml")],
        env=dict(os.environ, CARGO_TARGET_DIR=str(target)), check=True,
    )
    binary = target / "release" / "actix-early-reply"
    return [str(binary), "--listen", f"127.0.0.1:{port}", "--body-bytes", str(body_bytes)]


ACCEPT = re.compile(r"accept4?\(.*\)\s+=\s+(\d+)|accept4? resumed>.*\)\s+=\s+(\d+)")
CALL = re.compile(r"^(?:\d+\s+)?(\d+\.\d+)\s+(?:<\.\.\.\s+)?(\w+)(?:\(| resumed>)(.*)$")
FIRST_FD = re.compile(r"^\s*(\d+)")


def release_times(trace_path):
    """Seconds from each response's last write to the close() of its socket."""
    unfinished = {}  # pid -> (call, args) of calls strace split in two
    open_fds = {}  # fd -> time of the last write, None before any write
    releases = []
    for line in trace_path.read_text(errors="replace").splitlines():
        pid = line.split()[0] if line[:1].isdigit() else ""
        match = CALL.match(line)
        if not match:
            continue
        stamp, call, rest = float(match.group(1)), match.group(2), match.group(3)
        if rest.endswith("<unfinished ...>"):
            unfinished[pid] = rest
            continue
        if "resumed>" in line:
            rest = unfinished.pop(pid, "") + rest
        if call in ("accept", "accept4"):
            fd = re.search(r"=\s+(\d+)\s*$", rest)
            if fd:
                open_fds[int(fd.group(1))] = None
            continue
        fd_match = FIRST_FD.match(rest)
        if not fd_match:
            continue
        fd = int(fd_match.group(1))
        if fd not in open_fds:
            continue
        if call in ("write", "writev", "sendfile", "sendmsg", "sendto"):
            open_fds[fd] = stamp
        elif call == "close":
            last_write = open_fds.pop(fd)
            if last_write is not None:
                releases.append(stamp - last_write)
    unreleased = sum(1 for last_write in open_fds.values() if last_write is not None)
    return releases, unreleased


def run_curl(port, upload, rate=None):
    limit = ["--limit-rate", rate] if rate else []
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
         "-H", "Expect:", "--max-time", "60", *limit, "--data-binary", f"@{upload}",
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True,
    )
    fields = result.stdout.split()
    received = int(float(fields[1])) if len(fields) == 2 else 0
    return str(result.returncode), received


def run_python(port, upload):
    import requests
    try:
        reply = requests.post(f"http://127.0.0.1:{port}/", data=upload.read_bytes(), timeout=60)
        return "ok", len(reply.content)
    except Exception as error:
        return type(error).__name__, 0


def run_raw(port, upload, sending, rate=None):
    """POSTs the upload on a plain socket: while reading the answer, or all of it first
    (at `rate` bytes/s if given); returns ok or what failed, and the bytes of body read."""
    size = upload.stat().st_size
    conn = socket.create_connection(("127.0.0.1", port))
    conn.settimeout(60)
    failed = []

    def send():
        try:
            conn.sendall(f"POST / HTTP/1.1\r\nhost: anchor\r\ncontent-length: {size}\r\n\r\n".encode())
            block, left, started = b"u" * 65536, size, time.monotonic()
            while left:
                conn.sendall(block[:min(left, len(block))])
                left -= min(left, len(block))
                if rate:
                    time.sleep(max(0.0, (size - left) / rate - (time.monotonic() - started)))
        except OSError as error:
            failed.append(f"upload: {type(error).__name__}")

    with conn:
        if sending == "while":
            uploader = threading.Thread(target=send)
            uploader.start()
            outcome = read_reply(conn)
            uploader.join()
            return outcome
        send()
        if failed:
            return failed[0], 0
        return read_reply(conn)


def read_reply(conn):
    """Reads a response head and its content-length body: ok only if all of it arrived."""
    data, received = b"", 0
    try:
        while b"\r\n\r\n" not in data:
            chunk = conn.recv(65536)
            if not chunk:
                return "EOF before the answer", 0
            data += chunk
        head, body = data.split(b"\r\n\r\n", 1)
        length = int(re.search(rb"content-length:\s*(\d+)", head, re.I).group(1))
        received = len(body)
        while received < length:
            chunk = conn.recv(65536)
            if not chunk:
                return "short body", received
            received += len(chunk)
        return "ok", received
    except OSError as error:
        return type(error).__name__, received


CLIENTS = {
    "curl": lambda port, upload: run_curl(port, upload),
    "curl-10M": lambda port, upload: run_curl(port, upload, "10M"),
    "python": run_python,
    "reads-while-sending": lambda port, upload: run_raw(port, upload, "while"),
    "sends-first": lambda port, upload: run_raw(port, upload, "first"),
    "sends-first-5M": lambda port, upload: run_raw(port, upload, "first", 5_000_000),
}


def measure(name, command_for, client, runs, upload, body_bytes):
    with tempfile.TemporaryDirectory(prefix=f"anchor-{name}-") as tmp_name:
        tmp = Path(tmp_name)
        port = free_port()
        command = command_for(tmp, port, body_bytes)
        trace = tmp / "strace.txt"
        traced = ["strace", "-f", "-ttt", "-o", str(trace),
                  "-e", "trace=accept,accept4,write,writev,sendfile,sendmsg,sendto,close",
                  *command]
        server = subprocess.Popen(traced, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                  start_new_session=True)
        try:
            wait_for_port(port, server)
            results = [CLIENTS[client](port, upload) for _ in range(runs)]
            time.sleep(1.0)  # let lingering closes and Go's 500 ms sleep finish
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        releases, unreleased = release_times(trace)
    outcomes = {}
    for outcome, _ in results:
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
    return {
        "server": name,
        "client": client,
        "runs": runs,
        "outcomes": outcomes,
        "full_bodies": sum(1 for outcome, got in results
                           if outcome in ("0", "ok") and got == body_bytes),
        "bytes_received_min": min(got for _, got in results),
        "release_ms_median": round(statistics.median(releases) * 1e3, 1) if releases else None,
        "release_ms_max": round(max(releases) * 1e3, 1) if releases else None,
        "connections_released": len(releases),
        "connections_unreleased": unreleased,
    }


def command_template(template):
    def command(_tmp, port, body_bytes):
        return template.format(port=port, body_bytes=body_bytes).split()
    return command


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--upload-mib", type=int, default=20)
    parser.add_argument("--body-bytes", type=int, default=3 << 20)
    parser.add_argument("--anchors", default="nginx,go",
                        help="comma-separated anchors to run: nginx, go, actix (empty for none)")
    parser.add_argument("--clients", default="curl",
                        help=f"comma-separated clients: {', '.join(CLIENTS)}")
    parser.add_argument("--server", action="append", default=[], metavar="NAME=COMMAND")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    anchors = {"nginx": nginx_command, "go": go_command, "actix": actix_command}
    tools = {"nginx": "nginx", "go": "go", "actix": "cargo", "curl": "curl", "curl-10M": "curl"}
    servers = []
    for name in filter(None, args.anchors.split(",")):
        if name not in anchors:
            parser.error(f"unknown anchor {name!r}: choose from {', '.join(anchors)}")
        servers.append((name, anchors[name]))
    for spec in args.server:
        name, sep, template = spec.partition("=")
        if not sep or not template:
            parser.error(f"--server takes NAME=COMMAND, got {spec!r}")
        servers.append((name, command_template(template)))
    clients = list(filter(None, args.clients.split(",")))
    for client in clients:
        if client not in CLIENTS:
            parser.error(f"unknown client {client!r}: choose from {', '.join(CLIENTS)}")
    wanted = ["strace"] + [tools[name] for name, _ in servers if name in tools]
    wanted += [tools[client] for client in clients if client in tools]
    for tool in wanted:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed: run benches/anchors/install.sh")

    results = []
    with tempfile.TemporaryDirectory(prefix="anchor-upload-") as upload_dir:
        upload = Path(upload_dir) / "upload.bin"
        upload.write_bytes(b"u" * (args.upload_mib << 20))
        for name, command_for in servers:
            for client in clients:
                print(f"measuring {name} with {client} ...", file=sys.stderr)
                results.append(measure(name, command_for, client, args.runs, upload,
                                       args.body_bytes))

    print(f"{args.runs} runs each; upload {args.upload_mib} MiB; 413 body {args.body_bytes} bytes\n")
    print("| server | client | how the runs ended (curl: exit code) | whole body "
          "| least bytes received | release median ms | release max ms | not released |")
    print("|---|---|---|---|---|---|---|---|")
    for r in results:
        ends = ", ".join(f"{end}: {count}" for end, count in sorted(r["outcomes"].items()))
        print(f"| {r['server']} | {r['client']} | {ends} | {r['full_bodies']}/{r['runs']} "
              f"| {r['bytes_received_min']} | {r['release_ms_median']} | {r['release_ms_max']} "
              f"| {r['connections_unreleased']} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    failed = [f"{r['server']} ({r['client']})" for r in results if r["connections_released"] == 0]
    if failed:
        sys.exit(f"no connection was traced for: {', '.join(failed)}")


if __name__ == "__main__":
    main()
