#!/usr/bin/env bash
# The .deb on a fresh Debian 12 with systemd running: a minimal bookworm
# (debootstrap, cached in /var/cache/rampart-test) booted with
# `systemd-nspawn --boot --private-network`. Checks that installing starts a
# hardened agent whose table is in the container's kernel namespace, that
# /metrics answers over TLS, that the CLI works for root and not for others,
# that `systemctl reload` applies a changed policy, that a reboot brings the
# rules back before network-pre.target, that re-running the postinst is
# harmless, and that remove and purge leave what Debian policy says.
#
#   tests/packaging/install_test.sh [rampart_VERSION_ARCH.deb]
#
# (--register=no --keep-unit: nspawn needs no systemd on the host side.)
# Without an argument it builds the .deb with cpack from the build tree of
# $RAMPART_BINARY. Needs root. The first run downloads bookworm from the
# Debian mirror (once; delete /var/cache/rampart-test/bookworm to refresh).
# It is not registered with ctest (it takes minutes and needs the mirror
# once); docs/packaging.md describes it.
source "$(dirname "$0")/lib.sh"

((EUID == 0)) || skip "needs root"
for tool in debootstrap systemd-nspawn nsenter nft; do
	command -v $tool >/dev/null || skip "$tool is not installed (scripts/install-deps)"
done

