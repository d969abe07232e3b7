#!/usr/bin/env python3
"""Writes the rampart Grafana dashboards (Grafana 10 JSON model).

    packaging/grafana/make_dashboards.py            rewrite the JSON files here
    packaging/grafana/make_dashboards.py --out DIR  write them into DIR

The JSON files are committed; the packaging test regenerates them and fails
when they differ, so edit this script, never the JSON. Panels are built by
the few helpers below so that every panel of one kind looks the same, and
every query uses the same selectors and template variables.
"""

import argparse
import json
import pathlib
import sys

SCHEMA_VERSION = 38  # Grafana 10.0
DS = {"type": "prometheus", "uid": "${datasource}"}

# Selectors. The fleet dashboard lets several jobs and instances be chosen
# (regex matchers, which Grafana escapes for multi-value variables); the node
# dashboard shows exactly one instance (equality: instance names such as
# "[2001:db8::1]:9643" are not regexes).
FLEET = 'job=~"$job", instance=~"$instance"'
NODE = 'job="$job", instance="$instance"'
# Only rules that drop: whatever the kernel-side action is called, it is not
# an accept.
DROPPING = 'action!~"allow|accept"'

# Keeps the series of nodes whose role is one of $role. `and` needs no unique
# match on the right, so an info metric that changed its version label in the
# window does no harm; last_over_time keeps nodes that are down now.
def of_role(expr, sel=FLEET):
    return (f"({expr})\n  and on (job, instance)\n"
            f"  last_over_time(rampart_node_info{{{sel}, role=~\"$role\"}}[1d])")


# ---- template variables ---------------------------------------------------

def datasource_var():
    return {
        "name": "datasource", "label": "Data source", "type": "datasource",
        "query": "prometheus", "current": {}, "hide": 0, "includeAll": False,
        "multi": False, "options": [], "refresh": 1, "regex": "", "skipUrlSync": False,
    }


def query_var(name, label, query, multi, include_all=None):
    include_all = multi if include_all is None else include_all
    return {
        "name": name, "label": label, "type": "query", "datasource": DS,
        "query": query, "definition": query, "current": {}, "hide": 0,
        "includeAll": include_all, "multi": multi, "options": [],
        "refresh": 2, "regex": "", "skipUrlSync": False, "sort": 1,
    }


def variables(single_node):
    """The node dashboard shows one job and one instance; the fleet any."""
    job = 'job="$job"' if single_node else 'job=~"$job"'
    many = not single_node
    return [
        datasource_var(),
        query_var("job", "Job", "label_values(rampart_node_info, job)", many),
        query_var("role", "Role", f"label_values(rampart_node_info{{{job}}}, role)", True),
        query_var("instance", "Node",
                  f'label_values(rampart_node_info{{{job}, role=~"$role"}}, instance)', many),
    ]


# ---- panels -----------------------------------------------------------------

def target(expr, legend="", ref="A", instant=False, fmt="time_series"):
    t = {"datasource": DS, "editorMode": "code", "expr": expr, "legendFormat": legend,
         "refId": ref, "range": not instant, "instant": instant}
    if fmt != "time_series":
        t["format"] = fmt
    return t


def targets(queries, **kw):
    return [target(expr, legend, chr(ord("A") + i), **kw)
            for i, (expr, legend) in enumerate(queries)]


def thresholds(*steps):
    """steps: (color, from-value) pairs, the first from -inf."""
    return {"mode": "absolute",
            "steps": [{"color": c, "value": v} for c, v in steps]}


GREEN_ONLY = thresholds(("green", None))


