#!/usr/bin/env bash
# packaging: rampart.service passes `systemd-analyze verify` (with the binary
# and the man page it names present) and its sandbox scores at most 2.0 on
# `systemd-analyze security --offline=yes` ("OK" or better). Also prints
# Debian's node_exporter unit's score for comparison.
source "$(dirname "$0")/../packaging/lib.sh"
command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed"

unit=$PKG_SRC/rampart.service
max_exposure=${RAMPART_MAX_EXPOSURE:-2.0}

# verify: a root with the unit and an executable at /usr/bin/rampart (the
# built binary when there is one), and the man page on MANPATH so the
# Documentation= line is checked too.
root=$TMP/root
mkdir -p "$root/usr/bin" "$root/lib/systemd/system" "$TMP/man/man1"
if [[ -x "${RAMPART_BINARY:-}" ]]; then
	# A copy: a symlink would be resolved inside the root.
	cp "$RAMPART_BINARY" "$root/usr/bin/rampart"
else
	printf '#!/bin/sh\n' >"$root/usr/bin/rampart"
	chmod 755 "$root/usr/bin/rampart"
fi
cp "$unit" "$root/lib/systemd/system/"
cp "$PKG_SRC/rampart.1" "$TMP/man/man1/"
if MANPATH=$TMP/man systemd-analyze verify --root="$root" rampart.service >"$TMP/verify" 2>&1 &&
	! grep -q . "$TMP/verify"; then
	pass "systemd-analyze verify rampart.service: clean"
else
	fail "systemd-analyze verify rampart.service:"
	cat "$TMP/verify" >&2
fi

exposure() {
	systemd-analyze security --offline=yes "$1" 2>/dev/null |
		sed -n 's/.*Overall exposure level for .*: \([0-9.]*\).*/\1/p'
}
score=$(exposure "$unit")
if [[ -z $score ]]; then
	fail "systemd-analyze security gave no score for rampart.service"
	systemd-analyze security --offline=yes "$unit" >&2
elif awk -v s="$score" -v m="$max_exposure" 'BEGIN { exit !(s <= m) }'; then
	pass "rampart.service exposure $score <= $max_exposure"
else
	fail "rampart.service exposure $score > $max_exposure:"
	systemd-analyze security --offline=yes "$unit" | grep '✗' >&2
fi
ne=/lib/systemd/system/prometheus-node-exporter.service
if [[ -f $ne ]]; then
	echo "for comparison: prometheus-node-exporter.service exposure $(exposure "$ne")"
fi

# The settings the package promises, present in the unit as written.
for setting in Type=notify NotifyAccess=main WatchdogSec= Restart=on-failure \
	Before=network-pre.target Wants=network-pre.target 'ExecReload=/bin/kill -HUP $MAINPID' \
	User=rampart AmbientCapabilities=CAP_NET_ADMIN CapabilityBoundingSet=CAP_NET_ADMIN \
	NoNewPrivileges=yes ProtectSystem=strict StateDirectory=rampart RuntimeDirectory=rampart \
	ConfigurationDirectory=rampart ProtectHome=yes PrivateTmp=yes \
	'RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_NETLINK' \
	SystemCallFilter=@system-service MemoryDenyWriteExecute=yes; do
	grep -qF -- "$setting" "$unit" || fail "rampart.service lacks $setting"
done
# ProcSubset=pid would hide /proc/stat and /proc/net from the collectors.
if grep -q '^ProcSubset=pid' "$unit"; then
	fail "rampart.service sets ProcSubset=pid; the CPU and network collectors need /proc/stat and /proc/net"
fi
pass "the unit has the settings the package promises"

finish
