#include "firewall/incremental.h"

#include <algorithm>
#include <bitset>
#include <map>
#include <span>
#include <string_view>
#include <unordered_map>
#include <unordered_set>

namespace rampart::fw {
namespace {

// Where two lists of `a` and `b` entries differ: the entries before `head`
// and the last `tail` ones are the same in both (`same(i, j)` compares entry
// i of the first with entry j of the second); the tail never overlaps the
// head.
struct Stretch {
  size_t head = 0;
  size_t tail = 0;
};
template <class Same>
Stretch changedStretch(size_t a, size_t b, Same same) {
  Stretch s;
  while (s.head < a && s.head < b && same(s.head, s.head)) ++s.head;
  while (s.tail < a - s.head && s.tail < b - s.head && same(a - 1 - s.tail, b - 1 - s.tail)) ++s.tail;
  return s;
}

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

  // Handle of the first kernel rule of rule table `run` (its _v4 or _any
  // rule; 0: none).
  uint64_t firstOfTable(std::string_view run) {
    for (const KernelRule& r : live_.rules)
      if (r.tag.kind == RuleKind::Run && r.tag.name.starts_with(run) && r.tag.name.size() == run.size() + 3 &&
          r.tag.name[run.size()] == '_')
        return r.handle;
    return 0;
  }

  // Handle of the first rule that closes the chain (closesChain), 0 when
  // the chain has none.
  uint64_t chainEnd(std::string_view chain) {
    for (const KernelRule& r : live_.rules)
      if (r.chain == chain && closesChain(r)) return r.handle;
    return 0;
  }

 private:
  const Ruleset& live_;
  size_t asked_ = 0;
  std::unordered_map<std::string_view, uint64_t> index_;
};

// The family of a run's k-th set (runSetNames order: _v4, _v6; or _any).
std::optional<Family> runSetFamily(const RuleRun& run, size_t k) {
  if (!run.sourced) return std::nullopt;
  return k == 0 ? Family::V4 : Family::V6;
}

// Appends the elements `rule` brings to each of `run`'s sets to `into`,
// by set name.
void addRunElements(const RuleRun& run, const Rule& rule, std::map<std::string, Set>& into) {
  const std::vector<std::string> names = runSetNames(run);
  for (size_t k = 0; k < names.size(); ++k) {
    Set& s = into[names[k]];
    for (SetElem& e : runElements(rule, runSetFamily(run, k))) s.elems.push_back(std::move(e));
  }
}

// Sorted element adds and deletes of set `live`, as Changes carry them.
void addElementChanges(const Set& live, std::vector<SetElem> adds, std::vector<SetElem> dels, Changes& out) {
  if (!dels.empty()) {
    out.delete_elems.push_back(live.withoutElements());
    out.delete_elems.back().elems = std::move(dels);
  }
  if (!adds.empty()) {
    out.add_elems.push_back(live.withoutElements());
    out.add_elems.back().elems = std::move(adds);
  }
}

// The members of a group, literal and resolved, in order.
std::vector<const Cidr*> membersOf(const Group& g) {
  std::vector<const Cidr*> out;
  out.reserve(g.cidrs.size() + g.resolved.size());
  for (const auto* list : {&g.cidrs, &g.resolved})
    for (const Cidr& c : *list) out.push_back(&c);
  return out;
}

// The sets a live table holds for each group and family, by the name of
// the addresses' set (groupSetBase).
class LiveGroupSets {
 public:
  explicit LiveGroupSets(const Ruleset& live) {
    for (const Set& s : live.sets)
      if (std::string_view base = groupSetBase(s.name); !base.empty()) sets_[base].push_back(s.name);
    for (auto& [base, names] : sets_) std::ranges::sort(names);
  }
  // Sorted; empty when no rule uses the group.
  const std::vector<std::string_view>& of(std::string_view base) const {
    static const std::vector<std::string_view> kNone;
    auto it = sets_.find(base);
    return it == sets_.end() ? kNone : it->second;
  }

