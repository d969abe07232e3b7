#include "firewall/engine.h"

#include <algorithm>
#include <cstring>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>

#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <libnftnl/expr.h>
#include <unistd.h>

#include "firewall/compile.h"
#include "firewall/diff.h"
#include "firewall/incremental.h"
#include "firewall/netlink.h"

namespace rampart::fw {

struct Engine::Impl {
  EngineOptions options;
  nl::Socket sock;
  nl::EventSocket events;
  std::set<uint32_t> own_tids;   // threads that committed through us
  uint32_t own_generation = 0;   // generation after our last commit
  // The table as our last commit left it, valid while the kernel is still
  // at that generation: then apply() needs no dump (a one-rule change costs
  // a GETGEN, compile, diff and a two-message batch, not a full dump).
  std::optional<Ruleset> cache;
  uint32_t cache_generation = 0;
  // The input that compiled to `cache`: the same input again while the
  // kernel is still at cache_generation needs neither compile nor diff.
  std::optional<Policy> cache_policy;
  std::vector<Ban> cache_bans;

  // Engine::dump (every element) or dumpCounters.
  Result<LiveState> liveState(bool counters_only);

  // Whether apply(policy, bans) at `now` would compile to `cache` again.
  // Bans are compared as values; one that has expired since changes the
  // compiled elements, so then the answer is no.
  bool sameInput(const Policy& policy, const std::vector<Ban>& bans,
                 std::chrono::system_clock::time_point now) const {
    if (!cache || !cache_policy || cache_bans != bans || (&*cache_policy != &policy && *cache_policy != policy))
      return false;
    return std::ranges::none_of(bans, [&](const Ban& b) { return b.expires && *b.expires <= now; });
  }

  // `policy` may be the cached policy itself (appliedPolicy()): then it
  // stays where it is.
  void remember(Ruleset desired, const Changes& changes, const nl::BatchResult& sent, uint32_t generation,
                const Policy& policy, const std::vector<Ban>& bans) {
    const bool same = cache_policy && &*cache_policy == &policy;
    cache_bans = bans;  // in force now, whatever becomes of the cache (dumpCounters)
    cache.reset();
    if (!same) cache_policy.reset();
    for (size_t i = 0; i < desired.rules.size(); ++i) desired.rules[i].handle = changes.kept_handles[i];
    for (size_t k = 0; k < changes.add_rules.size(); ++k)
      desired.rules[changes.add_rules[k].desired_index].handle = sent.added_handles[k];
    for (const KernelRule& r : desired.rules)
      if (r.handle == 0) return;  // an echo was lost: dump next time
    cache = std::move(desired);
    cache_generation = generation;
    if (!same) cache_policy = policy;
  }

