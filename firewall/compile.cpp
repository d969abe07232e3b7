#include "firewall/compile.h"

#include <algorithm>
#include <bit>
#include <functional>
#include <map>
#include <span>

#include <fmt/format.h>

#include <linux/netfilter/nf_tables.h>

#include "firewall/expr.h"

namespace rampart::fw {
namespace {

using expr::Exprs;

size_t addrLen(Family f) { return f == Family::V4 ? 4 : 16; }
std::string_view familySuffix(Family f) { return f == Family::V4 ? "v4" : "v6"; }

// key + 2^(bits - prefix), big-endian; false when it overflows the space.
bool rangeEnd(const Cidr& c, Bytes& out) {
  size_t len = addrLen(c.family);
  out.assign(c.addr.begin(), c.addr.begin() + static_cast<std::ptrdiff_t>(len));
  if (c.prefix == 0) return false;
  size_t bit = c.prefix - 1;  // the lowest network bit
  size_t byte = bit / 8;
  unsigned carry = 1u << (7 - bit % 8);
  for (size_t i = byte + 1; i-- > 0 && carry != 0;) {
    unsigned sum = out[i] + carry;
    out[i] = static_cast<uint8_t>(sum);
    carry = sum >> 8;
  }
  return carry == 0;
}

struct Builder {
  Ruleset rs;
  std::map<std::string, Set> sets;  // by name: sorted output

