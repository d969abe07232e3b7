#include <catch2/catch.hpp>

#include "firewall/compile.h"
#include <fmt/format.h>

#include "firewall/diff.h"
#include "fw_test_util.h"

using namespace rampart;
using namespace rampart::fw;
using namespace rampart::fw::test;

namespace {

Ruleset compiled(const Policy& p) { return compile(p, {}, CompileOptions{}); }

Policy three() {
  Policy p;
  p.rules = {allow("a", {"1/tcp"}), allow("b", {"2/tcp"}), allow("c", {"3/tcp"})};
  return p;
}

uint64_t handleOf(const Ruleset& rs, std::string_view name) {
  for (const auto& r : rs.rules)
    if (r.tag.name == name) return r.handle;
  return 0;
}

}  // namespace

TEST_CASE("fw diff: the same ruleset needs no change", "[diff]") {
  Ruleset live = withHandles(compiled(three()));
  CHECK(diff(compiled(three()), live, true).empty());
}

TEST_CASE("fw diff: an empty kernel gets table, chains, sets and rules", "[diff]") {
  Changes c = diff(compiled(three()), Ruleset{}, false);
  CHECK(c.create_table);
  CHECK(c.chains.size() == 3);
  CHECK(c.add_rules.size() == compiled(three()).rules.size());
  for (const auto& a : c.add_rules) CHECK(a.position == 0);
}

TEST_CASE("fw diff: adding a rule inserts it after its predecessor and nothing else", "[diff]") {
  Ruleset live = withHandles(compiled(three()));
  Policy p = three();
  p.rules.insert(p.rules.begin() + 2, allow("new", {"9/tcp"}));
  Changes c = diff(compiled(p), live, true);
  CHECK(c.delete_rules.empty());
  REQUIRE(c.add_rules.size() == 1);
  CHECK(c.add_rules[0].rule.tag.name == "new");
  CHECK(c.add_rules[0].after);
  CHECK(c.add_rules[0].position == handleOf(live, "b"));
}

TEST_CASE("fw diff: deleting a rule deletes only that rule", "[diff]") {
  Ruleset live = withHandles(compiled(three()));
  Policy p = three();
  p.rules.erase(p.rules.begin() + 1);
  Changes c = diff(compiled(p), live, true);
  CHECK(c.add_rules.empty());
  REQUIRE(c.delete_rules.size() == 1);
  CHECK(c.delete_rules[0].handle == handleOf(live, "b"));
}

TEST_CASE("fw diff: swapping two rules moves one of them", "[diff]") {
  Ruleset live = withHandles(compiled(three()));
  Policy p = three();
  std::swap(p.rules[0], p.rules[1]);
  Changes c = diff(compiled(p), live, true);
  CHECK(c.delete_rules.size() == 1);
  CHECK(c.add_rules.size() == 1);
}

TEST_CASE("fw diff: changing a port replaces that rule in place", "[diff]") {
  Ruleset live = withHandles(compiled(three()));
  Policy p = three();
  p.rules[1] = allow("b", {"2222/tcp"});
  Changes c = diff(compiled(p), live, true);
  REQUIRE(c.delete_rules.size() == 1);
  CHECK(c.delete_rules[0].handle == handleOf(live, "b"));
  REQUIRE(c.add_rules.size() == 1);
  CHECK(c.add_rules[0].position == handleOf(live, "a"));
  CHECK(c.add_rules[0].after);
}

TEST_CASE("fw diff: changing a group changes set elements only", "[diff]") {
  Policy p = three();
  p.groups = {group("app", {"10.0.0.1", "10.0.0.5"})};
  Rule db = allow("db", {"5432/tcp"});
  db.from_groups = {"app"};
  p.rules.push_back(db);
  Ruleset live = withHandles(compiled(p));
  p.groups = {group("app", {"10.0.0.1", "10.0.0.9", "fd00::1"})};
  Changes c = diff(compiled(p), live, true);
  CHECK(c.add_rules.empty());
  CHECK(c.delete_rules.empty());
  CHECK(c.add_sets.empty());
  CHECK(c.elementsAdded() == 2);    // 10.0.0.9, fd00::1
  CHECK(c.elementsDeleted() == 1);  // 10.0.0.5
}

TEST_CASE("fw diff: changing a chain policy updates the chain only", "[diff]") {
  Ruleset live = withHandles(compiled(three()));
  Policy p = three();
  p.output_policy = ChainPolicy::Drop;
  Changes c = diff(compiled(p), live, true);
  REQUIRE(c.chains.size() == 1);
  CHECK(c.chains[0].name == "output");
  CHECK(c.delete_rules.empty());
  // A drop policy in output gets the builtins that keep the node's own
  // traffic going (loopback, established, ICMP, ICMPv6), then its counter
  // and log rules.
  REQUIRE(c.add_rules.size() == 6);
  std::vector<std::string> tags;
  for (const auto& a : c.add_rules) {
    CHECK(a.rule.chain == "output");
    tags.push_back(a.rule.tag.comment());
  }
  CHECK(tags == std::vector<std::string>{"builtin:loopback", "builtin:established", "builtin:icmp", "builtin:icmpv6",
                                         "policy:output", "log:output"});
}

TEST_CASE("fw diff: a rule someone else added is removed", "[diff]") {
  Ruleset live = withHandles(compiled(three()));
  KernelRule stranger;
  stranger.chain = "input";
  stranger.handle = 9999;
  live.rules.insert(live.rules.begin() + 3, stranger);
  Changes c = diff(compiled(three()), live, true);
  REQUIRE(c.delete_rules.size() == 1);
  CHECK(c.delete_rules[0].handle == 9999);
  CHECK(c.add_rules.empty());
}

TEST_CASE("fw diff: one rule changed among 10,000 is a one-rule transaction", "[diff]") {
  Policy p;
  for (int i = 0; i < 10'000; ++i) {
    auto ip = fmt::format("10.{}.{}.0/24", i / 256, i % 256);
    p.rules.push_back(allow(fmt::format("r{}", i), {fmt::format("{}/tcp", 1000 + i % 50000)}, {ip}));
  }
  Ruleset live = withHandles(compiled(p));
  p.rules[5000].ports = {port("9/tcp")};
  Changes c = diff(compiled(p), live, true);
  CHECK(c.delete_rules.size() == 1);
  CHECK(c.add_rules.size() == 1);
  CHECK(c.add_sets.empty());
  CHECK(c.chains.empty());
}
