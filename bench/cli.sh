#!/usr/bin/env bash
# CLI: what an operator types to open a port for one source and close it
# again, on a node that already has 10,000 rules, with rampart, ufw 0.36 and
# nft; and banning 100,000 addresses from a file. Each tool has a network
# namespace of its own (ufw also a private copy of its configuration
# directory, so the host's ufw is never touched).
source "$(dirname "$0")/lib.sh"

RAMPART=${RAMPART_BINARY:-$BENCH_BUILD_DIR/rampart}
RULES=10000
BANS=100000
bench_tmpdir work

# One source and one port per run, none of them in the 10,000 rules.
src() { echo "198.19.0.$1"; }
PORT=61000

# ---- ufw: a private datadir (--datadir) holding 10,000 rules, loaded by
# `ufw reload` before timing.
ufw_ns=$BENCH_TAG-ufw
bench_netns_add "$ufw_ns"
udir=$work/ufw
mkdir -p "$udir/etc/default" "$udir/lib/ufw"
cp -a /etc/ufw "$udir/etc/"
# Keep the host's sysctl file out of it (the namespace's would be set anyway).
sed 's/^IPT_SYSCTL=.*/IPT_SYSCTL=/' /etc/default/ufw >"$udir/etc/default/ufw"
ufw_cmd() { timeout 120 ip netns exec "$ufw_ns" ufw --rootdir=/ --datadir="$udir" "$@"; }
ufw_cmd --force enable >/dev/null
awk -v n="$RULES" '
  { print }
  /^### RULES ###$/ {
    for (i = 0; i < n; i++) {
      a = sprintf("198.%d.%d.%d", 18 + int(i / 65536), int(i / 256) % 256, i % 256)
      p = 1024 + i % 60000
      printf "\n### tuple ### allow tcp %d 0.0.0.0/0 any %s in\n", p, a
      printf "-A ufw-user-input -p tcp --dport %d -s %s -j ACCEPT\n", p, a
    }
  }' "$udir/etc/ufw/user.rules" >"$udir/user.rules.new"
mv "$udir/user.rules.new" "$udir/etc/ufw/user.rules"
t=$(time_ms ufw_cmd reload)
log "ufw reload with $RULES rules: $t ms ($(ip netns exec "$ufw_ns" iptables -S ufw-user-input | wc -l) iptables rules)"

ufw_allow=() ufw_delete=()
for k in $(seq "$BENCH_RUNS"); do
  ufw_allow+=("$(time_ms ufw_cmd allow from "$(src "$k")" to any port "$PORT" proto tcp)")
  ufw_delete+=("$(time_ms ufw_cmd delete allow from "$(src "$k")" to any port "$PORT" proto tcp)")
done
ufw_allow_ms=$(printf '%s\n' "${ufw_allow[@]}" | median)
ufw_delete_ms=$(printf '%s\n' "${ufw_delete[@]}" | median)
log "ufw: allow ${ufw_allow[*]} ms; delete ${ufw_delete[*]} ms"
bench_netns_del "$ufw_ns"

# ---- nft: the same 10,000 rules in one chain; `nft --echo --handle add
# rule` gives the handle that `nft delete rule ... handle H` needs.
nft_ns=$BENCH_TAG-nft
bench_netns_add "$nft_ns"
awk -v n="$RULES" 'BEGIN {
  print "table inet bench {"
  print "  set bans { type ipv4_addr; flags timeout; }"
  print "  chain input {"
  print "    type filter hook input priority 0; policy drop;"
  print "    ip saddr @bans drop"
  for (i = 0; i < n; i++)
    printf "    ip saddr 198.%d.%d.%d tcp dport %d counter accept\n", 18 + int(i / 65536), int(i / 256) % 256, i % 256, 1024 + i % 60000
  print "  }"
  print "}"
}' >"$work/rules.nft"
ip netns exec "$nft_ns" nft -f "$work/rules.nft"
nft_rt=()
nft_add_delete() {  # one round trip; prints ms
  local k=$1 t0 t1 handle
  t0=$(now_us)
  handle=$(ip netns exec "$nft_ns" nft --echo --handle add rule inet bench input \
    ip saddr "$(src "$k")" tcp dport "$PORT" counter accept | awk '/# handle/ { print $NF }')
  ip netns exec "$nft_ns" nft delete rule inet bench input handle "$handle"
  t1=$(now_us)
  awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f\n", (b - a) / 1000 }'
}
for k in $(seq "$BENCH_RUNS"); do nft_rt+=("$(nft_add_delete "$k")"); done
nft_rt_ms=$(printf '%s\n' "${nft_rt[@]}" | median)
log "nft add+delete: ${nft_rt[*]} ms"

