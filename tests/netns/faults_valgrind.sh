#!/usr/bin/env bash
# The agent under valgrind (memcheck, full leak check): start, status, a
# scrape, fw status, an allow and a delete, SIGHUP, SIGTERM. valgrind exits
# 99 on any memory error or definite leak; the agent's own status must be 0.
# tests/load/valgrind.supp holds the one suppression (libmnl 1.0.4 padding).
source "$(dirname "$0")/../load/lib.sh"
command -v valgrind >/dev/null || { echo "valgrind not installed"; exit 1; }
fx_init vg
t0=$SECONDS
CLIENT="$RAMPART_SOURCE_DIR/tests/load/tlsclient.py"
fx_config
FX_START_TIMEOUT=180 fx_start valgrind --leak-check=full --errors-for-leak-kinds=definite \
  --error-exitcode=99 --suppressions="$RAMPART_SOURCE_DIR/tests/load/valgrind.supp" \
  --log-file="$FX_DIR/valgrind.log"
fx_cli status >/dev/null || fx_fail "status"
fx_ns "$PY" "$CLIENT" scrape "$FX_PORT" 2 2 >"$FX_DIR/scrape.json" || fx_fail "scrape: $(cat "$FX_DIR/scrape.json")"
fx_ns "$PY" "$CLIENT" health "$FX_PORT" 30 >/dev/null || fx_fail "healthz"
fx_cli fw status --json >/dev/null || fx_fail "fw status"
fx_cli fw allow 8443/tcp --name vg >/dev/null || fx_fail "fw allow"
fx_cli fw ban 192.0.2.7 --for 1h >/dev/null || fx_fail "fw ban"
fx_cli fw delete vg >/dev/null || fx_fail "fw delete"
fx_cli fw unban 192.0.2.7 >/dev/null || fx_fail "fw unban"
r0=$(fx_cli status --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["reloads"] + d["failed_reloads"])')
kill -HUP "$FX_AGENT"
fx_wait 60 test "$(fx_cli status --json | "$PY" -c 'import json,sys; d=json.load(sys.stdin); print(d["reloads"] + d["failed_reloads"])')" -gt "$r0" ||
  fx_fail "SIGHUP: no reload"
fx_cli status >/dev/null || fx_fail "status after SIGHUP"
rc=0
fx_stop || rc=$?
grep -E "ERROR SUMMARY|definitely lost|indirectly lost|possibly lost|still reachable" "$FX_DIR/valgrind.log" || true
if ((rc != 0)); then
  sed -n '/Invalid\|uninitialised\|definitely lost in/,+25p' "$FX_DIR/valgrind.log" | head -80
  fx_fail "agent under valgrind exited $rc (99: valgrind found an error or a definite leak)"
fi
grep -q "ERROR SUMMARY: 0 errors" "$FX_DIR/valgrind.log" || fx_fail "valgrind reported errors"
fx_log "PASS: no memory error, no definite leak, in $((SECONDS - t0)) s"
