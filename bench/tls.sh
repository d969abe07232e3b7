#!/usr/bin/env bash
# TLS: requests per second on new connections (a full TLS 1.3 handshake
# each, ECDSA P-256, no resumption) and on keep-alive connections, against
# rampart's HTTPS endpoint, `openssl s_server -www` and node_exporter with
# --web.config.file, all serving the same certificate on 127.0.0.1 in a
# namespace of the benchmark's own. Servers are measured in turn, run after
# run.
#
# The cost of TLS on keep-alive requests is measured with one program, so
# that TLS is the only difference: bench_endpoint https (the agent's endpoint
# code, TLS context and request handler) against bench_endpoint plain (the
# same connection loop and handler without TLS), both on one io thread.
source "$(dirname "$0")/lib.sh"

LOAD=$(bench_prog bench_https_load)
[[ -n $LOAD ]] || { log "bench_https_load not built in $BENCH_BUILD_DIR"; exit 1; }
RAMPART=${RAMPART_BINARY:-$BENCH_BUILD_DIR/rampart}

bench_tmpdir work
ns=$BENCH_TAG-tls
bench_netns_add "$ns"
# The keep-alive comparison of TLS and plain HTTP has a namespace of its
# own: no other server, and no firewall of the agent's (its rules and
# connection tracking would touch every loopback packet of the pair).
ns_ka=$BENCH_TAG-tlska
bench_netns_add "$ns_ka"
bench_cert "$work"

THREADS=2
NEW_COUNT=3000      # per run, or 4 s
KEEP_COUNT=60000    # per run, or 4 s (a longer window averages out other load)

# load NAME MODE PORT PATH [--plain]: one run; prints req/s.
load() {
  local mode=$1 port=$2 path=$3
  shift 3
  ip netns exec "$ns" "$LOAD" "$mode" 127.0.0.1 "$port" "$path" --threads "$THREADS" \
    --count "$([[ $mode == newconn ]] && echo $NEW_COUNT || echo $KEEP_COUNT)" --max-seconds 4 "$@" |
    awk '{ for (i = 1; i < NF; i += 2) if ($i == "req_s") print $(i + 1); if ($NF != "0") print "errors " $NF > "/dev/stderr" }'
}

# keep NAME PID PORT [--plain]: one keep-alive run against the server PID;
# adds its req/s to NAME and the server's CPU microseconds per request to
# NAME_cpu.
keep() {
  local name=$1 pid=$2 port=$3 out t0 t1
  shift 3
  t0=$(cpu_ns "$pid")
  out=$(ip netns exec "$ns_ka" "$LOAD" keepalive 127.0.0.1 "$port" /healthz --threads "$THREADS" \
    --count "$KEEP_COUNT" --max-seconds 4 "$@")
  t1=$(cpu_ns "$pid")
  awk '{ if ($NF != "0") print "errors " $NF > "/dev/stderr" }' <<<"$out"
  add "$name" "$(awk '{ for (i = 1; i < NF; i += 2) if ($i == "req_s") print $(i + 1) }' <<<"$out")"
  add "${name}_cpu" "$(awk -v t="$((t1 - t0))" '{ for (i = 1; i < NF; i += 2) if ($i == "requests" && $(i + 1) > 0) printf "%.2f\n", t / 1e3 / $(i + 1) }' <<<"$out")"
}

P_SSERVER=4431 P_NE=4432 P_NE_PLAIN=4433 P_RMP=4434 P_RMP_PLAIN=4435 P_EP=4436
start_s_server pid_s "$ns" "$P_SSERVER" "$work"
start_node_exporter pid_ne "$ns" "$P_NE" "$work" tls
start_node_exporter pid_ne_plain "$ns" "$P_NE_PLAIN" "$work" plain

rampart_ok=
rampart_plain_ok=
rampart_why="not yet measured: neither rampart agent nor bench_endpoint serves HTTPS yet"
RAMPART_VIA=
if start_rampart pid_r "$ns" "$P_RMP" "$work" tls; then
  rampart_ok=1
  log "rampart: $RAMPART_VIA"
fi
if start_rampart pid_rp "$ns_ka" "$P_RMP_PLAIN" "$work" plain; then
  rampart_plain_ok=1
