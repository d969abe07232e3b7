#!/usr/bin/python3
"""Evaluates the panel queries of chosen Node Exporter Full rows on a
Prometheus that scrapes both rampart and node_exporter, and counts per row
how many queries return data for each.

usage: dashboard_parity.py DASHBOARD PROM_URL --row TITLE... [--info-row TITLE...]
         --target NAME=JOB,INSTANCE --target NAME=JOB,INSTANCE [--out JSON]

The first --target is the one judged (rampart), the second the reference
(node_exporter). Prints a table (row, queries, with data per target); for
each query one target answers and the other does not, the query and the
metric names it uses. Exit status 1 when, in a judged row, the first target
answers fewer queries than the second; --info-row rows are printed but not
judged. Exit status 2 when the dashboard or a row is missing.

Dashboard variables are replaced by values that fit one exporter: $node and
$instance by its instance, $job by its job, $nodename by the node name from
its node_uname_info, and Grafana's interval variables by windows that hold
several 1 s scrapes.
"""
import argparse
import json
import re
import sys
import urllib.parse
import urllib.request

INTERVALS = {
    "__rate_interval": "10s",
    "__interval": "2s",
    "__range": "30s",
    "__range_s": "30",
    "__range_ms": "30000",
    "__interval_ms": "2000",
}

METRIC_RE = re.compile(r"\b(node_[A-Za-z0-9_]+)")


def rows_of(dashboard):
    """{row title: [panel, ...]}: a collapsed row holds its panels; an open
    row owns the top-level panels that follow it up to the next row."""
    rows, current = {}, None
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            current = panel.get("title", "")
            rows[current] = list(panel.get("panels", []))
        elif current is not None:
            rows[current].append(panel)
    return rows


def queries_of(panels):
    """Every target expression of the panels (and of nested panels), in order."""
    out = []
    for panel in panels:
        for t in panel.get("targets", []):
            expr = t.get("expr")
            if expr and expr.strip() and not t.get("hide"):
                out.append((panel.get("title", ""), expr))
        out.extend(queries_of(panel.get("panels", [])))
    return out


def substitute(expr, values):
    """Replaces $var, ${var} and [[var]] by values[var]; unknown ones stay."""
    def repl(m):
        name = m.group(1) or m.group(2) or m.group(3)
        return values.get(name, m.group(0))
    return re.sub(r"\$\{(\w+)(?::\w+)?\}|\[\[(\w+)\]\]|\$(\w+)", repl, expr)


class Prometheus:
    def __init__(self, url):
        self.url = url.rstrip("/")

    def query(self, q):
        data = urllib.parse.urlencode({"query": q}).encode()
        with urllib.request.urlopen(self.url + "/api/v1/query", data=data, timeout=10) as r:
            ans = json.load(r)
        if ans.get("status") != "success":
            raise RuntimeError(f"{ans.get('errorType')}: {ans.get('error')}")
        return ans["data"]

    def has_data(self, q):
        """True when the query answers at least one sample (a scalar counts
        when it is a number)."""
        d = self.query(q)
        if d["resultType"] == "scalar":
            return d["result"][1] not in ("NaN", "+Inf", "-Inf")
        return len(d["result"]) > 0


