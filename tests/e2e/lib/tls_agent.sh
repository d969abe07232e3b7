# shellcheck shell=bash
# One rampart agent alone in a network namespace of its own, for the TLS
# checks (tls_testssl.sh, tls_crosscheck.sh): a temporary directory with its
# configuration, state and control socket, a certificate from the rampart CLI,
# and an EXIT trap that kills what was started (by PID) and deletes the
# namespace. The agent applies its firewall inside that namespace only.
#
# Use: source it, call tls_setup, write certificates under $TLS_TMP, then
# tls_agent_start [YAML LINES FOR web.tls_server_config...].

export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH
TLS_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${RAMPART_SOURCE_DIR:=$(cd "$TLS_LIB/../../.." && pwd)}"
: "${RAMPART_BINARY:=$RAMPART_SOURCE_DIR/build/default/rampart}"
TLS_NS="rptls-$$-$RANDOM"
TLS_PORT=9643   # the namespace is ours: nothing else listens there
TLS_TMP=""
TLS_AGENT_PID=""
TLS_FAILED=0

tls_log() { echo "[$(date +%T)] $*" >&2; }
tls_fail() { echo "FAIL: $*" >&2; TLS_FAILED=1; }
tls_pass() { echo "PASS: $*" >&2; }

tls_cleanup() {
  if [[ -n $TLS_AGENT_PID ]] && kill -0 "$TLS_AGENT_PID" 2>/dev/null; then
    kill -TERM "$TLS_AGENT_PID" 2>/dev/null
    local i
    for ((i = 0; i < 50; i++)); do kill -0 "$TLS_AGENT_PID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$TLS_AGENT_PID" 2>/dev/null
    wait "$TLS_AGENT_PID" 2>/dev/null
  fi
  ip netns delete "$TLS_NS" 2>/dev/null
  if [[ -n $TLS_TMP ]]; then
    if [[ ${RAMPART_E2E_KEEP:-0} == 1 ]]; then tls_log "kept $TLS_TMP"; else rm -rf "$TLS_TMP"; fi
  fi
}

# in_tls_ns CMD...: runs CMD inside the agent's namespace (loopback only).
in_tls_ns() { ip netns exec "$TLS_NS" "$@"; }

tls_setup() {
  [[ $(id -u) == 0 ]] || { echo "SKIP: needs root (network namespace)" >&2; exit 1; }
  [[ -x $RAMPART_BINARY ]] || { echo "FAIL: RAMPART_BINARY=$RAMPART_BINARY is not executable" >&2; exit 1; }
  local t
  for t in ip openssl curl timeout "$@"; do
    command -v "$t" >/dev/null || { echo "FAIL: $t is not installed (scripts/install-deps)" >&2; exit 1; }
  done
  trap tls_cleanup EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM
  TLS_TMP=$(mktemp -d /tmp/rampart-tls.XXXXXX)
  ip netns add "$TLS_NS" || { echo "FAIL: ip netns add $TLS_NS" >&2; exit 1; }
  in_tls_ns ip link set lo up || { echo "FAIL: lo up in $TLS_NS" >&2; exit 1; }
}

# tls_agent_start [LINE...]: the agent with cert/key $TLS_TMP/tls/{cert,key}.pem
# and the extra lines under tls_server_config; waits (20 s) until it answers.
tls_agent_start() {
  local extra="" line
  for line in "$@"; do extra+="    $line"$'\n'; done
  cat >"$TLS_TMP/rampart.yaml" <<YAML
node:
  name: tls-check
  role: test
listen: "127.0.0.1:$TLS_PORT"
web:
  tls_server_config:
    cert_file: $TLS_TMP/tls/cert.pem
    key_file: $TLS_TMP/tls/key.pem
$extra
state_dir: $TLS_TMP/state
control_socket: $TLS_TMP/control.sock
YAML
  mkdir -p "$TLS_TMP/state"
  ip netns exec "$TLS_NS" "$RAMPART_BINARY" agent --config "$TLS_TMP/rampart.yaml" \
    >>"$TLS_TMP/agent.log" 2>&1 </dev/null &
  TLS_AGENT_PID=$!
  local i
  for ((i = 0; i < 200; i++)); do
    kill -0 "$TLS_AGENT_PID" 2>/dev/null || break
    if in_tls_ns timeout 2 openssl s_client -connect "127.0.0.1:$TLS_PORT" </dev/null >/dev/null 2>&1; then
      tls_log "agent $TLS_AGENT_PID serves 127.0.0.1:$TLS_PORT in $TLS_NS"
      return 0
    fi
    sleep 0.1
  done
  echo "FAIL: the agent did not come up; its log:" >&2
  tail -n 20 "$TLS_TMP/agent.log" >&2
  return 1
}

tls_agent_stop() {
  [[ -n $TLS_AGENT_PID ]] || return 0
  kill -TERM "$TLS_AGENT_PID" 2>/dev/null
  local i
  for ((i = 0; i < 100; i++)); do kill -0 "$TLS_AGENT_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$TLS_AGENT_PID" 2>/dev/null
  wait "$TLS_AGENT_PID" 2>/dev/null
  TLS_AGENT_PID=""
}