def timeseries(title, queries, unit="short", description="", stack=False, bars=False,
               min_value=0, max_value=None, legend_calcs=("mean", "max"), overrides=()):
    custom = {
        "drawStyle": "bars" if bars else "line",
        "lineWidth": 1,
        "fillOpacity": 80 if bars else (25 if stack else 10),
        "gradientMode": "none",
        "showPoints": "never",
        "spanNulls": False,
        "stacking": {"mode": "normal" if stack else "none", "group": "A"},
        "axisPlacement": "auto",
        "axisLabel": "",
    }
    defaults = {"unit": unit, "custom": custom, "color": {"mode": "palette-classic"},
                "thresholds": GREEN_ONLY}
    if min_value is not None:
        defaults["min"] = min_value
    if max_value is not None:
        defaults["max"] = max_value
    return {
        "type": "timeseries", "title": title, "description": description,
        "datasource": DS,
        "fieldConfig": {"defaults": defaults, "overrides": list(overrides)},
        "options": {
            "legend": {"showLegend": True, "displayMode": "table", "placement": "bottom",
                       "calcs": list(legend_calcs)},
            "tooltip": {"mode": "multi", "sort": "desc"},
        },
        "targets": targets(queries),
    }


def stat(title, expr, unit="short", description="", steps=GREEN_ONLY, mappings=(),
         legend="", color_mode="value", text_mode="auto"):
    return {
        "type": "stat", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": steps,
                                     "color": {"mode": "thresholds"},
                                     "mappings": list(mappings)},
                        "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "colorMode": color_mode, "graphMode": "none", "justifyMode": "auto",
                    "orientation": "auto", "textMode": text_mode},
        "targets": [target(expr, legend, instant=True)],
    }


def bargauge(title, expr, legend, unit="short", description="", steps=GREEN_ONLY,
             min_value=0, max_value=None):
    defaults = {"unit": unit, "thresholds": steps, "color": {"mode": "thresholds"},
                "min": min_value}
    if max_value is not None:
        defaults["max"] = max_value
    return {
        "type": "bargauge", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": defaults, "overrides": []},
        "options": {"reduceOptions": {"calcs": ["lastNotNull"], "fields": "", "values": False},
                    "orientation": "horizontal", "displayMode": "gradient",
                    "showUnfilled": True, "minVizHeight": 10, "minVizWidth": 0},
        "targets": [target(expr, legend, instant=True)],
    }


def state_timeline(title, expr, legend, description=""):
    return {
        "type": "state-timeline", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {
            "defaults": {
                "color": {"mode": "thresholds"},
                "thresholds": thresholds(("red", None), ("green", 1)),
                "mappings": [{"type": "value", "options": {
                    "0": {"text": "down", "color": "red", "index": 0},
                    "1": {"text": "up", "color": "green", "index": 1}}}],
                "custom": {"fillOpacity": 80, "lineWidth": 0},
            },
            "overrides": [],
        },
        "options": {"showValue": "never", "mergeValues": True, "rowHeight": 0.9,
                    "alignValue": "left", "legend": {"showLegend": False},
                    "tooltip": {"mode": "single", "sort": "none"}},
        "targets": [target(expr, legend)],
    }


def table(title, expr, columns, value_title=None, unit="short", description="",
          steps=GREEN_ONLY, links=()):
    """An instant query shown as a table of its labels `columns` (label ->
    header), and its value under `value_title` (None: hidden)."""
    exclude = {"Time": True, "__name__": True}
    if value_title is None:
        exclude["Value"] = True
    rename = dict(columns)
    if value_title is not None:
        rename["Value"] = value_title
    order = {name: i for i, name in enumerate(list(columns) + ["Value"])}
    overrides = []
    if value_title is not None:
        overrides.append({
            "matcher": {"id": "byName", "options": value_title},
            "properties": [{"id": "custom.cellOptions",
                            "value": {"type": "color-background", "mode": "basic"}}],
        })
    if links:
        overrides.append({
            "matcher": {"id": "byName", "options": rename.get("instance", "instance")},
            "properties": [{"id": "links", "value": list(links)}],
        })
    return {
        "type": "table", "title": title, "description": description, "datasource": DS,
        "fieldConfig": {"defaults": {"unit": unit, "thresholds": steps,
                                     "color": {"mode": "thresholds"},
                                     "custom": {"align": "auto", "cellOptions": {"type": "auto"}}},
                        "overrides": overrides},
        "options": {"showHeader": True, "cellHeight": "sm",
                    "footer": {"show": False, "reducer": ["sum"], "fields": ""}},
        "targets": [target(expr, "", instant=True, fmt="table")],
        "transformations": [{
            "id": "organize",
            "options": {"excludeByName": exclude, "indexByName": order,
                        "renameByName": rename},
        }],
    }


