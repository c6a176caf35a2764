#!/usr/bin/env python3
"""Early-reply anchors: curl uploads a large body, the server answers 413 without reading it.

Each server runs under strace, which timestamps its socket calls; for every connection that
received a response we measure the time from the server's last response write to its
close() of that socket ("time to release"). curl runs RUNS times against each server; we
record its exit codes (0 = whole response, 56 = connection reset) and the bytes it received.

Servers: `nginx` (lingering_close on, the 413 body served by error_page), `go` (net/http,
whose closeWriteAndWait shuts down writing and sleeps a fixed 500 ms), and any command given
with --server NAME=COMMAND, where {port} and {body_bytes} are substituted. Everything
listens on 127.0.0.1 only.

Usage: early_reply.py [--runs 20] [--upload-mib 20] [--body-bytes 3145728]
                      [--anchors nginx,go] [--server NAME=COMMAND ...] [--json FILE]
"""

import argparse
import json
import os
import re
import shutil
import signal
import socket
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


def run_curl(port, upload, body_bytes):
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code} %{size_download}",
         "-H", "Expect:", "--max-time", "60", "--data-binary", f"@{upload}",
         f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True,
    )
    fields = result.stdout.split()
    received = int(float(fields[1])) if len(fields) == 2 else 0
    return result.returncode, received


def measure(name, command_for, runs, upload, body_bytes):
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
            results = [run_curl(port, upload, body_bytes) for _ in range(runs)]
            time.sleep(1.0)  # let lingering closes and Go's 500 ms sleep finish
        finally:
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        releases, unreleased = release_times(trace)
    exit_codes = {}
    for code, _ in results:
        exit_codes[code] = exit_codes.get(code, 0) + 1
    return {
        "server": name,
        "runs": runs,
        "curl_exit_codes": exit_codes,
        "full_bodies": sum(1 for code, got in results if code == 0 and got == body_bytes),
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
                        help="comma-separated anchors to run: nginx, go (empty for none)")
    parser.add_argument("--server", action="append", default=[], metavar="NAME=COMMAND")
    parser.add_argument("--json", type=Path, help="also write the results as JSON here")
    args = parser.parse_args()

    anchors = {"nginx": nginx_command, "go": go_command}
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
    for tool in ["curl", "strace"] + [name for name, _ in servers if name in anchors]:
        if shutil.which(tool) is None:
            sys.exit(f"{tool} is not installed: run benches/anchors/install.sh")

    results = []
    with tempfile.TemporaryDirectory(prefix="anchor-upload-") as upload_dir:
        upload = Path(upload_dir) / "upload.bin"
        upload.write_bytes(b"u" * (args.upload_mib << 20))
        for name, command_for in servers:
            print(f"measuring {name} ...", file=sys.stderr)
            results.append(measure(name, command_for, args.runs, upload, args.body_bytes))

    print(f"{args.runs} runs each; upload {args.upload_mib} MiB; 413 body {args.body_bytes} bytes\n")
    print("| server | curl exit codes | whole body | least bytes received "
          "| release median ms | release max ms | not released |")
    print("|---|---|---|---|---|---|---|")
    for r in results:
        codes = ", ".join(f"{code}: {count}" for code, count in sorted(r["curl_exit_codes"].items()))
        print(f"| {r['server']} | {codes} | {r['full_bodies']}/{r['runs']} "
              f"| {r['bytes_received_min']} | {r['release_ms_median']} | {r['release_ms_max']} "
              f"| {r['connections_unreleased']} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2) + "\n")
    failed = [r["server"] for r in results if r["connections_released"] == 0]
    if failed:
        sys.exit(f"no connection was traced for: {', '.join(failed)}")


if __name__ == "__main__":
    main()
