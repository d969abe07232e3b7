#!/usr/bin/python3
"""TCP probes, run inside one node's namespace.

probe.py once TIMEOUT < targets
    Each stdin line "ADDR PORT" is one connect, all in parallel (at most 1000),
    each with TIMEOUT seconds. Prints "ADDR PORT RESULT" per target, RESULT
    being open (handshake done), closed (RST: host reached, nothing listens)
    or blocked (no answer before the timeout: dropped) or error:<errno>.

probe.py loop ADDR PORT SECONDS INTERVAL OUT
    Connects to ADDR:PORT every INTERVAL seconds (0.3 s timeout each) for at
    most SECONDS, or until the file OUT.stop appears; appends
    "MONOTONIC_NS RESULT" lines to OUT, flushed, one per attempt.
"""
import errno
import os
import selectors
import socket
import sys
import time

MAX_TARGETS = 1000


def family(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def probe_all(targets, timeout):
    sel = selectors.DefaultSelector()
    results = {}
    for addr, port in targets:
        s = socket.socket(family(addr), socket.SOCK_STREAM)
        s.setblocking(False)
        rc = s.connect_ex((addr, port))
        if rc in (0, errno.EINPROGRESS):
            sel.register(s, selectors.EVENT_WRITE, (addr, port))
        else:
            results[(addr, port)] = result_of(rc)
            s.close()
    deadline = time.monotonic() + timeout
    while sel.get_map():
        left = deadline - time.monotonic()
        if left <= 0:
            break
        for key, _ in sel.select(left):
            s = key.fileobj
            results[key.data] = result_of(s.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR))
            sel.unregister(s)
            s.close()
    for key in list(sel.get_map().values()):
        results[key.data] = "blocked"
        key.fileobj.close()
    return results


def result_of(err):
    if err == 0:
        return "open"
    if err == errno.ECONNREFUSED:
        return "closed"
    if err in (errno.ETIMEDOUT,):
        return "blocked"
    return f"error:{errno.errorcode.get(err, err)}"


def once(timeout):
    targets = []
    for line in sys.stdin:
        if line.strip():
            addr, port = line.split()
            targets.append((addr, int(port)))
    if len(targets) > MAX_TARGETS:
        sys.exit(f"probe: {len(targets)} targets, at most {MAX_TARGETS}")
    results = probe_all(targets, timeout)
    for addr, port in targets:
        print(addr, port, results[(addr, port)])


def loop(addr, port, seconds, interval, out):
    end = time.monotonic() + seconds
    with open(out, "a", buffering=1) as f:
        while time.monotonic() < end and not os.path.exists(out + ".stop"):
            started = time.monotonic()
            r = probe_all([(addr, port)], 0.3)[(addr, port)]
            f.write(f"{time.monotonic_ns()} {r}\n")
            time.sleep(max(0.0, interval - (time.monotonic() - started)))


def main():
    if sys.argv[1:2] == ["once"]:
        once(float(sys.argv[2]))
    elif sys.argv[1:2] == ["loop"]:
        loop(sys.argv[2], int(sys.argv[3]), float(sys.argv[4]), float(sys.argv[5]), sys.argv[6])
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
