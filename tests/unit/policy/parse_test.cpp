// parsePolicy: the `firewall:` mapping of SPEC.md into a typed Policy, with
// every mistake reported at its file:line:col.
#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "policy_test_util.h"

using namespace rampart;
using namespace rampart::fw;
using rampart::fw::test::parseText;

namespace {
Cidr cidr(const char* t) { return *Cidr::parse(t); }
PortSpec port(const char* t) { return *PortSpec::parse(t); }
}  // namespace

TEST_CASE("policy parse: SPEC.md's example gives every field its typed value") {
  auto p = parseText(R"(firewall:
  input_policy: drop
  forward_policy: drop
  output_policy: accept
  log_dropped: 5/second
  groups:
    app_servers: [10.0.1.0/24, "2001:db8:1::/64"]
    monitoring: [10.0.9.5]
  rules:
    - name: ssh
      allow: 22/tcp
      limit: 10/minute
    - name: web
      allow: [80/tcp, 443/tcp]
    - name: mysql
      allow: 3306/tcp
      from: app_servers
    - name: metrics
      allow: 9643/tcp
      from: monitoring
)");
  REQUIRE(p.errors() == "");
  const Policy& pol = p.policy;
  CHECK(pol.input_policy == ChainPolicy::Drop);
  CHECK(pol.forward_policy == ChainPolicy::Drop);
  CHECK(pol.output_policy == ChainPolicy::Accept);
  CHECK(pol.log_dropped == Rate{5, RateUnit::Second});
  CHECK(pol.builtins == Builtins{});
  REQUIRE(pol.groups.size() == 2);
  CHECK(pol.groups[0].name == "app_servers");
  CHECK(pol.groups[0].cidrs == std::vector{cidr("10.0.1.0/24"), cidr("2001:db8:1::/64")});
  CHECK(pol.groups[0].loc == SourceLoc{"t.yaml", 7, 5});
  CHECK(pol.findGroup("monitoring")->cidrs == std::vector{cidr("10.0.9.5")});
  CHECK(pol.findGroup("nope") == nullptr);
  REQUIRE(pol.rules.size() == 4);
  const Rule& ssh = pol.rules[0];
  CHECK(ssh.name == "ssh");
  CHECK(ssh.action == Action::Allow);
  CHECK(ssh.hook == Hook::Input);
  CHECK(ssh.ports == std::vector{port("22/tcp")});
  CHECK(ssh.limit == Rate{10, RateUnit::Minute});
  CHECK(ssh.from.empty());
  CHECK(ssh.from_groups.empty());
  CHECK(ssh.origin == Origin::Config);
  CHECK(ssh.loc == SourceLoc{"t.yaml", 10, 7});
  CHECK(pol.rules[1].ports == std::vector{port("80/tcp"), port("443/tcp")});
  CHECK_FALSE(pol.rules[1].limit);
  CHECK(pol.rules[2].from_groups == std::vector<std::string>{"app_servers"});
  CHECK(pol.rules[3].name == "metrics");
}

TEST_CASE("policy parse: an absent section or an empty mapping is the default-valued policy") {
  CHECK(parseText("node: {name: x}\n").policy == Policy{});
  auto p = parseText("firewall: {}\n");
  CHECK(p.errors() == "");
  CHECK(p.policy == Policy{});
  CHECK(parseText("firewall:\n  groups:\n  rules:\n").policy == Policy{});
}

TEST_CASE("policy parse: a firewall key with no value (all commented out) is an error, not drop-all") {
  auto p = parseText("node: {name: x}\nfirewall:\n  # rules:\n  #   - {name: ssh, allow: 22/tcp}\n");
  CHECK(p.errors() ==
        "t.yaml: firewall: the section is empty; remove the 'firewall:' line to use the default "
        "policy (SSH, HTTP and HTTPS, the agent's port), or write its rules (use "
        "'firewall: {rules: []}' to allow nothing)\n");
  auto none = parseText("firewall: {rules: []}\n");
  CHECK(none.errors() == "");
  CHECK(none.policy.rules.empty());
}

