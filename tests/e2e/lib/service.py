#!/usr/bin/python3
"""Stand-in services of one node: listens on the given TCP ports (IPv4 and
IPv6 on one socket each), answers every connection with "NODE PORT\\n" and
closes it. Creates READY_FILE once every port is bound.

usage: service.py NODE READY_FILE PORT...
"""
import os
import selectors
import socket
import sys


def listener(port):
    s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    s.bind(("::", port))
    s.listen(128)
    s.setblocking(False)
    return s


def main():
    node, ready, ports = sys.argv[1], sys.argv[2], [int(p) for p in sys.argv[3:]]
    sel = selectors.DefaultSelector()
    for port in ports:
        sel.register(listener(port), selectors.EVENT_READ, port)
    with open(ready + ".tmp", "w") as f:
        f.write(f"{os.getpid()}\n")
    os.rename(ready + ".tmp", ready)
    banner = {port: f"{node} {port}\n".encode() for port in ports}
    while True:
        for key, _ in sel.select():
            try:
                conn, _ = key.fileobj.accept()
            except (BlockingIOError, ConnectionAbortedError):
                continue
            try:
                conn.setblocking(False)
                conn.send(banner[key.data])
            except OSError:
                pass
            conn.close()


if __name__ == "__main__":
    main()