cache=/var/cache/rampart-test
rootfs=$cache/bookworm
mirror=${RAMPART_DEBIAN_MIRROR:-http://deb.debian.org/debian}
# What the container needs besides the package's own Depends: systemd, the
# tools the test uses, and the libraries the binary links (so apt needs no
# network inside the container).
include=systemd,systemd-sysv,dbus,adduser,nftables,curl,ca-certificates,procps,iproute2,man-db
include+=,libfmt9,libyaml-cpp0.7,libsystemd0,libstdc++6,libssl3,libnftnl11,libmnl0,zlib1g
include+=,libcrypt1,libprometheus-cpp-core1.0,libcap2

# 1. The package.
deb=${1:-}
if [[ -z $deb ]]; then
	[[ -x "${RAMPART_BINARY:-}" ]] || skip "give a .deb, or set RAMPART_BINARY to a built rampart"
	cpack --config "$(dirname "$RAMPART_BINARY")/CPackConfig.cmake" -B "$TMP/deb" >"$TMP/cpack.log" 2>&1 ||
		{ fail "cpack failed"; tail -20 "$TMP/cpack.log" >&2; finish; }
	deb=$(ls "$TMP"/deb/rampart_*.deb)
fi
[[ -f $deb ]] || { fail "no package $deb"; finish; }
echo "package: $deb"

# 2. The root file system, from the cache.
if [[ ! -d $rootfs ]]; then
	echo "debootstrap bookworm into $rootfs (once)"
	rm -rf "$rootfs.tmp"
	mkdir -p "$cache"
	debootstrap --variant=minbase --include="$include" bookworm "$rootfs.tmp" "$mirror" \
		>"$cache/debootstrap.log" 2>&1 || { fail "debootstrap failed: $cache/debootstrap.log"; finish; }
	mv "$rootfs.tmp" "$rootfs"
fi
root=$TMP/root
cp -a "$rootfs" "$root"
cp "$deb" "$root/root/rampart.deb"
# The dependencies must already be there: the container has no network.
missing=()
for dep in $(dpkg-deb -f "$deb" Depends | tr ',' '\n' | sed 's/[ (].*//; s/^ *//'); do
	[[ -n $dep ]] || continue
	chroot "$root" dpkg -s "$dep" >/dev/null 2>&1 || missing+=("$dep")
done
if ((${#missing[@]})); then
	fail "the cached root lacks ${missing[*]}: add them to \$include and delete $rootfs"
	finish
fi

# 3. Boot it.
mountpoint -q /run/systemd/nspawn || { mkdir -p /run/systemd/nspawn && mount -t tmpfs tmpfs /run/systemd/nspawn; }
nspawn_pid=""
init_pid=""
boot() {
	systemd-nspawn --boot --private-network --register=no --keep-unit --console=pipe -q \
		-D "$root" -M "rampart-test-$$" >>"$TMP/console.log" 2>&1 </dev/null &
	nspawn_pid=$!
	cleanup_pids+=("$nspawn_pid")
	# The container's init: a process named systemd that is pid 1 of its own
	# pid namespace, below this nspawn.
	find_init() {
		local p
		for p in $(pgrep -x systemd); do
			grep -q "^NSpid:.*[[:space:]]1$" "/proc/$p/status" 2>/dev/null || continue
			local q=$p
			while ((q > 1)); do
				q=$(awk '/^PPid:/ {print $2}' "/proc/$q/status" 2>/dev/null) || break
				if [[ $q == "$nspawn_pid" ]]; then
					init_pid=$p
					return 0
				fi
			done
		done
		return 1
	}
	wait_for 30 find_init || { fail "no container init below nspawn $nspawn_pid"; tail "$TMP/console.log" >&2; finish; }
	# `running`, or `degraded` (units a container cannot start): either way booted.
	booted() { [[ $(run systemctl is-system-running 2>/dev/null) =~ ^(running|degraded)$ ]]; }
	wait_for 120 booted || { fail "the container did not finish booting"; run systemctl --failed >&2; finish; }
}
run() {
	nsenter -t "$init_pid" -a -- env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8 \
		DEBIAN_FRONTEND=noninteractive "$@"
}
shutdown_container() {
	run systemctl "${1:-poweroff}" >/dev/null 2>&1
	local deadline=$((SECONDS + 60))
	while kill -0 "$nspawn_pid" 2>/dev/null && ((SECONDS < deadline)); do sleep 0.5; done
	kill "$nspawn_pid" 2>/dev/null
	wait "$nspawn_pid" 2>/dev/null
}
check() { # DESCRIPTION COMMAND...: pass if COMMAND succeeds
	local what=$1
	shift
	if "$@" >"$TMP/check.out" 2>&1; then
		pass "$what"
	else
		fail "$what"
		tail -15 "$TMP/check.out" >&2
	fi
}
table() { nsenter -t "$init_pid" -n nft list table inet rampart; }
table_has() { table 2>/dev/null | grep -q -- "$1"; }

boot
pass "bookworm booted in a container (init pid $init_pid)"

# 4. Install.
# The dependencies are all installed, so apt fetches nothing.
check "apt-get install ./rampart.deb" run apt-get install -y /root/rampart.deb
run dpkg -s rampart >/dev/null 2>&1 || { shutdown_container poweroff; finish; }
check "rampart.service is active" run systemctl is-active rampart
check "rampart.service is enabled" run systemctl is-enabled rampart
check "user and group rampart exist" run id rampart
# Owners as the container names them (its uids are not the host's).
mode_is() { [[ $(run stat -c '%a %U:%G' "$2") == "$1" ]]; }
check "/var/lib/rampart is 750 rampart:rampart" mode_is "750 rampart:rampart" /var/lib/rampart
check "/var/lib/rampart/tls is 700 rampart:rampart" mode_is "700 rampart:rampart" /var/lib/rampart/tls
check "/run/rampart is 750 rampart:rampart" mode_is "750 rampart:rampart" /run/rampart
cert_made() { run test -s /var/lib/rampart/tls/cert.pem; }
check "the node certificate exists (postinst or first start)" wait_for 15 cert_made

# Hardening in force, read from the running process.
main_pid=$(run systemctl show -P MainPID rampart)
status=$(run cat "/proc/$main_pid/status" 2>/dev/null)
check "the agent runs as rampart, not root" test "$(run ps -o user= -p "$main_pid")" = rampart
# CAP_NET_ADMIN is capability 12: 0x1000.
check "the agent's effective capabilities are exactly CAP_NET_ADMIN" \
	grep -qE '^CapEff:[[:space:]]+0000000000001000$' <<<"$status"
check "the agent's bounding set is exactly CAP_NET_ADMIN" \
	grep -qE '^CapBnd:[[:space:]]+0000000000001000$' <<<"$status"
check "no_new_privs is set" grep -qE '^NoNewPrivs:[[:space:]]+1$' <<<"$status"
check "a seccomp filter is active" grep -qE '^Seccomp:[[:space:]]+2$' <<<"$status"
usr_read_only() { run nsenter -t "$main_pid" -m -- findmnt -no OPTIONS / | grep -q '^ro'; }
check "the file system is read-only for the agent (ProtectSystem=strict)" usr_read_only

# The firewall, the endpoint, the CLI.
wait_for 30 table || true
check "table inet rampart is in the container's network namespace" table
metrics_ok() { run curl -sfk https://127.0.0.1:9643/metrics | grep -q '^rampart_node_info'; }
check "/metrics answers over TLS" metrics_ok
check "root can use the CLI: rampart fw allow 8443/tcp" run rampart fw allow 8443/tcp --name install-test
check "the rule is in the kernel" wait_for 10 table_has 8443
# Refused by the agent (exit 1, permission denied), not a usage error.
refused() {
	run setpriv --reuid=nobody --regid=nogroup --clear-groups rampart fw allow 8444/tcp >"$TMP/refused" 2>&1
	local rc=$?
	cat "$TMP/refused"
	((rc == 1)) && grep -qi 'permission denied' "$TMP/refused"
}
check "an unprivileged user is refused" refused
check "and the refused rule is not in the kernel" eval '! table_has 8444' 

# Reload with a changed policy.
cat >>"$root/etc/rampart/rampart.yaml" <<'EOF'
    - name: reload-test
      allow: 7777/tcp
EOF
check "rampart check accepts the changed configuration" run rampart check
check "systemctl reload rampart" run systemctl reload rampart
check "the reloaded policy is in the kernel" wait_for 15 table_has 7777

# Idempotent postinst.
version=$(dpkg-deb -f "$deb" Version)
check "postinst configure runs again cleanly" run /var/lib/dpkg/info/rampart.postinst configure "$version"
check "and once more" run /var/lib/dpkg/info/rampart.postinst configure "$version"
check "rampart.service is still active" run systemctl is-active rampart

# 5. Reboot: the rules are back, and before network-pre.target.
shutdown_container reboot
boot
check "after a reboot rampart.service is active" run systemctl is-active rampart
check "after a reboot the configured rule is in the kernel" wait_for 15 table_has 7777
check "after a reboot the CLI rule is in the kernel" wait_for 15 table_has 8443
before_network() {
	local a n
	a=$(run systemctl show -P ActiveEnterTimestampMonotonic rampart.service)
	n=$(run systemctl show -P ActiveEnterTimestampMonotonic network-pre.target)
	echo "rampart active at $a us, network-pre.target at $n us"
	((a > 0 && n > 0 && a <= n))
}
check "rampart was active before network-pre.target" before_network

# 6. Remove: the program goes, configuration, state and rules stay.
check "apt-get remove rampart" run apt-get remove -y rampart
check "the binary is gone" test ! -e "$root/usr/bin/rampart"
check "the unit is gone" test ! -e "$root/lib/systemd/system/rampart.service"
check "the conffile stays" test -f "$root/etc/rampart/rampart.yaml"
check "the state stays" test -d "$root/var/lib/rampart"
check "the rules stay in the kernel (no opening on remove)" table

# 7. Purge: configuration, state, the table go; the user stays.
check "apt-get purge rampart" run apt-get purge -y rampart
check "/etc/rampart is gone" test ! -e "$root/etc/rampart"
check "/var/lib/rampart is gone" test ! -e "$root/var/lib/rampart"
check "table inet rampart is gone" eval '! table' 
check "the user rampart stays" run id rampart
check "dpkg forgot the package" eval '! run dpkg -s rampart' 

shutdown_container poweroff
finish
