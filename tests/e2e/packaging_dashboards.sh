#!/usr/bin/env bash
# packaging: the Grafana dashboards are what make_dashboards.py writes, are
# well-formed, and every query in them is valid PromQL for a real Prometheus
# (Debian's), which also loads the alert rules and evaluates them cleanly.
# When the rampart binary is built, Prometheus scrapes `rampart metrics` as
# job "rampart", and the queries that must show data on any node do.
source "$(dirname "$0")/../packaging/lib.sh"

grafana=$PKG_SRC/grafana

# 1. Regenerated dashboards equal the committed ones.
python3 "$grafana/make_dashboards.py" --out "$TMP/gen" || fail "make_dashboards.py failed"
for f in rampart-fleet.json rampart-node.json; do
	if diff -u "$grafana/$f" "$TMP/gen/$f" >"$TMP/diff" 2>&1; then
		pass "$f is what make_dashboards.py writes"
	else
		fail "$f differs from make_dashboards.py's output (run packaging/grafana/make_dashboards.py):"
		head -40 "$TMP/diff" >&2
	fi
done

# 2. A Prometheus on loopback. It scrapes itself, and `rampart metrics` when
# there is a binary, served by a small loopback HTTP server.
command -v prometheus >/dev/null || skip "prometheus is not installed"
prom_port=$(free_port)
targets="'127.0.0.1:$prom_port'"
agent_target=""
if [[ -x "${RAMPART_BINARY:-}" ]] && "$RAMPART_BINARY" metrics >/dev/null 2>&1; then
	agent_port=$(free_port)
	agent_target=127.0.0.1:$agent_port
	python3 "$RAMPART_SOURCE_DIR/tests/packaging/serve_metrics.py" "$agent_port" "$RAMPART_BINARY" \
		>"$TMP/serve.log" 2>&1 &
	cleanup_pids+=($!)
else
	echo "note: no working rampart binary (RAMPART_BINARY='${RAMPART_BINARY:-}'); queries are only parsed"
fi
cat >"$TMP/prometheus.yml" <<CFG
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files: ['$PKG_SRC/prometheus/rampart.rules.yml']
scrape_configs:
  - job_name: prometheus
    static_configs: [{targets: [$targets]}]
CFG
if [[ -n $agent_target ]]; then
	cat >>"$TMP/prometheus.yml" <<CFG
  - job_name: rampart
    static_configs: [{targets: ['$agent_target'], labels: {role: test}}]
CFG
fi
prometheus --config.file="$TMP/prometheus.yml" --storage.tsdb.path="$TMP/data" \
	--web.listen-address="127.0.0.1:$prom_port" --log.level=warn >"$TMP/prometheus.log" 2>&1 &
cleanup_pids+=($!)
url=http://127.0.0.1:$prom_port
if ! wait_for 60 curl -sf "$url/-/ready"; then
	fail "prometheus did not become ready in 60 s"
	tail -20 "$TMP/prometheus.log" >&2
	finish
fi
pass "prometheus $(prometheus --version 2>&1 | head -1 | awk '{print $3}') ready on $url"

# 3. The alert rules are loaded and evaluate without error.
rules_ok() {
	curl -sf "$url/api/v1/rules" | python3 -c '
import json, sys
rules = [r for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]]
evaluated = all(not r["lastEvaluation"].startswith("0001") for r in rules)
sys.exit(0 if len(rules) >= 11 and evaluated and all(r["health"] == "ok" for r in rules) else 1)'
}
if wait_for 30 rules_ok; then
	pass "prometheus loaded the alert rules and evaluates them without error"
else
	fail "alert rules not loaded or unhealthy:"
	curl -s "$url/api/v1/rules" | head -c 2000 >&2
fi

# 4. Every dashboard query evaluates without error.
vars=()
if [[ -n $agent_target ]]; then
	# Panels that have data on any Linux node, from a single agent.
	vars=(--var "instance=$agent_target"
		--require-data "Agent" --require-data "Role and version"
		--require-data "CPU by mode" --require-data "CPU busy per core"
		--require-data "Load average" --require-data "Memory"
		--require-data "Received per device" --require-data "Sent per device"
		--require-data "TCP retransmits and resets" --require-data "TCP connections"
		--require-data "Nodes" --require-data "Agents up" --require-data "CPU busy"
		--require-data "Network in" --require-data "Network out")
	# Three scrapes at least, so rate() has something to work on.
	have_three_scrapes() {
		curl -sf "$url/api/v1/query" --data-urlencode \
			"query=count_over_time(up{job=\"rampart\"}[1m]) >= 3 and up{job=\"rampart\"} == 1" |
			grep -q '"value"'
	}
	wait_for 30 have_three_scrapes || fail "prometheus could not scrape 'rampart metrics' at $agent_target"
fi
if python3 "$RAMPART_SOURCE_DIR/tests/packaging/check_dashboards.py" --prometheus "$url" "${vars[@]}" \
	"$grafana/rampart-fleet.json" "$grafana/rampart-node.json"; then
	pass "every dashboard query is valid PromQL"
else
	fail "dashboard queries (above)"
fi

finish
