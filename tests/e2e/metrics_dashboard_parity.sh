#!/bin/bash
# metrics e2e: Node Exporter Full (grafana.com dashboard 1860) works on
# rampart as on node_exporter. A real Prometheus scrapes a `rampart agent`
# (HTTPS, CA verified) and Debian's node_exporter, both in the test's own
# network namespace on 127.0.0.1, every second for 30 s; then every panel
# query of the dashboard's CPU, memory, network, netstat and filesystem rows
# is evaluated once per exporter, and each row must answer at least as many
# queries with data for rampart as for node_exporter. The rows of collectors
# rampart does not have (vmstat, sockstat) are printed, not judged.
# Runs as root; bounded well under 3 minutes.
set -uo pipefail

: "${RAMPART_SOURCE_DIR:?set RAMPART_SOURCE_DIR to the repository root}"
: "${RAMPART_BINARY:?set RAMPART_BINARY to the built rampart}"
[[ $(id -u) -eq 0 ]] || { echo "metrics_dashboard_parity: needs root (network namespaces)" >&2; exit 1; }
for tool in prometheus promtool prometheus-node-exporter curl python3; do
  command -v "$tool" >/dev/null || { echo "metrics_dashboard_parity: $tool not installed" >&2; exit 1; }
done
DASHBOARD=$RAMPART_SOURCE_DIR/../shared/data/node-exporter-full.json
[[ -s $DASHBOARD ]] || {
  echo "metrics_dashboard_parity: the Node Exporter Full dashboard is missing: $DASHBOARD" \
    "(grafana.com dashboard 1860's JSON, kept beside the repository)" >&2
  exit 1
}

# shellcheck source=lib/metrics/setup.sh
source "$RAMPART_SOURCE_DIR/tests/e2e/lib/metrics/setup.sh"
mx_init parity
# Debian's node_exporter leaves out lo (--collector.netdev.device-exclude=^lo$
# by default), so the namespace gets a veth pair of its own (both ends
# inside it, no addresses) for both exporters to show.
mx_ns ip link add mxveth0 type veth peer name mxveth1 &&
  mx_ns ip link set mxveth0 up && mx_ns ip link set mxveth1 up ||
  die "veth pair in the test namespace" "ip link failed"

JUDGED_ROWS=(
  "Quick CPU / Mem / Disk"
  "Basic CPU / Mem / Net / Disk"
  "CPU / Memory / Net / Disk"
  "Memory Meminfo"
  "Network Traffic"
  "Network Netstat"
  "Storage Filesystem"
)
INFO_ROWS=("Memory Vmstat" "Network Sockstat")
SCRAPE_SECONDS=${RAMPART_PARITY_SECONDS:-30}

mx_agent_start
mx_node_exporter_start
mx_prom_start node

both_up() { [[ $(mx_promql 'count(up == 1)' | awk '{print $NF}') == 2 ]]; }
wait_until 30 both_up || die "Prometheus scrapes rampart and node_exporter: up == 1" "$(mx_promql up | tr '\n' ' ')"
pass "Prometheus scrapes rampart and node_exporter: up == 1"

# Traffic on loopback while the samples accumulate, so rates have something
# to show on both (the same interface for both exporters).
log "scraping both for ${SCRAPE_SECONDS}s"
end=$(($(date +%s) + SCRAPE_SECONDS))
while (($(date +%s) < end)); do
  mx_ns curl -s -o /dev/null --max-time 1 "http://127.0.0.1:$MX_NODE_PORT/metrics"
  sleep 1
done
both_up || die "both targets still up after ${SCRAPE_SECONDS}s" "$(mx_promql up | tr '\n' ' ')"

args=()
for r in "${JUDGED_ROWS[@]}"; do args+=(--row "$r"); done
for r in "${INFO_ROWS[@]}"; do args+=(--info-row "$r"); done
mx_ns python3 "$MX_LIB/dashboard_parity.py" "$DASHBOARD" "http://127.0.0.1:$MX_PROM_PORT" \
  "${args[@]}" --target "rampart=rampart,127.0.0.1:$MX_AGENT_PORT" \
  --target "node_exporter=node,127.0.0.1:$MX_NODE_PORT" --out "$E2E_TMP/parity.json" \
  >"$E2E_TMP/parity.txt" 2>&1
rc=$?
cat "$E2E_TMP/parity.txt" >&2
case $rc in
  0) pass "Node Exporter Full: every judged row answers as many queries for rampart as for node_exporter" ;;
  1) fail "Node Exporter Full: every judged row answers as many queries for rampart as for node_exporter" \
       "$(grep -c '<< fewer' "$E2E_TMP/parity.txt") rows short; the 'only node_exporter' lines above name the metrics" ;;
  *) fail "Node Exporter Full: the dashboard's rows evaluated" "$(tail -n2 "$E2E_TMP/parity.txt" | tr '\n' ' ')" ;;
esac

summary
