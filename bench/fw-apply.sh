#!/usr/bin/env bash
# Firewall apply: rampart's engine (bench_fw_apply, in-process, through
# firewall/engine.h) against `nft` 1.0.6 on the same rulesets. Each timed
# run starts from a fresh network namespace; the namespace's creation is
# not timed for either (nft's process start is: it is what a user pays).
source "$(dirname "$0")/lib.sh"

FWA=$(bench_prog bench_fw_apply)
bench_tmpdir work
BIG=100000

# Addresses and ports as bench/fw_apply.cpp makes them: host i (rule i's
# source) is 198.18.0.0 + i, group member i is 10.128.0.0 + 2 i + 1 (no two
# adjacent), CIDR i is the /(28 + i % 4) at 10.0.0.0 + 32 i, port i
# 1024 + i % 60000.
rules_nft() {
  awk -v n="$1" 'BEGIN {
    print "table inet bench {"
    print "  chain input {"
    print "    type filter hook input priority 0; policy drop;"
    for (i = 0; i < n; i++)
      printf "    ip saddr 198.%d.%d.%d tcp dport %d counter accept\n", 18 + int(i / 65536), int(i / 256) % 256, i % 256, 1024 + i % 60000
    print "  }"
    print "}"
  }'
}

# set_nft hash|interval|timeout N: one set of N entries used by one rule.
set_nft() {
  awk -v kind="$1" -v n="$2" 'BEGIN {
    print "table inet bench {"
    print "  set big {"
    print "    type ipv4_addr;"
    if (kind == "interval") print "    flags interval;"
    if (kind == "timeout") print "    flags timeout;"
    printf "    elements = {"
    for (i = 0; i < n; i++) {
      if (kind == "interval") {
        a = i * 32
        printf "%s10.%d.%d.%d/%d", (i ? "," : " "), int(a / 65536) % 256, int(a / 256) % 256, a % 256, 28 + i % 4
      } else {
        a = 2 * i + 1
        printf "%s10.%d.%d.%d", (i ? "," : " "), 128 + int(a / 65536), int(a / 256) % 256, a % 256
      }
      if (i % 8 == 7) printf "\n     "
    }
    print " }"
    print "  }"
    print "  chain input {"
    print "    type filter hook input priority 0; policy drop;"
    if (kind == "timeout") print "    ip saddr @big drop"
    else print "    ip saddr @big tcp dport 22 counter accept"
    print "  }"
    print "}"
  }'
}

# nft_full FILE: RUNS times, `nft -f FILE` in a fresh namespace; prints ms per run.
nft_full() {
  local f=$1
  for _ in $(seq "$BENCH_RUNS"); do
    unshare -n bash -c 't0=${EPOCHREALTIME/./}; nft -f "$1" || exit 1; t1=${EPOCHREALTIME/./}
                        awk -v a="$t0" -v b="$t1" "BEGIN { printf \"%.3f\\n\", (b - a) / 1000 }"' _ "$f"
  done
}

# nft_then FILE CMD...: in one fresh namespace, `nft -f FILE`, then RUNS
# times `nft CMD` with {} replaced by the run number; prints ms per run.
nft_then() {
  local f=$1
  shift
  unshare -n bash -c '
    f=$1 runs=$2; shift 2
    nft -f "$f" || exit 1
    for k in $(seq "$runs"); do
      args=("${@//\{\}/$k}")
      t0=${EPOCHREALTIME/./}; nft "${args[@]}" || exit 1; t1=${EPOCHREALTIME/./}
      awk -v a="$t0" -v b="$t1" "BEGIN { printf \"%.3f\\n\", (b - a) / 1000 }"
    done' _ "$f" "$BENCH_RUNS" "$@"
}

# rampart_ms ARGS...: bench_fw_apply's per-run times (bounded: the runs
# that finish within RAMPART_TIMEOUT seconds).
RAMPART_TIMEOUT=${RAMPART_TIMEOUT:-240}
rampart_ms() {
  { timeout --kill-after=5 "$RAMPART_TIMEOUT" "$FWA" "$@" || log "bench_fw_apply $* stopped (exit $?)"; } |
    awk '$1 == "ms" { print $2 }'
}

