#include "firewall/diff.h"
#include "firewall/nft_text.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>
#include <set>
#include <unordered_map>
#include <unordered_set>

#include <fmt/format.h>
#include <libnftnl/expr.h>
#include <linux/netfilter/nf_tables.h>

namespace rampart::fw {
namespace {

std::string setNameOf(const Expr& e) {
  const ExprAttr* a = nullptr;
  if (e.name == "lookup") a = e.find(NFTNL_EXPR_LOOKUP_SET);
  if (e.name == "dynset") a = e.find(NFTNL_EXPR_DYNSET_SET_NAME);
  if (a == nullptr || a->data.empty()) return {};
  return std::string(a->data.begin(), a->data.end() - 1);  // drop the NUL
}

// FNV-1a over a rule's identity (chain, tag, expressions without counter
// values: what KernelRule::sameAs compares), with lengths folded in so that
// ("ab","c") and ("a","bc") differ. Allocates nothing.
struct Hasher {
  uint64_t h = 1469598103934665603ull;
  void byte(uint8_t b) {
    h ^= b;
    h *= 1099511628211ull;
  }
  void bytes(const uint8_t* p, size_t n) {
    for (size_t i = 0; i < n; ++i) byte(p[i]);
  }
  void u64(uint64_t v) {
    for (int i = 0; i < 8; ++i) byte(static_cast<uint8_t>(v >> (8 * i)));
  }
  void str(std::string_view s) {
    u64(s.size());
    bytes(reinterpret_cast<const uint8_t*>(s.data()), s.size());
  }
  void expr(const Expr& e) {
    str(e.name);
    bool counter = e.name == "counter";
    for (const auto& a : e.attrs) {
      if (counter && (a.type == NFTNL_EXPR_CTR_PACKETS || a.type == NFTNL_EXPR_CTR_BYTES)) continue;
      u64(a.type);
      u64(a.data.size());
      bytes(a.data.data(), a.data.size());
    }
    u64(e.children.size());
    for (const auto& c : e.children) expr(c);
    byte(0xff);
  }
};

uint64_t ruleHash(const KernelRule& r) {
  Hasher h;
  h.str(r.chain);
  h.u64(static_cast<uint64_t>(r.tag.kind));
  h.str(r.tag.name);
  h.u64(r.exprs.size());
  for (const auto& e : r.exprs) h.expr(e);
  return h.h;
}

bool referencesAny(const KernelRule& r, const std::unordered_set<std::string>& sets) {
  if (sets.empty()) return false;
  return std::ranges::any_of(r.exprs, [&](const Expr& e) { return sets.contains(setNameOf(e)); });
}

// Indices (into `seq`) of one longest strictly increasing subsequence.
std::vector<size_t> longestIncreasing(const std::vector<size_t>& seq) {
  std::vector<size_t> tails;           // index into seq of the tail of each length
  std::vector<size_t> prev(seq.size(), SIZE_MAX);
  for (size_t i = 0; i < seq.size(); ++i) {
    auto it = std::lower_bound(tails.begin(), tails.end(), seq[i],
                               [&](size_t t, size_t v) { return seq[t] < v; });
    if (it != tails.begin()) prev[i] = *(it - 1);
    if (it == tails.end()) tails.push_back(i);
    else *it = i;
  }
  std::vector<size_t> out;
  for (size_t i = tails.empty() ? SIZE_MAX : tails.back(); i != SIZE_MAX; i = prev[i]) out.push_back(i);
  std::ranges::reverse(out);
  return out;
}

void diffChainRules(const KernelRule* base, const std::vector<const KernelRule*>& want,
                    const std::vector<const KernelRule*>& have,
                    const std::unordered_set<std::string>& recreated_sets, Changes& out) {
  auto add = [&](size_t j, uint64_t position, bool after) {
    out.add_rules.push_back(RuleAdd{*want[j], position, after, static_cast<size_t>(want[j] - base)});
  };
  // Live rules by identity; several identical rules queue up in order.
  struct Queue {
    size_t first;
    std::vector<size_t> more;
    size_t taken = 0;
  };
  // Keyed by ruleHash(); a hit is confirmed with sameAs, so a hash
  // collision costs a re-added rule, never a wrong match.
  std::unordered_map<uint64_t, Queue> by_key;
  by_key.reserve(have.size());
  for (size_t i = 0; i < have.size(); ++i) {
    if (referencesAny(*have[i], recreated_sets)) continue;
    auto [it, fresh] = by_key.try_emplace(ruleHash(*have[i]), Queue{i, {}});
    if (!fresh) it->second.more.push_back(i);
  }

  // For each wanted rule, the live rule with the same identity (if any),
  // then keep the longest run of those already in the right order.
  std::vector<size_t> match(want.size(), SIZE_MAX);
  std::vector<size_t> matched_want, matched_live;
  for (size_t i = 0; i < want.size(); ++i) {
    auto it = by_key.find(ruleHash(*want[i]));
    if (it == by_key.end()) continue;
    Queue& q = it->second;
    if (q.taken > q.more.size()) continue;
    size_t candidate = q.taken == 0 ? q.first : q.more[q.taken - 1];
    if (!have[candidate]->sameAs(*want[i])) continue;
    match[i] = candidate;
    ++q.taken;
    matched_want.push_back(i);
    matched_live.push_back(match[i]);
  }
  std::vector<bool> keep_want(want.size(), false), keep_live(have.size(), false);
  for (size_t k : longestIncreasing(matched_live)) {
    keep_want[matched_want[k]] = true;
    keep_live[matched_live[k]] = true;
  }
  for (size_t i = 0; i < have.size(); ++i)
    if (!keep_live[i]) out.delete_rules.push_back(*have[i]);

  // New rules go next to the kept ones: a run after a kept rule is inserted
  // after it (last first, so the run ends up in order); a run before the
  // first kept rule is inserted before it; with nothing kept, appended.
  uint64_t prev_handle = 0;
  size_t i = 0;
  while (i < want.size()) {
    if (keep_want[i]) {
      prev_handle = have[match[i]]->handle;
      out.kept_handles[static_cast<size_t>(want[i] - base)] = prev_handle;
      ++i;
      continue;
    }
    size_t end = i;
    while (end < want.size() && !keep_want[end]) ++end;
    if (prev_handle != 0) {
      for (size_t j = end; j-- > i;) add(j, prev_handle, true);
    } else if (end < want.size()) {
      uint64_t next = have[match[end]]->handle;
      for (size_t j = i; j < end; ++j) add(j, next, false);
    } else {
      for (size_t j = i; j < end; ++j) add(j, 0, true);
    }
    i = end;
  }
}

}  // namespace

bool Changes::empty() const {
  return !delete_table && !create_table && delete_rules.empty() && delete_sets.empty() && delete_chains.empty() &&
         chains.empty() && add_sets.empty() && delete_elems.empty() && add_elems.empty() &&
         add_rules.empty();
}

size_t Changes::elementsAdded() const {
  size_t n = 0;
  for (const auto& s : add_elems) n += s.elems.size();
  return n;
}

size_t Changes::elementsDeleted() const {
  size_t n = 0;
  for (const auto& s : delete_elems) n += s.elems.size();
  return n;
}

void diffSetElements(const Set& want, const Set& have, Changes& out) {
  // Elements of dynamic sets belong to the kernel (meters fill them).
  if ((want.flags & NFT_SET_EVAL) != 0) return;
  Set add = want.withoutElements();
  Set del = add;
  std::ranges::set_difference(want.elems, have.elems, std::back_inserter(add.elems));
  std::ranges::set_difference(have.elems, want.elems, std::back_inserter(del.elems));
  if ((want.flags & NFT_SET_TIMEOUT) != 0) {
    // An element in both whose expiry moved (a ban extended, shortened or
    // made permanent) is replaced: taken out, put back with its new timeout.
    // A second of slack covers the time between compile and dump.
    constexpr int64_t kSlackMs = 1000;
    auto moved = [](const SetElem& w, const SetElem& h) {
      if (w.expires_at_ms.has_value() != h.expires_at_ms.has_value()) return true;
      return w.expires_at_ms && std::abs(*w.expires_at_ms - *h.expires_at_ms) > kSlackMs;
    };
    bool any = false;
    auto w = want.elems.begin();
    auto h = have.elems.begin();
    while (w != want.elems.end() && h != have.elems.end()) {
      if (*w < *h) {
        ++w;
      } else if (*h < *w) {
        ++h;
      } else {
        if (moved(*w, *h)) {
          add.elems.push_back(*w);
          del.elems.push_back(*h);
          any = true;
        }
        ++w;
        ++h;
      }
    }
    if (any) {
      std::ranges::sort(add.elems);
      std::ranges::sort(del.elems);
    }
  }
  if (!add.elems.empty()) out.add_elems.push_back(std::move(add));
  if (!del.elems.empty()) out.delete_elems.push_back(std::move(del));
}

Changes diff(const Ruleset& desired, const Ruleset& live_in, bool live_present) {
  static const Ruleset kEmpty;
  const Ruleset& live = live_present ? live_in : kEmpty;
  Changes out;
  out.create_table = !live_present;

  for (const Chain& c : desired.chains) {
    const Chain* l = live.findChain(c.name);
    if (l == nullptr || !l->sameAs(c)) out.chains.push_back(c);
  }
  for (const Chain& c : live.chains)
    if (desired.findChain(c.name) == nullptr) out.delete_chains.push_back(c.name);

  std::unordered_set<std::string> recreated;
  for (const Set& s : desired.sets) {
    const Set* l = live.findSet(s.name);
    if (l == nullptr) {
      out.add_sets.push_back(s);
    } else if (!l->sameShape(s)) {
      recreated.insert(s.name);
      out.delete_sets.push_back(s.name);
      out.add_sets.push_back(s);
    } else {
      diffSetElements(s, *l, out);
    }
  }
  for (const Set& s : live.sets)
    if (desired.findSet(s.name) == nullptr && !s.name.starts_with("__")) out.delete_sets.push_back(s.name);

  std::set<std::string> chains;
  for (const auto& c : desired.chains) chains.insert(c.name);
  for (const auto& c : live.chains) chains.insert(c.name);
  for (const auto& r : live.rules) chains.insert(r.chain);
  out.kept_handles.assign(desired.rules.size(), 0);
  for (const std::string& chain : chains)
    diffChainRules(desired.rules.data(), desired.chainRules(chain), live.chainRules(chain), recreated, out);
  return out;
}

std::string describe(const Changes& c) {
  constexpr size_t kShown = 8;  // elements listed per set; the rest are counted
  std::string out;
  auto elements = [](const Set& s) {
    std::string shown = nftElements(s, kShown);
    return shown.empty() ? std::string() : fmt::format(" {{ {} }}", shown);
  };
  if (c.delete_table) out += "- table inet\n";
  if (c.create_table) out += "+ table inet\n";
  for (const auto& r : c.delete_rules) out += fmt::format("- rule {} handle {}: {}\n", r.chain, r.handle, nftText(r));
  for (const auto& s : c.delete_sets) out += fmt::format("- set {}\n", s);
  for (const auto& ch : c.delete_chains) out += fmt::format("- chain {}\n", ch);
  for (const auto& ch : c.chains)
    out += fmt::format("+ chain {} policy {}\n", ch.name, ch.policy == ChainPolicy::Drop ? "drop" : "accept");
  for (const auto& s : c.add_sets) out += fmt::format("+ set {} ({} elements){}\n", s.name, s.elems.size(), elements(s));
  for (const auto& s : c.delete_elems) out += fmt::format("- elements {} ({}){}\n", s.name, s.elems.size(), elements(s));
  for (const auto& s : c.add_elems) out += fmt::format("+ elements {} ({}){}\n", s.name, s.elems.size(), elements(s));
  for (const auto& a : c.add_rules) out += fmt::format("+ rule {}: {}\n", a.rule.chain, nftText(a.rule));
  return out;
}

}  // namespace rampart::fw