 private:
  std::unordered_map<std::string_view, std::vector<std::string_view>> sets_;
};

// Puts `sets`, a group's or the bans' sets compiled again, into `want`, if
// they are the sets the live table has for them (`have`): a prefix length
// more or fewer changes the rules that look them up, which the incremental
// path does not do. False then.
bool replaceSets(std::vector<Set> sets, std::vector<std::string_view> have, std::map<std::string, Set>& want) {
  std::vector<std::string_view> names;
  for (const Set& s : sets) names.push_back(s.name);
  std::ranges::sort(names);
  std::ranges::sort(have);
  if (names != have) return false;
  for (Set& s : sets) {
    std::string name = s.name;
    want.insert_or_assign(std::move(name), std::move(s));
  }
  return true;
}

// The element changes of one family's sets of a group that gained or lost
// a few members, found without rebuilding its sets: the members differ
// only in one stretch of the list, and the group keeps the prefix lengths
// it has, each in a set of the same size (so its rules stay). A removed
// member's element goes unless another member is the same network. False
// when that does not hold: then the sets are compiled again.
bool groupDelta(const Group& was, const Group& now, Family f, const Ruleset& live, Changes& out) {
  constexpr size_t kMaxDelta = 1024;
  std::vector<const Cidr*> a = membersOf(was), b = membersOf(now);
  const auto [head, tail] = changedStretch(a.size(), b.size(), [&](size_t i, size_t j) { return *a[i] == *b[j]; });
  const size_t gone_n = a.size() - head - tail, came_n = b.size() - head - tail;
  if (gone_n + came_n > kMaxDelta) return false;
  const size_t key_len = f == Family::V4 ? 4 : 16;
  const auto full = static_cast<uint8_t>(key_len * 8);
  auto keyOf = [](const Cidr& c) { return SetElem::of(networkKey(c)); };
  struct Delta {
    const Set* live = nullptr;
    std::vector<SetElem> adds, dels;
  };
  std::map<uint8_t, Delta> by_prefix;
  auto deltaOf = [&](const Cidr& c) -> Delta* {
    Delta& d = by_prefix[c.prefix];
    if (d.live == nullptr) {
      d.live = live.findSet(groupSetName(now.name, f, c.prefix == full ? std::nullopt : std::optional(c.prefix)));
      if (d.live == nullptr || d.live->interval()) return nullptr;  // a new prefix length: new rules
    }
    return &d;
  };
  for (size_t i = head; i < b.size() - tail; ++i) {
    if (b[i]->family != f) continue;
    Delta* d = deltaOf(*b[i]);
    if (d == nullptr) return false;
    d->adds.push_back(keyOf(*b[i]));
  }
  for (size_t i = head; i < a.size() - tail; ++i) {
    if (a[i]->family != f) continue;
    Delta* d = deltaOf(*a[i]);
    if (d == nullptr) return false;
    d->dels.push_back(keyOf(*a[i]));
  }
  for (auto& [prefix, d] : by_prefix) {
    for (auto* list : {&d.adds, &d.dels}) {
      std::ranges::sort(*list);
      list->erase(std::unique(list->begin(), list->end()), list->end());
    }
  }
  if (std::ranges::any_of(by_prefix, [](const auto& p) { return !p.second.dels.empty(); })) {
    // A removed network stays while another member is the same network.
    // Compared as bytes: no element is built per member of a large group.
    auto less = [](const SetElem& e, std::span<const uint8_t> key) {
      return std::ranges::lexicographical_compare(e.key, key);
    };
    for (const Cidr* c : b) {
      if (c->family != f) continue;
      auto it = by_prefix.find(c->prefix);
      if (it == by_prefix.end() || it->second.dels.empty()) continue;
      std::vector<SetElem>& dels = it->second.dels;
      std::span<const uint8_t> k(c->addr.data(), key_len);  // its network key (networkKey)
      auto at = std::lower_bound(dels.begin(), dels.end(), k, less);
      if (at != dels.end() && std::ranges::equal(at->key, k)) dels.erase(at);
    }
  }
  for (auto& [prefix, d] : by_prefix) {
    std::erase_if(d.adds, [&](const SetElem& e) { return std::ranges::binary_search(d.live->elems, e); });
    const size_t n = d.live->elems.size() + d.adds.size() - d.dels.size();
    if (n == 0 && prefix != full) return false;              // the length's last network went: its set and rules go
    if (hashSetSize(n) != d.live->size) return false;        // resized: a new set
  }
  for (auto& [prefix, d] : by_prefix) addElementChanges(*d.live, std::move(d.adds), std::move(d.dels), out);
  return true;
}

// The element changes of one family's ban sets when a few bans came, went
// or got a new expiry, found without compiling the sets again (100,000 bans
// would be sorted and compared for one `fw ban`): the bans differ only in
// one stretch of the list, none has expired, and every prefix length they
// touch has its set, which keeps its size and does not empty (so the ban
// rules stay). False when that does not hold: then the sets are compiled
// again.
// `stretch`: where the two lists differ (changedStretch), found once for
// both families.
bool banDelta(const std::vector<Ban>& was, const std::vector<Ban>& now, Stretch stretch, Family f,
              const Ruleset& live, const CompileOptions& options, Changes& out) {
  const auto [head, tail] = stretch;
  const auto full = static_cast<uint8_t>(f == Family::V4 ? 32 : 128);
  // The networks whose element may change (prefix length, key): those of
  // the stretch.
  struct Touched {
    uint8_t prefix;
    Bytes key;
    auto operator<=>(const Touched&) const = default;
  };
  std::vector<Touched> touched;
  for (const auto& [list, end] : {std::pair{&was, was.size() - tail}, std::pair{&now, now.size() - tail}}) {
    for (size_t i = head; i < end; ++i) {
      const Cidr& c = (*list)[i].cidr;
      if (c.family == f) touched.push_back(Touched{c.prefix, networkKey(c)});
    }
  }
  std::ranges::sort(touched);
  touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
  if (touched.empty()) return true;
  // Their elements as compile() makes them: every ban of the network
  // counts, also one outside the stretch, and the longest-lived wins.
  std::vector<std::optional<SetElem>> want(touched.size());
  // A byte folded from each touched key: most bans are ruled out by one
  // test instead of a search (100,000 of them for one `fw ban`).
  const size_t len = f == Family::V4 ? 4 : 16;
  auto fold = [len](const uint8_t* k) {
    uint8_t x = 0;
    for (size_t i = 0; i < len; ++i) x ^= k[i];
    return x;
  };
  std::bitset<256> folds;
  for (const Touched& t : touched) folds.set(fold(t.key.data()));
  for (const Ban& b : now) {
    if (b.cidr.family != f || !folds.test(fold(b.cidr.addr.data()))) continue;
    std::span<const uint8_t> k(b.cidr.addr.data(), len);  // its network key (networkKey)
    auto at = std::lower_bound(touched.begin(), touched.end(), std::pair{b.cidr.prefix, k},
                               [](const Touched& t, const std::pair<uint8_t, std::span<const uint8_t>>& p) {
                                 if (t.prefix != p.first) return t.prefix < p.first;
                                 return std::ranges::lexicographical_compare(t.key, p.second);
                               });
    if (at == touched.end() || at->prefix != b.cidr.prefix || !std::ranges::equal(at->key, k)) continue;
    std::optional<SetElem> e = banElement(b, options);
    if (!e) continue;
    auto& slot = want[static_cast<size_t>(at - touched.begin())];
    if (!slot || outlives(*e, *slot)) slot = std::move(e);
  }
  // Per prefix length: the wanted and the live elements of the touched keys.
  struct Part {
    const Set* live = nullptr;
    Set want, have;
  };
  std::map<uint8_t, Part> parts;
  for (size_t k = 0; k < touched.size(); ++k) {
    const uint8_t prefix = touched[k].prefix;
    Part& p = parts[prefix];
    if (p.live == nullptr) {
      p.live = live.findSet(banSetName(f, prefix == full ? std::nullopt : std::optional(prefix)));
      if (p.live == nullptr || p.live->interval()) return false;  // a new length: a set and a rule more
      p.want = p.live->withoutElements();
      p.have = p.live->withoutElements();
    }
    if (want[k]) p.want.elems.push_back(std::move(*want[k]));
    auto at = std::ranges::lower_bound(p.live->elems, touched[k].key, {}, &SetElem::key);
    if (at != p.live->elems.end() && at->key == touched[k].key) p.have.elems.push_back(*at);
  }
  for (const auto& [prefix, p] : parts) {
    const size_t size = p.live->elems.size() + p.want.elems.size() - p.have.elems.size();
    if (size == 0 && prefix != full) return false;             // the length's last ban went: its set and rule go
    if (hashSetSize(size) != p.live->size) return false;      // resized: a new set
  }
  for (const auto& [prefix, p] : parts) diffSetElements(p.want, p.have, out);
  return true;
}

// The bans' part of a change: a few bans more or less are their elements
// (banDelta, into `out`); else the ban sets are compiled again into `want`.
// False: not a change this path takes.
bool banChanges(const std::vector<Ban>& old_bans, const std::vector<Ban>& bans, const Ruleset& live,
                const CompileOptions& options, Changes& out, std::map<std::string, Set>& want) {
  constexpr size_t kMaxDelta = 1024;
  const bool expired =
      std::ranges::any_of(bans, [&](const Ban& b) { return b.expires && *b.expires <= options.now; });
  // One pass over both lists (100,000 bans for a `fw ban`) finds what differs.
  const Stretch stretch =
      changedStretch(old_bans.size(), bans.size(), [&](size_t i, size_t j) { return old_bans[i] == bans[j]; });
  const size_t differ = old_bans.size() + bans.size() - 2 * (stretch.head + stretch.tail);
  if (differ == 0 && !expired) return true;
  Changes delta;
  bool by_delta = !expired && differ <= kMaxDelta;
  for (Family f : {Family::V4, Family::V6})
    by_delta = by_delta && banDelta(old_bans, bans, stretch, f, live, options, delta);
  if (by_delta) {
    for (Set& s : delta.add_elems) out.add_elems.push_back(std::move(s));
    for (Set& s : delta.delete_elems) out.delete_elems.push_back(std::move(s));
    return true;
  }
  std::vector<std::string_view> have;
  for (const Set& s : live.sets)
    if (s.name.starts_with("bans_")) have.push_back(s.name);
  return replaceSets(compileBanSets(bans, options), std::move(have), want);
}

// Sets as they must be (`want`) against the live ones: new sets, element
// changes, and a set one rule owns replaced when its shape changed. False
// when a shared set (a group's, a table's, the bans') would change shape:
// the rules that stay use it.
bool wantedSets(std::map<std::string, Set>& want, const std::unordered_set<std::string>& gone_tables,
                const Ruleset& live, Changes& out) {
  for (auto& [name, s] : want) {
    const Set* l = gone_tables.contains(name) ? nullptr : live.findSet(name);
    if (l == nullptr) {
      out.add_sets.push_back(std::move(s));
    } else if (!l->sameShape(s)) {
      if (!name.starts_with("s_") && !name.starts_with("p_") && !name.starts_with("meter_")) return false;
      out.delete_sets.push_back(name);
      out.add_sets.push_back(std::move(s));
    } else {
      diffSetElements(s, *l, out);
    }
  }
  return true;
}

}  // namespace

