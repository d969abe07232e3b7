#!/usr/bin/env python3
"""TLS clients for the load and fault tests (loopback only, bounded).

  tlsclient.py scrape PORT SECONDS CLIENTS   keep-alive GET /metrics from CLIENTS
                                             threads for SECONDS; prints JSON
  tlsclient.py abandon PORT COUNT PARALLEL   COUNT connections that send nothing
                                             or part of a ClientHello, then close
  tlsclient.py health PORT DEADLINE          GET /healthz; exit 0 if 200 in time
  tlsclient.py fingerprint PORT              SHA-256 of the served certificate
"""
import hashlib
import json
import socket
import ssl
import sys
import threading
import time

HOST = "127.0.0.1"


def context():
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE  # the identity is checked by fingerprint
    return ctx


def connect(port, timeout):
    raw = socket.create_connection((HOST, port), timeout=timeout)
    return context().wrap_socket(raw, server_hostname="localhost")


def read_response(sock):
    """One HTTP/1.1 response; returns (status, body length)."""
    buf = b""
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError("closed before the headers")
        buf += chunk
        if len(buf) > 1 << 20:
            raise ValueError("headers too long")
    head, body = buf.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    length = None
    for line in lines[1:]:
        name, _, value = line.partition(":")
        if name.strip().lower() == "content-length":
            length = int(value.strip())
    if length is None:
        raise ValueError("no Content-Length")
    while len(body) < length:
        chunk = sock.recv(min(65536, length - len(body)))
        if not chunk:
            raise ConnectionError("closed inside the body")
        body += chunk
    return status, length


def get(sock, path):
    sock.sendall(f"GET {path} HTTP/1.1\r\nHost: {HOST}\r\n\r\n".encode())
    return read_response(sock)


def scrape(port, seconds, clients):
    end = time.monotonic() + seconds
    lat, failures, errors, lock = [], [0], [], threading.Lock()

    def worker():
        sock, mine, fails = None, [], 0
        while time.monotonic() < end:
            t = time.perf_counter()
            try:
                if sock is None:
                    sock = connect(port, 10)
                status, length = get(sock, "/metrics")
                if status != 200 or length == 0:
                    raise ValueError(f"status {status}, {length} bytes")
                mine.append(time.perf_counter() - t)
            except Exception as e:  # every failure counts, none retried silently
                fails += 1
                with lock:
                    if len(errors) < 5:
                        errors.append(repr(e))
                if sock is not None:
                    sock.close()
                sock = None
        if sock is not None:
            sock.close()
        with lock:
            lat.extend(mine)
            failures[0] += fails

    threads = [threading.Thread(target=worker) for _ in range(clients)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    lat.sort()

    def pct(p):
        return round(1000 * lat[min(len(lat) - 1, int(p * len(lat)))], 2) if lat else None

    print(json.dumps({"clients": clients, "seconds": seconds, "scrapes": len(lat),
                      "failures": failures[0], "errors": errors, "p50_ms": pct(0.50),
                      "p99_ms": pct(0.99), "max_ms": pct(1.0)}))
    return 0 if failures[0] == 0 and lat else 1


# A TLS record header and the start of a ClientHello, cut short.
PARTIAL_HELLO = bytes.fromhex("16030100f4010000f00303") + b"\x00" * 16


def abandon(port, count, parallel):
    sent, refused = [0], [0]
    lock = threading.Lock()
    per = (count + parallel - 1) // parallel

    def worker(n):
        for i in range(n):
            try:
                s = socket.create_connection((HOST, port), timeout=5)
                if i % 2:
                    s.sendall(PARTIAL_HELLO[: 5 + i % len(PARTIAL_HELLO)])
                s.close()
                with lock:
                    sent[0] += 1
            except OSError:
                with lock:
                    refused[0] += 1

    threads, left = [], count
    for _ in range(parallel):
        n = min(per, left)
        left -= n
        threads.append(threading.Thread(target=worker, args=(n,)))
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(json.dumps({"opened_and_abandoned": sent[0], "connect_failed": refused[0]}))
    return 0


def health(port, deadline):
    t = time.perf_counter()
    try:
        sock = connect(port, deadline)
        status, _ = get(sock, "/healthz")
        sock.close()
    except Exception as e:
        print(f"healthz: {e!r}", file=sys.stderr)
        return 1
    took = time.perf_counter() - t
    print(f"{1000 * took:.1f}")
    if took > deadline:
        print(f"healthz: status {status} after {1000 * took:.0f} ms, over {deadline} s", file=sys.stderr)
    return 0 if status == 200 and took <= deadline else 1


def fingerprint(port):
    sock = connect(port, 5)
    der = sock.getpeercert(binary_form=True)
    sock.close()
    print(hashlib.sha256(der).hexdigest())
    return 0


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    verb, port = argv[1], int(argv[2])
    if verb == "scrape":
        return scrape(port, float(argv[3]), int(argv[4]))
    if verb == "abandon":
        return abandon(port, int(argv[3]), int(argv[4]))
    if verb == "health":
        return health(port, float(argv[3]))
    if verb == "fingerprint":
        return fingerprint(port)
    print(__doc__, file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv))
