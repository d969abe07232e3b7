#!/bin/bash
# metrics e2e: a real Prometheus scrapes a real `rampart agent` over HTTPS,
# verifying its certificate against the fleet CA: `up` is 1 and
# rate(node_cpu_seconds_total[1m]) has data; and a scrape taken with curl
# passes `promtool check metrics` apart from the camelCase lint that
# node_exporter's own names (node_memory_MemTotal_bytes, node_netstat_Tcp_*)
# draw. Runs as root in a namespace of its own; bounded well under 3 minutes.
set -uo pipefail

: "${RAMPART_SOURCE_DIR:?set RAMPART_SOURCE_DIR to the repository root}"
: "${RAMPART_BINARY:?set RAMPART_BINARY to the built rampart}"
[[ $(id -u) -eq 0 ]] || { echo "metrics_prometheus: needs root (network namespaces)" >&2; exit 1; }
for tool in prometheus promtool curl python3; do
  command -v "$tool" >/dev/null || { echo "metrics_prometheus: $tool not installed" >&2; exit 1; }
done

# shellcheck source=lib/metrics/setup.sh
source "$RAMPART_SOURCE_DIR/tests/e2e/lib/metrics/setup.sh"
mx_init prom

mx_agent_start
mx_prom_start

# Prometheus verifies the agent's certificate (ca_file, server_name): up == 1.
if wait_until 30 mx_prom_has 'up{job="rampart"} == 1'; then
  pass "Prometheus scrapes the agent over TLS: up == 1" "$(mx_promql 'up{job="rampart"}')"
else
  die "Prometheus scrapes the agent over TLS: up == 1" \
    "up: $(mx_promql 'up{job="rampart"}' | tr '\n' ' ') last error: $(mx_ns curl -s \
      "http://127.0.0.1:$MX_PROM_PORT/api/v1/targets" | python3 -c \
      'import json,sys; print([t.get("lastError") for t in json.load(sys.stdin)["data"]["activeTargets"]])')"
fi

# With 1 s scrapes the 1m window holds two samples after two scrapes.
q='rate(node_cpu_seconds_total{job="rampart"}[1m])'
if wait_until 30 mx_prom_has "$q"; then
  out=$(mx_promql "$q")
  modes=$(grep -o 'mode=[a-z]*' <<<"$out" | sort -u | tr '\n' ' ')
  pass "PromQL $q returns data" "$(wc -l <<<"$out") series; ${modes}"
else
  fail "PromQL $q returns data" "no series within 30 s"
fi

# The same data through an aggregation dashboards use.
q='sum by (mode) (rate(node_cpu_seconds_total{job="rampart"}[1m]))'
check "PromQL $q: the eight node_exporter modes" \
  bash -c '[[ $(wc -l <<<"$1") -eq 8 ]] && echo "$1" | tr "\n" " " || { echo "$1"; exit 1; }' _ "$(mx_promql "$q")"

# promtool on a scrape taken with curl: no complaint but camelCase.
scrape=$E2E_TMP/scrape.txt
if mx_https /metrics >"$scrape" && [[ -s $scrape ]]; then
  promtool check metrics <"$scrape" >"$E2E_TMP/promtool.log" 2>&1
  other=$(grep -v -e "should be written in 'snake_case'" -e '^$' "$E2E_TMP/promtool.log")
  camel=$(grep -c "should be written in 'snake_case'" "$E2E_TMP/promtool.log")
  if [[ -z $other ]]; then
    pass "promtool check metrics on a curl scrape: only camelCase lints" \
      "$(grep -vc '^#' "$scrape") samples, $camel camelCase lines"
  else
    fail "promtool check metrics on a curl scrape: only camelCase lints" \
      "$(head -n5 <<<"$other" | tr '\n' ' ')"
  fi
else
  fail "promtool check metrics on a curl scrape: only camelCase lints" "curl --cacert got no scrape"
fi

summary