TEST_CASE("policy parse: chain policies, log_dropped false, builtins switched off, chains") {
  auto p = parseText(R"(firewall:
  input_policy: accept
  forward_policy: accept
  output_policy: drop
  log_dropped: false
  builtins: {loopback: false, established: no, invalid: false, icmp: off, dhcp: false}
  rules:
    - {name: fwd, allow: 8080/tcp, chain: forward}
    - {name: out, deny: any, chain: output}
    - {name: in, deny: 25, chain: input}
)");
  REQUIRE(p.errors() == "");
  CHECK(p.policy.input_policy == ChainPolicy::Accept);
  CHECK(p.policy.forward_policy == ChainPolicy::Accept);
  CHECK(p.policy.output_policy == ChainPolicy::Drop);
  CHECK_FALSE(p.policy.log_dropped);
  CHECK(p.policy.builtins == Builtins{false, false, false, false, false});
  REQUIRE(p.policy.rules.size() == 3);
  CHECK(p.policy.rules[0].hook == Hook::Forward);
  CHECK(p.policy.rules[1].hook == Hook::Output);
  CHECK(p.policy.rules[1].action == Action::Deny);
  CHECK(p.policy.rules[1].ports.empty());  // any
  CHECK(p.policy.rules[2].hook == Hook::Input);
  CHECK(p.policy.rules[2].ports == std::vector{port("25")});
}

TEST_CASE("policy parse: forward_interfaces: the container runtimes' by default, a list, [] for none, bad names named") {
  CHECK(parseText("firewall: {}\n").policy.forward_interfaces ==
        std::vector<std::string>{"docker0", "br-*", "virbr*", "cni*", "podman*", "cali*", "vxlan.calico", "flannel*", "cilium_*", "lxc*", "lxdbr*", "weave", "kube-bridge"});
  auto mine = parseText("firewall:\n  forward_interfaces: [docker0, \"lxcbr*\", docker0]\n");
  REQUIRE(mine.errors() == "");
  CHECK(mine.policy.forward_interfaces == std::vector<std::string>{"docker0", "lxcbr*"});
  auto none = parseText("firewall:\n  forward_interfaces: []\n");
  REQUIRE(none.errors() == "");
  CHECK(none.policy.forward_interfaces.empty());
  auto bad = parseText("firewall:\n  forward_interfaces: [eth0, a-name-of-16-char, \"b*r\", \"x:1\", \"*\"]\n");
  CHECK(bad.errors() ==
        "t.yaml:2:30: firewall.forward_interfaces: 'a-name-of-16-char' is not an interface name (1 to 15 characters, "
        "no '/', ':' or spaces; a '*' only at the end, matching a prefix)\n"
        "t.yaml:2:49: firewall.forward_interfaces: 'b*r' is not an interface name (1 to 15 characters, no '/', ':' or "
        "spaces; a '*' only at the end, matching a prefix)\n"
        "t.yaml:2:56: firewall.forward_interfaces: 'x:1' is not an interface name (1 to 15 characters, no '/', ':' or "
        "spaces; a '*' only at the end, matching a prefix)\n"
        "t.yaml:2:63: firewall.forward_interfaces: '*' is not an interface name (1 to 15 characters, no '/', ':' or "
        "spaces; a '*' only at the end, matching a prefix)\n");
  auto scalar = parseText("firewall:\n  forward_interfaces: docker0\n");
  CHECK(scalar.errors() ==
        "t.yaml:2:23: firewall.forward_interfaces: expected a list of interface names (e.g. [docker0, \"br-*\"]), "
        "found 'docker0'\n");
}

TEST_CASE("policy parse: a rule can name protocols without ports (vrrp, esp, ...), alone or with ports") {
  auto p = parseText("firewall:\n  rules:\n    - {name: keepalived, allow: vrrp, from: 10.0.0.2}\n"
                     "    - {name: ipsec, allow: [esp, ah, 500/udp, 4500/udp]}\n");
  REQUIRE(p.errors() == "");
  REQUIRE(p.policy.rules.size() == 2);
  REQUIRE(p.policy.rules[0].ports.size() == 1);
  CHECK(p.policy.rules[0].ports[0].ip_proto == 112);
  CHECK(p.policy.rules[0].ports[0].str() == "vrrp");
  std::vector<std::string> shown;
  for (const auto& spec : p.policy.rules[1].ports) shown.push_back(spec.str());
  CHECK(shown == std::vector<std::string>{"esp", "ah", "500/udp", "4500/udp"});
  for (const char* name : {"igmp", "gre", "esp", "ah", "ospf", "vrrp", "sctp"}) {
    auto spec = PortSpec::parse(name);
    REQUIRE(spec);
    CHECK(spec->str() == name);
    CHECK(*PortSpec::parse(spec->str()) == *spec);
  }
  CHECK_FALSE(PortSpec::parse("tcp"));  // a protocol with ports is written with them
}

