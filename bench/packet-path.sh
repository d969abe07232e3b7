#!/usr/bin/env bash
# Packet path: TCP throughput and connection rate from one namespace to
# another over a veth pair, with no firewall, behind rampart's policy (one
# rule allowing the port from a 10,000-address group), and behind 10,000
# linear nft rules (`ip saddr A tcp dport P counter accept`, the matching
# rule last), and behind the smallest stateful ruleset (`ct state
# established,related accept`, the port open): the floor any stateful
# firewall pays, connection tracking included. The setups exist side by
# side and are measured in turn, run after run, so that the machine's noise
# falls on all of them alike.
source "$(dirname "$0")/lib.sh"

TCP=$(bench_prog bench_tcp)
FWA=$(bench_prog bench_fw_apply)
[[ -n $TCP ]] || { log "bench_tcp not built in $BENCH_BUILD_DIR"; exit 1; }

PORT=40000
GROUP=10000
BYTES=$((2 << 30))   # per throughput run, or 2 s, whichever ends first
CONNS=20000          # per connection-rate run, or 2 s
CLIENT_ADDR=198.19.255.1
SERVER_ADDR=198.19.255.2
bench_tmpdir work

# setup NAME: namespaces NAME-c and NAME-s joined by a veth pair, a server
# listening in NAME-s.
setup() {
  local name=$1 c=$1-c s=$1-s pid
  bench_netns_add "$c"
  bench_netns_add "$s"
  ip link add bench-a netns "$c" type veth peer name bench-b netns "$s"
  ip -n "$c" addr add "$CLIENT_ADDR/30" dev bench-a
  ip -n "$s" addr add "$SERVER_ADDR/30" dev bench-b
  ip -n "$c" link set bench-a up
  ip -n "$s" link set bench-b up
  bench_bg pid ip netns exec "$s" "$TCP" serve "$PORT" --max-seconds 600
  bench_wait_port "$s" "$PORT"
}

# 10,000 linear rules, the one that matches the client last.
linear_ruleset() {
  awk -v n="$GROUP" -v client="$CLIENT_ADDR" -v port="$PORT" 'BEGIN {
    print "table inet linear {"
    print "  chain input {"
    print "    type filter hook input priority 0; policy drop;"
    for (i = 0; i < n - 1; i++)
      printf "    ip saddr 198.%d.%d.%d tcp dport %d counter accept\n", 18 + int(i / 65536), int(i / 256) % 256, i % 256, 1024 + i % 60000
    printf "    ip saddr %s tcp dport %d counter accept\n", client, port
    print "  }"
    print "}"
  }'
}

scenarios=(none nft ct)
setup "$BENCH_TAG-none"
setup "$BENCH_TAG-nft"
linear_ruleset >"$work/linear.nft"
ip netns exec "$BENCH_TAG-nft-s" nft -f "$work/linear.nft"
setup "$BENCH_TAG-ct"
printf 'table inet stateful {\n  chain input {\n    type filter hook input priority 0; policy drop;\n    ct state established,related accept\n    tcp dport %s accept\n  }\n}\n' "$PORT" >"$work/stateful.nft"
ip netns exec "$BENCH_TAG-ct-s" nft -f "$work/stateful.nft"
if [[ -n $FWA ]]; then
  setup "$BENCH_TAG-rmp"
  "$FWA" netns-group "$BENCH_TAG-rmp-s" "$GROUP" "$CLIENT_ADDR" "$PORT" >&2
  scenarios+=(rmp)
fi

declare -A gbit conn
for run in $(seq "$BENCH_RUNS"); do
  for sc in "${scenarios[@]}"; do
    ns="$BENCH_TAG-$sc-c"
    g=$(ip netns exec "$ns" "$TCP" stream "$SERVER_ADDR" "$PORT" --bytes "$BYTES" --max-seconds 2 | awk '{ print $2 }')
    c=$(ip netns exec "$ns" "$TCP" connect "$SERVER_ADDR" "$PORT" --count "$CONNS" --max-seconds 2 | awk '{ print $2 }')
    gbit[$sc]+="$g "
    conn[$sc]+="$c "
    log "run $run $sc: $g Gbit/s, $c conn/s"
  done
done

med() { tr ' ' '\n' <<<"$1" | grep . | median; }
none_g=$(med "${gbit[none]}")
none_c=$(med "${conn[none]}")
nft_g=$(med "${gbit[nft]}")
nft_c=$(med "${conn[nft]}")
ct_c=$(med "${conn[ct]}")
if [[ -n $FWA ]]; then
  rmp_g=$(med "${gbit[rmp]}")
  rmp_c=$(med "${conn[rmp]}")
  why="bench_fw_apply netns-group NS $GROUP $CLIENT_ADDR $PORT; bench_tcp stream (2 GiB or 2 s)"
else
  rmp_g=- rmp_c=-
  why="not yet measured: the firewall engine (bench_fw_apply) is not built yet"
fi
cmd_t="bench_tcp stream $SERVER_ADDR $PORT --bytes $BYTES --max-seconds 2 (veth between namespaces)"
cmd_c="bench_tcp connect $SERVER_ADDR $PORT --count $CONNS --max-seconds 2"
row packet "TCP throughput: rampart (10,000-address group) vs no firewall" "$rmp_g" "$none_g" Gbit/s higher ">=0.97" "$cmd_t; ${why}"
row packet "TCP throughput: rampart (10,000-address group) vs 10,000 linear nft rules" "$rmp_g" "$nft_g" Gbit/s higher - "$cmd_t; nft -f linear.nft"
row packet "TCP connections/s: rampart (10,000-address group) vs no firewall" "$rmp_c" "$none_c" conn/s higher ">=0.97" "$cmd_c"
row packet "TCP connections/s: rampart (10,000-address group) vs 10,000 linear nft rules" "$rmp_c" "$nft_c" conn/s higher - "$cmd_c; nft -f linear.nft"
row packet "TCP connections/s: the smallest stateful nft ruleset (ct state established,related accept; the port open) vs no firewall" "$ct_c" "$none_c" conn/s higher - "$cmd_c; nft -f stateful.nft"
row packet "TCP connections/s: rampart (10,000-address group) vs the smallest stateful nft ruleset" "$rmp_c" "$ct_c" conn/s higher - "$cmd_c; nft -f stateful.nft"