def absent_families(prom, metrics, targets, got):
    """For a query only one target answers: the families the other lacks,
    each with the label names (besides job and instance) the answering
    target gives them, e.g. "node_network_carrier{device}"."""
    have = 0 if got[0] else 1
    lack = 1 - have
    out = []
    for name in metrics:
        sel = '{{__name__="{}",job="{}",instance="{}"}}'
        if prom.query(sel.format(name, targets[lack][1]["job"], targets[lack][1]["instance"]))["result"]:
            continue
        series = prom.query(sel.format(name, targets[have][1]["job"], targets[have][1]["instance"]))["result"]
        labels = sorted({k for s in series for k in s["metric"]} - {"__name__", "job", "instance"})
        out.append(f"{name}{{{','.join(labels)}}}")
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("dashboard")
    ap.add_argument("prom_url")
    ap.add_argument("--row", action="append", default=[])
    ap.add_argument("--info-row", action="append", default=[])
    ap.add_argument("--target", action="append", required=True)
    ap.add_argument("--out")
    args = ap.parse_args()
    if len(args.target) != 2:
        sys.exit("dashboard_parity: exactly two --target")

    try:
        with open(args.dashboard) as f:
            dashboard = json.load(f)
    except (OSError, ValueError) as e:
        print(f"dashboard_parity: cannot read the dashboard: {e}", file=sys.stderr)
        return 2
    rows = rows_of(dashboard)
    missing = [r for r in args.row + args.info_row if r not in rows]
    if missing:
        print(f"dashboard_parity: rows not in the dashboard: {missing}; it has {list(rows)}",
              file=sys.stderr)
        return 2

    prom = Prometheus(args.prom_url)
    targets = []
    for spec in args.target:
        name, _, rest = spec.partition("=")
        job, _, instance = rest.partition(",")
        values = dict(INTERVALS, job=job, node=instance, instance=instance)
        uname = prom.query(f'node_uname_info{{job="{job}",instance="{instance}"}}')["result"]
        values["nodename"] = uname[0]["metric"].get("nodename", "") if uname else ""
        targets.append((name, values))

    report = {"rows": [], "targets": [t[0] for t in targets]}
    short = False
    for title in args.row + args.info_row:
        judged = title in args.row
        queries = queries_of(rows[title])
        counts = [0, 0]
        diffs = []
        for panel, expr in queries:
            got = []
            for i, (_, values) in enumerate(targets):
                q = substitute(expr, values)
                try:
                    ok = prom.has_data(q)
                except (RuntimeError, OSError) as e:
                    print(f"  query error ({targets[i][0]}): {e}: {q}", file=sys.stderr)
                    ok = False
                got.append(ok)
                counts[i] += ok
            if got[0] != got[1]:
                metrics = sorted(set(METRIC_RE.findall(expr)))
                diffs.append({"panel": panel, "expr": " ".join(expr.split()),
                              "with_data": [targets[i][0] for i in (0, 1) if got[i]],
                              "metrics": metrics,
                              "absent": absent_families(prom, metrics, targets, got)})
        row = {"row": title, "judged": judged, "queries": len(queries),
               "with_data": counts, "differences": diffs}
        report["rows"].append(row)
        if judged and counts[0] < counts[1]:
            short = True

    a, b = report["targets"]
    head = f"{'row':<32} {'judged':<6} {'queries':>7} {a:>10} {b:>14}"
    print(head)
    print("-" * len(head))
    for r in report["rows"]:
        mark = "" if not r["judged"] or r["with_data"][0] >= r["with_data"][1] else "  << fewer"
        print(f"{r['row']:<32} {'yes' if r['judged'] else 'info':<6} {r['queries']:>7} "
              f"{r['with_data'][0]:>10} {r['with_data'][1]:>14}{mark}")
    for r in report["rows"]:
        for d in r["differences"]:
            who = d["with_data"][0] if d["with_data"] else "none"
            absent = ", ".join(d["absent"]) or "(every family present; labels differ)"
            print(f"  [{r['row']} / {d['panel']}] only {who}; missing on the other: {absent}"
                  f"  <- {d['expr'][:160]}")
    lacking = sorted({f for r in report["rows"] if r["judged"] for d in r["differences"]
                      if d["with_data"] == [b] for f in d["absent"]})
    if lacking:
        print(f"families of judged rows that {b} has and {a} lacks:")
        for f in lacking:
            print(f"  {f}")
    report["lacking"] = lacking
    if args.out:
        with open(args.out, "w") as f:
            json.dump(report, f, indent=1)
    return 1 if short else 0


if __name__ == "__main__":
    sys.exit(main())
