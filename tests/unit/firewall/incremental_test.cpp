// The engine's incremental path (firewall/incremental.h) against compile():
// a table compiled from the old policy, changed by what diffIncremental
// returns, must be the table compile() makes of the new policy. Checked on
// many policy pairs, one kind of change at a time and random ones.
#include <catch2/catch.hpp>

#include <algorithm>
#include <functional>
#include <random>

#include <fmt/format.h>

#include "firewall/compile.h"
#include "firewall/diff.h"
#include "firewall/incremental.h"
#include "tests/unit/firewall/fw_test_util.h"

using namespace rampart::fw;
using namespace rampart::fw::test;

namespace {

const CompileOptions kOptions{"rampart", std::chrono::system_clock::time_point{} + std::chrono::hours(24 * 365 * 50)};

// Rules of every shape compile() knows, `n` of them, names r0..r<n-1>.
Rule ruleOfKind(size_t i, size_t kind) {
  std::string name = fmt::format("r{}", i);
  std::string p = fmt::format("{}/tcp", 1000 + i);
  switch (kind % 8) {
    case 0: return allow(name, {p}, {fmt::format("10.0.{}.{}", i / 250, i % 250 + 1)});  // table-able
    case 1: return allow(name, {p});                                                       // table-able (any)
    case 2: return allow(name, {p, "53/udp"}, {fmt::format("10.1.{}.0/24", i % 250)});     // port set, CIDR
    case 3: {
      Rule r = allow(name, {p});
      r.from_groups = {"app"};
      return r;
    }
    case 4: {
      Rule r = allow(name, {p});
      r.limit = rampart::Rate{10, rampart::RateUnit::Minute};
      return r;
    }
    case 5: {
      Rule r = allow(name, {p}, {"10.2.0.1", "10.2.0.2", "2001:db8::1"});
      r.action = Action::Deny;
      return r;
    }
    case 6: return allow(name, {"8000-8100/tcp"}, {"192.0.2.7"});
    default: {
      Rule r = allow(name, {p}, {"2001:db8::5"});
      r.hook = Hook::Output;
      return r;
    }
  }
}

Policy basePolicy(size_t n, size_t run_every) {
  Policy p;
  p.groups = {group("app", {"10.9.0.0/16", "2001:db8:9::/48"}), group("ops", {"10.8.0.1"})};
  for (size_t i = 0; i < n; ++i) p.rules.push_back(ruleOfKind(i, run_every == 0 ? i : (i / run_every) % 2 == 0 ? 0 : i));
  return p;
}

void sortedSets(Ruleset& rs) { std::ranges::sort(rs.sets, {}, &Set::name); }

// Applies diffIncremental to compile(old) and compares with compile(now).
// Returns false when the incremental path declined.
bool checkIncremental(const Policy& old_policy, const std::vector<Ban>& old_bans, const Policy& now,
                      const std::vector<Ban>& bans) {
  Ruleset live = withHandles(compile(old_policy, old_bans, kOptions));
  auto changes = diffIncremental(old_policy, old_bans, now, bans, live, kOptions);
  if (!changes) return false;
  std::vector<uint64_t> handles;
  for (size_t k = 0; k < changes->add_rules.size(); ++k) handles.push_back(100'000 + k);
  INFO(describe(*changes));
  REQUIRE(applyChanges(live, *changes, handles));
  Ruleset want = compile(now, bans, kOptions);
  sortedSets(live);
  sortedSets(want);
  // What the full path would still change: nothing.
  Changes rest = diff(want, live, true);
  INFO("left over:\n" << describe(rest));
  CHECK(rest.empty());
  for (const char* chain : {"input", "forward", "output"}) {
    auto a = live.chainRules(chain), b = want.chainRules(chain);
    REQUIRE(a.size() == b.size());
    for (size_t i = 0; i < a.size(); ++i) CHECK(a[i]->sameAs(*b[i]));
  }
  REQUIRE(live.sets.size() == want.sets.size());
  for (size_t i = 0; i < live.sets.size(); ++i) {
    CHECK(live.sets[i].name == want.sets[i].name);
    CHECK(live.sets[i].sameShape(want.sets[i]));
    if ((live.sets[i].flags & 0x10 /* NFT_SET_EVAL */) == 0) CHECK(live.sets[i].elems == want.sets[i].elems);
  }
  return true;
}

// The incremental path takes the change as element changes alone (no rule
// or set in or out), and what it does matches compile(): the elements it
// adds and deletes.
struct ElementChanges {
  size_t added = 0;
  size_t deleted = 0;
};
ElementChanges onlyElementChanges(const Policy& old_policy, const std::vector<Ban>& old_bans, const Policy& now,
                                  const std::vector<Ban>& bans) {
  REQUIRE(checkIncremental(old_policy, old_bans, now, bans));
  Ruleset live = withHandles(compile(old_policy, old_bans, kOptions));
  auto changes = diffIncremental(old_policy, old_bans, now, bans, live, kOptions);
  REQUIRE(changes);
  CHECK(changes->add_rules.empty());
  CHECK(changes->delete_rules.empty());
  CHECK(changes->add_sets.empty());
  CHECK(changes->delete_sets.empty());
  ElementChanges out;
  for (const Set& s : changes->add_elems) out.added += s.elems.size();
  for (const Set& s : changes->delete_elems) out.deleted += s.elems.size();
  return out;
}

}  // namespace

TEST_CASE("fw incremental: one changed rule is one rule out and its kernel rules in", "[incremental]") {
  for (size_t kind = 0; kind < 8; ++kind) {
    Policy old_policy = basePolicy(40, 0);
    Policy now = old_policy;
    size_t i = 8 + kind;  // a rule of this kind (rule i has kind i % 8)
    now.rules[i].ports = {port("4444/tcp")};
    INFO("rule kind " << kind);
    REQUIRE(checkIncremental(old_policy, {}, now, {}));
    Ruleset live = withHandles(compile(old_policy, {}, kOptions));
    auto c = diffIncremental(old_policy, {}, now, {}, live, kOptions);
    REQUIRE(c);
    // Only rule i's kernel rules go.
    for (const KernelRule& r : c->delete_rules) CHECK(r.tag.name == now.rules[i].name);
    CHECK(!c->delete_rules.empty());
    CHECK(!c->add_rules.empty());
  }
}

TEST_CASE("fw incremental: inserts, deletes, renames and chain moves match compile()", "[incremental]") {
  const Policy base = basePolicy(40, 0);
  SECTION("insert at the front, middle and end") {
    for (size_t at : {size_t{0}, size_t{17}, size_t{40}}) {
      Policy now = base;
      now.rules.insert(now.rules.begin() + static_cast<std::ptrdiff_t>(at), ruleOfKind(900, at));
      CHECK(checkIncremental(base, {}, now, {}));
    }
  }
  SECTION("delete the first, one in the middle, the last") {
    for (size_t at : {size_t{0}, size_t{21}, size_t{39}}) {
      Policy now = base;
      now.rules.erase(now.rules.begin() + static_cast<std::ptrdiff_t>(at));
      CHECK(checkIncremental(base, {}, now, {}));
    }
  }
  SECTION("rename a rule") {
    Policy now = base;
    now.rules[10].name = "renamed";
    CHECK(checkIncremental(base, {}, now, {}));
  }
  SECTION("limit a rule to interfaces, then change them") {
    Policy now = base;
    now.rules[13].interfaces = {"eth1"};
    CHECK(checkIncremental(base, {}, now, {}));
    Policy later = now;
    later.rules[13].interfaces = {"eth1", "vlan*"};
    CHECK(checkIncremental(now, {}, later, {}));
  }
  SECTION("a forward rule goes before the forward_interfaces' accepts, with the forward policy drop or accept") {
    for (ChainPolicy policy : {ChainPolicy::Drop, ChainPolicy::Accept}) {
      Policy old_policy = base;
      old_policy.forward_policy = policy;
      Policy now = old_policy;
      now.rules[12].hook = Hook::Forward;
      CHECK(checkIncremental(old_policy, {}, now, {}));
      Policy more = now;
      more.rules[20].hook = Hook::Forward;
      CHECK(checkIncremental(now, {}, more, {}));
    }
  }
  SECTION("move a rule to another chain") {
    Policy now = base;
    now.rules[12].hook = Hook::Forward;
    CHECK(checkIncremental(base, {}, now, {}));
  }
  SECTION("delete the only rule using a group: its sets go") {
    Policy old_policy = base;
    old_policy.rules[11].from_groups = {"ops"};
    Policy now = old_policy;
    now.rules.erase(now.rules.begin() + 11);
    CHECK(checkIncremental(old_policy, {}, now, {}));
  }
  SECTION("change a group and the bans") {
    Policy now = base;
    now.groups[0].cidrs.push_back(cidr("10.10.0.0/16"));
    std::vector<Ban> bans{Ban{cidr("203.0.113.9"), std::nullopt}};
    CHECK(checkIncremental(base, {}, now, bans));
  }
  SECTION("a reorder is left to diff()") {
    Policy now = base;
    std::swap(now.rules[3], now.rules[30]);
    CHECK_FALSE(checkIncremental(base, {}, now, {}));
  }
  SECTION("a forward_interfaces change is left to diff()") {
    Policy now = base;
    now.forward_interfaces.push_back("lxcbr0");
    CHECK_FALSE(checkIncremental(base, {}, now, {}));
  }
  SECTION("a chain policy change is left to diff()") {
    Policy now = base;
    now.output_policy = ChainPolicy::Drop;
    CHECK_FALSE(checkIncremental(base, {}, now, {}));
  }
  SECTION("the first output rule brings the output builtins: left to diff(); more output rules are not") {
    Policy in_only;
    in_only.rules = {allow("a", {"22/tcp"}), allow("b", {"80/tcp"})};
    Policy now = in_only;
    Rule out = allow("out", {"53/udp"});
    out.hook = Hook::Output;
    now.rules.push_back(out);
    CHECK_FALSE(checkIncremental(in_only, {}, now, {}));
    Policy more = now;
    out.name = "out2";
    out.ports = {*PortSpec::parse("123/udp")};
    more.rules.push_back(out);
    CHECK(checkIncremental(now, {}, more, {}));
    CHECK_FALSE(checkIncremental(more, {}, in_only, {}));
  }
}

TEST_CASE("fw incremental: random edits of policies with rule tables match compile()", "[incremental]") {
  std::mt19937 rng(20261126);
  size_t taken = 0;
  for (int round = 0; round < 300; ++round) {
    Policy old_policy = basePolicy(60, 20);  // runs of 20 table-able rules between mixed ones
    Policy now = old_policy;
    int edits = 1 + static_cast<int>(rng() % 3);
    for (int e = 0; e < edits; ++e) {
      size_t i = rng() % now.rules.size();
      switch (rng() % 6) {
        case 0: now.rules[i].ports = {port(fmt::format("{}/tcp", 30000 + rng() % 1000))}; break;
        case 1: now.rules.erase(now.rules.begin() + static_cast<std::ptrdiff_t>(i)); break;
        case 2:
          now.rules.insert(now.rules.begin() + static_cast<std::ptrdiff_t>(i),
                           ruleOfKind(1000 + static_cast<size_t>(round * 10 + e), rng() % 3 == 0 ? rng() : 0));
          break;
        case 3: now.rules[i].from = {cidr(fmt::format("10.0.{}.{}", rng() % 250, rng() % 250 + 1))}; break;
        case 4:  // limited to interfaces, or no longer: it leaves or joins a rule table
          now.rules[i].interfaces = now.rules[i].interfaces.empty() ? std::vector<std::string>{"eth1", "vlan*"}
                                                                    : std::vector<std::string>{};
          break;
        default: now.rules[i].action = now.rules[i].action == Action::Allow ? Action::Deny : Action::Allow; break;
      }
    }
    // Names stay unique: an inserted rule's name is new.
    INFO("round " << round);
    if (checkIncremental(old_policy, {}, now, {})) ++taken;
  }
  // The incremental path is the common one, not a rare one.
  CHECK(taken > 150);
}

TEST_CASE("fw incremental: group members added and removed are element changes that match compile()", "[incremental]") {
  Policy base = basePolicy(16, 0);  // rules 3 and 11 use group "app"
  base.groups[0].cidrs.clear();
  for (int i = 0; i < 200; ++i) base.groups[0].cidrs.push_back(cidr(fmt::format("10.9.{}.{}", i / 100, (i % 100) * 2 + 1)));
  base.groups[0].cidrs.push_back(cidr("2001:db8:9::/48"));
  struct Case {
    const char* what;
    std::function<void(Group&)> edit;
    bool small;  // expected as element changes only (else may be declined)
  };
  const std::vector<Case> cases = {
      {"one address appended", [](Group& g) { g.cidrs.push_back(cidr("10.20.0.1")); }, true},
      {"one IPv6 network inserted", [](Group& g) { g.cidrs.insert(g.cidrs.begin() + 5, cidr("2001:db8:7::/48")); }, true},
      {"one address removed", [](Group& g) { g.cidrs.erase(g.cidrs.begin() + 17); }, true},
      {"one address replaced", [](Group& g) { g.cidrs[40] = cidr("10.30.0.9"); }, true},
      {"an address next to a member (merged)", [](Group& g) { g.cidrs.push_back(cidr("10.9.0.2")); }, true},
      {"an IPv6 network inside the one there", [](Group& g) { g.cidrs.push_back(cidr("2001:db8:9:5::/64")); }, false},
      {"a second IPv6 network, then the first removed",
       [](Group& g) {
         g.cidrs.push_back(cidr("2001:db8:8::/48"));
         g.cidrs.erase(std::find(g.cidrs.begin(), g.cidrs.end(), cidr("2001:db8:9::/48")));
       },
       true},
      // The IPv4 set turns from hash to interval, the IPv6 set from interval
      // to hash: compile() and diff() recreate them.
      {"a network joins addresses", [](Group& g) { g.cidrs.push_back(cidr("10.9.0.0/24")); }, false},
      {"the last network goes",
       [](Group& g) { g.cidrs.erase(std::find(g.cidrs.begin(), g.cidrs.end(), cidr("2001:db8:9::/48"))); }, false},
      {"resolved addresses change", [](Group& g) { g.resolved = {cidr("10.40.0.1"), cidr("2001:db8:40::1")}; }, true},
  };
  for (const Case& c : cases) {
    INFO(c.what);
    Policy now = base;
    c.edit(now.groups[0]);
    if (!c.small) {
      // Declined, or taken and still right (checkIncremental checks it).
      (void)checkIncremental(base, {}, now, {});
      continue;
    }
    REQUIRE(checkIncremental(base, {}, now, {}));
    Ruleset live = withHandles(compile(base, {}, kOptions));
    auto changes = diffIncremental(base, {}, now, {}, live, kOptions);
    REQUIRE(changes);
    CHECK(changes->add_rules.empty());
    CHECK(changes->delete_rules.empty());
    CHECK(changes->add_sets.empty());
  }
  // A group of addresses is a hash set: members come and go as keys.
  Policy hosts = base;
  hosts.groups[0].cidrs.pop_back();  // the IPv6 network
  for (const auto& edit : std::vector<std::function<void(Group&)>>{
           [](Group& g) { g.cidrs.push_back(cidr("10.20.0.1")); },
           [](Group& g) { g.cidrs.erase(g.cidrs.begin() + 3); },
           [](Group& g) { g.cidrs.push_back(cidr("2001:db8::77")); },
           [](Group& g) { g.cidrs.push_back(g.cidrs[0]); },
       }) {
    Policy now = hosts;
    edit(now.groups[0]);
    REQUIRE(checkIncremental(hosts, {}, now, {}));
  }
  // A network joining a group of addresses changes the set's kind: left
  // to compile() and diff(), which recreate the set and its rules.
  Policy with_net = hosts;
  with_net.groups[0].cidrs.push_back(cidr("10.50.0.0/16"));
  CHECK_FALSE(checkIncremental(hosts, {}, with_net, {}));
  CHECK_FALSE(checkIncremental(with_net, {}, hosts, {}));
  // A group with a duplicate member loses one copy: nothing changes.
  Policy dup = base;
  dup.groups[0].cidrs.push_back(dup.groups[0].cidrs[3]);
  Policy undup = dup;
  undup.groups[0].cidrs.pop_back();
  CHECK(checkIncremental(dup, {}, undup, {}));
}

TEST_CASE("fw incremental: a large group of addresses keeps its sized set until it outgrows it", "[incremental]") {
  auto withMembers = [](size_t n) {
    Policy p = basePolicy(16, 0);
    p.groups[0].cidrs.clear();
    for (size_t i = 0; i < n; ++i)
      p.groups[0].cidrs.push_back(cidr(fmt::format("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256)));
    return p;
  };
  Policy big = withMembers(5000);
  const Set* s = nullptr;
  Ruleset rs = compile(big, {}, kOptions);
  s = rs.findSet("g_app_v4");
  REQUIRE(s != nullptr);
  CHECK(s->size == 16384);
  Policy plus = big;
  plus.groups[0].cidrs.push_back(cidr("10.99.0.1"));
  CHECK(checkIncremental(big, {}, plus, {}));
  // 4,095 -> 4,096 members: the set gets a size, so a new set.
  Policy below = withMembers(4095), at = withMembers(4096);
  CHECK(compile(below, {}, kOptions).findSet("g_app_v4")->size == 0);
  CHECK(compile(at, {}, kOptions).findSet("g_app_v4")->size == 8192);
  CHECK_FALSE(checkIncremental(below, {}, at, {}));
}

TEST_CASE("fw incremental: a network more or less in a large group is one element of its length's set", "[incremental]") {
  // 8,000 networks of four lengths (/28../31), and two IPv6 /48s.
  Policy big = basePolicy(16, 0);
  big.groups[0].cidrs.clear();
  for (uint32_t i = 0; i < 8000; ++i)
    big.groups[0].cidrs.push_back(cidr(fmt::format("10.{}.{}.{}/{}", 100 + i / 2048, (i / 8) % 256, (i % 8) * 32, 28 + i % 4)));
  big.groups[0].cidrs.push_back(cidr("2001:db8:1::/48"));
  big.groups[0].cidrs.push_back(cidr("2001:db8:2::/48"));
  Ruleset rs = compile(big, {}, kOptions);
  for (int len : {28, 29, 30, 31}) {
    const Set* s = rs.findSet(fmt::format("g_app_v4_{}", len));
    REQUIRE(s != nullptr);
    CHECK(s->elems.size() == 2000);
  }
  auto onlyElements = [&](const Policy& now, size_t adds, size_t dels) {
    ElementChanges c = onlyElementChanges(big, {}, now, {});
    CHECK(c.added == adds);
    CHECK(c.deleted == dels);
  };
  Policy plus = big;
  plus.groups[0].cidrs.push_back(cidr("10.99.0.0/29"));
  onlyElements(plus, 1, 0);
  Policy minus = big;
  minus.groups[0].cidrs.erase(minus.groups[0].cidrs.begin() + 4001);
  onlyElements(minus, 0, 1);
  // A network inside another one is an element of its own length's set;
  // removing one of two copies of a network changes nothing.
  Policy inside = big;
  inside.groups[0].cidrs.push_back(cidr("10.100.0.0/29"));
  inside.groups[0].cidrs.push_back(cidr("2001:db8:3::/48"));
  onlyElements(inside, 2, 0);
  Policy twice = big;
  twice.groups[0].cidrs.push_back(twice.groups[0].cidrs[7]);
  Policy once = twice;
  once.groups[0].cidrs.pop_back();
  REQUIRE(checkIncremental(twice, {}, once, {}));
  // A length the group did not have changes the rules that use it (a set
  // and a rule more each): left to compile() and diff().
  Policy longer = big;
  longer.groups[0].cidrs.push_back(cidr("10.200.0.0/20"));
  CHECK_FALSE(checkIncremental(big, {}, longer, {}));
  // And back: the length's last network goes with its set and rules.
  CHECK_FALSE(checkIncremental(longer, {}, big, {}));
  Ruleset want = compile(longer, {}, kOptions);
  CHECK(want.findSet("g_app_v4_20") != nullptr);
}

TEST_CASE("fw incremental: bans added, removed and renewed are element changes that match compile()", "[incremental]") {
  using std::chrono::minutes;
  const auto now = kOptions.now;
  std::mt19937 rng(20261126);
  auto host = [&](uint32_t i, bool v6) {
    return v6 ? cidr(fmt::format("2001:db8:{:x}::{:x}", i / 65536, i % 65536 + 1))
              : cidr(fmt::format("10.{}.{}.{}", 60 + i / 65536, (i / 256) % 256, i % 256));
  };
  // Networks of the lengths every `was` below has (/24, /16, /64), so a
  // network banned is an element of a set that is there.
  auto net = [&](uint32_t i, bool v6) {
    if (v6) return cidr(fmt::format("2001:db8:9:{:x}::/64", i % 16));
    return i % 2 ? cidr(fmt::format("10.70.{}.0/24", i % 16)) : cidr(fmt::format("10.{}.0.0/16", 80 + i % 16));
  };
  auto randomBan = [&](bool allow_expired) {
    std::uniform_int_distribution<uint32_t> pick(0, 400), coin(0, 9);
    const bool v6 = coin(rng) < 3;
    Ban b{coin(rng) < 2 ? net(pick(rng), v6) : host(pick(rng), v6), std::nullopt};
    uint32_t c = coin(rng);
    if (c < 4) b.expires = now + minutes(1 + pick(rng));
    if (allow_expired && c == 9) b.expires = now - minutes(1);  // ran out: the set is compiled again
    return b;
  };
  Policy policy = basePolicy(16, 0);
  Policy copy = policy;
  size_t by_delta = 0;
  for (int round = 0; round < 300; ++round) {
    std::vector<Ban> was = {Ban{net(0, false), std::nullopt}, Ban{net(1, false), std::nullopt},
                            Ban{net(0, true), std::nullopt}};
    for (int i = 0; i < 150; ++i) was.push_back(randomBan(false));
    std::vector<Ban> bans = was;
    std::uniform_int_distribution<int> what(0, 5), count(1, 4);
    const int edit = what(rng);
    for (int k = count(rng); k > 0; --k) {
      std::uniform_int_distribution<size_t> at(0, bans.size() - 1);
      switch (edit) {
        case 0: bans.push_back(randomBan(false)); break;                     // fw ban
        case 1: bans.erase(bans.begin() + static_cast<long>(at(rng))); break;  // fw unban
        case 2: bans[at(rng)].expires = now + minutes(1000 + k); break;      // renewed
        case 3: bans[at(rng)].expires.reset(); break;                        // made permanent
        case 4: bans.push_back(bans[at(rng)]); break;                        // the same address again
        default: bans.push_back(randomBan(true)); break;                     // perhaps expired
      }
    }
    INFO("round " << round << " edit " << edit);
    // The same policy object (as a `fw ban` hands it: only the bans are
    // compared) in odd rounds, an equal copy (every rule compared) in even.
    ElementChanges c = onlyElementChanges(policy, was, round % 2 ? policy : copy, bans);
    if (edit != 5) CHECK(c.added + c.deleted <= 8);  // a few bans: a few elements
    by_delta += edit != 5;
  }
  CHECK(by_delta > 200);

  // A network of a length no ban has yet brings a set and a ban rule:
  // compile() and diff(); and back again.
  std::vector<Ban> hosts{Ban{cidr("10.60.0.1"), std::nullopt}, Ban{cidr("10.60.0.2"), now + minutes(5)}};
  std::vector<Ban> with_net = hosts;
  with_net.push_back(Ban{cidr("10.61.0.0/16"), std::nullopt});
  for (const Policy* then : {&policy, &copy}) {
    CHECK_FALSE(checkIncremental(policy, hosts, *then, with_net));
    CHECK_FALSE(checkIncremental(policy, with_net, *then, hosts));
  }
  // Another /16 is one element; a ban inside a banned network is its own.
  std::vector<Ban> two_nets = with_net;
  two_nets.push_back(Ban{cidr("10.62.0.0/16"), now + minutes(9)});
  two_nets.push_back(Ban{cidr("10.61.0.9"), now + minutes(3)});
  CHECK(onlyElementChanges(policy, with_net, policy, two_nets).added == 2);
}