namespace rampart::fw {

bool applyChanges(Ruleset& rs, const Changes& c, std::span<const uint64_t> added_handles) {
  if (c.delete_table || c.create_table || added_handles.size() != c.add_rules.size()) return false;
  if (!c.delete_rules.empty()) {
    std::unordered_set<uint64_t> gone;
    for (const KernelRule& r : c.delete_rules) gone.insert(r.handle);
    std::erase_if(rs.rules, [&](const KernelRule& r) { return gone.contains(r.handle); });
  }
  for (const std::string& name : c.delete_sets) std::erase_if(rs.sets, [&](const Set& s) { return s.name == name; });
  for (const std::string& name : c.delete_chains)
    std::erase_if(rs.chains, [&](const Chain& ch) { return ch.name == name; });
  for (const Chain& ch : c.chains) {
    auto it = std::ranges::find(rs.chains, ch.name, &Chain::name);
    if (it == rs.chains.end()) rs.chains.push_back(ch);
    else *it = ch;
  }
  for (const Set& s : c.add_sets) {
    auto it = std::ranges::lower_bound(rs.sets, s.name, {}, &Set::name);
    rs.sets.insert(it, s);
  }
  auto setOf = [&](const std::string& name) -> Set* {
    auto it = std::ranges::find(rs.sets, name, &Set::name);
    return it == rs.sets.end() ? nullptr : &*it;
  };
  for (const Set& d : c.delete_elems) {
    Set* s = setOf(d.name);
    if (s == nullptr) return false;
    std::vector<SetElem> kept;
    kept.reserve(s->elems.size());
    std::ranges::set_difference(std::make_move_iterator(s->elems.begin()), std::make_move_iterator(s->elems.end()),
                                d.elems.begin(), d.elems.end(), std::back_inserter(kept));
    s->elems = std::move(kept);
  }
  for (const Set& a : c.add_elems) {
    Set* s = setOf(a.name);
    if (s == nullptr) return false;
    size_t mid = s->elems.size();
    s->elems.insert(s->elems.end(), a.elems.begin(), a.elems.end());
    std::inplace_merge(s->elems.begin(), s->elems.begin() + static_cast<std::ptrdiff_t>(mid), s->elems.end());
  }
  for (size_t k = 0; k < c.add_rules.size(); ++k) {
    const RuleAdd& a = c.add_rules[k];
    KernelRule r = a.rule;
    r.handle = added_handles[k];
    if (r.handle == 0) return false;
    if (a.position == 0) {
      rs.rules.push_back(std::move(r));
      continue;
    }
    auto at = std::ranges::find(rs.rules, a.position, &KernelRule::handle);
    if (at == rs.rules.end()) return false;
    rs.rules.insert(a.after ? at + 1 : at, std::move(r));
  }
  return true;
}

namespace {

bool countsRule(const KernelRule& r) { return r.tag.kind == RuleKind::Policy || r.tag.kind == RuleKind::Cli; }

// Calls f(element) for each counted element of the sets `changes` deletes
// whole, as `rs` holds them.
template <class F>
void forDeletedSetElems(const Changes& changes, const Ruleset& rs, F f) {
  for (const std::string& name : changes.delete_sets)
    if (const Set* s = rs.findSet(name); s != nullptr && s->counters)
      for (const SetElem& e : s->elems) f(e);
}

void setCounter(KernelRule& r, uint64_t packets, uint64_t bytes) {
  for (Expr& e : r.exprs) {
    if (e.name != "counter") continue;
    for (auto [type, value] : {std::pair{NFTNL_EXPR_CTR_PACKETS, packets}, std::pair{NFTNL_EXPR_CTR_BYTES, bytes}}) {
      Bytes data(sizeof value);
      std::memcpy(data.data(), &value, sizeof value);
      auto it = std::ranges::find(e.attrs, static_cast<uint16_t>(type), &ExprAttr::type);
      if (it != e.attrs.end()) it->data = std::move(data);
      else e.attrs.push_back(ExprAttr{static_cast<uint16_t>(type), std::move(data)});
    }
    std::ranges::sort(e.attrs, {}, &ExprAttr::type);
    return;
  }
}

}  // namespace

std::vector<std::string> movedTags(const Changes& changes, const Ruleset& live) {
  std::unordered_set<std::string> going, coming;
  auto note = [&](std::unordered_set<std::string>& into, const std::string& tag) {
    if (!tag.empty()) into.insert(tag);
  };
  for (const KernelRule& r : changes.delete_rules)
    if (countsRule(r)) note(going, r.tag.comment());
  for (const Set& s : changes.delete_elems)
    if (s.counters)
      for (const SetElem& e : s.elems) note(going, e.comment);
  forDeletedSetElems(changes, live, [&](const SetElem& e) { note(going, e.comment); });
  for (const RuleAdd& a : changes.add_rules)
    if (countsRule(a.rule)) note(coming, a.rule.tag.comment());
  for (const auto* list : {&changes.add_elems, &changes.add_sets})
    for (const Set& s : *list)
      if (s.counters)
        for (const SetElem& e : s.elems) note(coming, e.comment);
  std::vector<std::string> out;
  for (const std::string& tag : going)
    if (coming.contains(tag)) out.push_back(tag);
  std::ranges::sort(out);
  return out;
}

size_t carryCounters(Changes& changes, const Ruleset& fresh, const std::vector<std::string>& tags) {
  if (tags.empty()) return 0;
  struct Count {
    uint64_t packets = 0, bytes = 0;
    bool given = false;
  };
  std::unordered_map<std::string, Count> counts;
  for (const std::string& tag : tags) counts.emplace(tag, Count{});
  auto add = [&](const std::string& tag, uint64_t packets, uint64_t bytes) {
    auto it = counts.find(tag);
    if (it == counts.end()) return;
    it->second.packets += packets;
    it->second.bytes += bytes;
  };
  // What the pieces going have counted, as the kernel has it now.
  std::unordered_map<uint64_t, const KernelRule*> by_handle;
  for (const KernelRule& r : fresh.rules) by_handle.emplace(r.handle, &r);
  for (const KernelRule& r : changes.delete_rules) {
    if (!countsRule(r)) continue;
    auto it = by_handle.find(r.handle);
    if (it == by_handle.end()) continue;
    const KernelRule::Counter c = it->second->counter();
    add(r.tag.comment(), c.packets, c.bytes);
  }
  for (const Set& going : changes.delete_elems) {
    const Set* now = fresh.findSet(going.name);
    if (now == nullptr) continue;
    for (const SetElem& e : going.elems) {
      auto at = std::ranges::lower_bound(now->elems, e);
      if (at != now->elems.end() && *at == e) add(e.comment, at->packets, at->bytes);
    }
  }
  forDeletedSetElems(changes, fresh, [&](const SetElem& e) { add(e.comment, e.packets, e.bytes); });
  // The first piece coming of each rule starts from that.
  size_t carried = 0;
  auto give = [&](const std::string& tag) -> Count* {
    auto it = counts.find(tag);
    if (it == counts.end() || it->second.given) return nullptr;
    it->second.given = true;
    ++carried;
    return &it->second;
  };
  for (RuleAdd& a : changes.add_rules)
    if (countsRule(a.rule))
      if (Count* c = give(a.rule.tag.comment())) setCounter(a.rule, c->packets, c->bytes);
  for (auto* list : {&changes.add_elems, &changes.add_sets})
    for (Set& s : *list)
      if (s.counters)
        for (SetElem& e : s.elems)
          if (Count* c = give(e.comment)) {
            e.packets = c->packets;
            e.bytes = c->bytes;
          }
  return carried;
}

}  // namespace rampart::fw