def row(title, repeat=None):
    r = {"type": "row", "title": title, "collapsed": False, "panels": []}
    if repeat:
        r["repeat"] = repeat
    return r


class Layout:
    """Places panels left to right in Grafana's 24-column grid, wrapping
    to a new line, and numbers them."""

    def __init__(self):
        self.panels = []
        self.x = 0
        self.y = 0
        self.line_height = 0

    def _newline(self):
        self.y += self.line_height
        self.x = 0
        self.line_height = 0

    def add(self, panel, w=12, h=8):
        if panel["type"] == "row":
            self._newline()
            w, h = 24, 1
        elif self.x + w > 24:
            self._newline()
        panel["id"] = len(self.panels) + 1
        panel["gridPos"] = {"h": h, "w": w, "x": self.x, "y": self.y}
        self.panels.append(panel)
        self.x += w
        self.line_height = max(self.line_height, h)
        if panel["type"] == "row":
            self._newline()


def dashboard(uid, title, description, layout, single_node, annotations=()):
    builtin = {
        "builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"},
        "enable": True, "hide": True, "iconColor": "rgba(0, 211, 255, 1)",
        "name": "Annotations & Alerts", "type": "dashboard",
    }
    return {
        "annotations": {"list": [builtin, *annotations]},
        "description": description,
        "editable": True,
        "fiscalYearStartMonth": 0,
        "graphTooltip": 1,
        "id": None,
        "links": [{"title": "rampart", "type": "dashboards", "tags": ["rampart"],
                   "asDropdown": False, "includeVars": True, "keepTime": True,
                   "icon": "external link", "targetBlank": False, "tooltip": "", "url": ""}],
        "liveNow": False,
        "panels": layout.panels,
        "refresh": "30s",
        "schemaVersion": SCHEMA_VERSION,
        "style": "dark",
        "tags": ["rampart"],
        "templating": {"list": variables(single_node)},
        "time": {"from": "now-6h", "to": "now"},
        "timepicker": {},
        "timezone": "",
        "title": title,
        "uid": uid,
        "version": 1,
        "weekStart": "",
    }


def prometheus_annotation(name, expr, title, text, color):
    return {
        "name": name, "datasource": DS, "enable": True, "hide": False,
        "iconColor": color, "expr": expr, "step": "60s",
        "titleFormat": title, "textFormat": text, "tagKeys": "", "useValueForTime": False,
    }


# ---- the dashboards -----------------------------------------------------------

NODE_LINK = {
    "title": "rampart node: ${__value.raw}",
    "url": "/d/rampart-node/rampart-node?${datasource:queryparam}&var-job=${__data.fields.job}"
           "&var-instance=${__value.raw}&${__url_time_range}",
}

DAYS_LEFT_STEPS = thresholds(("red", None), ("orange", 3), ("green", 14))