TEST_CASE("policy parse: a rule's interface: one name or a list, prefixes, every bad name named") {
  auto p = parseText("firewall:\n  rules:\n    - {name: mysql, allow: 3306/tcp, from: 10.0.1.0/24, interface: eth1}\n"
                     "    - {name: nfs, allow: 2049, interface: [eth1, \"vlan*\"]}\n"
                     "    - {name: out, deny: 25/tcp, chain: output, interface: wan0}\n");
  REQUIRE(p.errors() == "");
  REQUIRE(p.policy.rules.size() == 3);
  CHECK(p.policy.rules[0].interfaces == std::vector<std::string>{"eth1"});
  CHECK(p.policy.rules[1].interfaces == std::vector<std::string>{"eth1", "vlan*"});
  CHECK(p.policy.rules[2].interfaces == std::vector<std::string>{"wan0"});
  auto bad = parseText("firewall:\n  rules:\n    - {name: a, allow: 22/tcp, interface: [eth1, eth1, \"e th\", \"*\", "
                       "a-name-of-16-char]}\n    - {name: b, allow: 22/tcp, interface: []}\n"
                       "    - {name: c, allow: 22/tcp, interface: [a, b, c, d, e, f, g, h, i]}\n");
  CHECK(bad.errors() ==
        "t.yaml:3:50: rule 'a': interface: eth1 is listed twice\n"
        "t.yaml:3:56: rule 'a': interface: 'e th' is not an interface name (1 to 15 characters, no '/', ':' or "
        "spaces; a '*' only at the end, matching a prefix)\n"
        "t.yaml:3:64: rule 'a': interface: '*' is not an interface name (1 to 15 characters, no '/', ':' or "
        "spaces; a '*' only at the end, matching a prefix)\n"
        "t.yaml:3:69: rule 'a': interface: 'a-name-of-16-char' is not an interface name (1 to 15 characters, no "
        "'/', ':' or spaces; a '*' only at the end, matching a prefix)\n"
        "t.yaml:4:43: rule 'b': interface: the list is empty\n"
        "t.yaml:5:43: rule 'c': interface: 9 interfaces, more than the limit of 8\n");
  CHECK(bad.policy.rules.empty());
}

TEST_CASE("policy parse: to: the node's addresses and networks, never names; families must meet") {
  auto p = parseText("firewall:\n  groups:\n    lb: [10.0.0.2]\n  rules:\n"
                     "    - {name: vip, allow: 443/tcp, to: 192.0.2.10}\n"
                     "    - {name: both, allow: 443/tcp, from: lb, to: [192.0.2.0/28, \"2001:db8::10\"]}\n");
  REQUIRE(p.errors() == "");
  REQUIRE(p.policy.rules.size() == 2);
  CHECK(p.policy.rules[0].to == std::vector<Cidr>{cidr("192.0.2.10")});
  CHECK(p.policy.rules[1].to.size() == 2);
  auto bad = parseText("firewall:\n  groups:\n    lb: [10.0.0.2]\n  rules:\n"
                       "    - {name: a, allow: 443/tcp, to: [lb, 192.0.2.1/24, 192.0.2.9, 192.0.2.9]}\n"
                       "    - {name: b, allow: 443/tcp, from: 10.0.0.0/8, to: \"2001:db8::1\"}\n");
  CHECK(bad.errors() ==
        "t.yaml:5:38: rule 'a': to: 'lb' is not an address or network (to: takes the node's addresses, not group or "
        "host names)\n"
        "t.yaml:5:42: rule 'a': to: 192.0.2.1/24 has host bits set (did you mean 192.0.2.0/24 or 192.0.2.1?)\n"
        "t.yaml:5:67: rule 'a': to: 192.0.2.9 is listed twice\n"
        "t.yaml:6:55: rule 'b': to: the sources are all of one address family and the destinations of the other, so "
        "the rule would match nothing\n");
}

TEST_CASE("policy parse: builtins.ping, on unless switched off") {
  CHECK(parseText("firewall: {}\n").policy.builtins.ping);
  auto p = parseText("firewall:\n  builtins: {ping: false}\n");
  REQUIRE(p.errors() == "");
  CHECK_FALSE(p.policy.builtins.ping);
  CHECK(p.policy.builtins.icmp);
}

