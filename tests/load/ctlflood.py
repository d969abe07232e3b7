#!/usr/bin/env python3
"""Floods the agent's control socket with requests and never reads an answer.

  ctlflood.py SOCKET CONNECTIONS SECONDS

Each connection writes `{"cmd":"status"}` lines as fast as the socket takes
them; when the agent drops it, it connects again, until SECONDS have
passed. Prints JSON: connections, drops, requests written.
"""
import json
import socket
import sys
import threading
import time

LINE = b'{"cmd":"status"}\n' * 64


def main(argv):
    path, conns, seconds = argv[1], int(argv[2]), float(argv[3])
    end = time.monotonic() + seconds
    written, opened, dropped, lock = [0], [0], [0], threading.Lock()

    def worker():
        n = drops = 0
        while time.monotonic() < end:  # dropped by the agent: come back
            try:
                s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                s.connect(path)
            except OSError:
                s.close()
                time.sleep(0.05)
                continue
            with lock:
                opened[0] += 1
            s.settimeout(0.2)
            while time.monotonic() < end:
                try:
                    n += s.send(LINE)
                except socket.timeout:
                    continue  # the agent stopped reading: keep pushing
                except OSError:
                    drops += 1
                    break  # the agent dropped us
            s.close()
        with lock:
            written[0] += n // (len(LINE) // 64)
            dropped[0] += drops

    threads = [threading.Thread(target=worker) for _ in range(conns)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    print(json.dumps({"connections": opened[0], "dropped_by_agent": dropped[0],
                      "requests_written": written[0]}))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
