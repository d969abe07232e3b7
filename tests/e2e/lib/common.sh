# shellcheck shell=bash
# Shared plumbing of the e2e test: logging, the step ledger (PASS / FAIL /
# NOT RUN), waiting with a deadline, and exact cleanup of what this run made.
# Sourced by tests/e2e/fleet.sh; expects E2E_TMP to be set.

E2E_PIDS=()        # every process this run started, killed by PID at exit
E2E_NETNS=()       # every namespace this run created, deleted at exit
E2E_RESULTS=()     # "STATUS<TAB>check<TAB>detail", printed at the end
E2E_T0=$(date +%s%N)

e2e_elapsed() { echo $((($(date +%s%N) - E2E_T0) / 1000000)); }
log() { printf '[e2e %6.1fs] %s\n' "$(bc_ms "$(e2e_elapsed)")" "$*" >&2; }
bc_ms() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000) / 100)); }

# The ledger. A check that could not run because a piece of rampart is
# missing is NOT RUN, never PASS; the run fails unless everything passed.
pass() { E2E_RESULTS+=("PASS	$1	${2:-}"); log "PASS  $1${2:+ — $2}"; }
fail() { E2E_RESULTS+=("FAIL	$1	${2:-}"); log "FAIL  $1${2:+ — $2}"; }
not_run() { E2E_RESULTS+=("NOT RUN	$1	${2:-}"); log "NOT RUN  $1${2:+ — $2}"; }
# check NAME CMD...: PASS if CMD succeeds, FAIL (with its output) if not.
check() {
  local name=$1 out
  shift
  if out=$("$@" 2>&1); then
    pass "$name" "$(tail -n1 <<<"$out")"
  else
    fail "$name" "$(tail -n3 <<<"$out" | tr '\n' ' ')"
  fi
}
# A failure after which nothing else means anything: report and stop (the
# EXIT trap still tears everything down).
die() {
  fail "$1" "${2:-}"
  not_run "every later step" "stopped after: $1"
  summary
  exit 1
}

summary() {
  local line status npass=0 nfail=0 nskip=0
  printf '\n%-8s %s\n' "RESULT" "CHECK" >&2
  for line in "${E2E_RESULTS[@]}"; do
    IFS=$'\t' read -r status name detail <<<"$line"
    printf '%-8s %s%s\n' "$status" "$name" "${detail:+  [$detail]}" >&2
    case $status in
      PASS) npass=$((npass + 1)) ;;
      FAIL) nfail=$((nfail + 1)) ;;
      *) nskip=$((nskip + 1)) ;;
    esac
  done
  printf '\n%d passed, %d failed, %d not run, %.1fs\n' "$npass" "$nfail" "$nskip" \
    "$(bc_ms "$(e2e_elapsed)")" >&2
  [[ $nfail -eq 0 && $nskip -eq 0 && $npass -gt 0 ]]
}

# wait_until SECONDS CMD...: runs CMD every 100 ms until it succeeds or the
# deadline passes. Bounded in time and count; returns CMD's last status.
wait_until() {
  local deadline=$(($(date +%s%N) + $1 * 1000000000))
  shift
  while true; do
    "$@" && return 0
    (($(date +%s%N) >= deadline)) && {
      "$@"
      return
    }
    sleep 0.1
  done
}

# wait_output SECONDS WANT CMD...: waits until CMD prints exactly WANT (CMD
# runs anew each time).
wait_output() {
  local secs=$1
  shift
  wait_until "$secs" output_is "$@"
}
output_is() {
  local want=$1
  shift
  [[ $("$@") == "$want" ]]
}
# wait_at_least SECONDS MIN CMD...: waits until CMD prints a number >= MIN.
wait_at_least() {
  local secs=$1
  shift
  wait_until "$secs" output_at_least "$@"
}
output_at_least() {
  local min=$1 v
  shift
  v=$("$@") && [[ $v =~ ^[0-9]+$ ]] && ((v >= min))
}

# spawn NS LOGFILE CMD...: starts CMD inside namespace NS in the background
# and records its PID in E2E_PIDS and SPAWNED (ip netns exec execs the
# command, so it is CMD's PID). Call it directly, not in $(...): the PID
# must be recorded in this shell.
SPAWNED=""
spawn() {
  local ns=$1 logfile=$2
  shift 2
  ip netns exec "$ns" "$@" >>"$logfile" 2>&1 </dev/null &
  SPAWNED=$!
  E2E_PIDS+=("$SPAWNED")
}

# stop_pid PID: TERM, then KILL after 3 s; only ever a PID this run started.
stop_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null
  for ((i = 0; i < 30; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$pid" 2>/dev/null
  wait "$pid" 2>/dev/null
  return 0
}

cleanup() {
  local rc=$? pid ns
  trap - EXIT INT TERM
  for ((i = ${#E2E_PIDS[@]} - 1; i >= 0; i--)); do
    stop_pid "${E2E_PIDS[i]}"
  done
  for ns in "${E2E_NETNS[@]}"; do
    ip netns del "$ns" 2>/dev/null
  done
  if [[ -n ${E2E_TMP:-} && -d $E2E_TMP ]]; then
    if [[ ${RAMPART_E2E_KEEP:-0} == 1 ]]; then
      log "kept $E2E_TMP"
    else
      rm -rf -- "$E2E_TMP"
    fi
  fi
  exit "$rc"
}
