#include <catch2/catch.hpp>

#include <libnftnl/expr.h>
#include <linux/netfilter/nf_tables.h>

#include <algorithm>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "firewall/compile.h"
#include "firewall/render.h"
#include "fw_test_util.h"

using namespace rampart;
using namespace rampart::fw;
using namespace rampart::fw::test;

namespace {

const auto kNow = std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 50);

std::string compiled(const Policy& p, const std::vector<Ban>& bans = {}) {
  return render(compile(p, bans, CompileOptions{"rampart", kNow}));
}

// Compares with tests/golden/firewall/<name>.txt; RAMPART_UPDATE_GOLDEN=1 writes it.
void checkGolden(const std::string& name, const std::string& text) {
  const char* root = std::getenv("RAMPART_SOURCE_DIR");
  REQUIRE(root != nullptr);
  std::string path = std::string(root) + "/tests/golden/firewall/" + name + ".txt";
  const char* update = std::getenv("RAMPART_UPDATE_GOLDEN");
  if (update != nullptr && std::string(update) == "1") {
    std::ofstream(path) << text;
    return;
  }
  std::ifstream in(path);
  INFO("golden file " << path << " (RAMPART_UPDATE_GOLDEN=1 writes it)");
  REQUIRE(in.good());
  std::stringstream want;
  want << in.rdbuf();
  CHECK(text == want.str());
}

Policy base() {
  Policy p;
  p.rules.push_back(allow("ssh", {"22/tcp"}));
  return p;
}

}  // namespace

TEST_CASE("fw compile: the default policy", "[compile]") {
  checkGolden("default", compiled(defaultPolicy(9100)));
}

TEST_CASE("fw compile: group sources become hash sets by prefix length", "[compile]") {
  Policy p = base();
  p.groups.push_back(group("app", {"10.1.0.0/16", "10.2.0.5", "10.1.5.0/24", "fd00::/8", "10.3.0.0/16"}));
  Rule db = allow("db", {"5432/tcp"});
  db.from_groups = {"app"};
  p.rules.push_back(db);
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  // Addresses in g_app_v4, networks by prefix length as network addresses:
  // one element per member (a /24 inside a /16 stays its own key).
  const Set* hosts = rs.findSet("g_app_v4");
  const Set* nets16 = rs.findSet("g_app_v4_16");
  const Set* nets24 = rs.findSet("g_app_v4_24");
  REQUIRE(hosts != nullptr);
  REQUIRE(nets16 != nullptr);
  REQUIRE(nets24 != nullptr);
  CHECK(hosts->elems.size() == 1);
  CHECK(nets16->elems.size() == 2);
  CHECK(nets24->elems.size() == 1);
  for (const Set* s : {hosts, nets16, nets24}) CHECK_FALSE(s->interval());
  // The IPv6 addresses' set exists though the group has none: a first one
  // is an element change.
  REQUIRE(rs.findSet("g_app_v6") != nullptr);
  CHECK(rs.findSet("g_app_v6")->elems.empty());
  REQUIRE(rs.findSet("g_app_v6_8") != nullptr);
  // One kernel rule per set, each with the rule's tag: 3 for IPv4, 2 for IPv6.
  CHECK(std::ranges::count(rs.rules, RuleTag{RuleKind::Policy, "db"}, &KernelRule::tag) == 5);
  checkGolden("groups", render(rs));
}

TEST_CASE("fw compile: group set names map back to their group's addresses set", "[compile]") {
  CHECK(groupSetBase("g_app_v4") == "g_app_v4");
  CHECK(groupSetBase("g_app_v4_24") == "g_app_v4");
  CHECK(groupSetBase("g_app_v6_128") == "g_app_v6");
  CHECK(groupSetBase("g_a_v4_v4") == "g_a_v4_v4");     // group "a_v4"
  CHECK(groupSetBase("g_a_v4_v4_8") == "g_a_v4_v4");
  CHECK(groupSetBase("g_x_24") == "");                // no family before the length
  CHECK(groupSetBase("s_db_v4") == "");
  CHECK(groupSetBase("bans_v4") == "");
}