def fleet():
    lay = Layout()
    lay.add(row("Fleet"))
    lay.add(table(
        "Nodes",
        f"max by (job, instance, node, role, version) (rampart_node_info{{{FLEET}, role=~\"$role\"}})",
        {"instance": "instance", "node": "node", "role": "role", "version": "version", "job": "job"},
        description="Every node that reports to Prometheus, with the role and version its agent "
                    "announces (rampart_node_info). Click a node for its own dashboard.",
        links=[NODE_LINK]), w=12, h=8)
    lay.add(stat(
        "Agents up", f'sum(up{{{FLEET}}})',
        description="Targets of the selected jobs whose last scrape succeeded."), w=4, h=4)
    lay.add(stat(
        "Agents down", f'count(up{{{FLEET}}} == 0) or vector(0)',
        steps=thresholds(("green", None), ("red", 1)),
        description="Targets whose last scrape failed (RampartAgentDown fires after 2 minutes)."),
        w=4, h=4)
    lay.add(stat(
        "Firing rampart alerts", 'count(ALERTS{alertstate="firing", alertname=~"Rampart.*"}) or vector(0)',
        steps=thresholds(("green", None), ("red", 1)),
        description="Alerts of rampart.rules.yml firing now, as Prometheus sees them."),
        w=4, h=4)
    lay.add(stat(
        "Soonest certificate expiry",
        f"min(rampart_tls_certificate_not_after_seconds{{{FLEET}}} - time()) / 86400",
        unit="d", steps=DAYS_LEFT_STEPS,
        description="The certificate closest to expiry on any selected node: the agents' own "
                    "and every watched one."), w=6, h=4)
    lay.add(stat(
        "Drift events (range)", f"sum(increase(rampart_firewall_drift_total{{{FLEET}}}[$__range]))",
        steps=thresholds(("green", None), ("orange", 1)),
        description="Times something else changed a rampart table and the agent restored it, "
                    "over the dashboard's time range."), w=6, h=4)

    lay.add(row("Role $role", repeat="role"))
    lay.add(state_timeline(
        "Agents up", of_role(f"up{{{FLEET}}}"), "{{instance}}",
        description="Each node of this role: green while Prometheus scrapes it, red when not."),
        w=24, h=6)
    lay.add(timeseries(
        "CPU busy",
        [(of_role(f'1 - avg by (job, instance) (rate(node_cpu_seconds_total{{{FLEET}, mode="idle"}}[$__rate_interval]))'),
          "{{instance}}")],
        unit="percentunit", max_value=1,
        description="Share of CPU time not idle, all CPUs of the node averaged."), w=8)
    lay.add(timeseries(
        "Network in",
        [(of_role(f'sum by (job, instance) (rate(node_network_receive_bytes_total{{{FLEET}, device!="lo"}}[$__rate_interval]))'),
          "{{instance}}")],
        unit="Bps", description="Bytes received per second, all devices but lo."), w=8)
    lay.add(timeseries(
        "Network out",
        [(of_role(f'sum by (job, instance) (rate(node_network_transmit_bytes_total{{{FLEET}, device!="lo"}}[$__rate_interval]))'),
          "{{instance}}")],
        unit="Bps", description="Bytes sent per second, all devices but lo."), w=8)
    lay.add(timeseries(
        "Firewall drops",
        [(of_role(f"sum by (job, instance) (\n"
                  f"  rate(rampart_firewall_dropped_packets_total{{{FLEET}}}[$__rate_interval])\n"
                  f"  or rate(rampart_firewall_rule_packets_total{{{FLEET}, {DROPPING}}}[$__rate_interval])\n)"),
          "{{instance}}")],
        unit="pps",
        description="Packets dropped per second: by the default policy and by deny and reject rules."), w=8)
    lay.add(bargauge(
        "Days until certificate expiry",
        of_role(f"min by (job, instance) (rampart_tls_certificate_not_after_seconds{{{FLEET}}} - time()) / 86400"),
        "{{instance}}", unit="d", steps=DAYS_LEFT_STEPS,
        description="For each node, its certificate closest to expiry (the agent's own or a "
                    "watched one). Orange under 14 days, red under 3, as the alerts."), w=8)
    lay.add(timeseries(
        "Drift events",
        [(of_role(f"increase(rampart_firewall_drift_total{{{FLEET}}}[$__rate_interval])"), "{{instance}}")],
        bars=True, legend_calcs=("sum",),
        description="Times something other than the agent changed the node's rampart table "
                    "(the agent restored it each time)."), w=8)
    return dashboard(
        "rampart-fleet", "rampart fleet",
        "Every rampart node by role: up, CPU, network, firewall drops, certificate expiry, drift.",
        lay, single_node=False)


