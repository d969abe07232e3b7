#!/usr/bin/python3
"""The connection matrix: from every node to every port of every fleet node,
over IPv4 and IPv6, compared with the expectation table.

usage: matrix.py TOPOLOGY EXPECTED [--to NODE]... [--allow "DST PORT SRC..."]...
                 [--not-listening "DST PORT"]... [--timeout SECONDS] [--json OUT]

TOPOLOGY   lines "node v4 v6 namespace" (topology_file in topology.sh)
EXPECTED   lines "dst port src..." (see expected_matrix.txt): the sources
           that get through; every other source is blocked
--to       only these destinations (default: every destination in EXPECTED)
--allow    replaces one line of EXPECTED (a policy changed during the run)
--not-listening  nothing listens there now (an agent is down)

A source that gets through sees "open" where a stand-in service (or the
agent) listens and "closed" (RST) where nothing does; a blocked one sees no
answer. Exit status 1 on any difference, after printing the whole table.
"""
import argparse
import json
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

HERE = Path(__file__).resolve().parent


def read_topology(path):
    nodes = {}
    for line in Path(path).read_text().splitlines():
        node, a4, a6, ns = line.split()
        nodes[node] = {"v4": a4, "v6": a6, "ns": ns}
    return nodes


def read_expected(path, overrides, silent):
    """Returns (ports, listening, allowed): ports in table order, listening
    {(dst, port)}, allowed {(dst, port): set(src)}."""
    ports, listening, allowed = [], set(), {}
    for raw in Path(path).read_text().splitlines():
        line = raw.split("#", 1)[0].split()
        if not line:
            continue
        if line[0] == "listen":  # "listen NODE PORT..."
            listening.update((line[1], int(p)) for p in line[2:])
            continue
        dst, port, srcs = line[0], int(line[1]), line[2:]
        if port not in ports:
            ports.append(port)
        allowed[(dst, port)] = set(srcs) - {"-"}
    for o in overrides:
        dst, port, *srcs = o.split()
        if (dst, int(port)) not in allowed:
            sys.exit(f"matrix: --allow {o!r} names no line of the table")
        allowed[(dst, int(port))] = set(srcs)
    for o in silent:
        dst, port = o.split()
        listening.discard((dst, int(port)))
    return ports, listening, allowed


def probe_from(node, ns, targets, timeout):
    text = "".join(f"{a} {p}\n" for a, p in targets)
    out = subprocess.run(
        ["ip", "netns", "exec", ns, "python3", str(HERE / "probe.py"), "once", str(timeout)],
        input=text, capture_output=True, text=True, timeout=30)
    if out.returncode != 0:
        sys.exit(f"matrix: probe from {node} failed: {out.stderr.strip()}")
    seen = {}
    for line in out.stdout.splitlines():
        a, p, r = line.split()
        seen[(a, int(p))] = r
    return node, seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("topology")
    ap.add_argument("expected")
    ap.add_argument("--to", action="append", default=[])
    ap.add_argument("--allow", action="append", default=[])
    ap.add_argument("--not-listening", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=0.5)
    ap.add_argument("--json")
    args = ap.parse_args()

    nodes = read_topology(args.topology)
    ports, listening, allowed = read_expected(args.expected, args.allow, args.not_listening)
    dsts = sorted({d for d, _ in allowed}, key=list(nodes).index)
    if args.to:
        dsts = [d for d in dsts if d in args.to]
    srcs = list(nodes)

    rows = []  # (src, dst, port, expected)
    for dst in dsts:
        for src in srcs:
            if src == dst:
                continue
            for port in ports:
                if src in allowed[(dst, port)]:
                    exp = "open" if (dst, port) in listening else "closed"
                else:
                    exp = "blocked"
                rows.append((src, dst, port, exp))

    jobs = {}
    for src, dst, port, _ in rows:
        for fam in ("v4", "v6"):
            jobs.setdefault(src, []).append((nodes[dst][fam], port))
    with ThreadPoolExecutor(max_workers=len(jobs)) as pool:
        seen = dict(pool.map(lambda s: probe_from(s, nodes[s]["ns"], jobs[s], args.timeout),
                             jobs))

    bad = 0
    record = []
    print(f"{'from':<7} {'to':<5} {'port':>5}  {'expected':<8} {'seen v4':<8} {'seen v6':<8}")
    for src, dst, port, exp in rows:
        r4 = seen[src][(nodes[dst]["v4"], port)]
        r6 = seen[src][(nodes[dst]["v6"], port)]
        ok = r4 == exp and r6 == exp
        bad += not ok
        record.append({"from": src, "to": dst, "port": port, "expected": exp, "v4": r4, "v6": r6})
        print(f"{src:<7} {dst:<5} {port:>5}  {exp:<8} {r4:<8} {r6:<8}{'' if ok else '  <-- DIFFERS'}")
    print(f"matrix: {len(rows)} rows x 2 families, {bad} differ")
    if args.json:
        Path(args.json).write_text(json.dumps(record, indent=1))
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
