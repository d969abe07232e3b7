#!/usr/bin/env bash
# Fault: the state directory is full (a 64 KiB tmpfs) when a CLI change is
# saved. The change is refused with an error naming the path, the saved file
# is byte-for-byte what it was, and the kernel's table is unchanged. Once
# space is back, the same change goes through.
source "$(dirname "$0")/../load/lib.sh"
fx_init full
t0=$SECONDS
mkdir -p "$FX_STATE"
mount -t tmpfs -o size=64k,mode=0750 rampart-full "$FX_STATE"
FX_MOUNTS+=("$FX_STATE")
fx_config
fx_start

fx_cli fw allow 8081/tcp --name kept >/dev/null || fx_fail "first allow"
cp "$FX_STATE/firewall.json" "$FX_DIR/saved.json"
fx_ns nft -s list table inet rampart >"$FX_DIR/kernel-before.nft"

# Fill the tmpfs to the last page.
dd if=/dev/zero of="$FX_STATE/filler" bs=4k status=none 2>/dev/null || true
df -k "$FX_STATE" | tail -1

rc=0
fx_cli fw allow 8082/tcp --name refused >"$FX_DIR/out" 2>"$FX_DIR/err" || rc=$?
fx_log "allow on a full disk: exit $rc: $(cat "$FX_DIR/out" "$FX_DIR/err")"
[[ $rc == 1 ]] || fx_fail "expected exit 1, got $rc"
grep -q "$FX_STATE/firewall.json" "$FX_DIR/err" || fx_fail "the error does not name the state file"
grep -qi "no space left" "$FX_DIR/err" || fx_fail "the error does not say the disk is full"
cmp "$FX_DIR/saved.json" "$FX_STATE/firewall.json" || fx_fail "the saved state changed"
fx_ns nft -s list table inet rampart >"$FX_DIR/kernel-after.nft"
diff "$FX_DIR/kernel-before.nft" "$FX_DIR/kernel-after.nft" || fx_fail "the kernel changed"
[[ $(fx_agent_cli_rules) == kept ]] || fx_fail "the agent reports rules: $(fx_agent_cli_rules)"

# A delete is a change as well: refused the same way.
rc=0
fx_cli fw delete kept >/dev/null 2>"$FX_DIR/err" || rc=$?
[[ $rc == 1 ]] || fx_fail "delete on a full disk: expected exit 1, got $rc"
cmp "$FX_DIR/saved.json" "$FX_STATE/firewall.json" || fx_fail "the saved state changed (delete)"
fx_ns nft -s list table inet rampart | diff "$FX_DIR/kernel-before.nft" - || fx_fail "the kernel changed (delete)"

# A ban goes to the ban journal beside the file: refused the same way, and
# no line of it is left there.
rc=0
fx_cli fw ban 192.0.2.9 >/dev/null 2>"$FX_DIR/err" || rc=$?
fx_log "ban on a full disk: exit $rc: $(cat "$FX_DIR/err")"
[[ $rc == 1 ]] || fx_fail "ban on a full disk: expected exit 1, got $rc"
grep -q "$FX_STATE/firewall.json.bans" "$FX_DIR/err" || fx_fail "the error does not name the ban journal"
[[ ! -s $FX_STATE/firewall.json.bans ]] || fx_fail "the refused ban left a line: $(cat "$FX_STATE/firewall.json.bans")"
cmp "$FX_DIR/saved.json" "$FX_STATE/firewall.json" || fx_fail "the saved state changed (ban)"
fx_ns nft -s list table inet rampart | diff "$FX_DIR/kernel-before.nft" - || fx_fail "the kernel changed (ban)"
# Space back: the change lands, and survives a restart.
rm -f "$FX_STATE/filler"
fx_cli fw allow 8082/tcp --name refused >/dev/null || fx_fail "allow after space came back"
fx_cli fw ban 192.0.2.9 >/dev/null || fx_fail "ban after space came back"
fx_stop || fx_fail "agent exit status"
fx_start
[[ $(fx_agent_cli_rules | tr '\n' ' ') == "kept refused " ]] || fx_fail "after restart: $(fx_agent_cli_rules)"
[[ $(fx_kernel_rules | tr '\n' ' ') == "kept refused " ]] || fx_fail "kernel after restart: $(fx_kernel_rules)"
fx_ns nft get element inet rampart bans_v4 '{ 192.0.2.9 }' >/dev/null || fx_fail "the ban is not back after restart"
fx_stop || fx_fail "agent exit status"
fx_log "PASS in $((SECONDS - t0)) s"