  // The cache after an incremental commit: the old table with the changes
  // applied. Many inserted rules cost a scan each; then dump next time.
  void patch(const Changes& changes, const nl::BatchResult& sent, uint32_t generation, const Policy& policy,
             const std::vector<Ban>& bans) {
    constexpr size_t kMaxPatchedRules = 64;
    const bool same = cache_policy && &*cache_policy == &policy;
    cache_bans = bans;  // in force now, whatever becomes of the cache (dumpCounters)
    if (!cache || changes.add_rules.size() > kMaxPatchedRules || !applyChanges(*cache, changes, sent.added_handles)) {
      cache.reset();
      if (!same) cache_policy.reset();  // else it is still the policy applied last
      return;
    }
    cache_generation = generation;
    if (same) return;
    // Assignment reuses the old copy's storage: rules that did not change
    // cost no allocation (room for more rules, so one more is no new copy).
    if (cache_policy->rules.capacity() < policy.rules.size())
      cache_policy->rules.reserve(policy.rules.size() + policy.rules.size() / 8 + 16);
    *cache_policy = policy;
  }
};

namespace {

Action actionOf(const KernelRule& r) {
  for (const Expr& e : r.exprs) {
    if (e.name == "reject") return Action::Reject;
    if (e.name == "immediate" && e.u32(NFTNL_EXPR_IMM_VERDICT) == uint32_t{NF_DROP}) return Action::Deny;
  }
  return Action::Allow;
}

Hook hookOf(std::string_view chain) {
  if (chain == "forward") return Hook::Forward;
  if (chain == "output") return Hook::Output;
  return Hook::Input;
}

}  // namespace

Engine::Engine(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Engine::~Engine() = default;

Result<std::unique_ptr<Engine>> Engine::create(EngineOptions options) {
  auto sock = nl::Socket::open(options.initial_rcvbuf);
  if (sock && options.inject_dump_enobufs > 0) sock->injectDumpOverflow(options.inject_dump_enobufs);
  if (!sock) return std::unexpected(sock.error());
  // A first request tells a missing capability or nf_tables apart early.
  if (auto gen = sock->generation(); !gen) return std::unexpected(gen.error());
  auto events = nl::EventSocket::open(options.table);
  if (!events) return std::unexpected(events.error());
  auto impl = std::unique_ptr<Impl>(new Impl{std::move(options), std::move(*sock), std::move(*events), {}, 0, std::nullopt, 0, std::nullopt, {}});
  return std::unique_ptr<Engine>(new Engine(std::move(impl)));
}

Result<std::optional<Ruleset>> Engine::dumpRuleset() { return impl_->sock.dump(impl_->options.table); }

namespace {

// Of `tags` (movedTags), those of rules that compile in `now` as they did
// in `was`: they only moved.
std::vector<std::string> onlyMoved(std::vector<std::string> tags, const Policy& was, const Policy& now) {
  if (tags.empty()) return tags;
  // Rule names are unique in a policy; a few tags are looked up in place,
  // many (a table renumbered) through an index.
  using Index = std::unordered_map<std::string_view, const Rule*>;
  std::optional<Index> was_index, now_index;
  if (tags.size() > 8) {
    was_index.emplace();
    now_index.emplace();
    for (const Rule& r : was.rules) was_index->emplace(r.name, &r);
    for (const Rule& r : now.rules) now_index->emplace(r.name, &r);
  }
  auto find = [](const Policy& p, const std::optional<Index>& index, const RuleTag& tag) -> const Rule* {
    const Rule* found = nullptr;
    if (index) {
      auto it = index->find(tag.name);
      found = it == index->end() ? nullptr : it->second;
    } else {
      auto it = std::ranges::find(p.rules, tag.name, &Rule::name);
      found = it == p.rules.end() ? nullptr : &*it;
    }
    if (found != nullptr && (found->origin == Origin::Cli) != (tag.kind == RuleKind::Cli)) return nullptr;
    return found;
  };
  std::erase_if(tags, [&](const std::string& text) {
    const RuleTag tag = RuleTag::parse(text);
    const Rule* a = find(was, was_index, tag);
    const Rule* b = find(now, now_index, tag);
    return a == nullptr || b == nullptr || !sameCompiledRule(*a, *b);
  });
  return tags;
}

}  // namespace

Result<ApplyReport> Engine::apply(const Policy& policy, const std::vector<Ban>& bans) {
  ApplyReport report;
  const std::string& table = impl_->options.table;
  bool cache_failed = false;
  for (int attempt = 0; attempt <= impl_->options.max_retries; ++attempt) {
    // The generation first, then the dump: if anything commits in between,
    // the batch carries an older generation and the kernel refuses it.
    auto gen = impl_->sock.generation();
    if (!gen) return std::unexpected(gen.error());
    bool from_cache = impl_->cache && impl_->cache_generation == *gen && !cache_failed;
    const auto now = std::chrono::system_clock::now();
    if (from_cache && impl_->sameInput(policy, bans, now)) {
      report.generation = *gen;
      return report;
    }
    std::optional<Ruleset> dumped;
    if (!from_cache) {
      auto d = impl_->sock.dump(table);
      if (!d) return std::unexpected(d.error());
      dumped = std::move(*d);
    }
    const std::optional<Ruleset>& live = from_cache ? impl_->cache : dumped;
    const CompileOptions compile_options{table, now};
    // From the cache, the policy rules that differ are enough (incremental.h);
    // otherwise, or when that path declines, compile everything and diff.
    std::optional<Changes> incremental;
    if (from_cache && impl_->cache_policy)
      incremental = diffIncremental(*impl_->cache_policy, impl_->cache_bans, policy, bans, *impl_->cache,
                                    compile_options);
    Ruleset desired;
    if (!incremental) desired = compile(policy, bans, compile_options);
    Changes changes = incremental ? std::move(*incremental)
                      : live      ? diff(desired, *live, true)
                                  : diff(desired, Ruleset{}, false);
    if (changes.empty()) {
      impl_->cache_bans = bans;  // in force (dumpCounters); with the cache, what it compiles to
      if (from_cache && (!impl_->cache_policy || &*impl_->cache_policy != &policy)) impl_->cache_policy = policy;
      report.generation = *gen;
      return report;
    }
    // A policy rule that only moves (its neighbours made it join or leave
    // a rule table) keeps its count: read the counters as they are now and
    // start its new kernel rule or element from them.
    if (impl_->cache_policy && live) {
      const std::vector<std::string> tags = onlyMoved(movedTags(changes, *live), *impl_->cache_policy, policy);
      if (!tags.empty()) {
        std::optional<Ruleset> fresh;
        if (!dumped) {
          auto d = impl_->sock.dump(table);
          if (!d) return std::unexpected(d.error());
          fresh = std::move(*d);
        }
        report.counters_carried = carryCounters(changes, dumped ? *dumped : *fresh, tags);
      }
    }
    if (impl_->options.before_commit) impl_->options.before_commit();
    impl_->own_tids.insert(static_cast<uint32_t>(gettid()));
    // A big commit: no events about it (one per element, all ours anyway).
    constexpr size_t kQuietFrom = 1024;
    size_t weight = changes.elementsAdded() + changes.elementsDeleted() + changes.add_rules.size();
    for (const Set& s : changes.add_sets) weight += s.elems.size();
    const bool quiet = weight >= kQuietFrom;
    if (quiet) impl_->events.pause();
    auto sent = impl_->sock.send(table, changes, *gen, true);
    if (impl_->options.after_commit) impl_->options.after_commit();
    if (quiet) {
      impl_->events.resume();
      // Anyone else's commit since ours went unseen: say so.
      auto after = impl_->sock.generation();
      if (sent && !sent->genid_refused && (!after || *after != *gen + 1)) report.unseen_commit = true;
    }
    if (!sent && from_cache) {
      // The kernel changed without a new generation (ban elements time out
      // on their own): look at the real table and try again.
      cache_failed = true;
      impl_->cache.reset();
      --attempt;
      continue;
    }
    if (!sent) return std::unexpected(sent.error());
    if (sent->genid_refused) {
      impl_->cache.reset();
      ++report.retries;
      continue;
    }
    // A commit moves the generation on by exactly one (nf_tables_commit).
    if (incremental) impl_->patch(changes, *sent, *gen + 1, policy, bans);
    else impl_->remember(std::move(desired), changes, *sent, *gen + 1, policy, bans);
    report.messages = sent->messages;
    report.rules_added = changes.add_rules.size();
    report.rules_deleted = changes.delete_rules.size();
    report.elements_added = changes.elementsAdded();
    report.elements_deleted = changes.elementsDeleted();
    report.generation = impl_->own_generation = *gen + 1;
    return report;
  }
  return fail("nftables: the ruleset kept changing while applying (refused {} times); try again",
              report.retries);
}

const Policy* Engine::appliedPolicy() const { return impl_->cache_policy ? &*impl_->cache_policy : nullptr; }

Result<std::string> Engine::plan(const Policy& policy, const std::vector<Ban>& bans, bool kernel_check) {
  const std::string& table = impl_->options.table;
  auto gen = impl_->sock.generation();
  if (!gen) return std::unexpected(gen.error());
  auto live = impl_->sock.dump(table);
  if (!live) return std::unexpected(live.error());
  Ruleset desired = compile(policy, bans, CompileOptions{table, std::chrono::system_clock::now()});
  Changes changes = diff(desired, live->value_or(Ruleset{}), live->has_value());
  if (kernel_check && !changes.empty()) {
    // Without its END message the kernel checks the batch and discards it.
    auto sent = impl_->sock.send(table, changes, *gen, false);
    if (!sent) return std::unexpected(sent.error());
  }
  return describe(changes);
}

Result<LiveState> Engine::dump() { return impl_->liveState(false); }

Result<LiveState> Engine::dumpCounters() { return impl_->liveState(true); }

Result<LiveState> Engine::Impl::liveState(bool counters_only) {
  LiveState state;
  auto gen = sock.generation();
  if (!gen) return std::unexpected(gen.error());
  state.generation = *gen;
  auto onlyTables = [](std::string_view set) { return set.starts_with("run_"); };
  auto live = sock.dump(options.table, counters_only ? +onlyTables : nullptr);
  if (!live) return std::unexpected(live.error());
  if (!*live) return state;
  const Ruleset& rs = **live;
  state.table_present = true;
  state.kernel_rules = rs.rules.size();
  if (counters_only) {
    const auto now = std::chrono::system_clock::now();
    state.bans = static_cast<size_t>(
        std::ranges::count_if(cache_bans, [&](const Ban& b) { return !b.expires || *b.expires > now; }));
  } else {
    for (const Set& s : rs.sets)
      if (s.name.starts_with("bans_")) state.bans += s.elems.size();
  }
  std::map<std::string, size_t> index;  // policy rule name -> position in state.rules
  auto count = [&](const RuleTag& tag, Hook hook, Action action, uint64_t handle, uint64_t packets, uint64_t bytes) {
    auto [it, fresh] = index.emplace(tag.name, state.rules.size());
    if (fresh)
      state.rules.push_back(LiveRule{tag.name, hook, action, tag.kind == RuleKind::Cli ? Origin::Cli : Origin::Config,
                                     0, 0, handle});
    // One policy rule may be several kernel rules (per family, per protocol)
    // or several elements of a rule table.
    state.rules[it->second].packets += packets;
    state.rules[it->second].bytes += bytes;
  };
  for (const KernelRule& r : rs.rules) {
    if (r.tag.kind == RuleKind::Run) {
      const Set* table = rs.findSet(r.tag.name);
      if (table == nullptr) continue;
      for (const SetElem& e : table->elems) {
        RuleTag tag = RuleTag::parse(e.comment);
        if (tag.kind == RuleKind::Policy || tag.kind == RuleKind::Cli)
          count(tag, hookOf(r.chain), actionOf(r), r.handle, e.packets, e.bytes);
      }
      continue;
    }
    auto counter = r.counter();
    if (r.tag.kind == RuleKind::PolicyDrop) {
      auto& d = state.dropped[static_cast<size_t>(hookOf(r.chain))];
      d.packets += counter.packets;
      d.bytes += counter.bytes;
      continue;
    }
    if (r.tag.kind != RuleKind::Policy && r.tag.kind != RuleKind::Cli) continue;
    count(r.tag, hookOf(r.chain), actionOf(r), r.handle, counter.packets, counter.bytes);
  }
  return state;
}

Result<void> Engine::removeTable() {
  impl_->cache.reset();
  impl_->cache_policy.reset();
  impl_->cache_bans.clear();
  impl_->own_tids.insert(static_cast<uint32_t>(gettid()));
  return impl_->sock.deleteTable(impl_->options.table);
}

int Engine::receiveBuffer() const { return impl_->sock.receiveBuffer(); }

int Engine::eventFd() const { return impl_->events.fd(); }

Result<std::vector<DriftEvent>> Engine::readEvents() {
  bool lost = false;
  auto commits = impl_->events.read(lost);
  if (!commits) return std::unexpected(commits.error());
  std::vector<DriftEvent> out;
  for (const nl::Commit& c : *commits)
    if (c.touched_table && !impl_->own_tids.contains(c.pid)) out.push_back(DriftEvent{c.pid, c.process});
  if (lost) {
    // Events were dropped: only if nothing committed since our own last
    // commit can we be sure nobody else touched the table.
    auto gen = impl_->sock.generation();
    if (!gen || *gen != impl_->own_generation) out.push_back(DriftEvent{0, "unknown (events lost)"});
  }
  return out;
}

}  // namespace rampart::fw
