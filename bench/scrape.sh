#!/usr/bin/env bash
# Scrape cost: rampart vs node_exporter 1.5, both with the collectors cpu,
# netdev, netstat, loadavg and meminfo only, both over TLS (same ECDSA
# P-256 certificate) with one keep-alive connection, on 127.0.0.1 in a
# namespace of the benchmark's own. Each round is 1,000 scrapes of /metrics;
# the servers take turns, round after round. Reported: CPU seconds the
# server used per 1,000 scrapes (the run time of its threads, /proc/PID/task/*/schedstat, before and after),
# median scrape latency, resident memory after the last round, and bytes
# per scrape (the uncompressed body).
source "$(dirname "$0")/lib.sh"

LOAD=$(bench_prog bench_https_load)
[[ -n $LOAD ]] || { log "bench_https_load not built in $BENCH_BUILD_DIR"; exit 1; }
RAMPART=${RAMPART_BINARY:-$BENCH_BUILD_DIR/rampart}
SCRAPES=1000

bench_tmpdir work
ns=$BENCH_TAG-scr
bench_netns_add "$ns"
bench_cert "$work"

P_NE=4442 P_RMP=4443
start_node_exporter pid_ne "$ns" "$P_NE" "$work" tls
servers=(ne)
declare -A pid=([ne]=$pid_ne) port=([ne]=$P_NE)

rampart_why="not yet measured: neither rampart agent nor bench_endpoint serves HTTPS yet"
RAMPART_VIA=
if start_rampart pid_r "$ns" "$P_RMP" "$work" tls; then
  servers+=(r)
  pid[r]=$pid_r
  port[r]=$P_RMP
  log "rampart: $RAMPART_VIA"
fi

# scrape SERVER COUNT: prints "median_ms body_bytes" of COUNT keep-alive scrapes.
scrape() {
  ip netns exec "$ns" "$LOAD" keepalive 127.0.0.1 "${port[$1]}" /metrics --count "$2" --max-seconds 60 |
    awk '{ for (i = 1; i < NF; i += 2) { if ($i == "median_ms") m = $(i + 1); if ($i == "body_bytes") b = $(i + 1) }
           print m, b }'
}

declare -A cpu lat bytes
for s in "${servers[@]}"; do scrape "$s" 20 >/dev/null; done  # warm-up
for run in $(seq "$BENCH_RUNS"); do
  for s in "${servers[@]}"; do
    before=$(cpu_seconds "${pid[$s]}")
    read -r m b < <(scrape "$s" "$SCRAPES")
    after=$(cpu_seconds "${pid[$s]}")
    cpu[$s]+="$(awk -v a="$before" -v b="$after" 'BEGIN { printf "%.3f", b - a }') "
    lat[$s]+="$m "
    bytes[$s]+="$b "
    log "round $run $s: cpu $(awk -v a="$before" -v b="$after" 'BEGIN { print b - a }') s, median $m ms, $b bytes"
  done
done
declare -A rss anon
for s in "${servers[@]}"; do
  rss[$s]=$(rss_mib "${pid[$s]}")
  anon[$s]=$(anon_mib "${pid[$s]}")
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
get() {  # get ARRAY SERVER
  local -n arr=$1
  if [[ -n ${arr[$2]:-} ]]; then
    if [[ $1 == rss || $1 == anon ]]; then echo "${arr[$2]}"; else med "${arr[$2]}"; fi
  else
    echo -
  fi
}
note="; rampart: $RAMPART_VIA"
[[ -n ${pid[r]:-} ]] || note="; rampart: $rampart_why"
cmd="bench_https_load keepalive 127.0.0.1 PORT /metrics --count $SCRAPES (one TLS connection); node_exporter --collector.disable-defaults --collector.{$(IFS=,; echo "${SCRAPE_COLLECTORS[*]}")} --web.config.file"
row scrape "CPU seconds per 1,000 scrapes (server process)" "$(get cpu r)" "$(get cpu ne)" s lower "<=0.1" "$cmd; /proc/PID/task/*/schedstat run time$note"
row scrape "Median scrape latency" "$(get lat r)" "$(get lat ne)" ms lower "<=0.333" "$cmd$note"
row scrape "Resident memory after $((SCRAPES * BENCH_RUNS)) scrapes" "$(get rss r)" "$(get rss ne)" MiB lower "<=0.25" "/proc/PID/status VmRSS$note"
row scrape "Private resident memory (RssAnon) after $((SCRAPES * BENCH_RUNS)) scrapes" "$(get anon r)" "$(get anon ne)" MiB lower - "/proc/PID/status RssAnon: VmRSS without mapped files (binary, shared libraries)$note"
row scrape "Bytes per scrape (uncompressed body)" "$(get bytes r)" "$(get bytes ne)" bytes lower - "$cmd$note"