TEST_CASE("policy parse: a service name stands for its ports; written with them, each port is taken once") {
  auto p = parseText("firewall:\n  rules:\n    - {name: web, allow: [http, https, 443/tcp, 8443/tcp]}\n"
                     "    - {name: vpn, allow: ipsec, from: 192.0.2.7}\n    - {name: no-dns, reject: dns}\n");
  REQUIRE(p.errors() == "");
  std::vector<std::string> web, vpn;
  for (const auto& spec : p.policy.rules[0].ports) web.push_back(spec.str());
  for (const auto& spec : p.policy.rules[1].ports) vpn.push_back(spec.str());
  CHECK(web == std::vector<std::string>{"80/tcp", "443/tcp", "8443/tcp"});
  CHECK(vpn == std::vector<std::string>{"500/udp", "4500/udp", "esp", "ah"});
  CHECK(p.policy.rules[2].ports == std::vector<PortSpec>{port("53")});
  // Every name in the table stands for ports that parse.
  for (std::string_view name : serviceNames()) {
    INFO(name);
    auto specs = servicePorts(name);
    REQUIRE(specs);
    CHECK_FALSE(specs->empty());
    CHECK_FALSE(PortSpec::parse(name));  // never also a port or protocol
  }
  auto twice = parseText("firewall:\n  rules:\n    - {name: web, allow: [443/tcp, 443/tcp, https]}\n");
  CHECK(twice.errors() == "t.yaml:3:36: rule 'web': allow: 443/tcp is listed twice\n");
}

TEST_CASE("policy parse: reject takes ports or any, as deny does; one verdict per rule") {
  auto p = parseText("firewall:\n  rules:\n    - {name: closed, reject: [8080/tcp, 53]}\n"
                     "    - {name: them, reject: any, from: 198.51.100.0/24}\n");
  REQUIRE(p.errors() == "");
  REQUIRE(p.policy.rules.size() == 2);
  CHECK(p.policy.rules[0].action == Action::Reject);
  CHECK(p.policy.rules[0].ports.size() == 2);
  CHECK(p.policy.rules[1].action == Action::Reject);
  CHECK(p.policy.rules[1].ports.empty());
  auto bad = parseText("firewall:\n  rules:\n    - {name: a, reject: 22/tcp, limit: 5/minute}\n"
                       "    - {name: b, deny: 22/tcp, reject: 22/tcp}\n    - {name: c, allow: any}\n");
  CHECK(bad.errors() ==
        "t.yaml:3:33: rule 'a': limit is only for allow rules (a reject rule refuses every packet it matches)\n"
        "t.yaml:4:17: rule 'b': a rule has one of allow, deny or reject, not two\n"
        "t.yaml:5:24: rule 'c': allow: 'any' is only for deny and reject; an allow rule names the ports it opens "
        "(like 22/tcp or 8000-8100/udp) or protocols (vrrp, esp)\n");
}

TEST_CASE("policy parse: log_dropped takes any rate, and true keeps the default rate") {
  CHECK(parseText("firewall: {log_dropped: 1/minute}\n").policy.log_dropped ==
        Rate{1, RateUnit::Minute});
  CHECK(parseText("firewall: {log_dropped: true}\n").policy.log_dropped ==
        Rate{5, RateUnit::Second});
}

TEST_CASE("policy parse: from mixes addresses, networks and groups; groups hold DNS names") {
  auto p = parseText(R"(firewall:
  groups:
    db: [db1.example.com, DB2.Example.com., 10.0.2.0/24]
    single: 192.0.2.7
  rules:
    - name: pg
      allow: 5432/tcp
      from: [db, 10.9.0.0/16, "2001:db8::5", single]
)");
  REQUIRE(p.errors() == "");
  const Group& db = *p.policy.findGroup("db");
  CHECK(db.dns_names == std::vector<std::string>{"db1.example.com", "db2.example.com."});
  CHECK(db.cidrs == std::vector{cidr("10.0.2.0/24")});
  CHECK(db.resolved.empty());
  CHECK(p.policy.findGroup("single")->cidrs == std::vector{cidr("192.0.2.7")});
  const Rule& pg = p.policy.rules.at(0);
  CHECK(pg.from == std::vector{cidr("10.9.0.0/16"), cidr("2001:db8::5")});
  CHECK(pg.from_groups == std::vector<std::string>{"db", "single"});
}

TEST_CASE("policy parse: a group defined after the rules that use it is found") {
  auto p = parseText(R"(firewall:
  rules:
    - {name: a, allow: 1/tcp, from: later}
  groups:
    later: [10.0.0.1]
)");
  CHECK(p.errors() == "");
  CHECK(p.policy.rules.at(0).from_groups == std::vector<std::string>{"later"});
}