TEST_CASE("fw compile: several ports become one set lookup", "[compile]") {
  Policy p;
  p.rules.push_back(allow("web", {"80/tcp", "443/tcp", "8080/tcp"}));
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  REQUIRE(rs.findSet("p_web_tcp") != nullptr);
  CHECK(rs.findSet("p_web_tcp")->elems.size() == 3);
  CHECK(rs.findSet("p_web_tcp")->interval() == false);
  checkGolden("multiport", render(rs));
}

TEST_CASE("fw compile: port ranges, merged when they touch", "[compile]") {
  Policy p;
  p.rules.push_back(allow("range", {"8000-8100"}));
  p.rules.push_back(allow("ranges", {"6000-6005/tcp", "6006-6010/tcp", "7000/tcp"}));
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  const Set* s = rs.findSet("p_ranges_tcp");
  REQUIRE(s != nullptr);
  CHECK(s->interval());
  CHECK(s->elems.size() == 2);  // 6000-6010 and 7000
  checkGolden("ranges", render(rs));
}

TEST_CASE("fw compile: a per-source limit is a meter before the accept", "[compile]") {
  Policy p;
  Rule smtp = allow("smtp", {"25/tcp"});
  smtp.limit = Rate{10, RateUnit::Minute};
  p.rules.push_back(smtp);
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  CHECK(rs.findSet("meter_smtp_v4") != nullptr);
  CHECK(rs.findSet("meter_smtp_v6") != nullptr);
  checkGolden("limit", render(rs));
}

TEST_CASE("fw compile: a rule limited to interfaces is a kernel rule per interface, the interface first", "[compile]") {
  Policy p;
  p.rules.push_back(allow("mysql", {"3306/tcp"}, {"10.0.1.0/24"}));
  p.rules.back().interfaces = {"eth1"};
  Rule ssh = allow("ssh", {"22/tcp"});
  ssh.interfaces = {"eth0", "vlan*"};
  ssh.limit = Rate{10, RateUnit::Minute};
  p.rules.push_back(ssh);
  Rule smtp = allow("smtp-out", {"25/tcp"});
  smtp.action = Action::Deny;
  smtp.hook = Hook::Output;
  smtp.interfaces = {"wan0"};
  p.rules.push_back(smtp);
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  auto tagged = [&](RuleKind kind, std::string_view name) {
    return std::ranges::count_if(rs.rules, [&](const KernelRule& r) { return r.tag == RuleTag{kind, std::string(name)}; });
  };
  CHECK(tagged(RuleKind::Policy, "mysql") == 1);
  CHECK(tagged(RuleKind::Policy, "ssh") == 4);  // 2 interfaces x 2 families (the limit is per source)
  CHECK(tagged(RuleKind::Meter, "ssh") == 4);
  CHECK(tagged(RuleKind::Policy, "smtp-out") == 1);
  // One meter per family, shared by the interfaces: the limit is per source.
  CHECK(rs.findSet("meter_ssh_v4") != nullptr);
  checkGolden("interfaces", render(rs));
}

TEST_CASE("fw compile: to: matches the destination, with the sources of its family", "[compile]") {
  Policy p;
  Rule vip = allow("vip", {"443/tcp"});
  vip.to = {cidr("192.0.2.10")};
  p.rules.push_back(vip);
  Rule both = allow("both", {"443/tcp"}, {"10.0.0.0/8"});  // v4 sources: the v6 destination is left out
  both.to = {cidr("192.0.2.0/28"), cidr("192.0.2.64/28"), cidr("2001:db8::10")};
  p.rules.push_back(both);
  Rule any = allow("any6", {"22/tcp"});
  any.to = {cidr("2001:db8::/64")};
  any.limit = Rate{5, RateUnit::Minute};
  p.rules.push_back(any);
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  auto count = [&](std::string_view name) {
    return std::ranges::count_if(rs.rules, [&](const KernelRule& r) { return r.tag == RuleTag{RuleKind::Policy, std::string(name)}; });
  };
  CHECK(count("vip") == 1);
  CHECK(count("both") == 1);
  CHECK(count("any6") == 1);  // the limit's v4 rule has no destination
  REQUIRE(rs.findSet("d_both_v4") != nullptr);
  CHECK(rs.findSet("d_both_v4")->elems.size() == 2);
  CHECK(rs.findSet("d_both_v6") == nullptr);
  checkGolden("destinations", render(rs));
  for (int i = 0; i < 20; ++i) p.rules.push_back(vip), p.rules.back().name = fmt::format("v{}", i);
  CHECK(ruleRuns(p).runs.empty());
}