fi
# The TLS side of the keep-alive comparison: the same program as the plain
# side (start_rampart prefers the whole agent for HTTPS).
endpoint_ok=
EP=$(bench_prog bench_endpoint)
if [[ -n $EP ]]; then
  bench_bg pid_ep ip netns exec "$ns_ka" "$EP" https "$P_EP" "$work/cert.pem" "$work/key.pem" "${SCRAPE_COLLECTORS[@]}"
  bench_wait_port "$ns_ka" "$P_EP" "$pid_ep" && endpoint_ok=1
fi

declare -A v
add() { v[$1]+="$2 "; }
for run in $(seq "$BENCH_RUNS"); do
  add s_new "$(load newconn $P_SSERVER /)"
  add ne_new "$(load newconn $P_NE /)"
  add ne_metrics_new "$(load newconn $P_NE /metrics)"
  add ne_keep "$(load keepalive $P_NE /)"

  if [[ -n $rampart_ok ]]; then
    add r_new "$(load newconn $P_RMP /healthz)"
    add r_metrics_new "$(load newconn $P_RMP /metrics)"
    add r_keep "$(load keepalive $P_RMP /healthz)"
  fi
  if [[ -n $rampart_plain_ok && -n $endpoint_ok ]]; then
    keep ep_keep "$pid_ep" "$P_EP"
    keep r_plain_keep "$pid_rp" "$P_RMP_PLAIN" --plain
  fi
  log "run $run: $(for k in "${!v[@]}"; do printf "%s=%s " "$k" "$(awk "{ print \$NF }" <<<"${v[$k]}")"; done)"
done
med() { tr ' ' '\n' <<<"${v[$1]:-}" | grep . | median; }
val() { if [[ -n ${v[$1]:-} ]]; then med "$1"; else echo -; fi; }

cmd="bench_https_load newconn 127.0.0.1 PORT PATH --threads $THREADS --count $NEW_COUNT --max-seconds 4"
kcmd="bench_https_load keepalive 127.0.0.1 PORT PATH --threads $THREADS --count $KEEP_COUNT --max-seconds 4"
note="; rampart: $RAMPART_VIA"
[[ -n $rampart_ok ]] || note="; rampart: $rampart_why"
row tls "New-connection HTTPS req/s: rampart /healthz vs openssl s_server -www" \
  "$(val r_new)" "$(val s_new)" req/s higher - "$cmd; openssl s_server -www -accept 127.0.0.1:PORT (same ECDSA P-256 cert)$note"
row tls "New-connection HTTPS req/s: rampart /healthz vs node_exporter / (--web.config.file)" \
  "$(val r_new)" "$(val ne_new)" req/s higher - "$cmd$note"
row tls "New-connection HTTPS scrapes/s: rampart /metrics vs node_exporter /metrics (5 collectors)" \
  "$(val r_metrics_new)" "$(val ne_metrics_new)" req/s higher - "$cmd$note"
row tls "New-connection HTTPS req/s to /healthz: rampart vs the aim of 600/s" \
  "$(val r_new)" 600 req/s higher ">=1" "$cmd$note"
pnote="; HTTPS: bench_endpoint https (the agent's endpoint, TLS context and handler); plain: bench_endpoint plain (the same connection loop and handler without TLS); one io thread each, in a namespace of their own; runs alternate"
[[ -n $rampart_plain_ok && -n $endpoint_ok ]] || pnote="; not measured (bench_endpoint not built)"
row tls "Keep-alive req/s: rampart HTTPS /healthz vs the same endpoint over plain HTTP" \
  "$(val ep_keep)" "$(val r_plain_keep)" req/s higher ">=0.9" "$kcmd [--plain]$pnote"
row tls "Server CPU per keep-alive request: rampart HTTPS /healthz vs the same endpoint over plain HTTP" \
  "$(val ep_keep_cpu)" "$(val r_plain_keep_cpu)" "µs" lower - "$kcmd [--plain]; /proc/PID/task/*/schedstat (time on CPU) of the server over the run$pnote"
row tls "Keep-alive req/s: rampart HTTPS /healthz vs node_exporter HTTPS /" \
  "$(val r_keep)" "$(val ne_keep)" req/s higher - "$kcmd$note"
