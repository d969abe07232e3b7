#!/usr/bin/env bash
# The fleet end to end: a load balancer, two web servers, an application
# server and a database, each in its own network namespace with its own
# rampart agent, its role's example policy and a certificate from one fleet
# CA, scraped over mTLS by a real Prometheus in a monitoring namespace.
#
# Proves: the connection matrix is exactly what the policies say; Prometheus
# sees every agent, its role, rule and drop counters and a certificate about
# to expire; bans, a policy change and a certificate rotation take effect on
# running nodes without resetting counters or failing a scrape; a killed
# agent leaves its firewall in force and comes back; a stray nft change is
# repaired and counted.
#
# Needs root. Env: RAMPART_BINARY (the built rampart), RAMPART_SOURCE_DIR;
# RAMPART_E2E_KEEP=1 keeps the temp dir (configs, logs) for a look after.
# Every check is listed at the end as PASS, FAIL or NOT RUN (a piece of
# rampart it needs is missing); the run passes only when all passed.
set -uo pipefail
# Debian's tools first (python3 with its standard library only, prometheus).
export PATH=/usr/sbin:/usr/bin:/sbin:/bin:$PATH

E2E_LIB=$(cd "$(dirname "${BASH_SOURCE[0]}")/lib" && pwd)
: "${RAMPART_SOURCE_DIR:=$(cd "$E2E_LIB/../../.." && pwd)}"
: "${RAMPART_BINARY:=$RAMPART_SOURCE_DIR/build/default/rampart}"
E2E_PREFIX="rpe2e-$$-"
E2E_TMP=$(mktemp -d /tmp/rampart-e2e.XXXXXX)
E2E_CA=$E2E_TMP/ca

source "$E2E_LIB/common.sh"
source "$E2E_LIB/topology.sh"
source "$E2E_LIB/certs.sh"
source "$E2E_LIB/agents.sh"
source "$E2E_LIB/prom.sh"

trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

TOPO=$E2E_TMP/topology.txt
EXPECTED=$E2E_LIB/expected_matrix.txt
SHORT_LIVED=web2   # given a one-day certificate: its expiry alert must fire

# ---------------------------------------------------------------------------
preflight() {
  [[ $(id -u) == 0 ]] || die "preflight: root" "network namespaces and nftables need root"
  [[ -x $RAMPART_BINARY ]] || die "preflight: rampart binary" "RAMPART_BINARY=$RAMPART_BINARY is not executable"
  local t
  for t in ip nft python3 prometheus promtool curl openssl; do
    command -v "$t" >/dev/null || die "preflight: tools" "$t is not installed (scripts/install-deps)"
  done
  log "rampart: $RAMPART_BINARY ($("$RAMPART_BINARY" version 2>&1 | head -n1)); prefix $E2E_PREFIX; tmp $E2E_TMP"
}

# A verb of the CLI exists when its --help succeeds.
has_verb() { "$RAMPART_BINARY" "$@" --help >/dev/null 2>&1; }

# ---------------------------------------------------------------------------
build_topology() {
  topology_up || die "topology: namespaces, veths and bridge"
  topology_file >"$TOPO"
}

make_certificates() {
  ca_init "$E2E_CA" >"$E2E_TMP/ca.log" 2>&1 ||
    die "certificates: rampart tls ca init" "$(tail -n2 "$E2E_TMP/ca.log" | tr '\n' ' ')"
  local node days
  for node in "${E2E_AGENT_NODES[@]}"; do
    mkdir -p "$E2E_TMP/$node/tls" "$E2E_TMP/$node/state"
    days=365
    [[ $node == "$SHORT_LIVED" ]] && days=1
    ca_sign "$E2E_CA" "$E2E_TMP/$node/tls/node" "$days" "$node" "$(v4 "$node")" "$(v6 "$node")" \
      >>"$E2E_TMP/ca.log" 2>&1 || die "certificates: rampart tls ca sign ($node)" "$(tail -n2 "$E2E_TMP/ca.log")"
    mv "$E2E_TMP/$node/tls/node.pem" "$E2E_TMP/$node/tls/cert.pem"
    mv "$E2E_TMP/$node/tls/node-key.pem" "$E2E_TMP/$node/tls/key.pem"
  done
  ca_sign --client "$E2E_CA" "$E2E_TMP/prometheus" 365 prometheus >>"$E2E_TMP/ca.log" 2>&1 ||
    die "certificates: rampart tls ca sign (prometheus client)"
  local ok=1
  for node in "${E2E_AGENT_NODES[@]}"; do
    openssl verify -CAfile "$E2E_CA/ca.pem" "$E2E_TMP/$node/tls/cert.pem" >/dev/null 2>&1 || ok=0
  done
  if ((ok)); then
    pass "certificates: one fleet CA (rampart tls ca) signed all ${#E2E_AGENT_NODES[@]} node certificates and Prometheus' client certificate"
  else
    die "certificates: openssl verify against the fleet CA"
  fi
}

