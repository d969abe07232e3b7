# shellcheck shell=bash
# One rampart agent per fleet node: its configuration (the example role
# policy with the topology's addresses), starting it in its namespace,
# waiting for it, and reading its metrics directly over mTLS.

declare -A AGENT_PID=()

# The group members of the test's fleet; `admin` is the monitoring host too.
declare -A E2E_GROUP=([lb]="lb" [web_servers]="web1 web2" [app_servers]="app1"
  [monitoring]="mon" [admin]="mon")

group_addrs() {
  local node out=()
  for node in ${E2E_GROUP[$1]}; do out+=("$(v4 "$node")" "$(v6 "$node")"); done
  local IFS=,
  echo "${out[*]}"
}

example_for() {
  case ${E2E_ROLE[$1]} in
    mon) echo "$E2E_LIB/mon.yaml" ;;
    *) echo "$RAMPART_SOURCE_DIR/packaging/examples/${E2E_ROLE[$1]}.yaml" ;;
  esac
}

# agent_config NODE [WATCH_FILE...]: writes $E2E_TMP/NODE/rampart.yaml.
agent_config() {
  local node=$1 g args=()
  shift
  local dir=$E2E_TMP/$node
  for g in "${!E2E_GROUP[@]}"; do args+=(--group "$g=$(group_addrs "$g")"); done
  for g in "$@"; do args+=(--watch "$g"); done
  python3 "$E2E_LIB/node_config.py" "$(example_for "$node")" "$dir/rampart.yaml" \
    --name "$node" --role "${E2E_ROLE[$node]}" --dir "$dir" --ca "$E2E_CA/ca.pem" "${args[@]}"
}

agent_start() {
  local node=$1
  # Appends: a restarted agent's log follows the killed one's.
  spawn "$(ns "$node")" "$E2E_TMP/$node/agent.log" \
    "$RAMPART_BINARY" agent --config "$E2E_TMP/$node/rampart.yaml"
  AGENT_PID[$node]=$SPAWNED
}

agent_alive() { kill -0 "${AGENT_PID[$1]}" 2>/dev/null; }

# The agent runs and its table is in the node's kernel.
agent_firewalled() {
  agent_alive "$1" && in_ns "$1" nft list table inet rampart >/dev/null 2>&1
}

# ... and its endpoint answers mon over mTLS.
agent_ready() { agent_firewalled "$1" && mtls_get "$1" /healthz >/dev/null; }

# mtls_get NODE PATH: GET over HTTPS from mon with the Prometheus client cert.
mtls_get() {
  in_ns mon curl -sf --max-time 3 --cacert "$E2E_CA/ca.pem" \
    --cert "$E2E_TMP/prometheus.pem" --key "$E2E_TMP/prometheus-key.pem" \
    "https://$(v4 "$1"):9643$2"
}

# metric_sum NODE NAME [LABEL_SUBSTRING]: the sum of NAME's samples on a
# fresh scrape of NODE whose labels contain LABEL_SUBSTRING; fails when none.
metric_sum() {
  local node=$1 name=$2 filter=${3:-}
  mtls_get "$node" /metrics | awk -v n="$name" -v f="$filter" '
    /^#/ { next }
    {
      key = $0; sub(/ [^ ]+$/, "", key)
      if ((key == n || index(key, n "{") == 1) && (f == "" || index(key, f))) { s += $NF; c++ }
    }
    END { if (!c) exit 1; printf "%.0f\n", s }'
}

# rules_text NODE: the node's table as nft prints it, counters and handles
# removed, so two dumps compare equal exactly when the rules are the same.
rules_text() {
  in_ns "$1" nft list table inet rampart |
    sed -E 's/counter packets [0-9]+ bytes [0-9]+/counter/g; s/ # handle [0-9]+//'
}

agent_log_tail() {
  local node=$1
  echo "--- $node agent log (last 15 lines) ---" >&2
  tail -n 15 "$E2E_TMP/$node/agent.log" >&2
}