# measure WHAT AIM RAMPART-CMD OTHER-CMD RAMPART-ARGS... -- NFT-FUNCTION ARGS...
measure() {
  local what=$1 aim=$2 rcmd=$3 ocmd=$4
  shift 4
  local -a rargs=()
  while [[ $1 != -- ]]; do rargs+=("$1"); shift; done
  shift
  local other rmp
  other=$("$@" | median)
  if [[ -n $FWA ]]; then
    rmp=$(rampart_ms "${rargs[@]}" | median)
    [[ $rmp != - ]] || rcmd="not measured: no run finished within $RAMPART_TIMEOUT s; $rcmd"
  else
    rmp=-
    rcmd="not yet measured: the firewall engine (bench_fw_apply) is not built yet"
  fi
  log "$what: rampart $rmp ms, nft $other ms"
  row firewall "$what" "$rmp" "$other" ms lower "$aim" "rampart: $rcmd; other: $ocmd"
}

for n in 10 1000 10000; do rules_nft "$n" >"$work/rules-$n.nft"; done
set_nft hash "$BIG" >"$work/hash.nft"
set_nft interval "$BIG" >"$work/interval.nft"
set_nft timeout "$BIG" >"$work/bans.nft"

for n in 10 1000 10000; do
  label=$(thousands "$n")
  measure "Full apply from empty, $label rules" "<=0.5" "bench_fw_apply full $n $BENCH_RUNS" \
    "unshare -n; nft -f rules-$n.nft" full "$n" "$BENCH_RUNS" -- nft_full "$work/rules-$n.nft"
done
measure "Full apply, one group of 100,000 addresses (hash set)" "<=0.5" "bench_fw_apply group hash $BIG $BENCH_RUNS" \
  "nft -f hash.nft" group hash "$BIG" "$BENCH_RUNS" -- nft_full "$work/hash.nft"
measure "Full apply, one group of 100,000 CIDRs (rampart: hash sets by prefix length; nft: interval set)" "<=0.5" "bench_fw_apply group interval $BIG $BENCH_RUNS" \
  "nft -f interval.nft" group interval "$BIG" "$BENCH_RUNS" -- nft_full "$work/interval.nft"
for n in 10000 10; do
  label=$(thousands "$n")
  measure "One rule changed in a $label-rule policy (nft: add rule to a $label-rule chain)" "<=2 ms" \
    "bench_fw_apply change $n $BENCH_RUNS" \
    "nft add rule inet bench input ip saddr 198.19.0.N tcp dport 61000 counter accept" \
    change "$n" "$BENCH_RUNS" -- \
    nft_then "$work/rules-$n.nft" add rule inet bench input ip saddr '198.19.0.{}' tcp dport 61000 counter accept
done
measure "One address added to a 100,000-address group (hash set)" "<=5 ms" "bench_fw_apply add-element hash $BIG $BENCH_RUNS" \
  "nft add element inet bench big { 198.19.1.N }" add-element hash "$BIG" "$BENCH_RUNS" -- \
  nft_then "$work/hash.nft" add element inet bench big '{ 198.19.1.{} }'
measure "One CIDR added to a 100,000-CIDR group (rampart: hash sets by prefix length; nft: interval set)" "<=5 ms" "bench_fw_apply add-element interval $BIG $BENCH_RUNS" \
  "nft add element inet bench big { 11.0.{}.0/28 }" add-element interval "$BIG" "$BENCH_RUNS" -- \
  nft_then "$work/interval.nft" add element inet bench big '{ 11.0.{}.0/28 }'
# One run: this one can be slow.
BENCH_RUNS=1 measure "100,000 bans applied from empty (engine; nft: set with timeout flag; 1 run)" "-" "bench_fw_apply bans $BIG 1" \
  "nft -f bans.nft" bans "$BIG" 1 -- nft_full "$work/bans.nft"
