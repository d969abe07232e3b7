#!/usr/bin/env bash
# Fault: the agent is killed -9 at random points while a sequence of 200 CLI
# changes runs (allow n000, allow n001, delete n001, allow n003, ...). After
# each kill: the saved state and the kernel hold a prefix of the sequence
# (everything acknowledged, plus at most the change in flight); after the
# restart, the agent, the saved state and the kernel (nft -j) agree on it.
# The sequence then continues from there. Bounded: 100 rounds; about a minute.
source "$(dirname "$0")/../load/lib.sh"
fx_init kill9
t0=$SECONDS
N=${RAMPART_FAULTS_CHANGES:-200}
fx_config
fx_start

change() {  # change I: the CLI arguments
  local i=$1
  if ((i % 3 == 2)); then echo "fw delete $(printf n%03d $((i - 1)))"
  else echo "fw allow $((20000 + i))/tcp --name $(printf n%03d "$i")"; fi
}
expected() {  # the CLI rules after the first P changes, sorted, one a line
  "$PY" -c '
import sys
p=int(sys.argv[1]); s=set()
for i in range(p):
    if i%3==2: s.discard("n%03d"%(i-1))
    else: s.add("n%03d"%i)
print("\n".join(sorted(s)))' "$1"
}
# driver FROM: runs the changes from FROM on; writes the index of the first
# one that failed (or N) to $FX_DIR/stopped.
driver() {
  local i
  for ((i = $1; i < N; i++)); do
    # shellcheck disable=SC2046
    if ! fx_cli $(change "$i") >/dev/null 2>&1; then echo "$i" >"$FX_DIR/stopped"; return; fi
  done
  echo "$N" >"$FX_DIR/stopped"
}
# which_prefix NAMES F: F or F+1 when NAMES is expected(F) or expected(F+1).
which_prefix() {
  if [[ $1 == "$(expected "$2")" ]]; then echo "$2"
  elif (($2 < N)) && [[ $1 == "$(expected $(($2 + 1)))" ]]; then echo $(($2 + 1))
  else echo none; fi
}

done_=0 rounds=0 kills=0 inflight_landed=0
while ((done_ < N)); do
  ((rounds++ < 100)) || fx_fail "no progress after 100 rounds (at change $done_)"
  rm -f "$FX_DIR/stopped"
  driver "$done_" &
  drv=$!; FX_PIDS+=("$drv")
  sleep "$((RANDOM % 2)).$((RANDOM % 10))$((RANDOM % 10))"   # 0.00 .. 1.99 s: the random point
  fx_kill9; kills=$((kills + 1))
  wait "$drv" || true
  f=$(cat "$FX_DIR/stopped")
  # Dead agent: the file and the kernel each hold a prefix f or f+1.
  sp=$(which_prefix "$(fx_state_rules)" "$f")
  kp=$(which_prefix "$(fx_kernel_rules)" "$f")
  [[ $sp != none ]] || fx_fail "kill $kills: saved state is no prefix (acked $f): $(fx_state_rules | tr '\n' ' ')"
  [[ $kp != none ]] || fx_fail "kill $kills: kernel is no prefix (acked $f): $(fx_kernel_rules | tr '\n' ' ')"
  ((kp <= sp)) || fx_fail "kill $kills: the kernel ($kp) is ahead of the saved state ($sp)"
  fx_start
  a=$(fx_agent_cli_rules) s=$(fx_state_rules) k=$(fx_kernel_rules)
  [[ $a == "$s" && $s == "$k" ]] || fx_fail "kill $kills: after restart agent [$a] state [$s] kernel [$k] differ"
  [[ $(which_prefix "$s" "$f") == "$sp" ]] || fx_fail "kill $kills: restart changed the prefix"
  ((sp > f)) && inflight_landed=$((inflight_landed + 1))
  fx_log "kill $kills: acknowledged $f, prefix after restart $sp (kernel had $kp)"
  done_=$sp
done
[[ $(fx_agent_cli_rules) == "$(expected "$N")" ]] || fx_fail "final rules differ from the whole sequence"
fx_stop || fx_fail "agent exit status"
fx_log "PASS: $N changes, $kills kills -9, $inflight_landed in-flight changes landed, in $((SECONDS - t0)) s"