// Each bad value, alone in a file, and the exact diagnostic it gives.
TEST_CASE("policy parse: each bad value is reported at its line and column") {
  struct Case {
    const char* yaml;
    const char* error;
  };
  const Case cases[] = {
      {"firewall:\n  input_policy: dorp\n",
       "t.yaml:2:17: firewall.input_policy: expected drop or accept, found 'dorp'\n"},
      {"firewall:\n  output_policy: [drop]\n",
       "t.yaml:2:18: firewall.output_policy: expected drop or accept, found a list\n"},
      {"firewall:\n  forward_policy:\n",
       "t.yaml:2:3: firewall: 'forward_policy' has no value (expected drop or accept)\n"},
      {"firewall:\n  log_dropped: 5/fortnight\n",
       "t.yaml:2:16: firewall.log_dropped: '5/fortnight' is not a rate (expected COUNT/UNIT "
       "with UNIT second, minute, hour or day, e.g. 10/minute)\n"},
      {"firewall:\n  log_dropped: maybe\n",
       "t.yaml:2:16: firewall.log_dropped: expected a rate like 5/second, or false; found "
       "'maybe'\n"},
      {"firewall:\n  builtins: {icmp: 1}\n",
       "t.yaml:2:20: firewall.builtins.icmp: expected true or false\n"},
      {"firewall:\n  builtins: [icmp]\n",
       "t.yaml:2:13: firewall.builtins: expected a mapping, found a list\n"},
      {"firewall:\n  bultins: {icmp: false}\n",
       "t.yaml:2:3: firewall: unknown key 'bultins' (did you mean 'builtins'? expected one "
       "of: input_policy, "
       "forward_policy, output_policy, log_dropped, builtins, forward_interfaces, groups, rules)\n"},
      {"firewall:\n  groups:\n    app: [10.0.1.5/24]\n",
       "t.yaml:3:11: group 'app': 10.0.1.5/24 has host bits set (did you mean 10.0.1.0/24 or "
       "10.0.1.5?)\n"},
      {"firewall:\n  groups:\n    app: [1.2.3]\n",
       "t.yaml:3:11: group 'app': '1.2.3' is not an IPv4 address (expected four numbers 0-255 "
       "separated by dots, like 10.0.1.5)\n"},
      {"firewall:\n  groups:\n    app: [web_01.example]\n",
       "t.yaml:3:11: group 'app': 'web_01.example' is neither an address, a network (CIDR) "
       "nor a valid host name (letters, digits and '-' in dot-separated labels)\n"},
      {"firewall:\n  groups:\n    app: [10.0.0.1, 10.0.0.1/32]\n",
       "t.yaml:3:21: group 'app': 10.0.0.1 is listed twice (first at line 3)\n"},
      {"firewall:\n  groups:\n    9lives: [10.0.0.1]\n",
       "t.yaml:3:5: firewall.groups: '9lives' is not a valid group name (expected 1 to 64 "
       "letters, digits, '_', '.' or '-', starting with a letter or '_')\n"},
      {"firewall:\n  groups:\n    app: {a: 1}\n",
       "t.yaml:3:10: group 'app': expected a list of addresses, networks and host names, found "
       "a mapping\n"},
      {"firewall:\n  rules: {name: x}\n",
       "t.yaml:2:10: firewall.rules: expected a list, found a mapping\n"},
      {"firewall:\n  rules:\n    - allow: 22/tcp\n",
       "t.yaml:3:7: firewall.rules[1]: missing key 'name' (every rule has a unique name; it "
       "labels the rule's counters)\n"},
      {"firewall:\n  rules:\n    - name: my rule\n      allow: 22/tcp\n",
       "t.yaml:3:13: firewall.rules[1]: 'my rule' is not a valid rule name (expected 1 to 64 "
       "letters, digits, '_', '.' or '-')\n"},
      {"firewall:\n  rules:\n    - name: x\n",
       "t.yaml:3:7: rule 'x': expected 'allow: PORTS', 'deny: PORTS|any' or 'reject: PORTS|any'\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: 22/tcp\n      deny: 23/tcp\n",
       "t.yaml:5:7: rule 'x': a rule has one of allow, deny or reject, not two\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: 443/tcpp\n",
       "t.yaml:4:14: rule 'x': allow: '443/tcpp': unknown protocol 'tcpp' (expected tcp or "
       "udp, or no /PROTO for both)\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: [80/tcp, 70000/tcp]\n",
       "t.yaml:4:23: rule 'x': allow: '70000/tcp': port 70000 is out of range (expected "
       "1..65535)\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: []\n",
       "t.yaml:4:14: rule 'x': allow: the list is empty\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: [[22]]\n",
       "t.yaml:4:15: rule 'x': allow: each item must be a single value, not a list\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: [80/tcp, ~]\n",
       "t.yaml:4:23: rule 'x': allow: an item of the list is empty\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: [80/tcp, 80/tcp]\n",
       "t.yaml:4:23: rule 'x': allow: 80/tcp is listed twice\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: any\n",
       "t.yaml:4:14: rule 'x': allow: 'any' is only for deny and reject; an allow rule names the ports it "
       "opens (like 22/tcp or 8000-8100/udp) or protocols (vrrp, esp)\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: [vrrp, vrp]\n",
       "t.yaml:4:21: rule 'x': allow: 'vrp' is not a port, a protocol or a service (expected a port like 22/tcp, "
       "8000-8100/udp or 53, one of vrrp, esp, ah, gre, ospf, igmp, sctp, or a service such as ssh, https, dns, "
       "postgresql: `man rampart` lists them)\n"},
      {"firewall:\n  rules:\n    - name: x\n      deny: [22/tcp, any]\n",
       "t.yaml:4:22: rule 'x': deny: 'any' already means every port and protocol; it cannot "
       "be listed with other ports\n"},
      {"firewall:\n  rules:\n    - name: x\n      deny: any\n      limit: 5/second\n",
       "t.yaml:5:7: rule 'x': limit is only for allow rules (a deny rule drops every packet it "
       "matches)\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: 22/tcp\n      limit: 10/fortnight\n",
       "t.yaml:5:14: rule 'x': limit: '10/fortnight' is not a rate (expected COUNT/UNIT with "
       "UNIT second, minute, hour or day, e.g. 10/minute)\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: 22/tcp\n      chain: prerouting\n",
       "t.yaml:5:14: rule 'x': chain: expected input, forward or output, found 'prerouting'\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: 22/tcp\n      port: 23\n",
       "t.yaml:5:7: firewall.rules[1]: unknown key 'port' (expected one of: name, allow, deny, reject, "
       "from, to, interface, limit, chain)\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: 22/tcp\n      from: 10.0.0.1 \n",
       ""},  // YAML itself trims the trailing space of a plain scalar
      {"firewall:\n  rules:\n    - name: x\n      allow: 22/tcp\n      from: \"10.0.0.1 \"\n",
       "t.yaml:5:13: rule 'x': from: '10.0.0.1 ' is not an address: it contains a space at "
       "position 9\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: 22/tcp\n      from: \"::ffff:1.2.3.4\"\n",
       "t.yaml:5:13: rule 'x': from: '::ffff:1.2.3.4' is an IPv4-mapped IPv6 address, which "
       "never appears on the wire; write the IPv4 address 1.2.3.4 instead\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: 22/tcp\n      from: [10.0.0.1, "
       "10.0.0.1]\n",
       "t.yaml:5:24: rule 'x': from: 10.0.0.1 is listed twice\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: 22/tcp\n      from: []\n",
       "t.yaml:5:13: rule 'x': from: the list is empty\n"},
      {"firewall:\n  rules:\n    - name: x\n      allow: 22/tcp\n      from: 'web servers'\n",
       "t.yaml:5:13: rule 'x': from: 'web servers' is neither an address, a network (CIDR) nor "
       "a group name\n"},
  };
  for (const auto& c : cases) {
    INFO(c.yaml);
    auto p = parseText(c.yaml);
    CHECK(p.errors() == c.error);
    if (*c.error != '\0') CHECK(p.policy.rules.empty());
  }
}

