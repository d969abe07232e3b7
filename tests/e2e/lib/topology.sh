# shellcheck shell=bash
# The fleet's network: one namespace per node, each with one veth `eth0`
# whose peer sits on a bridge in a hub namespace. Addresses are private
# (10.77.0.0/24, fd77::/64) and exist only inside these namespaces; nothing
# is created in the caller's namespace, so runs never collide and cleanup
# deletes exactly what was made.

# Nodes: the outside world, the fleet (each runs an agent), and app2, a
# second application server that joins the fleet during the run (no agent).
E2E_NODES=(client lb web1 web2 app1 app2 db1 mon)
E2E_AGENT_NODES=(lb web1 web2 app1 db1 mon)
declare -A E2E_HOST=([client]=10 [lb]=20 [web1]=31 [web2]=32 [app1]=41 [app2]=42 [db1]=51 [mon]=60)
declare -A E2E_ROLE=([lb]=lb [web1]=web [web2]=web [app1]=app [db1]=db [mon]=mon)

v4() { echo "10.77.0.${E2E_HOST[$1]}"; }
v6() { echo "fd77::${E2E_HOST[$1]}"; }
ns() { echo "${E2E_PREFIX}$1"; }
in_ns() {
  local node=$1
  shift
  ip netns exec "$(ns "$node")" "$@"
}

topology_up() {
  local hub node n
  hub=$(ns hub)
  ip netns add "$hub" || return 1
  E2E_NETNS+=("$hub")
  ip -n "$hub" link set lo up
  ip -n "$hub" link add br0 type bridge || return 1
  ip -n "$hub" link set br0 up
  for node in "${E2E_NODES[@]}"; do
    n=$(ns "$node")
    ip netns add "$n" || return 1
    E2E_NETNS+=("$n")
    ip -n "$n" link set lo up
    ip -n "$hub" link add "v-$node" type veth peer name eth0 netns "$n" || return 1
    ip -n "$hub" link set "v-$node" master br0 up
    ip -n "$n" addr add "$(v4 "$node")/24" dev eth0
    # nodad: the address is usable at once instead of after duplicate
    # address detection; nothing else on this bridge can hold it.
    ip -n "$n" addr add "$(v6 "$node")/64" dev eth0 nodad
    ip -n "$n" link set eth0 up
  done
}

# A file the matrix and the probes read: node, v4, v6, namespace.
topology_file() {
  local node
  for node in "${E2E_NODES[@]}"; do
    printf '%s %s %s %s\n' "$node" "$(v4 "$node")" "$(v6 "$node")" "$(ns "$node")"
  done
}
