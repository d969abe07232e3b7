# Shared by the bench/*.sh scripts (sourced, not run).
#
# Every script writes result rows to $BENCH_RESULTS (tab-separated):
#   section  what  rampart  other  unit  better  aim  command
# where `rampart` or `other` may be "-" (not measured, with the reason in
# `command`), `better` is "lower" or "higher", `aim` the target for the
# ratio rampart/other ("<=0.5", ">=0.97") or "-". bench/run-all turns the rows
# into docs/benchmarks.md.
#
# Everything a script starts is recorded here and removed by the EXIT trap:
# processes by PID, network namespaces by name, temporary directories.

set -euo pipefail

BENCH_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BENCH_SOURCE_DIR=$(cd "$BENCH_DIR/.." && pwd)
BENCH_BUILD_DIR=${RAMPART_BUILD_DIR:-$BENCH_SOURCE_DIR/build/default}
BENCH_RESULTS=${BENCH_RESULTS:-/dev/stdout}
BENCH_RUNS=${BENCH_RUNS:-5}
# A short tag that keeps this run's namespaces apart from anyone else's.
BENCH_TAG=rb$$

_bench_pids=()
_bench_netns=()
_bench_dirs=()

bench_cleanup() {
  local pid ns dir
  for pid in "${_bench_pids[@]}"; do
    kill "$pid" 2>/dev/null || true
  done
  for pid in "${_bench_pids[@]}"; do
    # Bounded wait, then force.
    for _ in 1 2 3 4 5 6 7 8 9 10; do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  _bench_pids=()
  for ns in "${_bench_netns[@]}"; do
    ip netns del "$ns" 2>/dev/null || true
  done
  _bench_netns=()
  for dir in "${_bench_dirs[@]}"; do
    rm -rf -- "$dir"
  done
  _bench_dirs=()
}
trap bench_cleanup EXIT
trap 'exit 130' INT TERM

log() { printf '%s: %s\n' "$(basename "$0")" "$*" >&2; }

# bench_tmpdir VAR: a private working directory under /run (ufw refuses
# paths below a world-writable directory such as /tmp), removed at exit.
bench_tmpdir() {
  local d
  d=$(mktemp -d /run/rampart-bench.XXXXXX)
  _bench_dirs+=("$d")
  printf -v "$1" '%s' "$d"
}

bench_netns_add() {
  ip netns add "$1"
  _bench_netns+=("$1")
  ip -n "$1" link set lo up
}

bench_netns_del() {
  ip netns del "$1" 2>/dev/null || true
  local keep=() ns
  for ns in "${_bench_netns[@]}"; do [[ $ns == "$1" ]] || keep+=("$ns"); done
  _bench_netns=("${keep[@]}")
}

# bench_bg VAR CMD...: starts CMD in the background, records its PID in VAR.
bench_bg() {
  local _bb_var=$1 _bb_pid
  shift
  "$@" &
  _bb_pid=$!
  _bench_pids+=("$_bb_pid")
  printf -v "$_bb_var" '%s' "$_bb_pid"
}