TEST_CASE("policy parse: an unknown group is reported where it is used, with the known groups") {
  auto p = parseText(R"(firewall:
  groups:
    app: [10.0.1.0/24]
    monitoring: [10.0.9.5]
  rules:
    - name: mysql
      allow: 3306/tcp
      from: [app, ap_servers]
)");
  CHECK(p.errors() ==
        "t.yaml:8:19: rule 'mysql': from: unknown group 'ap_servers' (known groups: app, "
        "monitoring)\n");
  auto typo = parseText(R"(firewall:
  groups:
    app_servers: [10.0.1.0/24]
    monitoring: [10.0.9.5]
  rules:
    - {name: mysql, allow: 3306/tcp, from: app_servrs}
)");
  CHECK(typo.errors() ==
        "t.yaml:6:44: rule 'mysql': from: unknown group 'app_servrs' (did you mean "
        "'app_servers'? known groups: app_servers, monitoring)\n");
  auto none = parseText(R"(firewall:
  rules:
    - name: pg
      allow: 5432/tcp
      from: db.example.com
)");
  CHECK(none.errors() ==
        "t.yaml:5:13: rule 'pg': from: unknown group 'db.example.com' (no groups are defined "
        "under firewall.groups; to allow a host name, list it in a group)\n");
}

TEST_CASE("policy parse: an empty group is fine until a rule uses it") {
  auto unused = parseText("firewall:\n  groups:\n    spare: []\n    later:\n");
  CHECK(unused.errors() == "");
  CHECK(unused.policy.groups.size() == 2);
  auto used = parseText(R"(firewall:
  groups:
    spare: []
  rules:
    - {name: x, allow: 22/tcp, from: spare}
)");
  CHECK(used.errors() ==
        "t.yaml:5:38: rule 'x': from: group 'spare' (line 3) is empty, so this rule would "
        "match nothing; add addresses to it or remove it from the rule\n");
}

