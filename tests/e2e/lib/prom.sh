# shellcheck shell=bash
# A real Prometheus in the `mon` namespace: temporary config and data dir,
# 1 s scrapes of every agent over mTLS, queried through its HTTP API on
# mon's own 127.0.0.1:9090.

PROM_DIR=""
PROM_PID=""

# prom_config DIR CA CERT KEY RULES...: writes DIR/prometheus.yml.
prom_config() {
  local dir=$1 ca=$2 cert=$3 key=$4 node
  shift 4
  mkdir -p "$dir/data"
  {
    echo "global:"
    echo "  scrape_interval: 1s"
    echo "  scrape_timeout: 900ms"
    echo "  evaluation_interval: 1s"
    echo "rule_files:"
    local f
    for f in "$@"; do echo "  - $f"; done
    echo "scrape_configs:"
    echo "  - job_name: rampart"
    echo "    scheme: https"
    echo "    tls_config:"
    echo "      ca_file: $ca"
    echo "      cert_file: $cert"
    echo "      key_file: $key"
    echo "    static_configs:"
    for node in "${E2E_AGENT_NODES[@]}"; do
      echo "      - targets: ['$(v4 "$node"):9643']"
      echo "        labels: {e2e_node: $node}"
    done
  } >"$dir/prometheus.yml"
}

prom_start() {
  PROM_DIR=$1
  promtool check config "$PROM_DIR/prometheus.yml" >"$PROM_DIR/check.log" 2>&1 || {
    cat "$PROM_DIR/check.log" >&2
    return 1
  }
  spawn "$(ns mon)" "$PROM_DIR/prometheus.log" prometheus \
    --config.file="$PROM_DIR/prometheus.yml" \
    --storage.tsdb.path="$PROM_DIR/data" \
    --web.listen-address=127.0.0.1:9090
  PROM_PID=$SPAWNED
  wait_until 20 prom_ready
}

prom_ready() { in_ns mon curl -sf -o /dev/null --max-time 1 http://127.0.0.1:9090/-/ready; }

# promql QUERY: prints each series of an instant query as
# "label=value ... VALUE", sorted; fails if the API answers with an error.
promql() {
  in_ns mon curl -s --max-time 3 -G --data-urlencode "query=$1" \
    http://127.0.0.1:9090/api/v1/query | python3 "$E2E_LIB/promql.py"
}

# prom_has QUERY: true when QUERY returns at least one series.
prom_has() { [[ -n $(promql "$1") ]]; }

# prom_value QUERY: the value of a query that returns exactly one series.
prom_value() {
  local out
  out=$(promql "$1") || return 1
  [[ $(wc -l <<<"$out") -eq 1 && -n $out ]] || return 1
  awk '{print $NF}' <<<"$out"
}

# prom_wait SECONDS QUERY: waits until QUERY returns a series; prints them.
prom_wait() {
  local secs=$1 q=$2
  wait_until "$secs" prom_has "$q" && promql "$q"
}
