# Shared by tests/netns/faults_*.sh and tests/netns/load_*.sh: one agent in a
# network namespace of its own (loopback only), a temp dir with its
# configuration, state and socket, and a trap that kills what the test
# started (by PID) and deletes the namespace, also on failure.
#
# Use: source this file, then fx_init NAME; fx_config [extra YAML]; fx_start.
set -euo pipefail

: "${RAMPART_BINARY:?RAMPART_BINARY (the built rampart) is not set}"
: "${RAMPART_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
B=$RAMPART_BINARY
# Debian's interpreter: a version-manager shim in PATH can cost a second a call.
PY=/usr/bin/python3
[[ -x $PY ]] || PY=python3
FX_PIDS=()
FX_AGENT=""
FX_MOUNTS=()

fx_log() { printf '%s %s\n' "$(date -u +%H:%M:%S)" "$*"; }
fx_fail() { fx_log "FAIL: $*"; [[ -f ${FX_DIR:-/nonexistent}/agent.log ]] && tail -n 30 "$FX_DIR/agent.log"; exit 1; }

fx_cleanup() {
  local p
  for p in "${FX_PIDS[@]}" $FX_AGENT; do kill -9 "$p" 2>/dev/null || true; done
  for p in "${FX_PIDS[@]}" $FX_AGENT; do wait "$p" 2>/dev/null || true; done
  for p in "${FX_MOUNTS[@]}"; do umount -l "$p" 2>/dev/null || true; done
  [[ -n ${FX_NS:-} ]] && ip netns del "$FX_NS" 2>/dev/null || true
  [[ -n ${FX_DIR:-} && ${FX_KEEP:-0} != 1 ]] && rm -rf "$FX_DIR"
  return 0
}

# fx_init NAME: a namespace rampart-NAME-PID with loopback up, a temp dir.
fx_init() {
  [[ $(id -u) == 0 ]] || { echo "needs root (network namespaces)"; exit 1; }
  FX_NS="rampart-$1-$$"
  FX_DIR=$(mktemp -d "/tmp/rampart-$1.XXXXXX")
  trap fx_cleanup EXIT
  trap 'exit 130' INT TERM
  ip netns add "$FX_NS"
  ip -n "$FX_NS" link set lo up
  FX_SOCK=$FX_DIR/control.sock
  FX_STATE=$FX_DIR/state
  FX_CONFIG=$FX_DIR/rampart.yaml
}

# fx_config [TEXT]: the configuration; TEXT is appended (YAML).
fx_config() {
  cat >"$FX_CONFIG" <<EOC
node:
  name: fx
listen: "127.0.0.1:0"
state_dir: $FX_STATE
control_socket: $FX_SOCK
firewall:
  rules:
    - name: ssh
      allow: 22/tcp
${1:-}
EOC
}

fx_ns() { ip netns exec "$FX_NS" "$@"; }
fx_cli() { env -u SSH_CONNECTION "$B" --socket "$FX_SOCK" "$@"; }

# fx_wait SECONDS CMD...: runs CMD until it succeeds, at most SECONDS.
fx_wait() {
  local deadline=$((SECONDS + $1)); shift
  until "$@" >/dev/null 2>&1; do
    ((SECONDS < deadline)) || return 1
    sleep 0.05
  done
}

# fx_start [WRAPPER...]: the agent (optionally under WRAPPER, e.g. valgrind),
# ready when `rampart status` answers.
fx_start() {
  # A simple command, so $! is the agent itself (ip netns exec execs it).
  ip netns exec "$FX_NS" "$@" "$B" agent --config "$FX_CONFIG" >>"$FX_DIR/agent.log" 2>&1 &
  FX_AGENT=$!
  fx_wait "${FX_START_TIMEOUT:-20}" fx_cli status || fx_fail "agent did not come up"
  FX_PORT=$(fx_cli status --json | "$PY" -c 'import json,sys; print(json.load(sys.stdin)["components"]["https"]["listen"].rsplit(":",1)[1])')
}

fx_kill9() {
  kill -9 "$FX_AGENT" 2>/dev/null || true
  wait "$FX_AGENT" 2>/dev/null || true
  FX_AGENT=""
}

# fx_stop: SIGTERM, returns the agent's exit status.
fx_stop() {
  local rc=0
  kill -TERM "$FX_AGENT"
  wait "$FX_AGENT" || rc=$?
  FX_AGENT=""
  ((rc == 0)) || fx_log "agent exited with status $rc"
  return $rc
}

fx_rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }
fx_fds() { ls "/proc/$1/fd" | wc -l; }

# The rules the CLI added, by name, sorted: from the agent, the saved state
# and the kernel (rule comments carry the names).
fx_agent_cli_rules() {
  fx_cli fw status --json | "$PY" -c '
import json,sys
print("\n".join(sorted(r["name"] for r in json.load(sys.stdin)["rules"] if r["origin"]=="cli")))'
}
fx_state_rules() {
  "$PY" -c '
import json,sys
try: d=json.load(open(sys.argv[1]))
except FileNotFoundError: d={"rules":[]}
print("\n".join(sorted(r["name"] for r in d["rules"])))' "$FX_STATE/firewall.json"
}
# Kernel rules the CLI added (comment cli:NAME), unique names.
fx_kernel_rules() {
  fx_ns nft -j list table inet rampart | "$PY" -c '
import json,sys
names=set()
def add(c):
    if c.startswith("cli:"): names.add(c[4:])
for o in json.load(sys.stdin)["nftables"]:
    add(o.get("rule",{}).get("comment",""))
    # Rules in a rule table are its elements, named by their comments.
    for e in o.get("set",{}).get("elem",[]):
        if isinstance(e, dict): add(e.get("elem",{}).get("comment",""))
print("\n".join(sorted(names)))'
}
