# Shared by tests/e2e/packaging_*.sh: failure reporting, temp dirs, cleanup.
# Sourced, not run.

set -uo pipefail

: "${RAMPART_SOURCE_DIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
PKG_SRC=$RAMPART_SOURCE_DIR/packaging
failures=0

fail() {
	echo "FAIL: $*" >&2
	failures=$((failures + 1))
}
pass() { echo "ok: $*"; }
skip() {
	echo "SKIP: $*"
	exit 0
}

# A temporary directory removed at exit, with the PIDs in $cleanup_pids
# killed first.
cleanup_pids=()
TMP=$(mktemp -d /tmp/rampart-packaging.XXXXXX)
cleanup() {
	local pid
	for pid in "${cleanup_pids[@]}"; do
		kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	done
	rm -rf "$TMP"
}
trap cleanup EXIT

# A TCP port free on 127.0.0.1 now.
free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: runs COMMAND until it succeeds or the time is up.
wait_for() {
	local deadline=$((SECONDS + $1))
	shift
	until "$@" >/dev/null 2>&1; do
		((SECONDS < deadline)) || return 1
		sleep 0.2
	done
}

finish() {
	if ((failures)); then
		echo "$failures check(s) failed" >&2
		exit 1
	fi
	echo "all checks passed"
	exit 0
}
