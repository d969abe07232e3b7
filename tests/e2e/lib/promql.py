#!/usr/bin/python3
"""Reads a Prometheus /api/v1/query answer on stdin and prints one line per
series, "label=value ... VALUE" (labels sorted, __name__ first), sorted.
Exit status 1 when the answer is not a successful vector or scalar."""
import json
import sys


def main():
    text = sys.stdin.read()
    try:
        ans = json.loads(text)
    except ValueError:
        sys.exit(f"promql: not a Prometheus answer: {text[:200]!r}")
    if ans.get("status") != "success":
        sys.exit(f"promql: {ans.get('errorType')}: {ans.get('error')}")
    data = ans["data"]
    if data["resultType"] == "scalar":
        print(data["result"][1])
        return
    if data["resultType"] != "vector":
        sys.exit(f"promql: unexpected result type {data['resultType']}")
    lines = []
    for s in data["result"]:
        m = s["metric"]
        keys = sorted(m, key=lambda k: (k != "__name__", k))
        lines.append(" ".join(f"{k}={m[k]}" for k in keys) + f" {s['value'][1]}")
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    main()
