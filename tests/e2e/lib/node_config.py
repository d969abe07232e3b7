#!/usr/bin/python3
"""Writes one node's rampart.yaml from an example role policy: the example's
firewall rules unchanged, its groups' documentation addresses replaced by the
topology's, and the node's own name, role, listen address, TLS files, state
directory and control socket.

usage: node_config.py EXAMPLE OUT --name N --role R --dir D --ca CA
                      --group NAME=ADDR,ADDR... [--group ...] [--watch FILE]

Works on the text (line by line, as YAML's block structure allows) so the
example's comments and layout survive and no YAML library is needed. A group
in the example that the test does not know is an error: the matrix would
otherwise test addresses nobody meant.
"""
import argparse
import re
import sys
from pathlib import Path

# Top-level keys the test sets itself; the example's are dropped.
OWN_KEYS = {"node", "listen", "web", "watch_certificates", "state_dir", "control_socket"}


def top_level_blocks(lines):
    """Splits into (key or None, lines) blocks at column-0 keys."""
    blocks, key, cur = [], None, []
    for line in lines:
        m = re.match(r"^([A-Za-z_][A-Za-z0-9_]*)\s*:", line)
        if m:
            blocks.append((key, cur))
            key, cur = m.group(1), []
        cur.append(line)
    blocks.append((key, cur))
    return blocks


def indent(line):
    return len(line) - len(line.lstrip(" "))


def replace_groups(firewall, groups):
    """In the firewall block, replaces the body of `groups:` with ours."""
    out, i, seen = [], 0, []
    while i < len(firewall):
        line = firewall[i]
        m = re.match(r"^(\s+)groups\s*:\s*(#.*)?$", line)
        if not m:
            out.append(line)
            i += 1
            continue
        base = len(m.group(1))
        out.append(line)
        i += 1
        child = None
        while i < len(firewall):
            body = firewall[i]
            if body.strip() and not body.lstrip().startswith("#") and indent(body) <= base:
                break
            g = re.match(r"^(\s+)([A-Za-z0-9_.-]+)\s*:", body)
            if g and (child is None or len(g.group(1)) == child):
                child = len(g.group(1))
                seen.append(g.group(2))
            i += 1
        unknown = [g for g in seen if g not in groups]
        if unknown:
            sys.exit(f"node_config: the example's groups {unknown} are not in the topology")
        pad = " " * (child if child is not None else base + 2)
        for name in seen:
            quoted = ", ".join('"' + a + '"' for a in groups[name])
            out.append(f"{pad}{name}: [{quoted}]\n")
    return out, seen


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("example")
    ap.add_argument("out")
    ap.add_argument("--name", required=True)
    ap.add_argument("--role", required=True)
    ap.add_argument("--dir", required=True)
    ap.add_argument("--ca", required=True)
    ap.add_argument("--group", action="append", default=[])
    ap.add_argument("--watch", action="append", default=[])
    args = ap.parse_args()
    groups = {}
    for g in args.group:
        name, addrs = g.split("=", 1)
        groups[name] = addrs.split(",")

    lines = Path(args.example).read_text().splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n"
    kept, used = [], []
    for key, block in top_level_blocks(lines):
        if key in OWN_KEYS:
            continue
        if key == "firewall":
            block, used = replace_groups(block, groups)
        kept.extend(block)
    if not any(re.match(r"^firewall\s*:", line) for line in kept):
        sys.exit(f"node_config: {args.example} has no firewall: section")

    d = args.dir
    own = [
        f"# {args.out}: {args.example} with the e2e topology's addresses\n",
        f"node:\n  name: {args.name}\n  role: {args.role}\n",
        'listen: "[::]:9643"\n',
        "web:\n  tls_server_config:\n",
        f"    cert_file: {d}/tls/cert.pem\n    key_file: {d}/tls/key.pem\n",
        "    client_auth_type: RequireAndVerifyClientCert\n",
        f"    client_ca_file: {args.ca}\n    min_version: TLS12\n",
        f"state_dir: {d}/state\ncontrol_socket: {d}/control.sock\n",
    ]
    if args.watch:
        own.append("watch_certificates:\n" + "".join(f"  - {w}\n" for w in args.watch))
    Path(args.out).write_text("".join(own) + "".join(kept))
    print(" ".join(used))


if __name__ == "__main__":
    main()