def node():
    lay = Layout()
    s = NODE
    lay.add(row("Overview"))
    lay.add(stat("Agent", f"up{{{s}}}",
                 steps=thresholds(("red", None), ("green", 1)), color_mode="background",
                 mappings=[{"type": "value", "options": {
                     "0": {"text": "down", "index": 0}, "1": {"text": "up", "index": 1}}}],
                 description="Whether Prometheus' last scrape of this agent succeeded."), w=3, h=4)
    lay.add(stat("Role and version", f"max by (role, version) (rampart_node_info{{{s}}})",
                 legend="{{role}} {{version}}", text_mode="name",
                 description="The role in the node's configuration (node.role) and the agent's "
                             "version."), w=3, h=4)
    lay.add(stat("Agent uptime", f"time() - process_start_time_seconds{{{s}}}", unit="dtdurations",
                 description="Time since the agent process started."), w=4, h=4)
    lay.add(stat("Rules in the kernel", f"rampart_firewall_rules{{{s}}}",
                 description="Rules live in the node's rampart table."), w=3, h=4)
    lay.add(stat("Bans", f"rampart_firewall_bans{{{s}}}",
                 description="Addresses and networks banned now (rampart fw bans)."), w=3, h=4)
    lay.add(stat("Last apply", f"rampart_firewall_last_apply_timestamp_seconds{{{s}}} * 1000",
                 unit="dateTimeFromNow",
                 description="When the agent last applied its policy to the kernel."), w=4, h=4)
    lay.add(stat("Soonest certificate expiry",
                 f"min(rampart_tls_certificate_not_after_seconds{{{s}}} - time()) / 86400",
                 unit="d", steps=DAYS_LEFT_STEPS,
                 description="The certificate on this node closest to expiry."), w=4, h=4)

    lay.add(row("CPU"))
    lay.add(timeseries(
        "CPU by mode",
        [(f"avg by (mode) (rate(node_cpu_seconds_total{{{s}}}[$__rate_interval]))", "{{mode}}")],
        unit="percentunit", stack=True, max_value=1,
        description="Share of CPU time in each mode, all CPUs averaged (stacked to 100%)."), w=12)
    lay.add(timeseries(
        "CPU busy per core",
        [(f'1 - rate(node_cpu_seconds_total{{{s}, mode="idle"}}[$__rate_interval])', "cpu {{cpu}}")],
        unit="percentunit", max_value=1,
        description="Share of time each CPU was not idle."), w=12)
    lay.add(timeseries(
        "Load average",
        [(f"node_load1{{{s}}}", "1m"), (f"node_load5{{{s}}}", "5m"), (f"node_load15{{{s}}}", "15m"),
         (f'count(node_cpu_seconds_total{{{s}, mode="idle"}})', "CPUs")],
        description="Run-queue load averages, with the number of CPUs for scale."), w=12)
    lay.add(timeseries(
        "Memory",
        [(f"node_memory_MemTotal_bytes{{{s}}} - node_memory_MemAvailable_bytes{{{s}}}", "used"),
         (f"node_memory_MemAvailable_bytes{{{s}}}", "available")],
        unit="bytes", stack=True,
        description="Memory in use (total minus available) and available."), w=12)

    lay.add(row("Network"))
    lay.add(timeseries(
        "Received per device",
        [(f"rate(node_network_receive_bytes_total{{{s}}}[$__rate_interval])", "{{device}}")],
        unit="Bps", description="Bytes received per second on each network device."), w=12)
    lay.add(timeseries(
        "Sent per device",
        [(f"rate(node_network_transmit_bytes_total{{{s}}}[$__rate_interval])", "{{device}}")],
        unit="Bps", description="Bytes sent per second on each network device."), w=12)
    lay.add(timeseries(
        "Errors and drops per device",
        [(f"rate(node_network_receive_errs_total{{{s}}}[$__rate_interval])", "{{device}} receive errors"),
         (f"rate(node_network_transmit_errs_total{{{s}}}[$__rate_interval])", "{{device}} transmit errors"),
         (f"rate(node_network_receive_drop_total{{{s}}}[$__rate_interval])", "{{device}} receive drops"),
         (f"rate(node_network_transmit_drop_total{{{s}}}[$__rate_interval])", "{{device}} transmit drops")],
        unit="pps",
        description="Packets per second the devices counted as errors or dropped (before the "
                    "firewall: these are not firewall drops)."), w=12)
    lay.add(timeseries(
        "TCP retransmits and resets",
        [(f"rate(node_netstat_Tcp_RetransSegs{{{s}}}[$__rate_interval])", "retransmitted segments"),
         (f"rate(node_netstat_TcpExt_TCPSynRetrans{{{s}}}[$__rate_interval])", "SYN retransmits"),
         (f"rate(node_netstat_Tcp_OutRsts{{{s}}}[$__rate_interval])", "resets sent")],
        unit="pps",
        description="TCP segments retransmitted, SYNs retransmitted, and RSTs sent, per second."), w=12)
    lay.add(timeseries(
        "TCP connections",
        [(f"node_netstat_Tcp_CurrEstab{{{s}}}", "established"),
         (f"rate(node_netstat_Tcp_ActiveOpens{{{s}}}[$__rate_interval])", "opened by this node /s"),
         (f"rate(node_netstat_Tcp_PassiveOpens{{{s}}}[$__rate_interval])", "accepted /s")],
        description="Established connections now, and connections opened per second."), w=12)
    lay.add(timeseries(
        "Conntrack entries vs limit",
        [(f"node_nf_conntrack_entries{{{s}}}", "entries"),
         (f"node_nf_conntrack_entries_limit{{{s}}}", "limit")],
        description="Connections the kernel tracks, and the table's size (net.netfilter."
                    "nf_conntrack_max). When full, new connections are dropped.",
        overrides=[{"matcher": {"id": "byName", "options": "limit"},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}},
                                   {"id": "custom.fillOpacity", "value": 0}]}]), w=12)

    lay.add(row("Firewall"))
    lay.add(timeseries(
        "Packets per rule",
        [(f"sum by (rule, action) (rate(rampart_firewall_rule_packets_total{{{s}}}[$__rate_interval]))",
          "{{rule}} ({{action}})")],
        unit="pps", description="Packets per second matched by each policy rule, accepted or dropped."),
        w=12)
    lay.add(timeseries(
        "Dropped by the default policy",
        [(f"rate(rampart_firewall_dropped_packets_total{{{s}}}[$__rate_interval])", "{{chain}}")],
        unit="pps",
        description="Packets per second that no rule accepted, dropped by each chain's policy."), w=12)
    lay.add(bargauge(
        "Top dropped rules",
        f"topk(10,\n  sum by (rule) (increase(rampart_firewall_rule_packets_total{{{s}, {DROPPING}}}[$__range]))\n"
        f"  or sum by (rule) (label_replace(increase(rampart_firewall_dropped_packets_total{{{s}}}[$__range]),"
        f' "rule", "default policy ($1)", "chain", "(.*)"))\n)',
        "{{rule}}", unit="short",
        description="Rules that dropped the most packets over the dashboard's time range, "
                    "with the default policy of each chain."), w=12)
    lay.add(timeseries(
        "Bans",
        [(f"rampart_firewall_bans{{{s}}}", "bans")],
        description="Addresses and networks banned (rampart fw ban); temporary bans expire by "
                    "themselves."), w=12)
    lay.add(timeseries(
        "Applies",
        [(f"increase(rampart_firewall_applies_total{{{s}}}[$__rate_interval])", "{{result}}")],
        bars=True, legend_calcs=("sum",),
        description="Policy applies to the kernel, successful or failed. Each apply is also an "
                    "annotation on every panel.",
        overrides=[{"matcher": {"id": "byName", "options": "error"},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "red"}}]},
                   {"matcher": {"id": "byName", "options": "success"},
                    "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": "green"}}]}]),
        w=12)
    lay.add(timeseries(
        "Rules in the kernel and drift",
        [(f"rampart_firewall_rules{{{s}}}", "rules"),
         (f"increase(rampart_firewall_drift_total{{{s}}}[$__rate_interval])", "drift events")],
        description="Rules live in the table, and times the table was changed behind the "
                    "agent's back and restored."), w=12)

    lay.add(row("TLS"))
    lay.add(table(
        "Certificates",
        f"(rampart_tls_certificate_not_after_seconds{{{s}}} - time()) / 86400",
        {"path": "file", "subject": "subject"}, value_title="days left", unit="d",
        steps=DAYS_LEFT_STEPS,
        description="The agent's certificate and every watched one (watch_certificates), "
                    "with the days until each expires."), w=12)
    lay.add(timeseries(
        "TLS handshakes",
        [(f"sum by (result) (rate(rampart_tls_handshakes_total{{{s}}}[$__rate_interval]))", "{{result}}")],
        unit="ops", description="TLS handshakes per second on the agent's endpoint, by result."), w=12)

    lay.add(row("Agent"))
    lay.add(timeseries(
        "Agent CPU and memory",
        [(f"rate(process_cpu_seconds_total{{{s}}}[$__rate_interval])", "CPU (cores)"),
         (f"process_resident_memory_bytes{{{s}}} / 2^20", "resident memory (MiB)")],
        description="CPU the agent uses, in cores, and its resident memory in MiB."), w=8)
    lay.add(timeseries(
        "Agent open files",
        [(f"process_open_fds{{{s}}}", "open"), (f"process_max_fds{{{s}}}", "limit")],
        description="File descriptors the agent holds."), w=8)
    lay.add(timeseries(
        "Collector duration",
        [(f"node_scrape_collector_duration_seconds{{{s}}}", "{{collector}}")],
        unit="s", legend_calcs=("mean", "max", "min"),
        description="How long each collector took at the last scrape. A failing collector "
                    "shows in node_scrape_collector_success (alert RampartCollectorFailing)."), w=8)

    annotations = [
        prometheus_annotation(
            "Applies", f"changes(rampart_firewall_last_apply_timestamp_seconds{{{s}}}[2m]) > 0",
            "policy applied", "rampart applied its policy", "rgba(115, 191, 105, 1)"),
        prometheus_annotation(
            "Drift", f"increase(rampart_firewall_drift_total{{{s}}}[2m]) > 0",
            "drift repaired", "the rampart table was changed behind the agent's back",
            "rgba(255, 152, 48, 1)"),
    ]
    return dashboard(
        "rampart-node", "rampart node",
        "One rampart node: CPU, network, conntrack, firewall rules and drops, bans, applies, "
        "certificates, and the agent itself.",
        lay, single_node=True, annotations=annotations)


DASHBOARDS = {"rampart-fleet.json": fleet, "rampart-node.json": node}


def render(build):
    return json.dumps(build(), indent=2, sort_keys=False) + "\n"


def main(argv):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path,
                        default=pathlib.Path(__file__).resolve().parent,
                        help="directory to write into (default: next to this script)")
    args = parser.parse_args(argv)
    args.out.mkdir(parents=True, exist_ok=True)
    for name, build in DASHBOARDS.items():
        (args.out / name).write_text(render(build), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