start_services() {
  local node ports
  for node in "${E2E_NODES[@]}"; do
    case $node in
      lb | web1 | web2) ports="22 443" ;;
      app1 | app2) ports="22 8080" ;;
      db1) ports="22 3306" ;;
      *) ports="22" ;;
    esac
    mkdir -p "$E2E_TMP/$node"
    # shellcheck disable=SC2086
    spawn "$(ns "$node")" "$E2E_TMP/$node/service.log" \
      python3 "$E2E_LIB/service.py" "$node" "$E2E_TMP/$node/service.ready" $ports
  done
  for node in "${E2E_NODES[@]}"; do
    wait_until 5 test -e "$E2E_TMP/$node/service.ready" || die "services: stand-in on $node" \
      "$(tail -n2 "$E2E_TMP/$node/service.log")"
  done
  # Before anything is firewalled, every node reaches every other's SSH
  # stand-in over both families: a later "blocked" is the firewall's doing.
  local targets="" out
  for node in "${E2E_NODES[@]}"; do targets+="$(v4 "$node") 22"$'\n'"$(v6 "$node") 22"$'\n'; done
  out=$(in_ns client python3 "$E2E_LIB/probe.py" once 1 <<<"$targets")
  if [[ $(grep -c ' open$' <<<"$out") == $((2 * ${#E2E_NODES[@]})) ]]; then
    pass "topology: ${#E2E_NODES[@]} namespaces on one bridge, client reaches every node's :22 over IPv4 and IPv6"
  else
    die "topology: client reaches every node's :22 over IPv4 and IPv6" "$(grep -v ' open$' <<<"$out" | tr '\n' ' ')"
  fi
}

start_agents() {
  local node groups
  for node in "${E2E_AGENT_NODES[@]}"; do
    [[ -f $(example_for "$node") ]] || die "configs: example policy for ${E2E_ROLE[$node]}" \
      "$(example_for "$node") does not exist"
    groups=$(agent_config "$node" 2>&1) || die "configs: $node from $(example_for "$node")" "$groups"
    log "$node: ${E2E_ROLE[$node]} policy, groups: $groups"
  done
  local bad=()
  for node in "${E2E_AGENT_NODES[@]}"; do
    "$RAMPART_BINARY" check --config "$E2E_TMP/$node/rampart.yaml" >"$E2E_TMP/$node/check.log" 2>&1 ||
      bad+=("$node: $(head -n2 "$E2E_TMP/$node/check.log" | tr '\n' ' ')")
  done
  if ((${#bad[@]})); then
    die "configs: rampart check accepts all six node configurations" "${bad[*]}"
  fi
  pass "configs: rampart check accepts all six node configurations (example policies, topology addresses)"
  for node in "${E2E_AGENT_NODES[@]}"; do agent_start "$node"; done
  for node in "${E2E_AGENT_NODES[@]}"; do
    if ! wait_until 20 agent_firewalled "$node"; then
      agent_log_tail "$node"
      die "agents: $node running with table inet rampart in its kernel" \
        "$(agent_alive "$node" && echo "agent running, no table" || echo "agent exited")"
    fi
  done
  pass "agents: all six running, each with table inet rampart in its kernel"
  bad=()
  for node in "${E2E_AGENT_NODES[@]}"; do
    wait_until 10 agent_ready "$node" || bad+=("$node")
  done
  if ((${#bad[@]})); then
    agent_log_tail "${bad[0]}"
    fail "agents: /healthz answers mon over mTLS on all six" "no answer from ${bad[*]}"
  else
    pass "agents: /healthz answers mon over mTLS on all six"
  fi
  # Without the client certificate the endpoint must refuse to talk.
  if in_ns mon curl -sf --max-time 3 --cacert "$E2E_CA/ca.pem" \
    "https://$(v4 db1):9643/metrics" >/dev/null 2>&1; then
    fail "agents: a scrape without a client certificate is refused (mTLS required)"
  else
    pass "agents: a scrape without a client certificate is refused (mTLS required)"
  fi
}

RULES_FILE=""
# The packaged alert rules, as shipped except that every `for:` is 0s: the
# expressions are what is tested; waiting 10 minutes for a pending alert to
# fire would only test Prometheus.
start_prometheus() {
  local shipped=$RAMPART_SOURCE_DIR/packaging/prometheus/rampart.rules.yml
  mkdir -p "$E2E_TMP/prometheus"
  if [[ -f $shipped ]]; then
    RULES_FILE=$E2E_TMP/prometheus/rampart.rules.yml
    sed -E 's/^([[:space:]]+)for:[[:space:]].*/\1for: 0s/' "$shipped" >"$RULES_FILE"
  else
    log "packaging/prometheus/rampart.rules.yml does not exist; using the test's own expiry rule"
    RULES_FILE=$E2E_LIB/cert_expiry.rules.yml
  fi
  prom_config "$E2E_TMP/prometheus" "$E2E_CA/ca.pem" "$E2E_TMP/prometheus.pem" \
    "$E2E_TMP/prometheus-key.pem" "$RULES_FILE"
  prom_start "$E2E_TMP/prometheus" || {
    tail -n 20 "$E2E_TMP/prometheus/prometheus.log" >&2
    die "prometheus: started in mon"
  }
}

run_matrix() {
  local name=$1 out=$E2E_TMP/matrix-$1.txt
  shift
  python3 "$E2E_LIB/matrix.py" "$TOPO" "$EXPECTED" --json "$E2E_TMP/matrix-$name.json" "$@" >"$out" 2>&1
  local rc=$?
  cat "$out"
  return $rc
}

matrix_check() {
  local name=$1 what=$2
  shift 2
  if run_matrix "$name" "$@"; then
    pass "matrix ($what): $(tail -n1 "$E2E_TMP/matrix-$name.txt")"
  else
    fail "matrix ($what): $(tail -n1 "$E2E_TMP/matrix-$name.txt")"
  fi
}

# ---------------------------------------------------------------------------
# PromQL: what Prometheus knows after the matrix.

# counter_grows NODE METRIC LABEL FROM WHAT: FROM makes 5 connections to
# NODE:3306; Prometheus must see METRIC{LABEL} on NODE grow by at least 5
# from its value on a fresh scrape just before.
counter_grows() {
  local node=$1 metric=$2 label=$3 from=$4 what=$5 before q
  q="$metric{e2e_node=\"$node\",$label}"
  if ! before=$(metric_sum "$node" "$metric" "$label"); then
    fail "promql: $q counts $what" "$node exports no $metric{$label}"
    return
  fi
  in_ns "$from" python3 "$E2E_LIB/probe.py" once 0.3 \
    <<<"$(for _ in 1 2 3 4 5; do echo "$(v4 "$node") 3306"; done)" >/dev/null
  if wait_until 10 prom_has "sum($q) >= $((before + 5))"; then
    pass "promql: sum($q) went from $before to >= $((before + 5)) after $what" "$(promql "sum($q)")"
  else
    fail "promql: sum($q) >= $((before + 5)) after $what" "$(promql "$q" | tr '\n' ' ')"
  fi
}
promql_checks() {
  local q out
  q='count(up{job="rampart"} == 1)'
  if wait_output 15 6 prom_value "$q"; then
    pass "promql: $q == 6" "$(promql 'up{job="rampart"}' | awk '{print $2"="$NF}' | tr '\n' ' ')"
  else
    fail "promql: $q == 6" "$(promql 'up{job="rampart"}' | tr '\n' ' ')"
  fi

  local node bad=() line
  for node in "${E2E_AGENT_NODES[@]}"; do
    line=$(promql "rampart_node_info{e2e_node=\"$node\",node=\"$node\",role=\"${E2E_ROLE[$node]}\"} == 1")
    [[ -n $line ]] || bad+=("$node")
  done
  if ((${#bad[@]} == 0)); then
    pass 'promql: rampart_node_info{node,role} == 1 with each node'"'"'s own name and role' \
      "$(promql 'rampart_node_info' | grep -o 'e2e_node=[^ ]*\|role=[^ ]*' | paste -sd' ')"
  else
    fail "promql: rampart_node_info{node,role} with each node's own name and role" \
      "wrong or missing for ${bad[*]}: $(promql 'rampart_node_info' | tr '\n' ' ')"
  fi

  # The db's mysql rule counts what app1 sent it: five more connections from
  # app1 are five more packets on the rule (each connection's first packet
  # is matched by the rule; the rest ride on established).
  counter_grows db1 rampart_firewall_rule_packets_total rule=\"mysql\" app1 \
    "5 connections from app1"
  # db's default drop counts web1's attempts at MySQL.
  counter_grows db1 rampart_firewall_dropped_packets_total chain=\"input\" web1 \
    "5 blocked attempts from web1"
  expiry_alert_check
}

# The alerting rules that watch certificate expiry, by name, as Prometheus
# loaded them from the rules file.
expiry_alert_names() {
  in_ns mon curl -sf --max-time 3 http://127.0.0.1:9090/api/v1/rules | python3 -c '
import json, sys
names = {r["name"] for g in json.load(sys.stdin)["data"]["groups"] for r in g["rules"]
         if r["type"] == "alerting" and "rampart_tls_certificate_not_after_seconds" in r["query"]}
print("|".join(sorted(names)))'
}

expiry_alert_check() {
  local names q others
  names=$(expiry_alert_names)
  if [[ -z $names ]]; then
    fail "promql: certificate-expiry alert" "no alerting rule on rampart_tls_certificate_not_after_seconds in $RULES_FILE"
    return
  fi
  q="ALERTS{alertname=~\"$names\",alertstate=\"firing\",e2e_node=\"$SHORT_LIVED\"}"
  if prom_wait 20 "$q" >/dev/null; then
    others=$(promql "ALERTS{alertname=~\"$names\",e2e_node!=\"$SHORT_LIVED\"}")
    if [[ -z $others ]]; then
      pass "promql: $q fires for the one-day certificate, and for no other node" \
        "$(promql "$q" | grep -o 'alertname=[^ ]*' | sort -u | paste -sd' ') from $(basename "$RULES_FILE")"
    else
      fail "promql: the expiry alert fires only for $SHORT_LIVED" "also: $(tr '\n' ' ' <<<"$others")"
    fi
  else
    fail "promql: $q fires" "$(promql "ALERTS" | tr '\n' ' ') / $(promql "rampart_tls_certificate_not_after_seconds - time()" | tr '\n' ' ')"
  fi
}

# ---------------------------------------------------------------------------
# Changes under way.
LOOPS=()
loop_start() {  # loop_start NAME FROM TO PORT: writes $E2E_TMP/loop-NAME.log
  local log=$E2E_TMP/loop-$1.log
  : >"$log"
  spawn "$(ns "$2")" "$E2E_TMP/loop-$1.err" python3 "$E2E_LIB/probe.py" loop "$(v4 "$3")" "$4" 60 0.1 "$log"
  LOOPS+=("$1")
}
loop_mark() { echo "MARK $2" >>"$E2E_TMP/loop-$1.log"; }
loop_attempts_since() {  # attempts after the last MARK (or since the start)
  awk '$1=="MARK"{n=0; next} {n++} END{print n+0}' "$E2E_TMP/loop-$1.log"
}
loop_wait() { wait_at_least 10 "$2" loop_attempts_since "$1"; }
loop_stop() { touch "$E2E_TMP/loop-$1.log.stop"; }

ban_check() {
  if ! has_verb fw ban || ! has_verb fw unban; then
    not_run "change: ban the client on lb (its connections stop), unban (they come back)" \
      "rampart fw ban/unban do not exist yet"
    return
  fi
  local sock=$E2E_TMP/lb/control.sock out
  loop_start ban client lb 443
  loop_wait ban 5
  loop_mark ban banned
  if ! out=$(RAMPART_SOCKET=$sock in_ns lb "$RAMPART_BINARY" fw ban "$(v4 client)" "$(v6 client)" 2>&1); then
    loop_stop ban
    fail "change: rampart fw ban on lb" "$out"
    return
  fi
  loop_wait ban 6
  local bans
  bans=$(metric_sum lb rampart_firewall_bans) || bans="none"
  loop_mark ban unbanned
  out=$(RAMPART_SOCKET=$sock in_ns lb "$RAMPART_BINARY" fw unban "$(v4 client)" 2>&1 &&
    RAMPART_SOCKET=$sock in_ns lb "$RAMPART_BINARY" fw unban "$(v6 client)" 2>&1) ||
    fail "change: rampart fw unban on lb" "$out"
  loop_wait ban 6
  loop_stop ban
  if out=$(python3 "$E2E_LIB/loopcheck.py" "$E2E_TMP/loop-ban.log" start=open banned=blocked unbanned=open); then
    pass "change: client's loop to lb:443 — open, stops at fw ban, back at fw unban" "$(tr '\n' ';' <<<"$out")"
  else
    fail "change: client's loop to lb:443 — open, stops at fw ban, back at fw unban" "$(tr '\n' ';' <<<"$out")"
  fi
  if [[ $bans == 2 ]]; then
    pass "change: rampart_firewall_bans on lb == 2 while the client's IPv4 and IPv6 are banned"
  else
    fail "change: rampart_firewall_bans on lb == 2 while banned" "saw $bans"
  fi
}

# Every rule counter of a node's fresh scrape, "rule packets" per line.
rule_counters() {
  mtls_get "$1" /metrics | awk '/^rampart_firewall_rule_packets_total\{/ {
    match($0, /rule="[^"]*"/); r = substr($0, RSTART + 6, RLENGTH - 7); s[r] += $NF }
    END { for (r in s) printf "%s %.0f\n", r, s[r] }' | sort
}

handles() { in_ns "$1" nft -a list table inet rampart | grep -o '# handle [0-9]*' | paste -sd' '; }

db_policy_check() {
  local before after h_before h_after out
  before=$(rule_counters db1)
  h_before=$(handles db1)
  E2E_GROUP[app_servers]="app1 app2"
  agent_config db1 >/dev/null || {
    fail "change: db1's policy admits app2" "could not rewrite db1's configuration"
    return
  }
  # The operator's reload: SIGHUP to the agent re-reads the configuration.
  kill -HUP "${AGENT_PID[db1]}"
  if wait_until 10 probe_one app2 db1 3306 open; then
    pass "change: after SIGHUP with app2 in app_servers, app2 reaches db1:3306"
  else
    fail "change: after SIGHUP with app2 in app_servers, app2 reaches db1:3306" "$(tail -n3 "$E2E_TMP/db1/agent.log" | tr '\n' ' ')"
  fi
  matrix_check db-change "db1 after the change: app1 and app2 reach MySQL, nothing else moved" \
    --to db1 --allow "db1 3306 app1 app2"
  after=$(rule_counters db1)
  out=$(join -a1 <(echo "$before") <(echo "$after") | awk '
    NF < 3 { print "rule " $1 " vanished"; bad = 1; next }
    $3 < $2 { print "rule " $1 ": " $2 " -> " $3; bad = 1 }
    END { exit bad }')
  local rc=$?
  if [[ -n $before && $rc -eq 0 ]]; then
    pass "change: no db1 rule counter went down across the policy change" "$(paste -sd' ' <<<"$after")"
  else
    fail "change: no db1 rule counter went down across the policy change" "before: $(paste -sd' ' <<<"$before"); $out"
  fi
  h_after=$(handles db1)
  if [[ $h_before == "$h_after" ]]; then
    pass "change: db1's rules kept their kernel handles (a set update, no rule rewritten)"
  else
    fail "change: db1's rules kept their kernel handles (a set update, no rule rewritten)" \
      "before: $h_before / after: $h_after"
  fi
  local q='resets(rampart_firewall_rule_packets_total{e2e_node="db1"}[10m]) > 0'
  if out=$(promql "$q") && [[ -z $out ]]; then
    pass "promql: $q is empty (no counter reset on db1)"
  else
    fail "promql: $q is empty (no counter reset on db1)" "$out"
  fi
}

# probe_one FROM TO PORT WANT
probe_one() {
  in_ns "$1" python3 "$E2E_LIB/probe.py" once 0.3 <<<"$(v4 "$2") $3" | grep -q " $4\$"
}

# web1's certificate is replaced on disk the way a deploy tool does it (each
# file by rename, no signal): the agent notices on its own (it checks the
# files every 30 s), so the rotation starts before the other changes and is
# judged after them.
ROT_OLD="" ROT_NEW="" ROT_T0=0
rotation_start() {
  ROT_OLD=$(served_serial web1)
  ROT_T0=$(date +%s)
  ca_sign "$E2E_CA" "$E2E_TMP/web1/tls/next" 30 web1 "$(v4 web1)" "$(v6 web1)" >>"$E2E_TMP/ca.log" 2>&1 || {
    fail "change: rotate web1's certificate" "rampart tls ca sign failed"
    return 1
  }
  ROT_NEW=$(cert_serial "$E2E_TMP/web1/tls/next.pem")
  mv "$E2E_TMP/web1/tls/next-key.pem" "$E2E_TMP/web1/tls/key.pem"
  mv "$E2E_TMP/web1/tls/next.pem" "$E2E_TMP/web1/tls/cert.pem"
  log "web1: certificate files replaced (serial $ROT_OLD -> $ROT_NEW)"
}

rotation_check() {
  local old=$ROT_OLD new=$ROT_NEW t0=$ROT_T0 secs out q
  [[ -n $new ]] || return
  if [[ -n $old && $old != "$new" ]] && wait_output $((45 - ($(date +%s) - t0))) "$new" served_serial web1; then
    pass "change: new handshakes to web1 see the rotated certificate, no restart or signal" \
      "serial $old -> $new after $(($(date +%s) - t0)) s"
  else
    fail "change: new handshakes to web1 see the rotated certificate within 45 s" \
      "old $old, new $new, served $(served_serial web1)"
  fi
  # A few more scrapes, then: was any scrape of web1 lost since the rotation?
  sleep 3
  secs=$(($(date +%s) - t0 + 2))
  q="min_over_time(up{e2e_node=\"web1\"}[${secs}s])"
  out=$(prom_value "$q")
  local n
  n=$(prom_value "count_over_time(up{e2e_node=\"web1\"}[${secs}s])")
  if [[ $out == 1 && ${n:-0} -ge 3 ]]; then
    pass "promql: $q == 1 (no failed scrape of web1 across the rotation)" "$n scrapes"
  else
    fail "promql: $q == 1 (no failed scrape of web1 across the rotation)" "min $out over $n scrapes"
  fi
  local want
  want=$(date -d "$(openssl x509 -noout -enddate -in "$E2E_TMP/web1/tls/cert.pem" | cut -d= -f2)" +%s)
  q="rampart_tls_certificate_not_after_seconds{e2e_node=\"web1\",path=\"$E2E_TMP/web1/tls/cert.pem\"}"
  if wait_output 10 "$want" prom_value "$q"; then
    pass "promql: $q is the rotated certificate's notAfter" "$want"
  else
    fail "promql: $q is the rotated certificate's notAfter ($want)" "$(promql "$q")"
  fi
}

# ---------------------------------------------------------------------------
# Faults.
kill_check() {
  local rules_before rules_dead rules_after out
  rules_before=$(rules_text app1)
  loop_start app-web web1 app1 8080
  loop_start app-client client app1 8080
  loop_wait app-web 5
  kill -KILL "${AGENT_PID[app1]}"
  wait "${AGENT_PID[app1]}" 2>/dev/null
  log "killed app1's agent (pid ${AGENT_PID[app1]}) with SIGKILL"
  if prom_wait 15 'up{e2e_node="app1"} == 0' >/dev/null; then
    pass "fault: Prometheus sees app1 down (up == 0) after kill -9 of its agent"
  else
    fail "fault: Prometheus sees app1 down (up == 0) after kill -9 of its agent" "$(promql 'up{e2e_node="app1"}')"
  fi
  if [[ $RULES_FILE == "$E2E_TMP/prometheus/rampart.rules.yml" ]]; then
    local q='ALERTS{alertname="RampartAgentDown",alertstate="firing",e2e_node="app1"}'
    if prom_wait 10 "$q" >/dev/null; then
      pass "promql: $q (packaged rule)"
    else
      fail "promql: $q (packaged rule)" "$(promql 'ALERTS' | tr '\n' ' ')"
    fi
  fi
  rules_dead=$(rules_text app1)
  if [[ -n $rules_before && $rules_dead == "$rules_before" ]]; then
    pass "fault: app1's table is unchanged in the kernel with its agent dead"
  else
    fail "fault: app1's table is unchanged in the kernel with its agent dead" "$(diff <(echo "$rules_before") <(echo "$rules_dead") | head -n5 | tr '\n' ' ')"
  fi
  # Nothing listens on app1:9643 now: mon gets through (RST), others do not.
  matrix_check app1-dead "rows to app1 with its agent dead: rules in force, only :9643 unanswered" \
    --to app1 --not-listening "app1 9643"

  agent_start app1
  if wait_until 20 agent_ready app1 && prom_wait 15 'up{e2e_node="app1"} == 1' >/dev/null; then
    pass "fault: app1's agent restarted, Prometheus sees it up again"
  else
    agent_log_tail app1
    fail "fault: app1's agent restarted, Prometheus sees it up again"
  fi
  loop_wait app-web 5
  loop_stop app-web
  loop_stop app-client
  rules_after=$(rules_text app1)
  if [[ $rules_after == "$rules_before" ]]; then
    pass "fault: app1's rules after the restart are the rules before the kill"
  else
    fail "fault: app1's rules after the restart are the rules before the kill" "$(diff <(echo "$rules_before") <(echo "$rules_after") | head -n5 | tr '\n' ' ')"
  fi
  if out=$(python3 "$E2E_LIB/loopcheck.py" "$E2E_TMP/loop-app-web.log" start=open) &&
    out2=$(python3 "$E2E_LIB/loopcheck.py" "$E2E_TMP/loop-app-client.log" start=blocked); then
    pass "fault: no gap — web1 reached app1:8080 and the client never did, through kill and restart" "web1 $out; client $out2"
  else
    fail "fault: no gap — web1 reached app1:8080 and the client never did, through kill and restart" "web1 $out; client ${out2:-}"
  fi
}

drift_check() {
  local before after clean input out q
  clean=$(rules_text db1)
  input=$(in_ns db1 nft list table inet rampart | awk '/^\s*chain /{c=$2} /hook input/{print c; exit}')
  before=$(metric_sum db1 rampart_firewall_drift_total) || {
    fail "fault: stray nft rule on db1 is repaired and counted" "db1 exports no rampart_firewall_drift_total"
    return
  }
  # The operator's mistake: MySQL opened to everyone, behind the agent's back.
  if ! out=$(in_ns db1 nft insert rule inet rampart "${input:-input}" tcp dport 3306 accept 2>&1); then
    fail "fault: stray nft rule on db1 is repaired and counted" "nft insert into chain '${input:-input}': $out"
    return
  fi
  log "inserted 'tcp dport 3306 accept' into db1's chain ${input:-input}"
  if wait_output 15 "$clean" rules_text db1; then
    pass "fault: the stray rule on db1 was removed by the agent, its table is as before"
  else
    fail "fault: the stray rule on db1 was removed by the agent" "$(diff <(echo "$clean") <(rules_text db1) | head -n4 | tr '\n' ' ')"
  fi
  if wait_at_least 10 $((before + 1)) metric_sum db1 rampart_firewall_drift_total; then
    after=$(metric_sum db1 rampart_firewall_drift_total)
    pass "fault: rampart_firewall_drift_total on db1 went from $before to $after"
  else
    fail "fault: rampart_firewall_drift_total on db1 increases" "still $(metric_sum db1 rampart_firewall_drift_total)"
  fi
  q="increase(rampart_firewall_drift_total{e2e_node=\"db1\"}[1m]) > 0"
  if prom_wait 10 "$q" >/dev/null; then
    pass "promql: $q"
  else
    fail "promql: $q" "$(promql 'rampart_firewall_drift_total')"
  fi
  if probe_one client db1 3306 blocked; then
    pass "fault: client is blocked from db1:3306 again after the repair"
  else
    fail "fault: client is blocked from db1:3306 again after the repair"
  fi
}

# ---------------------------------------------------------------------------
preflight
build_topology
make_certificates
start_services
start_agents
start_prometheus
matrix_check initial "every node to every port of every fleet node"
promql_checks
rotation_start
ban_check
db_policy_check
rotation_check
kill_check
drift_check
matrix_check final "the whole fleet at the end, with app2 in db1's app_servers" \
  --allow "db1 3306 app1 app2"
summary