TEST_CASE("fw compile: rules limited to interfaces never go into a rule table", "[compile]") {
  Policy p;
  for (int i = 0; i < 20; ++i) {
    p.rules.push_back(allow(fmt::format("r{}", i), {fmt::format("{}/tcp", 1000 + i)}));
    p.rules.back().interfaces = {"eth1"};
  }
  CHECK(ruleRuns(p).runs.empty());
  p.rules[5].interfaces.clear();
  CHECK(ruleRuns(p).runs.empty());  // 14 after it: fewer than a table takes
  for (Rule& r : p.rules) r.interfaces.clear();
  CHECK(ruleRuns(p).runs.size() == 1);
}

TEST_CASE("fw compile: without ping, the echo requests leave the essential ICMP sets, nothing else does", "[compile]") {
  Policy p = base();
  Ruleset with = compile(p, {}, {"rampart", kNow});
  p.builtins.ping = false;
  Ruleset without = compile(p, {}, {"rampart", kNow});
  for (auto [set, echo] : {std::pair{"builtin_icmp_v4", uint8_t{8}}, std::pair{"builtin_icmp_v6", uint8_t{128}}}) {
    INFO(set);
    const Set* a = with.findSet(set);
    const Set* b = without.findSet(set);
    REQUIRE(a != nullptr);
    REQUIRE(b != nullptr);
    CHECK(std::ranges::count(a->elems, SetElem::of(Bytes{echo})) == 1);
    CHECK(std::ranges::count(b->elems, SetElem::of(Bytes{echo})) == 0);
    CHECK(b->elems.size() + 1 == a->elems.size());
  }
}

TEST_CASE("fw compile: reject resets TCP and answers the rest with ICMP port unreachable", "[compile]") {
  Policy p;
  Rule closed = allow("closed", {"8080/tcp", "53", "vrrp"});
  closed.action = Action::Reject;
  p.rules.push_back(closed);
  Rule them;
  them.name = "them";
  them.action = Action::Reject;
  them.from = {cidr("198.51.100.0/24")};
  p.rules.push_back(them);
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  auto rejects = [&](std::string_view name, uint32_t type) {
    return std::ranges::count_if(rs.rules, [&](const KernelRule& r) {
      if (r.tag.name != name) return false;
      return std::ranges::any_of(r.exprs, [&](const Expr& e) {
        const ExprAttr* t = e.find(NFTNL_EXPR_REJECT_TYPE);
        Bytes want(4);
        std::memcpy(want.data(), &type, 4);
        return e.name == "reject" && t != nullptr && t->data == want;
      });
    });
  };
  CHECK(rejects("closed", NFT_REJECT_TCP_RST) == 1);        // 8080 and 53 over TCP: one set lookup
  CHECK(rejects("closed", NFT_REJECT_ICMPX_UNREACH) == 2);  // 53/udp, vrrp
  CHECK(rejects("them", NFT_REJECT_TCP_RST) == 1);          // any: TCP first...
  CHECK(rejects("them", NFT_REJECT_ICMPX_UNREACH) == 1);    // ...then the rest
  checkGolden("reject", render(rs));
  // Never a rule table, however many.
  Policy many;
  for (int i = 0; i < 20; ++i) {
    many.rules.push_back(allow(fmt::format("r{}", i), {fmt::format("{}/tcp", 1000 + i)}));
    many.rules.back().action = Action::Reject;
  }
  CHECK(ruleRuns(many).runs.empty());
}

TEST_CASE("fw compile: deny any", "[compile]") {
  Policy p;
  p.input_policy = ChainPolicy::Accept;
  Rule deny;
  deny.name = "nothing-from-there";
  deny.action = Action::Deny;
  deny.from = {cidr("192.0.2.0/24")};
  p.rules.push_back(deny);
  checkGolden("deny_any", compiled(p));
}

TEST_CASE("fw compile: IPv6 sources and both families in one rule", "[compile]") {
  Policy p;
  p.rules.push_back(allow("v6only", {"443/tcp"}, {"2001:db8::/32"}));
  p.rules.push_back(allow("both", {"53"}, {"192.0.2.1", "2001:db8::1"}));
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  size_t both = 0;
  for (const auto& r : rs.rules)
    if (r.tag.name == "both") ++both;
  CHECK(both == 4);  // {v4, v6} x {tcp, udp}
  checkGolden("ipv6", render(rs));
}