bench_kill() {
  local pid=$1
  kill "$pid" 2>/dev/null || true
  for _ in $(seq 50); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -9 "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}

# bench_wait_port NETNS|- PORT [PID]: waits (at most 10 s, or until PID has
# exited) until something listens on PORT (TCP) in the namespace, or in this
# one for "-".
bench_wait_port() {
  local ns=$1 port=$2 pid=${3:-} i
  local ss=(ss -Hltn "sport = :$port")
  [[ $ns == - ]] || ss=(ip netns exec "$ns" "${ss[@]}")
  for i in $(seq 100); do
    [[ -n $("${ss[@]}" 2>/dev/null) ]] && return 0
    [[ -z $pid ]] || kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  log "nothing listens on port $port${pid:+ (pid $pid)}"
  return 1
}

# A free TCP port on loopback (checked in the given namespace or here).
bench_free_port() {
  local port
  for _ in $(seq 100); do
    port=$((20000 + RANDOM % 30000))
    if [[ -z $(ss -Hltn "sport = :$port" 2>/dev/null) ]]; then
      echo "$port"
      return 0
    fi
  done
  return 1
}

# Reads numbers, one a line; prints their median.
median() {
  sort -g | awk '{ v[NR] = $1 } END {
    if (NR == 0) { print "-"; exit }
    if (NR % 2) printf "%.6g\n", v[(NR + 1) / 2];
    else printf "%.6g\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# 10000 -> 10,000
thousands() { sed ':a; s/\B[0-9]\{3\}\>/,&/; ta' <<<"$1"; }

now_us() { echo "${EPOCHREALTIME/./}"; }

# time_ms CMD...: runs CMD (output to stderr), prints its wall time in ms;
# fails with CMD's status (printing nothing) when CMD fails.
time_ms() {
  local t0 t1 rc=0
  t0=$(now_us)
  "$@" >&2 || rc=$?
  t1=$(now_us)
  ((rc == 0)) || return "$rc"
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1000 }'
}

# row SECTION WHAT RAMPART OTHER UNIT BETTER AIM COMMAND
row() {
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$BENCH_RESULTS"
}

# The built program NAME (bench/NAME or NAME at the build root), or empty.
bench_prog() {
  local p
  for p in "$BENCH_BUILD_DIR/bench/$1" "$BENCH_BUILD_DIR/$1"; do
    [[ -x $p ]] && { echo "$p"; return 0; }
  done
  return 0
}

# An ECDSA P-256 self-signed certificate for 127.0.0.1 in DIR (cert.pem,
# key.pem), the same for every server a benchmark compares.
bench_cert() {
  local dir=$1
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
  chmod 600 "$dir/key.pem"
}

# ---- servers compared by tls.sh and scrape.sh, all on 127.0.0.1 inside a
# namespace of the benchmark's own.

NODE_EXPORTER=${NODE_EXPORTER:-prometheus-node-exporter}
# The collectors both exporters run in the scrape comparison.
SCRAPE_COLLECTORS=(cpu netdev netstat loadavg meminfo)

# start_node_exporter VAR NETNS PORT DIR [tls|plain]: node_exporter 1.5 with
# SCRAPE_COLLECTORS only, over TLS with DIR/cert.pem unless "plain".
start_node_exporter() {
  local var=$1 ns=$2 port=$3 dir=$4 mode=${5:-tls}
  local args=(--web.listen-address="127.0.0.1:$port" --collector.disable-defaults)
  local c
  for c in "${SCRAPE_COLLECTORS[@]}"; do args+=("--collector.$c"); done
  if [[ $mode == tls ]]; then
    printf 'tls_server_config:\n  cert_file: %s\n  key_file: %s\n' "$dir/cert.pem" "$dir/key.pem" >"$dir/web.yml"
    args+=(--web.config.file="$dir/web.yml")
  fi
  bench_bg "$var" ip netns exec "$ns" "$NODE_EXPORTER" "${args[@]}" --log.level=warn
  bench_wait_port "$ns" "$port"
}

# start_s_server VAR NETNS PORT DIR: `openssl s_server -www` with the same
# certificate.
start_s_server() {
  local var=$1 ns=$2 port=$3 dir=$4
  bench_bg "$var" ip netns exec "$ns" openssl s_server -quiet -www -accept "127.0.0.1:$port" \
    -cert "$dir/cert.pem" -key "$dir/key.pem" >/dev/null
  bench_wait_port "$ns" "$port"
}

# cpu_ns PID / cpu_seconds PID: CPU time the process has used, from the
# nanosecond run time of each of its threads (/proc/PID/task/*/schedstat);
# utime+stime of /proc/PID/stat counts 10 ms ticks, too coarse for a server
# that spends 0.1 s on a round.
cpu_ns() { cat /proc/"$1"/task/*/schedstat | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
cpu_seconds() { awk -v ns="$(cpu_ns "$1")" 'BEGIN { printf "%.4f\n", ns / 1e9 }'; }

rss_mib() {
  awk '$1 == "VmRSS:" { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}

# anon_mib PID: the resident memory that is the process's own (RssAnon: heap,
# stacks, written data), without the shared libraries' and binary's mapped
# file pages that VmRSS also counts.
anon_mib() {
  awk '$1 == "RssAnon:" { printf "%.1f\n", $2 / 1024 }' "/proc/$1/status"
}

# start_rampart VAR NETNS PORT CERTDIR tls|plain: rampart serving on
# 127.0.0.1:PORT with CERTDIR/cert.pem, collectors SCRAPE_COLLECTORS only.
# Over TLS it is the agent itself (`rampart agent`) when it serves HTTPS,
# else bench_endpoint (the agent's endpoint, TLS context and collectors
# without the rest of the agent). `plain` is bench_endpoint's plain HTTP
# loop around the same request handler. Sets RAMPART_VIA to what ran.
start_rampart() {
  local var=$1 ns=$2 port=$3 certdir=$4 mode=$5
  local ep rampart=${RAMPART_BINARY:-$BENCH_BUILD_DIR/rampart}
  ep=$(bench_prog bench_endpoint)
  if [[ $mode == plain ]]; then
    [[ -n $ep ]] || return 1
    bench_bg "$var" ip netns exec "$ns" "$ep" plain "$port" "${SCRAPE_COLLECTORS[@]}"
    bench_wait_port "$ns" "$port" "${!var}"
    return
  fi
  if [[ -x $rampart && ${BENCH_NO_AGENT:-} != 1 ]]; then
    local dir=$certdir/rampart-$port c disable=()
    mkdir -p "$dir"
    # Every collector `metrics.disable` accepts (agent/config.cpp) except
    # SCRAPE_COLLECTORS, so both exporters do the same work.
    for c in conntrack cpu diskstats filefd filesystem firewall loadavg meminfo netclass netdev \
      netstat pressure process time tls udp_queues uname; do
      [[ " ${SCRAPE_COLLECTORS[*]} " == *" $c "* ]] || disable+=("$c")
    done
    cat >"$dir/rampart.yaml" <<YAML
node:
  name: bench
  role: bench
listen: "127.0.0.1:$port"
web:
  tls_server_config:
    cert_file: $certdir/cert.pem
    key_file: $certdir/key.pem
state_dir: $dir/state
control_socket: $dir/control.sock
metrics:
  disable: [$(IFS=,; echo "${disable[*]}")]
firewall:
  rules:
    - name: bench
      allow: $port/tcp
YAML
    bench_bg "$var" ip netns exec "$ns" "$rampart" agent --config "$dir/rampart.yaml" 2>"$dir/agent.log"
    if bench_wait_port "$ns" "$port" "${!var}" 2>/dev/null; then
      RAMPART_VIA="rampart agent"
      return 0
    fi
    log "rampart agent does not serve HTTPS yet: $(tail -n 3 "$dir/agent.log" | tr '\n' ' ')"
    bench_kill "${!var}"
  fi
  [[ -n $ep ]] || return 1
  bench_bg "$var" ip netns exec "$ns" "$ep" https "$port" "$certdir/cert.pem" "$certdir/key.pem" "${SCRAPE_COLLECTORS[@]}"
  bench_wait_port "$ns" "$port" "${!var}" && RAMPART_VIA="bench_endpoint (the agent's endpoint and collectors)"
}
