#!/usr/bin/env bash
# Fault: the control socket is flooded by a client that never reads its
# answers (16 connections writing status requests for RAMPART_FLOOD_SECONDS,
# 15 by default). Meanwhile other CLIs keep being served (status and a rule
# change every 200 ms, each within 5 s), the agent's RSS stays bounded
# (growth under 64 MiB), and once the flood ends its fds return.
source "$(dirname "$0")/../load/lib.sh"
fx_init flood
t0=$SECONDS
SECS=${RAMPART_FLOOD_SECONDS:-15}
fx_config
fx_start
rss0=$(fx_rss_kb "$FX_AGENT") fd0=$(fx_fds "$FX_AGENT")
"$PY" "$RAMPART_SOURCE_DIR/tests/load/ctlflood.py" "$FX_SOCK" 16 "$SECS" >"$FX_DIR/flood.json" &
fl=$!; FX_PIDS+=("$fl")
# The bound on growth: 64 MiB; under ASan (RAMPART_SANITIZED=1, set by the
# asan test preset) freed memory sits in its quarantine (256 MiB by default),
# so the bound there is 512 MiB: still bounded, not ASan's bookkeeping.
rss_bound=$(( ${RAMPART_SANITIZED:-0} == 1 ? 524288 : 65536 ))
served=0 rss_max=$rss0 slowest=0 i=0
while kill -0 "$fl" 2>/dev/null; do
  s=$(date +%s%N)
  timeout 5 env -u SSH_CONNECTION "$B" --socket "$FX_SOCK" status >/dev/null || fx_fail "status not served during the flood"
  if ((i % 2 == 0)); then timeout 5 env -u SSH_CONNECTION "$B" --socket "$FX_SOCK" fw allow 4000/tcp --name fl >/dev/null
  else timeout 5 env -u SSH_CONNECTION "$B" --socket "$FX_SOCK" fw delete fl >/dev/null; fi || fx_fail "change $i not served during the flood"
  ms=$((($(date +%s%N) - s) / 1000000)); ((ms > slowest)) && slowest=$ms
  r=$(fx_rss_kb "$FX_AGENT"); ((r > rss_max)) && rss_max=$r
  ((rss_max - rss0 < rss_bound)) || fx_fail "RSS grew from $rss0 to $rss_max KiB"
  served=$((served + 2)) i=$((i + 1))
  sleep 0.2
done
wait "$fl" || fx_fail "the flooding client failed"
cat "$FX_DIR/flood.json"
fx_wait 30 test "$(fx_fds "$FX_AGENT")" -le "$fd0" || fx_fail "fds stayed at $(fx_fds "$FX_AGENT") (were $fd0)"
[[ $(fx_agent_cli_rules) == "$( ((i % 2)) && echo fl)" ]] || fx_fail "rules after the flood: $(fx_agent_cli_rules)"
fx_log "FLOOD: $served CLI requests served during it, slowest pair ${slowest} ms; RSS $rss0 -> max $rss_max KiB; fds $fd0 -> $(fx_fds "$FX_AGENT")"
fx_stop || fx_fail "agent exit status"
fx_log "PASS in $((SECONDS - t0)) s"