TEST_CASE("fw compile: bans come first, expired ones are left out", "[compile]") {
  using namespace std::chrono;
  std::vector<Ban> bans = {Ban{cidr("203.0.113.0/24"), std::nullopt},
                           Ban{cidr("198.51.100.7"), kNow + minutes(30)},
                           Ban{cidr("198.51.100.9"), kNow - minutes(1)},
                           Ban{cidr("2001:db8:bad::/48"), kNow + hours(2)}};
  Ruleset rs = compile(base(), bans, {"rampart", kNow});
  REQUIRE(rs.rules.front().tag.kind == RuleKind::Ban);
  // Addresses in bans_v4, each network in its prefix length's set, every
  // element with its own timeout (none: permanent).
  const Set* v4 = rs.findSet("bans_v4");
  REQUIRE(v4 != nullptr);
  REQUIRE(v4->elems.size() == 1);
  CHECK(v4->elems[0].timeout_ms == std::optional<uint64_t>(30 * 60 * 1000));
  const Set* v4_24 = rs.findSet("bans_v4_24");
  REQUIRE(v4_24 != nullptr);
  REQUIRE(v4_24->elems.size() == 1);
  CHECK(v4_24->elems[0].key == Bytes{203, 0, 113, 0});
  CHECK_FALSE(v4_24->elems[0].timeout_ms.has_value());
  const Set* v6_48 = rs.findSet("bans_v6_48");
  REQUIRE(v6_48 != nullptr);
  REQUIRE(v6_48->elems.size() == 1);
  CHECK(v6_48->elems[0].timeout_ms == std::optional<uint64_t>(2 * 3600 * 1000));
  for (const Set* s : {v4, v4_24, v6_48}) CHECK_FALSE(s->interval());
  // Four ban rules: the addresses' and the networks' set of each family.
  CHECK(std::ranges::count(rs.rules, RuleKind::Ban, [](const KernelRule& r) { return r.tag.kind; }) == 4);
  checkGolden("bans", render(rs));
}

TEST_CASE("fw compile: forward_interfaces accept in and out, after the forward builtins and rules", "[compile]") {
  Policy p = base();
  p.forward_interfaces = {"docker0", "br-*"};
  Rule fwd = allow("fwd", {"8080/tcp"});
  fwd.hook = Hook::Forward;
  p.rules.push_back(fwd);
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  std::vector<std::string> tags;
  for (const KernelRule* r : rs.chainRules("forward")) tags.push_back(r->tag.comment());
  // The rules first, so a forward deny holds for containers' traffic too.
  CHECK(tags == std::vector<std::string>{"builtin:established", "builtin:invalid", "rule:fwd", "builtin:in:docker0",
                                         "builtin:out:docker0", "builtin:in:br-*", "builtin:out:br-*",
                                         "policy:forward", "log:forward"});
  // A whole name is compared with its NUL padding (IFNAMSIZ), a prefix
  // only over its own bytes.
  const KernelRule* whole = rs.chainRules("forward")[3];
  const KernelRule* prefix = rs.chainRules("forward")[5];
  REQUIRE(whole->exprs.size() == 3);
  REQUIRE(prefix->exprs.size() == 3);
  auto cmpData = [](const KernelRule* r) {
    const ExprAttr* data = r->exprs[1].find(NFTNL_EXPR_CMP_DATA);
    return data != nullptr ? data->data : Bytes{};
  };
  Bytes docker0{'d', 'o', 'c', 'k', 'e', 'r', '0'};
  docker0.resize(16, 0);
  CHECK(cmpData(whole) == docker0);
  CHECK(cmpData(prefix) == Bytes{'b', 'r', '-'});
}

