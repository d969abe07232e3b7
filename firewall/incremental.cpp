#include "firewall/incremental.h"

#include <algorithm>
#include <map>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace rampart::fw {
namespace {

// Kernel rules that belong to a policy rule, by its name.
bool ofPolicyRule(const KernelRule& r) {
  return r.tag.kind == RuleKind::Policy || r.tag.kind == RuleKind::Cli || r.tag.kind == RuleKind::Meter;
}

// Where new kernel rules go in the live table: before the first kernel rule
// of a kept policy rule, or before a chain's closing rules, or at its end.
class Anchors {
 public:
  explicit Anchors(const Ruleset& live) : live_(live) {}

  // Handle of the first kernel rule of policy rule `name` (0: none).
  uint64_t firstOf(std::string_view name) {
    if (++asked_ > 4 && index_.empty()) {
      // Many anchors: one pass over the table instead of one per anchor.
      for (const KernelRule& r : live_.rules)
        if (ofPolicyRule(r)) index_.try_emplace(r.tag.name, r.handle);
    }
    if (!index_.empty()) {
      auto it = index_.find(name);
      return it == index_.end() ? 0 : it->second;
    }
    for (const KernelRule& r : live_.rules)
      if (ofPolicyRule(r) && r.tag.name == name) return r.handle;
    return 0;
  }

  // Handle of the first rule that closes the chain (policy drop counter,
  // drop log), 0 when the chain has none.
  uint64_t chainEnd(std::string_view chain) {
    for (const KernelRule& r : live_.rules)
      if (r.chain == chain && (r.tag.kind == RuleKind::PolicyDrop || r.tag.kind == RuleKind::LogDrop))
        return r.handle;
    return 0;
  }

 private:
  const Ruleset& live_;
  size_t asked_ = 0;
  std::unordered_map<std::string_view, uint64_t> index_;
};

}  // namespace

bool sameCompiledRule(const Rule& a, const Rule& b) {
  return a.name == b.name && a.action == b.action && a.hook == b.hook && a.origin == b.origin &&
         a.limit == b.limit && a.ports == b.ports && a.from == b.from && a.from_groups == b.from_groups;
}

