#!/usr/bin/env python3
"""Memory one connection costs a running server: resident-set growth of its process per connection.

    conn-memory.py PID PLAIN_PORT TLS_PORT PATH [COUNT] [STALLED]

Opens COUNT (1000) connections of each kind, each having made one request and then idle: plain
HTTP/1.1, TLS (HTTP/1.1 over ALPN), h2c. Then STALLED (50) connections that pipeline 400
requests each and never read. Prints KiB per connection for each kind (VmRSS of PID, after the
process settles), as a markdown table. Connections of one kind are closed before the next kind.
"""
import socket
import ssl
import sys
import threading
import time


def rss(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError("no VmRSS")


def settled_rss(pid):
    """RSS once two readings 0.5 s apart agree within 64 KiB."""
    last = rss(pid)
    for _ in range(40):
        time.sleep(0.5)
        now = rss(pid)
        if abs(now - last) < 64 * 1024:
            return now
        last = now
    return last


def read_response(sock):
    """Reads one HTTP/1.1 response with a Content-Length body."""
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise RuntimeError("closed before an answer")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    while len(body) < length:
        body += sock.recv(65536)


def h1(port, path):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    read_response(s)
    return s


def tls(port, path, context):
    raw = socket.create_connection(("127.0.0.1", port))
    s = context.wrap_socket(raw, server_hostname="127.0.0.1")
    s.sendall(f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    read_response(s)
    return s


def h2c(port, path):
    def frame(kind, flags, stream, payload):
        n = len(payload)
        return bytes([n >> 16 & 255, n >> 8 & 255, n & 255, kind, flags]) + stream.to_bytes(4, "big") + payload

    p = path.encode()
    # HPACK: :method GET, :scheme http (indexed), literal :path, literal :authority "x".
    block = bytes([0x82, 0x86, 0x04, len(p)]) + p + bytes([0x01, 0x01]) + b"x"
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + frame(4, 0, 0, b"") + frame(1, 5, 1, block))
    # Read until stream 1's DATA with END_STREAM (or a HEADERS-only answer) arrives.
    data = b""
    done = False
    while not done:
        chunk = s.recv(65536)
        if not chunk:
            raise RuntimeError("closed before an answer")
        data += chunk
        i = 0
        while i + 9 <= len(data):
            n = int.from_bytes(data[i:i + 3], "big")
            if i + 9 + n > len(data):
                break
            kind, flags, stream = data[i + 3], data[i + 4], int.from_bytes(data[i + 5:i + 9], "big") & 0x7FFFFFFF
            if stream == 1 and kind in (0, 1) and flags & 1:
                done = True
            i += 9 + n
    # Acknowledge the server's SETTINGS, as clients do.
    s.sendall(frame(4, 1, 0, b""))
    return s


def measure(pid, label, count, connect):
    before = settled_rss(pid)
    conns = [connect() for _ in range(count)]
    after = settled_rss(pid)
    for c in conns:
        c.close()
    per = (after - before) / count / 1024
    print(f"| {label} | {count} | {per:.1f} |", flush=True)
    time.sleep(1)


def stalled(port, path, count):
    conns = []
    request = f"GET {path} HTTP/1.1\r\nHost: x\r\n\r\n".encode() * 400
    for _ in range(count):
        s = socket.create_connection(("127.0.0.1", port))
        s.setblocking(True)
        conns.append(s)
        # The send blocks once the server stops reading: each on its own thread.
        threading.Thread(target=lambda s=s: _send_quietly(s, request), daemon=True).start()
    return conns


def _send_quietly(s, data):
    try:
        s.sendall(data)
    except OSError:
        pass


def main():
    pid, plain, tls_port, path = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 1000
    stalled_count = int(sys.argv[6]) if len(sys.argv) > 6 else 50
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    context.set_alpn_protocols(["http/1.1"])
    print("| connection | count | KiB each (server RSS growth / count) |")
    print("|---|---:|---:|")
    measure(pid, "idle HTTP/1.1 (after one request)", count, lambda: h1(plain, path))
    measure(pid, "idle TLS HTTP/1.1 (after one request)", count, lambda: tls(tls_port, path, context))
    measure(pid, "idle h2c (after one request)", count, lambda: h2c(plain, path))
    before = settled_rss(pid)
    conns = stalled(plain, path, stalled_count)
    time.sleep(2)
    after = settled_rss(pid)
    print(f"| pipelining 400 requests, never reading | {stalled_count} | {(after - before) / stalled_count / 1024:.1f} |")
    for c in conns:
        try:
            c.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        c.close()


if __name__ == "__main__":
    main()
