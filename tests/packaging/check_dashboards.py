#!/usr/bin/env python3
"""Checks the rampart Grafana dashboards.

    check_dashboards.py [--prometheus URL] [--var NAME=VALUE]... FILE.json...

Structure: the template variables every dashboard must have, unique panel
ids, panels inside Grafana's 24-column grid, every query on the
${datasource} variable. With --prometheus, every query (panel targets,
annotations, and the selectors of variable queries), its template variables
replaced by sample values, is sent to that Prometheus' /api/v1/query and must
come back without an error; the panels named with --require-data must also
come back with data. It prints every problem and exits 1 if any.
"""

import argparse
import json
import re
import sys
import urllib.error
import urllib.parse
import urllib.request

REQUIRED_VARS = {"datasource", "job", "instance", "role"}
# Sample values for Grafana's variables, so the text becomes plain PromQL.
DEFAULT_VALUES = {
    "job": "rampart",
    "instance": "localhost:9643",
    "role": ".*",
    "__rate_interval": "1m",
    "__interval": "30s",
    "__range": "1h",
}
LABEL_VALUES = re.compile(r"^label_values\((.*),\s*[A-Za-z_][A-Za-z0-9_]*\)$", re.S)


def substitute(expr, values):
    def repl(m):
        name = m.group(1) or m.group(2)
        return values[name] if name in values else m.group(0)
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", repl, expr)


def leftover_variables(expr):
    # "$1" in label_replace is PromQL's, not Grafana's.
    return [v for v in re.findall(r"\$\{?(\w+)", expr) if not v.isdigit()]


def panels_of(dash):
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])


def queries_of(dash):
    """(where, panel title or None, expr) for every PromQL text in the
    dashboard."""
    for p in panels_of(dash):
        for t in p.get("targets", []):
            yield f'panel "{p.get("title")}" {t.get("refId")}', p.get("title"), t.get("expr", "")
    for a in dash.get("annotations", {}).get("list", []):
        if "expr" in a:
            yield f'annotation "{a.get("name")}"', None, a["expr"]
    for v in dash.get("templating", {}).get("list", []):
        if v.get("type") == "query":
            q = v.get("query")
            q = q.get("query", "") if isinstance(q, dict) else q
            m = LABEL_VALUES.match(q.strip())
            yield f'variable "{v.get("name")}"', None, m.group(1) if m else q


def check_structure(name, dash):
    errors = []
    if dash.get("schemaVersion", 0) < 36:
        errors.append(f"{name}: schemaVersion {dash.get('schemaVersion')} is older than Grafana 9/10")
    names = {v.get("name") for v in dash.get("templating", {}).get("list", [])}
    for missing in sorted(REQUIRED_VARS - names):
        errors.append(f"{name}: no template variable ${missing}")
    ids = [p.get("id") for p in panels_of(dash)]
    if len(ids) != len(set(ids)):
        errors.append(f"{name}: panel ids are not unique: {ids}")
    for p in panels_of(dash):
        g = p.get("gridPos", {})
        if g.get("x", -1) < 0 or g.get("w", 0) <= 0 or g["x"] + g["w"] > 24:
            errors.append(f'{name}: panel "{p.get("title")}" lies outside the grid: {g}')
        if p.get("type") == "row":
            continue
        if p.get("datasource") != {"type": "prometheus", "uid": "${datasource}"}:
            errors.append(f'{name}: panel "{p.get("title")}" does not use ${{datasource}}')
        if not p.get("targets"):
            errors.append(f'{name}: panel "{p.get("title")}" has no query')
        if not p.get("description"):
            errors.append(f'{name}: panel "{p.get("title")}" has no description')
    return errors


def query(url, expr):
    data = urllib.parse.urlencode({"query": expr}).encode()
    try:
        with urllib.request.urlopen(f"{url}/api/v1/query", data=data, timeout=10) as r:
            body = json.load(r)
    except urllib.error.HTTPError as e:
        body = json.load(e)
    if body.get("status") != "success":
        return f'{body.get("errorType")}: {body.get("error")}', None
    return None, body["data"]["result"]


def main(argv):
    ap = argparse.ArgumentParser()
    ap.add_argument("--prometheus", help="base URL of a Prometheus to evaluate every query")
    ap.add_argument("--var", action="append", default=[], help="NAME=VALUE for a template variable")
    ap.add_argument("--require-data", action="append", default=[], metavar="TITLE",
                    help="panels with this title must return data (repeatable)")
    ap.add_argument("files", nargs="+")
    args = ap.parse_args(argv)
    values = dict(DEFAULT_VALUES)
    for kv in args.var:
        k, _, v = kv.partition("=")
        values[k] = v

    errors, evaluated, with_data = [], 0, set()
    for path in args.files:
        with open(path, encoding="utf-8") as f:
            dash = json.load(f)
        errors += check_structure(path, dash)
        for where, title, expr in queries_of(dash):
            text = substitute(expr, values)
            left = leftover_variables(text)
            if left:
                errors.append(f"{path}: {where}: unknown variables {left} in: {expr}")
                continue
            if args.prometheus:
                err, result = query(args.prometheus, text)
                evaluated += 1
                if err:
                    errors.append(f"{path}: {where}: {err}\n    {text}")
                elif title in args.require_data:
                    if result:
                        with_data.add(title)
                    else:
                        errors.append(f"{path}: {where}: no data\n    {text}")
    for title in sorted(set(args.require_data) - with_data):
        if not any(title in e for e in errors):
            errors.append(f'no panel "{title}" returned data')
    for e in errors:
        print(f"FAIL {e}")
    if args.prometheus:
        print(f"{evaluated} queries evaluated by {args.prometheus}")
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