TEST_CASE("policy parse: a group whose definition is wrong is not reported again as unknown") {
  auto p = parseText(R"(firewall:
  groups:
    app: [10.0.1.5/24]
  rules:
    - {name: x, allow: 22/tcp, from: app}
)");
  CHECK(p.errors() ==
        "t.yaml:3:11: group 'app': 10.0.1.5/24 has host bits set (did you mean 10.0.1.0/24 or "
        "10.0.1.5?)\n");
}

TEST_CASE("policy parse: a duplicate rule name points at the second and names the first's line") {
  auto p = parseText(R"(firewall:
  rules:
    - name: web
      allow: 80/tcp
    - name: ssh
      allow: 22/tcp
    - name: web
      allow: 443/tcp
)");
  CHECK(p.errors() ==
        "t.yaml:7:13: firewall.rules[3]: rule name 'web' is already used (first at line 3)\n");
  // The valid rules are still returned.
  REQUIRE(p.policy.rules.size() == 2);
  CHECK(p.policy.rules[0].ports == std::vector{port("80/tcp")});
}

TEST_CASE("policy parse: keys given twice are errors, not a silent choice of one") {
  auto p = parseText(R"(firewall:
  input_policy: drop
  input_policy: accept
  groups:
    g: [10.0.0.1]
    g: [10.0.0.2]
  rules:
    - name: x
      allow: 22/tcp
      allow: 23/tcp
)");
  CHECK(p.errors() ==
        "t.yaml:3:3: firewall: key 'input_policy' is given twice (first at line 2)\n"
        "t.yaml:6:5: firewall.groups: group 'g' is defined twice (first at line 5)\n"
        "t.yaml:10:7: firewall.rules[1]: key 'allow' is given twice (first at line 9)\n");
}

TEST_CASE("policy parse: a file with many different mistakes reports all of them, in file order") {
  auto p = parseText(R"(firewall:
  input_policy: block
  log_dropped: 0/second
  builtins:
    loopback: sure
  groups:
    app: [10.0.1.5/24, "fe80::1%eth0"]
    ok: [10.0.2.0/24]
  rules:
    - name: ssh
      allow: 22/tcpp
      limit: 10/minute
    - name: web
      allow: [80/tcp, 0/tcp]
      from: [ok, nosuch]
    - name: ssh
      deny: any
      limit: 1/second
    - name: bad name
      allow: 8000-7000/tcp
      chain: sideways
      colour: blue
)",
                     "/etc/rampart/rampart.yaml");
  CHECK(p.errors() ==
        "/etc/rampart/rampart.yaml:2:17: firewall.input_policy: expected drop or accept, found "
        "'block'\n"
        "/etc/rampart/rampart.yaml:3:16: firewall.log_dropped: rate '0/second': count must be "
        "1..2147483647\n"
        "/etc/rampart/rampart.yaml:5:15: firewall.builtins.loopback: expected true or false\n"
        "/etc/rampart/rampart.yaml:7:11: group 'app': 10.0.1.5/24 has host bits set (did you "
        "mean 10.0.1.0/24 or 10.0.1.5?)\n"
        "/etc/rampart/rampart.yaml:7:24: group 'app': 'fe80::1%eth0' is not an address: it has "
        "a zone index ('%...'), which firewall rules cannot use\n"
        "/etc/rampart/rampart.yaml:11:14: rule 'ssh': allow: '22/tcpp': unknown protocol 'tcpp' "
        "(expected tcp or udp, or no /PROTO for both)\n"
        "/etc/rampart/rampart.yaml:14:23: rule 'web': allow: '0/tcp': port 0 is out of range "
        "(expected 1..65535)\n"
        "/etc/rampart/rampart.yaml:15:18: rule 'web': from: unknown group 'nosuch' (known "
        "groups: app, ok)\n"
        "/etc/rampart/rampart.yaml:16:13: firewall.rules[3]: rule name 'ssh' is already used "
        "(first at line 10)\n"
        "/etc/rampart/rampart.yaml:18:7: firewall.rules[3]: limit is only for allow rules (a "
        "deny rule drops every packet it matches)\n"
        "/etc/rampart/rampart.yaml:19:13: firewall.rules[4]: 'bad name' is not a valid rule "
        "name (expected 1 to 64 letters, digits, '_', '.' or '-')\n"
        "/etc/rampart/rampart.yaml:20:14: firewall.rules[4]: allow: '8000-7000/tcp': the range "
        "ends before it starts (did you mean 7000-8000?)\n"
        "/etc/rampart/rampart.yaml:21:14: firewall.rules[4]: chain: expected input, forward or "
        "output, found 'sideways'\n"
        "/etc/rampart/rampart.yaml:22:7: firewall.rules[4]: unknown key 'colour' (expected one "
        "of: name, allow, deny, reject, from, to, interface, limit, chain)\n");
  CHECK(p.diags.items().size() == 14);
  CHECK(p.policy.rules.empty());
  CHECK(p.policy.groups.size() == 1);  // `ok` was valid
}