# 100,000 bans from a file: one `nft -f` of `add element` lines, 1,000 a line.
awk -v n="$BANS" 'BEGIN {
  for (i = 0; i < n; i++) {
    if (i % 1000 == 0) printf "%sadd element inet bench bans { ", (i ? " }\n" : "")
    else printf ", "
    a = 2 * i + 1
    printf "10.%d.%d.%d timeout 1h", 128 + int(a / 65536), int(a / 256) % 256, a % 256
  }
  print " }"
}' >"$work/bans.nft"
awk -v n="$BANS" 'BEGIN { for (i = 0; i < n; i++) { a = 2 * i + 1; printf "10.%d.%d.%d\n", 128 + int(a / 65536), int(a / 256) % 256, a % 256 } }' >"$work/bans.txt"
nft_ban=()
for k in $(seq "$BENCH_RUNS"); do
  ip netns exec "$nft_ns" nft flush set inet bench bans
  nft_ban+=("$(time_ms ip netns exec "$nft_ns" nft -f "$work/bans.nft")")
done
nft_ban_ms=$(printf '%s\n' "${nft_ban[@]}" | median)
log "nft add element x $BANS: ${nft_ban[*]} ms"
# One more ban on top of the 100,000.
one_ban() { echo "10.200.0.$1"; }
nft_one=()
for k in $(seq "$BENCH_RUNS"); do
  nft_one+=("$(time_ms ip netns exec "$nft_ns" nft add element inet bench bans "{ $(one_ban "$k") timeout 1h }")")
done
nft_one_ms=$(printf '%s\n' "${nft_one[@]}" | median)
log "nft add element, 1 to $BANS: ${nft_one[*]} ms"
# Reading the per-rule counters with nft (what a script feeding node_exporter's
# textfile collector would run on each scrape) lists the whole table, bans too.
nft_list=()
for k in $(seq "$BENCH_RUNS"); do
  nft_list+=("$(time_ms bash -c "ip netns exec '$nft_ns' nft -j list table inet bench >/dev/null")")
done
nft_list_ms=$(printf '%s\n' "${nft_list[@]}" | median)
log "nft -j list table with $RULES rules and $BANS bans: ${nft_list[*]} ms"
bench_netns_del "$nft_ns"

# ---- rampart: an agent in its own namespace with the same 10,000 rules in
# its configuration; the CLI talks to it over the control socket.
r_allow=- r_delete=- r_rt=- r_ban=- r_one=- r_scrape=- r_start= ban_why=
why="not yet measured: the rampart fw CLI (allow/delete/ban) is not built yet"

# rampart_cli_bench: sets r_allow r_delete r_rt r_ban, and why.
rampart_cli_bench() {
  local ns=$BENCH_TAG-rmp dir=$work/rampart agent_pid sock
  bench_netns_add "$ns"
  mkdir -p "$dir"
  bench_cert "$dir"
  sock=$dir/control.sock
  {
    printf 'node:\n  name: bench\nlisten: "127.0.0.1:%s"\n' 4450
    printf 'web:\n  tls_server_config:\n    cert_file: %s\n    key_file: %s\n' "$dir/cert.pem" "$dir/key.pem"
    printf 'state_dir: %s\ncontrol_socket: %s\nfirewall:\n  rules:\n' "$dir/state" "$sock"
    awk -v n="$RULES" 'BEGIN { for (i = 0; i < n; i++)
      printf "    - name: r%d\n      allow: %d/tcp\n      from: 198.%d.%d.%d\n", i, 1024 + i % 60000, 18 + int(i / 65536), int(i / 256) % 256, i % 256 }'
  } >"$dir/rampart.yaml"
  local t0 ok= i
  t0=$(now_us)
  bench_bg agent_pid ip netns exec "$ns" "$RAMPART" agent --config "$dir/rampart.yaml" 2>"$dir/agent.log"
  for i in $(seq 6000); do  # 60 s for the agent to start and apply 10,000 rules
    if [[ -z $r_start ]] && grep -q "ready" "$dir/agent.log" 2>/dev/null; then
      r_start=$(awk -v a="$t0" -v b="$(now_us)" 'BEGIN { printf "%.1f\n", (b - a) / 1000 }')
      log "rampart agent ready after $r_start ms; $(ip netns exec "$ns" nft list chain inet rampart input 2>/dev/null | grep -c 'comment "rule:') policy rules in the kernel"
    fi
    kill -0 "$agent_pid" 2>/dev/null || break
    if [[ -S $sock ]] && "$RAMPART" --socket "$sock" fw status >/dev/null 2>"$dir/status.err"; then
      ok=1
      [[ -n $r_start ]] || r_start=$(awk -v a="$t0" -v b="$(now_us)" 'BEGIN { printf "%.1f\n", (b - a) / 1000 }')
      break
    fi
    sleep 0.01
  done
  if [[ -z $ok ]]; then
    if [[ -S $sock ]]; then
      why="not yet measured: the agent is up but \`rampart fw status\` fails: $(head -n 1 "$dir/status.err" | cut -c1-120)"
    else
      why="not yet measured: the agent did not open its control socket: $(tail -n 2 "$dir/agent.log" | tr '\n' ' ' | cut -c1-160)"
    fi
    return 0
  fi
  rcli() { "$RAMPART" --socket "$sock" fw "$@"; }
  local allow=() delete=() k a d
  for k in $(seq "$BENCH_RUNS"); do
    a=$(time_ms rcli allow "$PORT/tcp" --from "$(src "$k")" --name "bench-$k") || { why="rampart fw allow failed"; return 0; }
    d=$(time_ms rcli delete "bench-$k") || { why="rampart fw delete failed"; return 0; }
    allow+=("$a")
    delete+=("$d")
  done
  r_allow=$(printf '%s\n' "${allow[@]}" | median)
  r_delete=$(printf '%s\n' "${delete[@]}" | median)
  r_rt=$(paste -d+ <(printf '%s\n' "${allow[@]}") <(printf '%s\n' "${delete[@]}") | bc | median)
  log "rampart: allow ${allow[*]} ms; delete ${delete[*]} ms"
  why="rampart agent in its own namespace, $RULES rules in its configuration; CLI over the control socket, process start included"
  if r_ban=$(time_ms rcli ban --file "$work/bans.txt" 2>"$dir/ban.err"); then
    log "rampart: ban --file of $BANS: $r_ban ms (1 run)"
    local one=() o
    for k in $(seq "$BENCH_RUNS"); do
      o=$(time_ms rcli ban "$(one_ban "$k")" --for 1h) || { ban_why="rampart fw ban of one address failed"; return 0; }
      one+=("$o")
    done
    r_one=$(printf '%s\n' "${one[@]}" | median)
    log "rampart: ban of 1 on top of $BANS: ${one[*]} ms"
    # A scrape of /metrics (every collector, the firewall's per-rule counters
    # included) on this node.
    local load
    load=$(bench_prog bench_https_load)
    if [[ -n $load ]]; then
      r_scrape=$(ip netns exec "$ns" "$load" keepalive 127.0.0.1 4450 /metrics --count $((BENCH_RUNS * 4)) --max-seconds 60 |
        awk '{ for (i = 1; i < NF; i += 2) if ($i == "median_ms") print $(i + 1) }')
      log "rampart: scrape with $RULES rules and $BANS bans: median $r_scrape ms"
    fi
  else
    r_ban=-
    ban_why="rampart fw ban --file failed: $(head -n 1 "$dir/ban.err" | cut -c1-120)"
    log "$ban_why"
  fi
}
if [[ -x $RAMPART ]]; then
  rampart_cli_bench