std::optional<Changes> diffIncremental(const Policy& old_policy, const std::vector<Ban>& old_bans,
                                       const Policy& policy, const std::vector<Ban>& bans, const Ruleset& live,
                                       const CompileOptions& options) {
  if (old_policy.input_policy != policy.input_policy || old_policy.forward_policy != policy.forward_policy ||
      old_policy.output_policy != policy.output_policy || old_policy.log_dropped != policy.log_dropped ||
      old_policy.builtins != policy.builtins)
    return std::nullopt;
  // Rule tables stand for many rules at once: compile() and diff() then,
  // which for a table is a set element diff.
  if (compilesToRuns(old_policy) || compilesToRuns(policy)) return std::nullopt;

  // Rules: the common head and tail are kept; in the middle, a rule with the
  // same name and the same meaning is kept too, if the kept ones are still
  // in the same order (a reorder is left to diff(), which keeps the longest
  // ordered run).
  const std::vector<Rule>& was = old_policy.rules;
  const std::vector<Rule>& now = policy.rules;
  size_t head = 0;
  while (head < was.size() && head < now.size() && sameCompiledRule(was[head], now[head])) ++head;
  size_t tail = 0;
  while (tail < was.size() - head && tail < now.size() - head &&
         sameCompiledRule(was[was.size() - 1 - tail], now[now.size() - 1 - tail]))
    ++tail;
  const size_t was_end = was.size() - tail;
  const size_t now_end = now.size() - tail;

  std::unordered_map<std::string_view, size_t> was_middle;
  for (size_t i = head; i < was_end; ++i) was_middle.emplace(was[i].name, i);
  std::vector<bool> kept_was(was_end - head, false), kept_now(now_end - head, false);
  size_t last_kept = 0;
  bool any_kept = false;
  for (size_t j = head; j < now_end; ++j) {
    auto it = was_middle.find(now[j].name);
    if (it == was_middle.end() || !sameCompiledRule(was[it->second], now[j])) continue;
    if (any_kept && it->second < last_kept) return std::nullopt;
    kept_was[it->second - head] = kept_now[j - head] = true;
    last_kept = it->second;
    any_kept = true;
  }

  Changes out;
  // The kernel rules of every rule that goes (or changes).
  std::unordered_set<std::string_view> gone;
  for (size_t i = head; i < was_end; ++i)
    if (!kept_was[i - head]) gone.insert(was[i].name);
  if (!gone.empty())
    for (const KernelRule& r : live.rules)
      if (ofPolicyRule(r) && gone.contains(r.tag.name)) out.delete_rules.push_back(r);

  // The sets the new rules need, the groups that changed, the bans.
  std::map<std::string, Set> want;
  Anchors anchors(live);
  // For each hook, the next rule after position j that stays: walking back
  // from the end, so each new rule finds its anchor in one step.
  std::vector<std::pair<size_t, std::string_view>> added;  // (index in now, anchor rule name or "")
  {
    std::string_view next[3] = {{}, {}, {}};
    for (size_t j = now.size(); j-- > head;) {
      bool stays = j >= now_end || kept_now[j - head];
      if (!stays) added.emplace_back(j, next[static_cast<size_t>(now[j].hook)]);
      else next[static_cast<size_t>(now[j].hook)] = now[j].name;
    }
    std::ranges::reverse(added);
  }
  for (const auto& [j, anchor_name] : added) {
    const Rule* rule = &now[j];
    Ruleset compiled = compileRules(policy, std::span<const Rule* const>(&rule, 1), options);
    const std::string_view chain = chainName(rule->hook);
    uint64_t anchor = anchor_name.empty() ? anchors.chainEnd(chain) : anchors.firstOf(anchor_name);
    if (!anchor_name.empty() && anchor == 0) return std::nullopt;  // the table is not what was compiled
    // Before the anchor; with none, appended (a position of 0 without
    // NLM_F_APPEND would put the rule first).
    for (KernelRule& r : compiled.rules)
      out.add_rules.push_back(RuleAdd{std::move(r), anchor, anchor == 0, SIZE_MAX});
    for (Set& s : compiled.sets) want.insert_or_assign(s.name, std::move(s));
  }

  std::map<std::string_view, const Group*> old_groups;
  for (const Group& g : old_policy.groups) old_groups.emplace(g.name, &g);
  std::vector<std::string> maybe_unused;  // sets that may have lost their last user
  for (const Group& g : policy.groups) {
    auto it = old_groups.find(g.name);
    bool same = it != old_groups.end() && it->second->cidrs == g.cidrs && it->second->resolved == g.resolved;
    if (it != old_groups.end()) old_groups.erase(it);
    if (same) continue;
    for (Family f : {Family::V4, Family::V6}) {
      std::string name = groupSetName(g.name, f);
      if (want.contains(name) || live.findSet(name) == nullptr) continue;
      want.emplace(name, groupSet(g, f));
    }
  }
  for (const auto& [name, g] : old_groups)  // groups no longer in the policy
    for (Family f : {Family::V4, Family::V6}) maybe_unused.push_back(groupSetName(name, f));

  const bool bans_changed =
      bans != old_bans || std::ranges::any_of(bans, [&](const Ban& b) { return b.expires && *b.expires <= options.now; });
  if (bans_changed)
    for (Set& s : compileBanSets(bans, options)) want.insert_or_assign(s.name, std::move(s));

  for (auto& [name, s] : want) {
    const Set* l = live.findSet(name);
    if (l == nullptr) {
      out.add_sets.push_back(std::move(s));
    } else if (!l->sameShape(s)) {
      // Only a set one rule owns may change shape here: that rule is being
      // replaced. A group's or the bans' set is used by rules that stay.
      if (name.starts_with("g_") || name.starts_with("bans_")) return std::nullopt;
      out.delete_sets.push_back(name);
      out.add_sets.push_back(std::move(s));
    } else {
      diffSetElements(s, *l, out);
    }
  }

  // Sets of the rules that went: their own, and their groups' when no rule
  // uses the group any more.
  for (size_t i = head; i < was_end; ++i) {
    if (kept_was[i - head]) continue;
    for (std::string& name : ownedSetNames(was[i].name)) maybe_unused.push_back(std::move(name));
    for (const std::string& group : was[i].from_groups)
      for (Family f : {Family::V4, Family::V6}) maybe_unused.push_back(groupSetName(group, f));
  }
  std::optional<std::unordered_set<std::string>> used_groups;
  std::ranges::sort(maybe_unused);
  maybe_unused.erase(std::unique(maybe_unused.begin(), maybe_unused.end()), maybe_unused.end());
  for (const std::string& name : maybe_unused) {
    if (want.contains(name) || live.findSet(name) == nullptr) continue;
    if (name.starts_with("g_")) {
      if (!used_groups) {
        used_groups.emplace();
        for (const Rule& r : now)
          for (const std::string& group : r.from_groups)
            for (Family f : {Family::V4, Family::V6}) used_groups->insert(groupSetName(group, f));
      }
      if (used_groups->contains(name)) continue;
    }
    out.delete_sets.push_back(name);
  }
  return out;
}

}  // namespace rampart::fw