TEST_CASE("policy parse: sizes are bounded (rules, list items)") {
  std::string many = "firewall:\n  rules:\n";
  for (int i = 0; i < 10'001; ++i) many += fmt::format("    - {{name: r{}, allow: 1/tcp}}\n", i);
  auto p = parseText(many);
  CHECK(p.errors() == "t.yaml:3:5: firewall.rules: 10001 rules, more than the limit of 10000\n");
  std::string ports = "firewall:\n  rules:\n    - name: x\n      allow: [";
  for (int i = 1; i <= 1025; ++i) ports += fmt::format("{}{}/tcp", i == 1 ? "" : ", ", i);
  ports += "]\n";
  CHECK(parseText(ports).errors() ==
        "t.yaml:4:14: rule 'x': allow: 1025 items, more than the limit of 1024\n");
}

TEST_CASE("default policy: SSH, HTTP(S) and the agent's port, input dropped, nothing limited") {
  const Policy p = defaultPolicy(9643);
  CHECK(p.input_policy == ChainPolicy::Drop);
  CHECK(p.forward_policy == ChainPolicy::Drop);
  CHECK(p.output_policy == ChainPolicy::Accept);
  CHECK(p.log_dropped == Rate{5, RateUnit::Second});
  CHECK(p.builtins == Builtins{});
  REQUIRE(p.rules.size() == 3);
  CHECK(p.rules[0].name == "ssh");
  CHECK(p.rules[0].ports == std::vector{port("22/tcp")});
  CHECK_FALSE(p.rules[0].limit);
  CHECK(p.rules[1].name == "web");
  CHECK(p.rules[1].ports == std::vector{port("80/tcp"), port("443/tcp")});
  CHECK(p.rules[2].name == "rampart");
  CHECK(p.rules[2].ports == std::vector{port("9643/tcp")});
  CHECK(defaultPolicy(10443).rules[2].ports == std::vector{port("10443/tcp")});
  for (const auto& r : p.rules) {
    CHECK(r.action == Action::Allow);
    CHECK(r.hook == Hook::Input);
    CHECK(r.from.empty());
    CHECK(r.from_groups.empty());
    CHECK(r.loc.file == "<embedded default>");
  }
}

TEST_CASE("default policy: the same as the YAML that spells it out") {
  auto p = parseText(R"(firewall:
  input_policy: drop
  forward_policy: drop
  output_policy: accept
  log_dropped: 5/second
  rules:
    - {name: ssh, allow: 22/tcp}
    - {name: web, allow: [80/tcp, 443/tcp]}
    - {name: rampart, allow: 9643/tcp}
)");
  REQUIRE(p.errors() == "");
  Policy expected = defaultPolicy(9643);
  for (size_t i = 0; i < expected.rules.size(); ++i) expected.rules[i].loc = p.policy.rules[i].loc;
  CHECK(p.policy == expected);
}

TEST_CASE("policy parse: hostile values give short messages: 64 KiB names, control bytes") {
  const std::string huge(64 * 1024, 'x');
  auto p = parseText(fmt::format(R"(firewall:
  input_policy: "{0}"
  log_dropped: "{0}/second"
  groups:
    "{1}": [10.0.0.1]
    g: ["{0}.example"]
  rules:
    - name: "{0}"
      allow: 22/tcp
      from: ["{0}", "bad\u0001name"]
    - name: y
      allow: 22/tcp
      limit: "1/{0}"
      "{1}": 1
)",
                                 huge, std::string(1000, 'k')));  // YAML caps keys at 1024
  INFO(p.errors().substr(0, 4000));
  REQUIRE(p.diags.items().size() == 9);
  for (const auto& d : p.diags.items()) {
    INFO(d.str().substr(0, 300));
    CHECK(d.message.size() < 400);
  }
  CHECK(p.errors().find("bad\\x01name") != std::string::npos);
}