fi

# Whole-agent path: `rampart agent` started with the 10,000 rules in its
# configuration, until it logs "ready" (configuration, TLS, firewall applied),
# against `nft -f` of the same rules in a fresh namespace.
nft_start=$(unshare -n bash -c 't0=${EPOCHREALTIME/./}; nft -f "$1" || exit 1; t1=${EPOCHREALTIME/./}
  awk -v a="$t0" -v b="$t1" "BEGIN { printf \"%.1f\\n\", (b - a) / 1000 }"' _ "$work/rules.nft")
row cli "Agent start with 10,000 rules in its configuration until ready (1 run) vs nft -f of the same rules" "${r_start:--}" "$nft_start" ms lower - \
  "ip netns exec NS rampart agent --config rampart.yaml (until it logs ready or answers fw status); unshare -n nft -f rules.nft"

ucmd="ufw allow from 198.19.0.N to any port $PORT proto tcp; ufw delete allow from ... (ip netns exec; --datadir with $RULES rules)"
rcmd="rampart fw allow $PORT/tcp --from 198.19.0.N --name bench-N; rampart fw delete bench-N (agent with $RULES rules)"
row cli "fw allow on a node with 10,000 rules: rampart vs ufw allow" "$r_allow" "$ufw_allow_ms" ms lower "<=10 ms" "$rcmd; $ucmd; $why"
row cli "fw delete on a node with 10,000 rules: rampart vs ufw delete" "$r_delete" "$ufw_delete_ms" ms lower "<=10 ms" "$rcmd; $ucmd; $why"
row cli "allow + delete round trip, 10,000 rules: rampart vs nft add rule + nft delete rule handle" "$r_rt" "$nft_rt_ms" ms lower - \
  "$rcmd; nft --echo --handle add rule inet bench input ip saddr 198.19.0.N tcp dport $PORT counter accept; nft delete rule inet bench input handle H; $why"
row cli "Ban 100,000 addresses from a file: rampart fw ban --file (1 run) vs nft -f (add element, timeout set)" "$r_ban" "$nft_ban_ms" ms lower "<=1000 ms" \
  "rampart fw ban --file bans.txt; nft -f bans.nft (100 lines of 1,000 'add element ... timeout 1h'); ufw has no set: one rule per address; ${ban_why:-$why}"
row cli "Ban one more address on a node with 100,000 bans: rampart fw ban vs nft add element" "$r_one" "$nft_one_ms" ms lower - \
  "rampart fw ban 10.200.0.N --for 1h; nft add element inet bench bans { 10.200.0.N timeout 1h } (a set of 100,000); ${ban_why:-$why}"
row cli "Per-rule counters on a node with 10,000 rules and 100,000 bans: a rampart scrape of /metrics vs nft -j list table" "${r_scrape:--}" "$nft_list_ms" ms lower - \
  "bench_https_load keepalive 127.0.0.1 PORT /metrics (every collector, TLS; median of $((BENCH_RUNS * 4))); ip netns exec NS nft -j list table inet bench; ${ban_why:-$why}"