bool sameCompiledRule(const Rule& a, const Rule& b) {
  return a.name == b.name && a.action == b.action && a.hook == b.hook && a.origin == b.origin &&
         a.limit == b.limit && a.ports == b.ports && a.from == b.from && a.from_groups == b.from_groups &&
         a.to == b.to && a.interfaces == b.interfaces;
}

std::optional<Changes> diffIncremental(const Policy& old_policy, const std::vector<Ban>& old_bans,
                                       const Policy& policy, const std::vector<Ban>& bans, const Ruleset& live,
                                       const CompileOptions& options) {
  if (old_policy.input_policy != policy.input_policy || old_policy.forward_policy != policy.forward_policy ||
      old_policy.output_policy != policy.output_policy || old_policy.log_dropped != policy.log_dropped ||
      old_policy.builtins != policy.builtins || old_policy.forward_interfaces != policy.forward_interfaces)
    return std::nullopt;
  if (&old_policy != &policy && filtersOutput(old_policy) != filtersOutput(policy))
    return std::nullopt;  // the output builtins come or go
  if (&old_policy == &policy) {
    // The policy as it was (a `fw ban`): only the bans can differ.
    Changes out;
    std::map<std::string, Set> want;
    if (!banChanges(old_bans, bans, live, options, out, want) || !wantedSets(want, {}, live, out)) return std::nullopt;
    return out;
  }

  const std::vector<Rule>& was = old_policy.rules;
  const std::vector<Rule>& now = policy.rules;
  const RuleRuns was_runs = ruleRuns(old_policy);
  const RuleRuns now_runs = ruleRuns(policy);
  auto runOf = [](const RuleRuns& l, size_t i) -> const RuleRun* {
    return l.run_of[i] == SIZE_MAX ? nullptr : &l.runs[l.run_of[i]];
  };
  // A rule stays when it means the same and sits in the same rule table
  // (or in none, both times).
  auto stays = [&](size_t i, size_t j) {
    const RuleRun* a = runOf(was_runs, i);
    const RuleRun* b = runOf(now_runs, j);
    if ((a == nullptr) != (b == nullptr) || (a != nullptr && a->name != b->name)) return false;
    return sameCompiledRule(was[i], now[j]);
  };

  // Rules: the common head and tail stay; in the middle, a rule with the
  // same name that stays is kept too, if the kept ones are still in the
  // same order (a reorder is left to diff(), which keeps the longest
  // ordered run).
  const auto [head, tail] = changedStretch(was.size(), now.size(), stays);
  const size_t was_end = was.size() - tail;
  const size_t now_end = now.size() - tail;

  std::unordered_map<std::string_view, size_t> was_middle;
  for (size_t i = head; i < was_end; ++i) was_middle.emplace(was[i].name, i);
  std::vector<bool> kept_was(was_end - head, false), kept_now(now_end - head, false);
  size_t last_kept = 0;
  bool any_kept = false;
  for (size_t j = head; j < now_end; ++j) {
    auto it = was_middle.find(now[j].name);
    if (it == was_middle.end() || !stays(it->second, j)) continue;
    if (any_kept && it->second < last_kept) return std::nullopt;
    kept_was[it->second - head] = kept_now[j - head] = true;
    last_kept = it->second;
    any_kept = true;
  }

  // Rule tables in both: same name, key and verdict (one kernel rule that
  // stays, with element changes).
  std::unordered_map<std::string_view, const RuleRun*> was_tables;
  for (const RuleRun& r : was_runs.runs) was_tables.emplace(r.name, &r);
  // Tables are numbered within their kind, so one name may stand for other
  // rules after a change: the same table is one that keeps a rule of it
  // (then, kept rules keeping their order, it also keeps its place).
  auto keptNow = [&](size_t j) { return j < head || j >= now_end || kept_now[j - head]; };
  std::unordered_map<std::string_view, const RuleRun*> common;  // name -> the old run
  for (const RuleRun& r : now_runs.runs) {
    auto it = was_tables.find(r.name);
    if (it != was_tables.end() && it->second->sourced == r.sourced &&
        was[it->second->members.front()].action == now[r.members.front()].action &&
        std::ranges::any_of(r.members, keptNow))
      common.emplace(r.name, it->second);
  }

  Changes out;
  const LiveGroupSets live_groups(live);
  std::map<std::string, Set> want;                    // sets as they must be
  std::map<std::string, Set> run_adds, run_dels;      // element changes of tables that stay
  std::vector<std::string> maybe_unused;              // sets that may have lost their last user

  // What goes: a rule's own kernel rules, or its elements in a table that
  // stays, or the whole table when it goes.
  std::unordered_set<std::string_view> gone_rules;
  std::unordered_set<std::string> gone_tables;
  for (size_t i = head; i < was_end; ++i) {
    if (kept_was[i - head]) continue;
    const RuleRun* run = runOf(was_runs, i);
    if (run == nullptr) {
      gone_rules.insert(was[i].name);
      for (std::string& name : ownedSetNames(was[i].name)) maybe_unused.push_back(std::move(name));
      for (const std::string& group : was[i].from_groups)
        for (Family f : {Family::V4, Family::V6})
          for (std::string_view name : live_groups.of(groupSetName(group, f))) maybe_unused.emplace_back(name);
    } else if (!common.contains(run->name)) {
      for (std::string& name : runSetNames(*run)) gone_tables.insert(std::move(name));
    } else {
      addRunElements(*run, was[i], run_dels);
    }
  }
  for (const KernelRule& r : live.rules) {
    if ((ofPolicyRule(r) && gone_rules.contains(r.tag.name)) ||
        (r.tag.kind == RuleKind::Run && gone_tables.contains(r.tag.name)))
      out.delete_rules.push_back(r);
  }
  for (const std::string& name : gone_tables)
    if (live.findSet(name) != nullptr) out.delete_sets.push_back(name);

  // What comes, placed before the next rule of its chain that stays (its
  // first kernel rule, or its table's), else before the chain's closing
  // rules, else at the end.
  Anchors anchors(live);
  struct Next {
    std::string_view name;  // a rule, or a table (run name)
    bool table = false;
  };
  std::vector<std::pair<size_t, Next>> added;  // (index in now, anchor)
  {
    Next next[3] = {};
    for (size_t j = now.size(); j-- > head;) {
      bool kept = j >= now_end || kept_now[j - head];
      Next& n = next[static_cast<size_t>(now[j].hook)];
      if (!kept) {
        added.emplace_back(j, n);
      } else if (const RuleRun* run = runOf(now_runs, j)) {
        n = Next{run->name, true};
      } else {
        n = Next{now[j].name, false};
      }
    }
    std::ranges::reverse(added);
  }
  for (const auto& [j, next] : added) {
    const std::string_view chain = chainName(now[j].hook);
    uint64_t anchor = 0;
    if (next.name.empty()) anchor = anchors.chainEnd(chain);
    else if (next.table) anchor = anchors.firstOfTable(next.name);
    else anchor = anchors.firstOf(next.name);
    if (!next.name.empty() && anchor == 0) return std::nullopt;  // the table is not what was compiled

    Ruleset compiled;
    const RuleRun* run = runOf(now_runs, j);
    if (run == nullptr) {
      const Rule* rule = &now[j];
      compiled = compileRules(policy, std::span<const Rule* const>(&rule, 1), options);
    } else if (!common.contains(run->name)) {
      if (run->members.front() != j) continue;  // the table comes with its first rule
      compiled = compileRun(policy, *run, options);
    } else {
      addRunElements(*run, now[j], run_adds);
      continue;
    }
    // Before the anchor; with none, appended (a position of 0 without
    // NLM_F_APPEND would put the rule first).
    for (KernelRule& r : compiled.rules)
      out.add_rules.push_back(RuleAdd{std::move(r), anchor, anchor == 0, SIZE_MAX});
    for (Set& s : compiled.sets) want.insert_or_assign(s.name, std::move(s));
  }

  // Tables that stay with rules in or out: element changes, when the table
  // holds exactly its rules' elements (no key two rules share) and the new
  // keys are free; otherwise the table's elements are compiled again.
  for (const RuleRun& run : now_runs.runs) {
    auto common_it = common.find(run.name);
    if (common_it == common.end()) continue;
    const std::vector<std::string> names = runSetNames(run);
    bool touched = std::ranges::any_of(names, [&](const std::string& n) { return run_adds.contains(n) || run_dels.contains(n); });
    if (!touched) continue;
    const RuleRun* old_run = common_it->second;
    bool simple = true;
    for (size_t k = 0; k < names.size() && simple; ++k) {
      const Set* l = live.findSet(names[k]);
      if (l == nullptr) return std::nullopt;
      const std::optional<Family> f = runSetFamily(run, k);
      size_t expected = 0;
      for (size_t i : old_run->members) expected += runElementCount(was[i], f);
      if (expected != l->elems.size()) simple = false;  // some key is shared
      Set& a = run_adds[names[k]];
      Set& d = run_dels[names[k]];
      std::ranges::sort(a.elems);
      std::ranges::sort(d.elems);
      // An element a changed rule keeps (same key, same rule) stays as it
      // is, counter and all.
      std::vector<SetElem> only_a, only_d;
      std::ranges::set_difference(a.elems, d.elems, std::back_inserter(only_a));
      std::ranges::set_difference(d.elems, a.elems, std::back_inserter(only_d));
      a.elems = std::move(only_a);
      d.elems = std::move(only_d);
      if (std::ranges::adjacent_find(a.elems, {}, &SetElem::key) != a.elems.end()) simple = false;
      for (const SetElem& e : a.elems) {
        auto at = std::ranges::lower_bound(l->elems, e.key, {}, &SetElem::key);
        bool taken = at != l->elems.end() && at->key == e.key;
        bool freed = std::ranges::binary_search(d.elems, e.key, {}, &SetElem::key);
        if (taken && !freed) simple = false;
      }
    }
    if (!simple) {
      Ruleset compiled = compileRun(policy, run, options);
      for (Set& s : compiled.sets) want.insert_or_assign(s.name, std::move(s));
      continue;
    }
    for (const std::string& name : names) {
      addElementChanges(*live.findSet(name), std::move(run_adds[name].elems), std::move(run_dels[name].elems), out);
    }
  }

  std::map<std::string_view, const Group*> old_groups;
  for (const Group& g : old_policy.groups) old_groups.emplace(g.name, &g);
  for (const Group& g : policy.groups) {
    auto it = old_groups.find(g.name);
    bool same = it != old_groups.end() && it->second->cidrs == g.cidrs && it->second->resolved == g.resolved;
    if (same) {
      old_groups.erase(it);
      continue;
    }
    for (Family f : {Family::V4, Family::V6}) {
      const std::string base = groupSetName(g.name, f);
      const std::vector<std::string_view>& have = live_groups.of(base);
      if (have.empty()) continue;  // no rule uses the group
      if (it != old_groups.end() && !want.contains(base) && groupDelta(*it->second, g, f, live, out)) continue;
      std::vector<Set> sets;
      for (PrefixSet& part : groupSets(g, f)) sets.push_back(std::move(part.set));
      if (!replaceSets(std::move(sets), have, want)) return std::nullopt;
    }
  }
  for (const Group& g : policy.groups) old_groups.erase(g.name);
  for (const auto& [name, g] : old_groups)  // groups no longer in the policy
    for (Family f : {Family::V4, Family::V6})
      for (std::string_view set : live_groups.of(groupSetName(name, f))) maybe_unused.emplace_back(set);

  if (!banChanges(old_bans, bans, live, options, out, want) || !wantedSets(want, gone_tables, live, out))
    return std::nullopt;

  // Sets of single rules that went, and their groups' when no rule uses
  // the group any more.
  std::optional<std::unordered_set<std::string>> used_groups;
  std::ranges::sort(maybe_unused);
  maybe_unused.erase(std::unique(maybe_unused.begin(), maybe_unused.end()), maybe_unused.end());
  for (const std::string& name : maybe_unused) {
    if (want.contains(name) || live.findSet(name) == nullptr) continue;
    if (std::string_view base = groupSetBase(name); !base.empty()) {
      if (!used_groups) {
        used_groups.emplace();
        for (const Rule& r : now)
          for (const std::string& group : r.from_groups)
            for (Family f : {Family::V4, Family::V6}) used_groups->insert(groupSetName(group, f));
      }
      if (used_groups->contains(std::string(base))) continue;
    }
    out.delete_sets.push_back(name);
  }
  return out;
}

}  // namespace rampart::fw
