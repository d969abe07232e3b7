# shellcheck shell=bash
# What the metrics e2e tests share: a network namespace of their own (the
# agent applies a firewall, so never the caller's), a fleet CA and the
# agent's certificate for 127.0.0.1, and starting rampart, node_exporter and
# Prometheus on 127.0.0.1 inside that namespace. Everything this run starts
# is killed by PID and the namespace deleted at exit, also on failure
# (common.sh's cleanup).
#
# Sourced after RAMPART_SOURCE_DIR and RAMPART_BINARY are checked.

E2E_LIB=$RAMPART_SOURCE_DIR/tests/e2e/lib
MX_LIB=$E2E_LIB/metrics
# shellcheck source=../common.sh
source "$E2E_LIB/common.sh"

MX_NS=""
MX_AGENT_PORT=""
MX_PROM_PORT=""
MX_NODE_PORT=""

# mx_init NAME: temp dir, namespace rpmx-<pid>-NAME with loopback up, and
# the EXIT trap.
mx_init() {
  E2E_TMP=$(mktemp -d "/tmp/rampart-$1.XXXXXX")
  trap cleanup EXIT INT TERM
  MX_NS="rpmx-$$-$1"
  ip netns add "$MX_NS" || die "namespace" "ip netns add $MX_NS failed"
  E2E_NETNS+=("$MX_NS")
  mx_ns ip link set lo up || die "namespace" "lo up in $MX_NS failed"
}

mx_ns() { ip netns exec "$MX_NS" "$@"; }

# mx_free_port: a TCP port on 127.0.0.1 the kernel hands out for port 0 in
# the test's namespace (free there, as the namespace is the test's own).
mx_free_port() {
  mx_ns python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# mx_agent_start: CA, certificate for 127.0.0.1, config and the agent; waits
# until /healthz answers over HTTPS with CA verification.
mx_agent_start() {
  local d=$E2E_TMP/agent
  mkdir -p "$d/tls"
  "$RAMPART_BINARY" tls ca init "$E2E_TMP/ca" >"$E2E_TMP/ca.log" 2>&1 &&
    "$RAMPART_BINARY" tls ca sign "$E2E_TMP/ca" --hosts 127.0.0.1,localhost --days 2 \
      --out "$d/tls/cert" >>"$E2E_TMP/ca.log" 2>&1 &&
    [[ -s $E2E_TMP/ca/ca.pem && -s $d/tls/cert.pem && -s $d/tls/cert-key.pem ]] ||
    die "fleet CA and agent certificate" "$(tail -n3 "$E2E_TMP/ca.log" | tr '\n' ' ')"
  MX_AGENT_PORT=$(mx_free_port)
  cat >"$d/rampart.yaml" <<EOF
node:
  name: mx-node
  role: e2e
listen: "127.0.0.1:$MX_AGENT_PORT"
web:
  tls_server_config:
    cert_file: $d/tls/cert.pem
    key_file: $d/tls/cert-key.pem
state_dir: $d/state
control_socket: $d/control.sock
firewall:
  input_policy: drop
  rules:
    - name: metrics
      allow: $MX_AGENT_PORT/tcp
EOF
  "$RAMPART_BINARY" check --config "$d/rampart.yaml" >"$d/check.log" 2>&1 ||
    die "agent configuration" "$(tail -n3 "$d/check.log" | tr '\n' ' ')"
  spawn "$MX_NS" "$d/agent.log" "$RAMPART_BINARY" agent --config "$d/rampart.yaml"
  MX_AGENT_PID=$SPAWNED
  wait_until 20 mx_agent_ready ||
    die "agent serves /healthz over HTTPS" "$(tail -n5 "$d/agent.log" | tr '\n' ' ')"
  pass "agent serves /healthz over HTTPS" "127.0.0.1:$MX_AGENT_PORT, pid $MX_AGENT_PID"
}

mx_agent_ready() {
  kill -0 "$MX_AGENT_PID" 2>/dev/null && mx_https /healthz >/dev/null
}

# mx_https PATH: GET from the agent with the fleet CA as the only trust.
mx_https() {
  mx_ns curl -sf --max-time 3 --cacert "$E2E_TMP/ca/ca.pem" \
    "https://127.0.0.1:$MX_AGENT_PORT$1"
}

# mx_node_exporter_start: Debian's node_exporter with its default collectors.
mx_node_exporter_start() {
  MX_NODE_PORT=$(mx_free_port)
  spawn "$MX_NS" "$E2E_TMP/node_exporter.log" prometheus-node-exporter \
    --web.listen-address="127.0.0.1:$MX_NODE_PORT"
  wait_until 20 mx_ns curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$MX_NODE_PORT/metrics" ||
    die "node_exporter answers" "$(tail -n5 "$E2E_TMP/node_exporter.log" | tr '\n' ' ')"
  pass "node_exporter answers" "127.0.0.1:$MX_NODE_PORT"
}

# mx_prom_start [node]: Prometheus with 1 s scrapes of the agent over HTTPS
# (CA verification, server name 127.0.0.1), and of node_exporter when asked.
mx_prom_start() {
  local d=$E2E_TMP/prometheus
  mkdir -p "$d/data"
  MX_PROM_PORT=$(mx_free_port)
  {
    echo "global:"
    echo "  scrape_interval: 1s"
    echo "  scrape_timeout: 900ms"
    echo "  evaluation_interval: 1s"
    echo "scrape_configs:"
    echo "  - job_name: rampart"
    echo "    scheme: https"
    echo "    tls_config:"
    echo "      ca_file: $E2E_TMP/ca/ca.pem"
    echo "      server_name: 127.0.0.1"
    echo "    static_configs:"
    echo "      - targets: ['127.0.0.1:$MX_AGENT_PORT']"
    if [[ ${1:-} == node ]]; then
      echo "  - job_name: node"
      echo "    static_configs:"
      echo "      - targets: ['127.0.0.1:$MX_NODE_PORT']"
    fi
  } >"$d/prometheus.yml"
  promtool check config "$d/prometheus.yml" >"$d/check.log" 2>&1 ||
    die "Prometheus configuration" "$(tail -n3 "$d/check.log" | tr '\n' ' ')"
  spawn "$MX_NS" "$d/prometheus.log" prometheus \
    --config.file="$d/prometheus.yml" --storage.tsdb.path="$d/data" \
    --web.listen-address="127.0.0.1:$MX_PROM_PORT"
  wait_until 30 mx_ns curl -sf -o /dev/null --max-time 1 "http://127.0.0.1:$MX_PROM_PORT/-/ready" ||
    die "Prometheus ready" "$(tail -n5 "$d/prometheus.log" | tr '\n' ' ')"
  pass "Prometheus ready" "127.0.0.1:$MX_PROM_PORT"
}

# mx_promql QUERY: the instant query's series, one "labels VALUE" line each.
mx_promql() {
  mx_ns curl -s --max-time 3 -G --data-urlencode "query=$1" \
    "http://127.0.0.1:$MX_PROM_PORT/api/v1/query" | python3 "$E2E_LIB/promql.py"
}
mx_prom_has() { [[ -n $(mx_promql "$1") ]]; }
