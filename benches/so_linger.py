#!/usr/bin/env python3
"""When does close() with SO_LINGER {1, 5 s} block on Linux? Three cases on loopback.

1. unread: the peer uploaded 64 KiB the server never read; the server writes 1 MiB to a
   slow reader and closes. close() returns at once: Linux resets the connection over the
   unread data (TCPAbortOnClose) instead of closing it gracefully, so there is nothing to
   linger for. This is the demo's "uploaded first" row.
2. late sender: nothing unread at close (200,000 bytes written, which the socket buffers
   hold); the peer sends its next request 20 ms later.
   close() blocks until that request arrives, which Linux answers with a reset
   (TCPAbortOnData). This is the demo's "sends after our close" row.
3. non-blocking: nothing unread, the socket is non-blocking, its send buffer full, the peer
   starts reading after 300 ms. close() blocks until the peer has acknowledged everything:
   O_NONBLOCK does not make a lingering close() return early.

For each case: how long close() took, what the peer got, and the kernel's reset counters
over the case (nstat deltas, when nstat is installed; they count every socket on the host).

Usage: benches/so_linger.py
"""

import shutil
import socket
import struct
import subprocess
import threading
import time

LINGER = struct.pack("ii", 1, 5)  # SO_LINGER {l_onoff 1, l_linger 5 s}
COUNTERS = ("TcpExtTCPAbortOnClose", "TcpExtTCPAbortOnData")


def counters():
    """The kernel's reset counters since the previous call (nstat keeps the history)."""
    if not shutil.which("nstat"):
        return {}
    out = subprocess.run(["nstat"], capture_output=True, text=True, check=True)
    found = {}
    for line in out.stdout.splitlines():
        fields = line.split()
        if fields and fields[0] in COUNTERS:
            found[fields[0]] = int(fields[1])
    return found


def pair():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    client = socket.socket()
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 65536)
    client.connect(listener.getsockname())
    server, _ = listener.accept()
    listener.close()
    return client, server


def reader(client, start_after, send_first, result):
    """Reads to EOF or reset, 64 KiB at a time with a pause, after an optional send."""
    time.sleep(start_after)
    if send_first:
        client.send(send_first)
    received = 0
    try:
        while chunk := client.recv(65536):
            received += len(chunk)
            time.sleep(0.001)
        result.append(f"{received} bytes, then EOF")
    except ConnectionResetError:
        result.append(f"{received} bytes, then ECONNRESET")
    client.close()


def case(name, upload, response, late_request, start_after):
    """`response` bytes written blocking, or with `None`, as much as a non-blocking socket
    takes."""
    client, server = pair()
    if upload:
        client.sendall(b"u" * upload)
        time.sleep(0.05)
    counters()
    result = []
    thread = threading.Thread(target=reader, args=(client, start_after, late_request, result))
    thread.start()
    if response is None:
        server.setblocking(False)
        written = 0
        try:
            while True:
                written += server.send(b"r" * 65536)
        except BlockingIOError:
            pass
    else:
        written = response
        server.sendall(b"r" * written)
    server.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, LINGER)
    started = time.monotonic()
    server.close()
    took = time.monotonic() - started
    thread.join()
    resets = ", ".join(f"{key[6:]} +{value}" for key, value in counters().items()) or "none"
    mode = "non-blocking" if response is None else "blocking"
    print(f"{name}: {mode} close() took {took * 1000:.1f} ms; wrote {written}, "
          f"peer got {result[0]}; resets: {resets}")


def main():
    if shutil.which("nstat"):
        subprocess.run(["nstat", "-n"], check=True)
    case("1 unread", upload=65536, response=1 << 20, late_request=None, start_after=0)
    # The response fits the socket buffers, so close() starts before the request arrives.
    case("2 late sender", upload=0, response=200_000, late_request=b"GET / HTTP/1.1\r\n\r\n",
         start_after=0.02)
    case("3 non-blocking", upload=0, response=None, late_request=None, start_after=0.3)


if __name__ == "__main__":
    main()