TEST_CASE("fw compile: a protocol without ports is a meta l4proto match of its own, never in a rule table", "[compile]") {
  Policy p;
  for (int i = 0; i < 20; ++i) {
    Rule r = allow(fmt::format("peer{}", i), {}, {fmt::format("10.0.0.{}", i + 1)});
    r.ports = {*PortSpec::parse("vrrp")};
    p.rules.push_back(r);
  }
  Rule ipsec = allow("ipsec", {"500/udp"});
  ipsec.ports.push_back(*PortSpec::parse("esp"));
  p.rules.push_back(ipsec);
  CHECK(ruleRuns(p).runs.empty());
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  std::vector<const KernelRule*> mine;
  for (const auto& r : rs.rules)
    if (r.tag.name == "ipsec") mine.push_back(&r);
  REQUIRE(mine.size() == 2);  // 500/udp, then esp
  const std::string text = render(rs);
  CHECK(text.find("[ cmp eq reg 1 0x00000032 ]") != std::string::npos);  // l4proto 50 (esp)
  CHECK(text.find("[ cmp eq reg 1 0x00000070 ]") != std::string::npos);  // l4proto 112 (vrrp)
}

TEST_CASE("fw compile: builtins can be switched off", "[compile]") {
  Policy p = base();
  p.builtins = Builtins{false, false, false, false, false};
  p.forward_interfaces.clear();
  p.log_dropped.reset();
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  for (const auto& r : rs.rules) CHECK(r.tag.kind != RuleKind::Builtin);
  CHECK(rs.findSet("builtin_icmp_v4") == nullptr);
  checkGolden("builtins_off", render(rs));
}

TEST_CASE("fw compile: the same policy compiles to the same bytes", "[compile]") {
  Policy p = defaultPolicy(9100);
  p.groups.push_back(group("b", {"10.0.0.0/8"}));
  p.groups.push_back(group("a", {"fd00::/8"}));
  Rule r = allow("x", {"1-100", "200/udp"});
  r.from_groups = {"b", "a"};
  p.rules.push_back(r);
  CHECK(compiled(p) == compiled(p));
}

TEST_CASE("fw compile: CIDR elements merge overlapping and adjacent networks", "[compile]") {
  auto e = cidrElements({cidr("10.0.0.0/25"), cidr("10.0.0.128/25"), cidr("10.0.0.7"), cidr("255.255.255.0/24")},
                        Family::V4);
  REQUIRE(e.size() == 2);
  CHECK(e[0].key == Bytes{10, 0, 0, 0});
  CHECK(e[0].key_end == Bytes{10, 0, 1, 0});
  CHECK(e[1].key_end.empty());  // runs to the top of the address space
}

TEST_CASE("fw compile: 16 or more rules of one simple shape are one rule table", "[compile]") {
  Policy p = base();
  // 16 sourced rules (one table per family), then a rule of another shape,
  // then 15 any-source rules (too few: rules one by one), then 16 deny rules.
  for (int i = 0; i < 16; ++i)
    p.rules.push_back(allow(fmt::format("api{}", i), {fmt::format("{}/tcp", 8000 + i), "53/udp"},
                            {fmt::format("10.0.0.{}", i + 1), "2001:db8::1"}));
  p.rules.push_back(allow("range", {"9000-9100/tcp"}));
  for (int i = 0; i < 15; ++i) p.rules.push_back(allow(fmt::format("svc{}", i), {fmt::format("{}/tcp", 7000 + i)}));
  for (int i = 0; i < 16; ++i) {
    Rule d = allow(fmt::format("no{}", i), {fmt::format("{}/udp", 6000 + i)});
    d.action = Action::Deny;
    p.rules.push_back(d);
  }
  Ruleset rs = compile(p, {}, {"rampart", kNow});
  const Set* v4 = rs.findSet("run_input_cfg_allow_src0_v4");
  REQUIRE(v4 != nullptr);
  CHECK(v4->counters);
  CHECK(v4->elems.size() == 32);  // 16 rules x (tcp port, udp 53)
  const Set* v6 = rs.findSet("run_input_cfg_allow_src0_v6");
  REQUIRE(v6 != nullptr);
  // 16 tcp ports + 53/udp from 2001:db8::1 once: every rule has that key,
  // and its element is the first rule's, as a packet would be counted.
  CHECK(v6->elems.size() == 17);
  CHECK(rs.findSet("run_input_cfg_allow_any0_any") == nullptr);
  const Set* no = rs.findSet("run_input_cfg_deny_any0_any");
  REQUIRE(no != nullptr);
  CHECK(no->elems.size() == 16);
  CHECK(rs.chainRules("input").size() < 40);
  checkGolden("rule_tables", render(rs));
}
