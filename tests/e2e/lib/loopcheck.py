#!/usr/bin/python3
"""Checks a connection loop's log (probe.py loop) against phases.

usage: loopcheck.py LOG PHASE=RESULT...

The test appends "MARK PHASE" lines to LOG when it changes something; the
attempts after a mark belong to that phase ("start" before any mark). In
every phase named, each attempt must have RESULT, except the first one after
the mark (it may have been under way while the change was made), and at
least 3 attempts must have been made. Prints a one-line summary per phase.
"""
import sys
from pathlib import Path


def main():
    log, wanted = sys.argv[1], dict(a.split("=", 1) for a in sys.argv[2:])
    phases, cur = {"start": []}, "start"
    for line in Path(log).read_text().splitlines():
        f = line.split()
        if len(f) != 2:
            continue
        if f[0] == "MARK":
            cur = f[1]
            phases.setdefault(cur, [])
        else:
            phases[cur].append(f[1])
    bad = 0
    for phase, want in wanted.items():
        got = phases.get(phase, [])
        judged = got[1:] if phase != "start" else got
        wrong = [r for r in judged if r != want]
        ok = len(judged) >= 3 and not wrong
        bad += not ok
        counts = {r: got.count(r) for r in sorted(set(got))}
        print(f"{phase}: want {want}, {len(got)} attempts {counts}{'' if ok else '  <-- WRONG'}")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
