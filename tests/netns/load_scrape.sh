#!/usr/bin/env bash
# Load, on loopback in a namespace of its own:
# 1. 64 keep-alive TLS scrapers of /metrics for RAMPART_LOAD_SECONDS (60 by
#    default) while the CLI changes a rule every 100 ms (allow cNNNN, then
#    delete it; every 10th is kept). No scrape fails, every change is
#    acknowledged, and at the end the agent, the saved state and the kernel
#    hold exactly the expected rules. p99 latency and RSS before/after printed.
# 2. 10,000 connections (100 at a time) opened and abandoned with nothing or
#    a partial ClientHello sent. /healthz (connect, handshake, answer) comes
#    within RAMPART_HEALTH_DEADLINE seconds (5: half of Prometheus' default
#    scrape timeout) during and after, and the agent's
#    open fds return to their count before.
source "$(dirname "$0")/../load/lib.sh"
fx_init load
t0=$SECONDS
SECS=${RAMPART_LOAD_SECONDS:-60}
CLIENTS=${RAMPART_LOAD_CLIENTS:-64}
ABANDON=${RAMPART_LOAD_ABANDON:-10000}
DEADLINE=${RAMPART_HEALTH_DEADLINE:-5}
CLIENT="$RAMPART_SOURCE_DIR/tests/load/tlsclient.py"
fx_config
fx_start
fx_ns "$PY" "$CLIENT" scrape "$FX_PORT" 1 1 >/dev/null || fx_fail "a first scrape failed"
rss0=$(fx_rss_kb "$FX_AGENT") fd0=$(fx_fds "$FX_AGENT")
fx_log "agent pid $FX_AGENT: RSS ${rss0} KiB, ${fd0} fds before the load"

# --- 1. scrapers + CLI changes --------------------------------------------
fx_ns "$PY" "$CLIENT" scrape "$FX_PORT" "$SECS" "$CLIENTS" >"$FX_DIR/scrape.json" &
scr=$!; FX_PIDS+=("$scr")
: >"$FX_DIR/expected"
changes=0 failed=0 k=0 cli_max_ms=0
end=$((SECONDS + SECS))
while ((SECONDS < end)); do
  name=$(printf c%04d "$k")
  if ((changes % 2 == 0)); then args=(fw allow "$((30000 + k % 30000))/tcp" --name "$name")
  else args=(fw delete "$name"); fi
  s=$(date +%s%N)
  if fx_cli "${args[@]}" >/dev/null 2>>"$FX_DIR/cli.err"; then
    if ((changes % 2 == 0)); then echo "$name" >>"$FX_DIR/expected"
    else sed -i "/^$name\$/d" "$FX_DIR/expected"; fi
  else
    failed=$((failed + 1))
  fi
  ms=$((($(date +%s%N) - s) / 1000000)); ((ms > cli_max_ms)) && cli_max_ms=$ms
  changes=$((changes + 1))
  # every 10th rule stays: its delete is skipped
  if ((changes % 2 == 1 && k % 10 == 0)); then changes=$((changes + 1)); k=$((k + 1));
  elif ((changes % 2 == 0)); then k=$((k + 1)); fi
  sleep 0.1
done
wait "$scr" || true
cat "$FX_DIR/scrape.json"
rss1=$(fx_rss_kb "$FX_AGENT")
fx_log "CLI: $changes changes, $failed failed, slowest ${cli_max_ms} ms"
[[ -s $FX_DIR/cli.err ]] && head -5 "$FX_DIR/cli.err"
scrape_fail=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["failures"])' "$FX_DIR/scrape.json")
p99=$("$PY" -c 'import json,sys; print(json.load(open(sys.argv[1]))["p99_ms"])' "$FX_DIR/scrape.json")
[[ $scrape_fail == 0 ]] || fx_fail "$scrape_fail scrapes failed"
[[ $failed == 0 ]] || fx_fail "$failed CLI changes failed"
want=$(sort "$FX_DIR/expected")
[[ $(fx_agent_cli_rules) == "$want" ]] || fx_fail "agent rules differ from the expected set"
[[ $(fx_state_rules) == "$want" ]] || fx_fail "saved rules differ from the expected set"
[[ $(fx_kernel_rules) == "$want" ]] || fx_fail "kernel rules differ from the expected set"
fx_log "LOAD: $CLIENTS scrapers x ${SECS}s: p99 ${p99} ms, 0 failed; $changes CLI changes, $(wc -l <"$FX_DIR/expected") rules kept, all equal; RSS ${rss0} -> ${rss1} KiB"

# --- 2. abandoned handshakes ----------------------------------------------
fd1=$(fx_fds "$FX_AGENT")
fx_ns "$PY" "$CLIENT" abandon "$FX_PORT" "$ABANDON" 100 >"$FX_DIR/abandon.json" &
ab=$!; FX_PIDS+=("$ab")
checks=0 worst=0
while kill -0 "$ab" 2>/dev/null; do
  ms=$(fx_ns "$PY" "$CLIENT" health "$FX_PORT" "$DEADLINE") || fx_fail "/healthz missed its ${DEADLINE}s deadline during the abandoned handshakes"
  checks=$((checks + 1)); ((${ms%.*} > worst)) && worst=${ms%.*}
  sleep 0.2
done
wait "$ab" || fx_fail "the abandoning client failed"
cat "$FX_DIR/abandon.json"
peak=$(fx_fds "$FX_AGENT")
fx_ns "$PY" "$CLIENT" health "$FX_PORT" "$DEADLINE" >/dev/null || fx_fail "/healthz after the abandoned handshakes"
fx_wait 60 test "$(fx_fds "$FX_AGENT")" -le "$fd1" || fx_fail "fds stayed at $(fx_fds "$FX_AGENT") (were $fd1)"
fd2=$(fx_fds "$FX_AGENT") rss2=$(fx_rss_kb "$FX_AGENT")
fx_log "ABANDON: $ABANDON connections; /healthz ok $checks times during, slowest ${worst} ms; fds $fd1 -> $peak (right after) -> $fd2; RSS ${rss2} KiB"
fx_stop || fx_fail "agent exit status"
fx_log "PASS in $((SECONDS - t0)) s"
