// Policy + bans -> the Ruleset the kernel should hold. Pure and
// deterministic: no kernel, no privileges, same input -> same output.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "firewall/policy.h"
#include "firewall/ruleset.h"

namespace rampart::fw {

struct CompileOptions {
  std::string table = "rampart";
  // Ban expiry becomes a kernel element timeout relative to this instant;
  // bans already expired at `now` are left out.
  std::chrono::system_clock::time_point now{};
};

// Input chain order: bans, builtins, policy rules in order, the
// policy-drop counter, log of drops. Forward: builtins, its rules, the
// forward_interfaces' accepts, the policy-drop counter, log. Group sources become sets g_<group>_v4/_v6,
// multi-port lists p_<rule>_tcp/_udp, several literal sources
// s_<rule>_v4/_v6, per-source limits meter_<rule>_v4/_v6.
Ruleset compile(const Policy& policy, const std::vector<Ban>& bans, const CompileOptions& options = {});

// At least this many consecutive rules of one simple shape, verdict and
// origin become one rule table (a set lookup with a counter per element)
// instead of one kernel rule each. Tables are numbered within their kind:
// run_<chain>_<cfg|cli>_<allow|deny>_src<N> with sets _v4 and _v6 (source
// address . protocol . port), run_..._any<N> with set _any (protocol . port).
inline constexpr size_t kMinRunRules = 16;

struct RuleRun {
  std::string name;  // run_input_cfg_allow_src0; its sets add _v4/_v6 or _any
  Hook hook = Hook::Input;
  bool sourced = false;         // key with the source address (v4 and v6 sets)
  std::vector<size_t> members;  // indices into Policy::rules, in order
};
struct RuleRuns {
  std::vector<RuleRun> runs;
  std::vector<size_t> run_of;  // per policy rule: index into runs, SIZE_MAX if none
};
// Whether the output chain decides anything (its policy is drop, or a rule
// is in it): then it starts with the builtins that keep the node's own
// traffic going (loopback, established, ICMP), as input does.
bool filtersOutput(const Policy& policy);

// Whether compile() puts this rule after its chain's policy rules: the
// forward_interfaces' accepts, the policy-drop counter, the drop log. A
// chain's new policy rules go before the first of them.
bool closesChain(const KernelRule& rule);

// Which rules compile() puts into rule tables.
RuleRuns ruleRuns(const Policy& policy);
// One run's kernel rules and sets, as compile() makes them.
Ruleset compileRun(const Policy& policy, const RuleRun& run, const CompileOptions& options = {});
std::vector<std::string> runSetNames(const RuleRun& run);
// The elements one rule brings to a run's set for family f (nullopt: the
// _any set), before the run drops keys an earlier rule has.
std::vector<SetElem> runElements(const Rule& rule, std::optional<Family> family);
size_t runElementCount(const Rule& rule, std::optional<Family> family);  // runElements(...).size()

// Parts of compile() for the engine's incremental path (incremental.h).
// The kernel rules of these policy rules alone, in compile()'s order, with
// the sets they use (their own and their groups').
Ruleset compileRules(const Policy& policy, std::span<const Rule* const> rules, const CompileOptions& options = {});
// Sets of addresses and networks (a group's members, the bans) are hash
// sets by prefix length, so one member more or less is one element,
// whatever their number (an interval set is a tree the kernel walks whole
// on every commit that changes it): the addresses in one set (g_<group>_v4,
// bans_v4), the networks of each prefix length as network addresses in a
// set of their own (g_<group>_v4_24, bans_v4_24). A rule looks the source
// up in each, masked to the set's prefix length: one hash lookup per length
// there is. The addresses' set comes first and always exists (a first
// member of a family is an element change); the networks' sets follow,
// longest prefix first.
struct PrefixSet {
  uint8_t prefix = 32;  // 32 / 128: the addresses' set
  Set set;
};
// The key of a network in its prefix length's set: its address, which has
// no host bits (Cidr::parse refuses them; Cidr::contains and the nft
// matches rely on it too).
Bytes networkKey(const Cidr& c);
// bans_v4, bans_v6; bans_v4_<prefix> for the banned networks of a length.
std::string banSetName(Family family, std::optional<uint8_t> prefix = std::nullopt);
// The ban sets of one family, each element with the time its ban has left.
std::vector<PrefixSet> banSets(const std::vector<Ban>& bans, Family family, const CompileOptions& options = {});
// Every ban set of both families, as compile() makes them.
std::vector<Set> compileBanSets(const std::vector<Ban>& bans, const CompileOptions& options = {});
// The element a ban has in its prefix length's set, with the time it has
// left; nullopt once it has expired (options.now).
std::optional<SetElem> banElement(const Ban& ban, const CompileOptions& options);
// Of two elements for the same key, whether `a` lives longer than `b` (a
// permanent one outlives any other): the one a ban set keeps.
bool outlives(const SetElem& a, const SetElem& b);
// A group's sets for one family (literal and resolved members).
std::vector<PrefixSet> groupSets(const Group& group, Family family);
// The size a group's hash set is created with: 0 (no limit) below 4,096
// elements, else twice the elements rounded up to a power of two. The
// kernel sizes its hash table from it once instead of growing it step by
// step while 100,000 elements go in (half the time of such an apply); it is
// also a limit, so a group that outgrows it gets a new set.
uint32_t hashSetSize(size_t elements);
// g_<group>_v4, and g_<group>_v4_<prefix> for a set of networks.
std::string groupSetName(std::string_view group, Family family, std::optional<uint8_t> prefix = std::nullopt);
// The name of the addresses' set of the group a set belongs to: itself for
// g_<group>_v4, g_<group>_v4 for g_<group>_v4_24; empty for other sets.
std::string_view groupSetBase(std::string_view set);
// Every set a rule may own (s_, d_, p_, meter_): no other rule uses them.
std::vector<std::string> ownedSetNames(std::string_view rule);

// The elements of an interval set holding these networks: sorted half-open
// ranges, overlapping and adjacent ones merged.
std::vector<SetElem> cidrElements(const std::vector<Cidr>& cidrs, Family family);

}  // namespace rampart::fw