  void addRule(std::string_view chain, RuleTag tag, Exprs exprs, const SourceLoc& loc = {}) {
    rs.rules.push_back(KernelRule{std::string(chain), std::move(exprs), std::move(tag), 0, loc});
  }
  Set& set(const std::string& name, uint32_t key_type, uint32_t key_len, uint32_t flags) {
    Set& s = sets[name];
    s.name = name;
    s.key_type = key_type;
    s.key_len = key_len;
    s.flags = flags;
    return s;
  }
};

void append(Exprs& to, Exprs from) {
  if (to.empty()) {
    to = std::move(from);
    return;
  }
  to.insert(to.end(), std::make_move_iterator(from.begin()), std::make_move_iterator(from.end()));
}

// The expressions of several matches and statements, in order. Takes its
// parts by value so temporaries are moved, not copied.
template <class... Parts>
Exprs cat(Parts... parts) {
  Exprs out;
  out.reserve((parts.size() + ...));
  (append(out, std::move(parts)), ...);
  return out;
}

// ---- bans ---------------------------------------------------------------

int64_t epochMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string banSetName(Family f, std::optional<uint8_t> prefix) {
  if (prefix) return fmt::format("bans_{}_{}", familySuffix(f), *prefix);
  return fmt::format("bans_{}", familySuffix(f));
}

Bytes networkKey(const Cidr& c) {
  return Bytes(c.addr.begin(), c.addr.begin() + static_cast<std::ptrdiff_t>(addrLen(c.family)));
}

std::optional<SetElem> banElement(const Ban& ban, const CompileOptions& options) {
  SetElem e = SetElem::of(networkKey(ban.cidr));
  if (ban.expires) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(*ban.expires - options.now);
    if (left.count() <= 0) return std::nullopt;
    e.timeout_ms = static_cast<uint64_t>(left.count());
    e.expires_at_ms = epochMs(options.now) + left.count();
  }
  return e;
}

bool outlives(const SetElem& a, const SetElem& b) {
  if (!a.expires_at_ms || !b.expires_at_ms) return !a.expires_at_ms && b.expires_at_ms;
  return *a.expires_at_ms > *b.expires_at_ms;
}

namespace {

// Elements by prefix length, longest first, the addresses' length always
// there; each list sorted with one element per key: `keep(a, b)` says
// whether a replaces b of the same key.
using ByPrefix = std::map<uint8_t, std::vector<SetElem>, std::greater<>>;
template <class Keep>
std::vector<PrefixSet> prefixSets(ByPrefix by_prefix, Family f, Keep keep,
                                  const std::function<std::string(std::optional<uint8_t>)>& name) {
  const auto key_len = static_cast<uint32_t>(addrLen(f));
  const auto full = static_cast<uint8_t>(key_len * 8);
  by_prefix[full];
  std::vector<PrefixSet> out;
  out.reserve(by_prefix.size());
  for (auto& [prefix, elems] : by_prefix) {
    PrefixSet part;
    part.prefix = prefix;
    Set& s = part.set;
    s.name = name(prefix == full ? std::nullopt : std::optional(prefix));
    s.key_type = f == Family::V4 ? expr::kTypeIpv4Addr : expr::kTypeIpv6Addr;
    s.key_len = key_len;
    std::ranges::sort(elems);
    for (SetElem& e : elems) {
      if (!s.elems.empty() && s.elems.back().key == e.key) {
        if (keep(e, s.elems.back())) s.elems.back() = std::move(e);
        continue;
      }
      s.elems.push_back(std::move(e));
    }
    s.size = hashSetSize(s.elems.size());
    out.push_back(std::move(part));
  }
  return out;
}

}  // namespace

// One element per ban, each with its own timeout; a ban and a wider one
// around it are both kept, so each lasts exactly as long as it was given.
// The same network twice: the later-expiring ban wins (permanent first).
std::vector<PrefixSet> banSets(const std::vector<Ban>& bans, Family f, const CompileOptions& opt) {
  ByPrefix by_prefix;
  for (const Ban& ban : bans) {
    if (ban.cidr.family != f) continue;
    if (auto e = banElement(ban, opt)) by_prefix[ban.cidr.prefix].push_back(std::move(*e));
  }
  auto sets = prefixSets(std::move(by_prefix), f, outlives, [f](std::optional<uint8_t> p) { return banSetName(f, p); });
  for (PrefixSet& part : sets) part.set.flags = NFT_SET_TIMEOUT;
  return sets;
}

namespace {

// meta nfproto ipv4 ip saddr @set, or with the source masked to the set's
// prefix length (ip saddr & 255.255.255.0 @set).
Exprs sourceIn(Family f, const PrefixSet& part) {
  const std::string& name = part.set.name;
  return cat(expr::nfproto(f), part.set.key_len * 8 == part.prefix ? expr::saddrIn(f, name)
                                                                   : expr::saddrMaskedIn(f, part.prefix, name));
}

void compileBans(Builder& b, const std::vector<Ban>& bans, const CompileOptions& opt) {
  for (Family f : {Family::V4, Family::V6}) {
    for (PrefixSet& part : banSets(bans, f, opt)) {
      b.addRule("input", RuleTag{RuleKind::Ban, std::string(familySuffix(f))},
                cat(sourceIn(f, part), expr::counter(), expr::drop()));
      std::string name = part.set.name;
      b.sets[name] = std::move(part.set);
    }
  }
}

// ---- builtins -------------------------------------------------------------

// In input and forward: loopback (input), established, invalid, essential
// ICMP and DHCP replies (input). In
// output, when it filters (filtersOutput), what the node must still send: to
// itself (loopback), the replies of the connections it took (established),
// and its ICMP and ICMPv6 (errors, echo, neighbour discovery, without which
// IPv6 stops working).
void compileBuiltins(Builder& b, const Policy& policy, std::string_view chain) {
  const Builtins& on = policy.builtins;
  bool input = chain == "input";
  if (chain == "output") {
    if (on.loopback) b.addRule(chain, {RuleKind::Builtin, "loopback"}, cat(expr::oifLoopback(), expr::accept()));
    if (on.established)
      b.addRule(chain, {RuleKind::Builtin, "established"},
                cat(expr::ctStateIn(expr::kCtEstablished | expr::kCtRelated), expr::accept()));
    if (on.icmp) {
      b.addRule(chain, {RuleKind::Builtin, "icmp"}, cat(expr::l4protoIs(expr::kIcmp), expr::accept()));
      b.addRule(chain, {RuleKind::Builtin, "icmpv6"}, cat(expr::l4protoIs(expr::kIcmpV6), expr::accept()));
    }
    return;
  }
  if (on.loopback && input)
    b.addRule(chain, {RuleKind::Builtin, "loopback"}, cat(expr::iifLoopback(), expr::accept()));
  if (on.established)
    b.addRule(chain, {RuleKind::Builtin, "established"},
              cat(expr::ctStateIn(expr::kCtEstablished | expr::kCtRelated), expr::accept()));
  if (on.invalid)
    b.addRule(chain, {RuleKind::Builtin, "invalid"}, cat(expr::ctStateInvalid(), expr::counter(), expr::drop()));
  if (on.icmp && input) {
    // echo-request, destination-unreachable, time-exceeded, parameter-problem
    // Without ping, echo-request (8, and 128 for ICMPv6) is left out.
    Set& v4 = b.set("builtin_icmp_v4", expr::kTypeIcmpType, 1, 0);
    for (uint8_t t : {3, 8, 11, 12})
      if (t != 8 || on.ping) v4.elems.push_back(SetElem::of(Bytes{t}));
    // ICMPv6 errors and echo-request, multicast listener discovery (query,
    // reports, done: a switch snooping MLD stops sending the node its
    // neighbour solicitations when it does not answer), then ND: router
    // solicit/advert, neighbour solicit/advert (RFC 4890 section 4.4.1).
    // The kernel takes MLD only from link-local sources.
    Set& v6 = b.set("builtin_icmp_v6", expr::kTypeIcmp6Type, 1, 0);
    for (uint8_t t : {1, 2, 3, 4, 128, 130, 131, 132, 133, 134, 135, 136, 143})
      if (t != 128 || on.ping) v6.elems.push_back(SetElem::of(Bytes{t}));
    b.addRule(chain, {RuleKind::Builtin, "icmp"}, cat(expr::icmpTypeIn(Family::V4, v4.name), expr::accept()));
    b.addRule(chain, {RuleKind::Builtin, "icmpv6"}, cat(expr::icmpTypeIn(Family::V6, v6.name), expr::accept()));
  }
  if (on.dhcp && input) {
    const auto udp = [](uint16_t from, uint16_t to) {
      return cat(expr::l4protoIs(expr::kUdp), expr::sportIs(from), expr::dportIs(PortRange{to, to}));
    };
    b.addRule(chain, {RuleKind::Builtin, "dhcp"}, cat(expr::nfproto(Family::V4), udp(67, 68), expr::accept()));
    static const Cidr kLinkLocal = *Cidr::parse("fe80::/10");
    b.addRule(chain, {RuleKind::Builtin, "dhcpv6"},
              cat(expr::nfproto(Family::V6), expr::saddrIs(kLinkLocal), udp(547, 546), expr::accept()));
  }
}

// Forwarded traffic in or out of the forward_interfaces, accepted after the
// forward rules (so a deny there still holds for it) and before the chain
// policy: the runtimes' own tables decide the rest of it.
// Their tags: builtin:in:NAME, builtin:out:NAME.
constexpr std::string_view kForwardIn = "in:", kForwardOut = "out:";

void compileForwardInterfaces(Builder& b, const Policy& policy) {
  for (const std::string& name : policy.forward_interfaces) {
    for (bool in : {true, false})
      b.addRule("forward", {RuleKind::Builtin, fmt::format("{}{}", in ? kForwardIn : kForwardOut, name)},
                cat(expr::ifnameIs(in, name), expr::accept()));
  }
}

// ---- policy rules ---------------------------------------------------------

}  // namespace

std::string groupSetName(std::string_view group, Family family, std::optional<uint8_t> prefix) {
  if (prefix) return fmt::format("g_{}_{}_{}", group, familySuffix(family), *prefix);
  return fmt::format("g_{}_{}", group, familySuffix(family));
}

std::string_view groupSetBase(std::string_view set) {
  if (!set.starts_with("g_")) return {};
  // An addresses' set ends in its family; a networks' set in a prefix
  // length after it (g_<group>_v4_24), so the two cannot be taken for
  // each other.
  if (set.ends_with("_v4") || set.ends_with("_v6")) return set;
  size_t digits = set.size();
  while (digits > 0 && set[digits - 1] >= '0' && set[digits - 1] <= '9') --digits;
  std::string_view base = set.substr(0, digits);
  if (digits == set.size() || (!base.ends_with("_v4_") && !base.ends_with("_v6_"))) return {};
  return base.substr(0, base.size() - 1);
}

uint32_t hashSetSize(size_t elements) {
  constexpr size_t kHintFrom = 4096;
  if (elements < kHintFrom) return 0;
  return static_cast<uint32_t>(std::bit_ceil(2 * elements));
}

std::vector<PrefixSet> groupSets(const Group& g, Family f) {
  ByPrefix by_prefix;
  for (const auto* list : {&g.cidrs, &g.resolved})
    for (const Cidr& c : *list)
      if (c.family == f) by_prefix[c.prefix].push_back(SetElem::of(networkKey(c)));
  return prefixSets(std::move(by_prefix), f, [](const SetElem&, const SetElem&) { return false; },
                    [&g, f](std::optional<uint8_t> p) { return groupSetName(g.name, f, p); });
}

namespace {

// One way of matching the source: any, one network, or a set (per family).
struct SourceMatch {
  std::optional<Family> family;  // nullopt: any source, any family
  Exprs exprs;
};

std::vector<SourceMatch> sourceMatches(Builder& b, const Policy& policy, const Rule& rule) {
  std::vector<SourceMatch> out;
  if (rule.from.empty() && rule.from_groups.empty()) {
    if (!rule.limit) return {SourceMatch{std::nullopt, {}}};
    // A per-source limit needs the source address, so one rule per family.
    for (Family f : {Family::V4, Family::V6}) out.push_back(SourceMatch{f, expr::nfproto(f)});
    return out;
  }
  for (Family f : {Family::V4, Family::V6}) {
    std::vector<Cidr> literal;
    for (const Cidr& c : rule.from)
      if (c.family == f) literal.push_back(c);
    if (literal.size() == 1) {
      out.push_back(SourceMatch{f, cat(expr::nfproto(f), expr::saddrIs(literal.front()))});
    } else if (literal.size() > 1) {
      std::string name = fmt::format("s_{}_{}", rule.name, familySuffix(f));
      Set& s = b.set(name, f == Family::V4 ? expr::kTypeIpv4Addr : expr::kTypeIpv6Addr,
                     static_cast<uint32_t>(addrLen(f)), NFT_SET_INTERVAL);
      s.elems = cidrElements(literal, f);
      out.push_back(SourceMatch{f, cat(expr::nfproto(f), expr::saddrIn(f, name))});
    }
    for (const std::string& group : rule.from_groups) {
      // Both families always get the addresses' set and its rule, so a
      // group gaining its first IPv6 address is an element update, not a
      // rule change. Each prefix length of its networks adds a set and a
      // rule.
      const Group* g = policy.findGroup(group);
      Group unknown;
      unknown.name = group;
      for (PrefixSet& part : groupSets(g ? *g : unknown, f)) {
        out.push_back(SourceMatch{f, sourceIn(f, part)});
        std::string name = part.set.name;
        b.sets[name] = std::move(part.set);
      }
    }
  }
  return out;
}

// The rule's `to:` of family f: one address or network, else a set
// d_<rule>_v4/_v6 (no nfproto: the source match brings it); nullopt when
// it names none of that family.
std::optional<Exprs> destinationMatch(Builder& b, const Rule& rule, Family f) {
  std::vector<Cidr> literal;
  for (const Cidr& c : rule.to)
    if (c.family == f) literal.push_back(c);
  if (literal.empty()) return std::nullopt;
  if (literal.size() == 1) return expr::daddrIs(literal.front());
  std::string name = fmt::format("d_{}_{}", rule.name, familySuffix(f));
  Set& s = b.set(name, f == Family::V4 ? expr::kTypeIpv4Addr : expr::kTypeIpv6Addr, static_cast<uint32_t>(addrLen(f)),
                 NFT_SET_INTERVAL);
  s.elems = cidrElements(literal, f);
  return expr::daddrIn(f, name);
}

// Sources and destinations together: each source match with the
// destinations of its family (any source: each family's destinations).
std::vector<SourceMatch> addressMatches(Builder& b, const Policy& policy, const Rule& rule) {
  std::vector<SourceMatch> sources = sourceMatches(b, policy, rule);
  if (rule.to.empty()) return sources;
  std::optional<Exprs> to[2] = {destinationMatch(b, rule, Family::V4), destinationMatch(b, rule, Family::V6)};
  std::vector<SourceMatch> out;
  for (const SourceMatch& src : sources) {
    for (Family f : {Family::V4, Family::V6}) {
      const std::optional<Exprs>& dst = to[f == Family::V4 ? 0 : 1];
      if (!dst || (src.family && *src.family != f)) continue;
      out.push_back(SourceMatch{f, src.family ? cat(src.exprs, *dst) : cat(expr::nfproto(f), *dst)});
    }
  }
  return out;
}

// One way of matching the destination port, per protocol; a protocol
// without ports (vrrp, esp) is one of its own.
struct PortMatch {
  Exprs exprs;
  bool tcp = false;  // only TCP packets match (a reject answers with a reset)
};
std::vector<PortMatch> portMatches(Builder& b, const Rule& rule) {
  if (rule.ports.empty()) {
    // Every port and protocol; a reject resets TCP and answers the rest
    // with ICMP port unreachable, so TCP goes first in a rule of its own.
    if (rule.action == Action::Reject) return {{expr::l4protoIs(expr::kTcp), true}, {Exprs{}, false}};
    return {{Exprs{}, false}};
  }
  std::vector<PortMatch> out;
  for (Proto p : {Proto::Tcp, Proto::Udp}) {
    std::vector<PortRange> ranges;
    for (const PortSpec& spec : rule.ports)
      if (std::ranges::find(spec.protos, p) != spec.protos.end()) ranges.push_back(spec.range);
    if (ranges.empty()) continue;
    std::ranges::sort(ranges);
    ranges.erase(std::unique(ranges.begin(), ranges.end()), ranges.end());
    Exprs m = expr::l4protoIs(expr::l4proto(p));
    if (ranges.size() == 1) {
      append(m, expr::dportIs(ranges.front()));
    } else {
      std::string name = fmt::format("p_{}_{}", rule.name, p == Proto::Tcp ? "tcp" : "udp");
      bool any_range = std::ranges::any_of(ranges, [](PortRange r) { return r.first != r.last; });
      Set& s = b.set(name, expr::kTypeInetService, 2, any_range ? NFT_SET_INTERVAL : 0);
      for (PortRange r : ranges) {
        SetElem e = SetElem::of(Bytes{static_cast<uint8_t>(r.first >> 8), static_cast<uint8_t>(r.first)});
        if (any_range && r.last < 65535) {
          unsigned end = r.last + 1u;
          e.key_end = Bytes{static_cast<uint8_t>(end >> 8), static_cast<uint8_t>(end)};
        }
        s.elems.push_back(std::move(e));
      }
      if (any_range) {
        // Merge overlapping/adjacent ranges as the interval set needs.
        std::vector<SetElem> merged;
        for (SetElem& e : s.elems) {
          if (!merged.empty() && !merged.back().key_end.empty() && e.key <= merged.back().key_end) {
            if (e.key_end.empty() || e.key_end > merged.back().key_end) merged.back().key_end = e.key_end;
            continue;
          }
          if (!merged.empty() && merged.back().key_end.empty()) continue;
          merged.push_back(std::move(e));
        }
        s.elems = std::move(merged);
      }
      append(m, expr::dportIn(name));
    }
    out.push_back({std::move(m), p == Proto::Tcp});
  }
  for (const PortSpec& spec : rule.ports)
    if (spec.ip_proto != 0) out.push_back({expr::l4protoIs(spec.ip_proto), false});
  return out;
}

void compileRule(Builder& b, const Policy& policy, const Rule& rule) {
  std::string_view chain = chainName(rule.hook);
  RuleKind kind = rule.origin == Origin::Cli ? RuleKind::Cli : RuleKind::Policy;
  // One kernel rule per interface, source match and port match, the
  // interface first: a cheap compare that settles most packets.
  std::vector<Exprs> ifaces;
  for (const std::string& name : rule.interfaces) ifaces.push_back(expr::ifnameIs(rule.hook != Hook::Output, name));
  if (ifaces.empty()) ifaces.emplace_back();
  struct Match {
    std::optional<Family> family;
    Exprs exprs;
    bool tcp = false;
  };
  std::vector<Match> matches;
  auto sources = addressMatches(b, policy, rule);
  auto ports = portMatches(b, rule);
  for (const Exprs& iface : ifaces)
    for (const SourceMatch& src : sources)
      for (const PortMatch& port : ports)
        matches.push_back(Match{src.family, cat(iface, src.exprs, port.exprs), port.tcp});
  for (Match& m : matches) {
    if (rule.limit && rule.action == Action::Allow && m.family) {
      std::string name = fmt::format("meter_{}_{}", rule.name, familySuffix(*m.family));
      Set& s = b.set(name, *m.family == Family::V4 ? expr::kTypeIpv4Addr : expr::kTypeIpv6Addr,
                     static_cast<uint32_t>(addrLen(*m.family)), NFT_SET_EVAL | NFT_SET_TIMEOUT);
      // An idle source is forgotten after a period (at least a minute).
      auto period = std::max<int64_t>(rule.limit->period().count(), 60);
      s.timeout_ms = static_cast<uint64_t>(period) * 1000;
      s.size = 65535;
      b.addRule(chain, {RuleKind::Meter, rule.name},
                cat(Exprs(m.exprs), expr::ctStateIn(expr::kCtNew), expr::meter(*m.family, name, *rule.limit),
                    expr::counter(), expr::drop()),
                rule.loc);
    }
    Exprs verdict = rule.action == Action::Allow  ? expr::accept()
                    : rule.action == Action::Deny ? expr::drop()
                                                  : expr::reject(m.tcp);
    b.addRule(chain, {kind, rule.name}, cat(std::move(m.exprs), expr::counter(), std::move(verdict)), rule.loc);
  }
}

// ---- rule tables ------------------------------------------------------------
//
// Consecutive rules of one simple shape (single ports, sources that are
// single addresses or none, no limit, no group, no interface, no `to:`;
// allow or deny) with the same verdict and
// origin are one kernel rule looking up (source .) protocol . port in a
// hash set whose elements are those rules, each with its own counter and
// its rule's tag as its comment. The kernel's work per commit and per
// packet then no longer grows with their number. A run of rules with one
// verdict matches what the rules one by one would (first match wins, and
// every rule of the run has the same verdict); where two rules of a run
// share a key, the element belongs to the earlier one, as the packet would.

enum class RunShape : uint8_t { None, Sourced, Any };

constexpr size_t kMaxRunElems = 64;  // elements one rule may bring to a run

RunShape runShape(const Rule& r) {
  if (r.limit || !r.from_groups.empty() || r.ports.empty() || !r.interfaces.empty() || !r.to.empty() ||
      r.action == Action::Reject)
    return RunShape::None;
  size_t per_source = 0;
  for (const PortSpec& p : r.ports) {
    if (p.range.first != p.range.last || p.ip_proto != 0) return RunShape::None;
    per_source += p.protos.size();
  }
  for (const Cidr& c : r.from)
    if (!c.isHost()) return RunShape::None;
  if (per_source * std::max<size_t>(r.from.size(), 1) > kMaxRunElems) return RunShape::None;
  return r.from.empty() ? RunShape::Any : RunShape::Sourced;
}


std::string runSetName(const RuleRun& run, std::optional<Family> f) {
  return fmt::format("{}_{}", run.name, f ? familySuffix(*f) : "any");
}

std::vector<std::optional<Family>> runFamilies(const RuleRun& run) {
  if (run.sourced) return {Family::V4, Family::V6};
  return {std::nullopt};
}

void compileRunInto(Builder& b, const Policy& policy, const RuleRun& run) {
  const Rule& first = policy.rules[run.members.front()];
  for (std::optional<Family> f : runFamilies(run)) {
    std::string name = runSetName(run, f);
    Set& s = b.set(name, expr::runKeyType(f), expr::runKeyLen(f), 0);
    s.counters = true;
    for (size_t i : run.members) {
      auto elems = runElements(policy.rules[i], f);
      s.elems.insert(s.elems.end(), std::make_move_iterator(elems.begin()), std::make_move_iterator(elems.end()));
    }
    // Sorted by key; of equal keys the earliest rule's element stays.
    std::ranges::stable_sort(s.elems, {}, &SetElem::key);
    auto dup = std::ranges::unique(s.elems, {}, &SetElem::key);
    s.elems.erase(dup.begin(), dup.end());
    Exprs match = f ? cat(expr::nfproto(*f), expr::runKeyLoad(f)) : expr::runKeyLoad(f);
    Exprs verdict = first.action == Action::Allow ? expr::accept() : expr::drop();
    b.addRule(chainName(run.hook), {RuleKind::Run, name}, cat(std::move(match), expr::lookupIn(name), std::move(verdict)),
              first.loc);
  }
}

void compileChainEnd(Builder& b, const Policy& policy, std::string_view chain, ChainPolicy chain_policy) {
  if (chain_policy != ChainPolicy::Drop) return;
  b.addRule(chain, {RuleKind::PolicyDrop, std::string(chain)}, expr::counter());
  if (policy.log_dropped)
    b.addRule(chain, {RuleKind::LogDrop, std::string(chain)},
              cat(expr::limitRate(*policy.log_dropped, false),
                   expr::log(fmt::format("rampart drop {}: ", chain))));
}

}  // namespace

std::vector<SetElem> cidrElements(const std::vector<Cidr>& cidrs, Family family) {
  std::vector<SetElem> ranges;
  for (const Cidr& c : cidrs) {
    if (c.family != family) continue;
    SetElem e;
    e.key.assign(c.addr.begin(), c.addr.begin() + static_cast<std::ptrdiff_t>(addrLen(family)));
    if (!rangeEnd(c, e.key_end)) e.key_end.clear();
    ranges.push_back(std::move(e));
  }
  std::ranges::sort(ranges);
  std::vector<SetElem> merged;
  for (SetElem& e : ranges) {
    if (!merged.empty()) {
      SetElem& last = merged.back();
      if (last.key_end.empty()) continue;  // already runs to the top
      if (e.key <= last.key_end) {
        if (e.key_end.empty() || e.key_end > last.key_end) last.key_end = e.key_end;
        continue;
      }
    }
    merged.push_back(std::move(e));
  }
  return merged;
}

Ruleset compile(const Policy& policy, const std::vector<Ban>& bans, const CompileOptions& options) {
  Builder b;
  b.rs.table = options.table;
  b.rs.chains = {Chain{"input", Hook::Input, 0, policy.input_policy, 0},
                 Chain{"forward", Hook::Forward, 0, policy.forward_policy, 0},
                 Chain{"output", Hook::Output, 0, policy.output_policy, 0}};
  compileBans(b, bans, options);
  compileBuiltins(b, policy, "input");
  compileBuiltins(b, policy, "forward");
  if (filtersOutput(policy)) compileBuiltins(b, policy, "output");
  const RuleRuns runs = ruleRuns(policy);
  for (Hook hook : {Hook::Input, Hook::Forward, Hook::Output}) {
    for (size_t i = 0; i < policy.rules.size(); ++i) {
      if (policy.rules[i].hook != hook) continue;
      if (runs.run_of[i] == SIZE_MAX) compileRule(b, policy, policy.rules[i]);
      else if (const RuleRun& run = runs.runs[runs.run_of[i]]; run.members.front() == i) compileRunInto(b, policy, run);
    }
  }
  compileChainEnd(b, policy, "input", policy.input_policy);
  compileForwardInterfaces(b, policy);
  compileChainEnd(b, policy, "forward", policy.forward_policy);
  compileChainEnd(b, policy, "output", policy.output_policy);
  for (auto& [name, set] : b.sets) b.rs.sets.push_back(std::move(set));
  return std::move(b.rs);
}

Ruleset compileRules(const Policy& policy, std::span<const Rule* const> rules, const CompileOptions& options) {
  Builder b;
  b.rs.table = options.table;
  for (const Rule* rule : rules) compileRule(b, policy, *rule);
  for (auto& [name, set] : b.sets) b.rs.sets.push_back(std::move(set));
  return std::move(b.rs);
}

std::vector<Set> compileBanSets(const std::vector<Ban>& bans, const CompileOptions& options) {
  std::vector<Set> out;
  for (Family f : {Family::V4, Family::V6})
    for (PrefixSet& part : banSets(bans, f, options)) out.push_back(std::move(part.set));
  return out;
}

bool closesChain(const KernelRule& r) {
  if (r.tag.kind == RuleKind::PolicyDrop || r.tag.kind == RuleKind::LogDrop) return true;
  return r.tag.kind == RuleKind::Builtin && r.chain == "forward" &&
         (r.tag.name.starts_with(kForwardIn) || r.tag.name.starts_with(kForwardOut));
}

bool filtersOutput(const Policy& policy) {
  return policy.output_policy == ChainPolicy::Drop ||
         std::ranges::any_of(policy.rules, [](const Rule& r) { return r.hook == Hook::Output; });
}

RuleRuns ruleRuns(const Policy& policy) {
  // One pass: per chain, the run being built; rules of other chains in
  // between do not end it. A run is consecutive rules of one chain with
  // the same shape, verdict and origin.
  RuleRuns out;
  out.run_of.assign(policy.rules.size(), SIZE_MAX);
  struct Open {
    RunShape shape = RunShape::None;
    std::vector<size_t> members;
  };
  Open open[3];
  // Tables are numbered within their kind (chain, origin, verdict, key), so
  // a table keeps its name, and its elements their counters, when its first
  // rule goes; only a table split in two renames the ones after it.
  size_t numbers[3][2][2][2] = {};
  auto close = [&](Hook hook) {
    Open& o = open[static_cast<size_t>(hook)];
    if (o.members.size() >= kMinRunRules) {
      const Rule& first = policy.rules[o.members.front()];
      const bool cli = first.origin == Origin::Cli, deny = first.action == Action::Deny;
      const bool sourced = o.shape == RunShape::Sourced;
      size_t& number = numbers[static_cast<size_t>(hook)][cli][deny][sourced];
      RuleRun run;
      run.name = fmt::format("run_{}_{}_{}_{}{}", chainName(hook), cli ? "cli" : "cfg", deny ? "deny" : "allow",
                             sourced ? "src" : "any", number++);
      run.hook = hook;
      run.sourced = o.shape == RunShape::Sourced;
      for (size_t i : o.members) out.run_of[i] = out.runs.size();
      run.members = std::move(o.members);
      out.runs.push_back(std::move(run));
    }
    o.members.clear();
    o.shape = RunShape::None;
  };
  for (size_t i = 0; i < policy.rules.size(); ++i) {
    const Rule& r = policy.rules[i];
    Open& o = open[static_cast<size_t>(r.hook)];
    RunShape shape = runShape(r);
    if (shape == RunShape::None) {
      close(r.hook);
      continue;
    }
    if (!o.members.empty()) {
      const Rule& first = policy.rules[o.members.front()];
      if (shape != o.shape || r.action != first.action || r.origin != first.origin) close(r.hook);
    }
    o.shape = shape;
    o.members.push_back(i);
  }
  for (Hook hook : {Hook::Input, Hook::Forward, Hook::Output}) close(hook);
  return out;
}

Ruleset compileRun(const Policy& policy, const RuleRun& run, const CompileOptions& options) {
  Builder b;
  b.rs.table = options.table;
  compileRunInto(b, policy, run);
  for (auto& [name, set] : b.sets) b.rs.sets.push_back(std::move(set));
  return std::move(b.rs);
}

std::vector<std::string> runSetNames(const RuleRun& run) {
  std::vector<std::string> out;
  for (std::optional<Family> f : runFamilies(run)) out.push_back(runSetName(run, f));
  return out;
}

size_t runElementCount(const Rule& rule, std::optional<Family> family) {
  size_t per_source = 0;
  for (const PortSpec& p : rule.ports) per_source += p.protos.size();
  if (!family) return per_source;
  return per_source * static_cast<size_t>(std::ranges::count(rule.from, *family, &Cidr::family));
}

std::vector<SetElem> runElements(const Rule& rule, std::optional<Family> family) {
  std::vector<SetElem> out;
  std::string comment = RuleTag{rule.origin == Origin::Cli ? RuleKind::Cli : RuleKind::Policy, rule.name}.comment();
  for (const PortSpec& p : rule.ports) {
    for (Proto proto : p.protos) {
      if (!family) {
        out.push_back(SetElem::of(expr::runKey(nullptr, expr::l4proto(proto), p.range.first), comment));
        continue;
      }
      for (const Cidr& host : rule.from)
        if (host.family == *family)
          out.push_back(SetElem::of(expr::runKey(&host, expr::l4proto(proto), p.range.first), comment));
    }
  }
  return out;
}

std::vector<std::string> ownedSetNames(std::string_view rule) {
  return {fmt::format("s_{}_v4", rule),  fmt::format("s_{}_v6", rule),     fmt::format("p_{}_tcp", rule),
          fmt::format("p_{}_udp", rule), fmt::format("meter_{}_v4", rule), fmt::format("meter_{}_v6", rule),
          fmt::format("d_{}_v4", rule),  fmt::format("d_{}_v6", rule)};
}

}  // namespace rampart::fw
