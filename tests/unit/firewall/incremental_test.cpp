// The engine's incremental path (firewall/incremental.h) against compile():
// a table compiled from the old policy, changed by what diffIncremental
// returns, must be the table compile() makes of the new policy. Checked on
// many policy pairs, one kind of change at a time and random ones.
#include <catch2/catch.hpp>

#include <algorithm>
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
  SECTION("a chain policy change is left to diff()") {
    Policy now = base;
    now.output_policy = ChainPolicy::Drop;
    CHECK_FALSE(checkIncremental(base, {}, now, {}));
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
      switch (rng() % 5) {
        case 0: now.rules[i].ports = {port(fmt::format("{}/tcp", 30000 + rng() % 1000))}; break;
        case 1: now.rules.erase(now.rules.begin() + static_cast<std::ptrdiff_t>(i)); break;
        case 2:
          now.rules.insert(now.rules.begin() + static_cast<std::ptrdiff_t>(i),
                           ruleOfKind(1000 + static_cast<size_t>(round * 10 + e), rng() % 3 == 0 ? rng() : 0));
          break;
        case 3: now.rules[i].from = {cidr(fmt::format("10.0.{}.{}", rng() % 250, rng() % 250 + 1))}; break;
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
