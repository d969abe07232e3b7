#include "firewall/ruleset.h"

#include <algorithm>
#include <ranges>

#include <libnftnl/expr.h>
#include <linux/netfilter/nf_tables.h>

namespace rampart::fw {
namespace {

bool isCounterValue(const Expr& e, uint16_t type) {
  return e.name == "counter" && (type == NFTNL_EXPR_CTR_PACKETS || type == NFTNL_EXPR_CTR_BYTES);
}

void appendKey(std::string& out, const Expr& e) {
  out += e.name;
  out += '(';
  for (const auto& a : e.attrs) {
    if (isCounterValue(e, a.type)) continue;
    out += std::to_string(a.type);
    out += '=';
    static constexpr char kHex[] = "0123456789abcdef";
    for (uint8_t b : a.data) {
      out += kHex[b >> 4];
      out += kHex[b & 15];
    }
    out += ',';
  }
  for (const auto& c : e.children) appendKey(out, c);
  out += ')';
}

template <class T>
std::optional<T> numberAt(const Expr& e, uint16_t type) {
  const ExprAttr* a = e.find(type);
  if (a == nullptr || a->data.size() != sizeof(T)) return std::nullopt;
  T v = 0;
  std::copy(a->data.begin(), a->data.end(), reinterpret_cast<uint8_t*>(&v));
  return v;
}

}  // namespace

std::optional<uint32_t> Expr::u32(uint16_t type) const { return numberAt<uint32_t>(*this, type); }
std::optional<uint64_t> Expr::u64(uint16_t type) const { return numberAt<uint64_t>(*this, type); }

const ExprAttr* Expr::find(uint16_t type) const {
  for (const auto& a : attrs)
    if (a.type == type) return &a;
  return nullptr;
}

bool Expr::sameAs(const Expr& o) const {
  if (name != o.name || children.size() != o.children.size()) return false;
  auto relevant = [this](const ExprAttr& a) { return !isCounterValue(*this, a.type); };
  auto a = attrs | std::views::filter(relevant);
  auto b = o.attrs | std::views::filter(relevant);
  if (!std::ranges::equal(a, b)) return false;
  for (size_t i = 0; i < children.size(); ++i)
    if (!children[i].sameAs(o.children[i])) return false;
  return true;
}

std::string RuleTag::comment() const {
  switch (kind) {
    case RuleKind::Policy: return "rule:" + name;
    case RuleKind::Cli: return "cli:" + name;
    case RuleKind::Meter: return "limit:" + name;
    case RuleKind::Builtin: return "builtin:" + name;
    case RuleKind::Ban: return "ban:" + name;
    case RuleKind::LogDrop: return "log:" + name;
    case RuleKind::PolicyDrop: return "policy:" + name;
    case RuleKind::Run: return "run:" + name;
    case RuleKind::Unknown: return name;
  }
  return name;
}

RuleTag RuleTag::parse(std::string_view comment) {
  static constexpr std::pair<std::string_view, RuleKind> kKinds[] = {
      {"rule:", RuleKind::Policy},     {"cli:", RuleKind::Cli},       {"limit:", RuleKind::Meter},
      {"builtin:", RuleKind::Builtin}, {"ban:", RuleKind::Ban},       {"log:", RuleKind::LogDrop},
      {"policy:", RuleKind::PolicyDrop}, {"run:", RuleKind::Run}};
  for (const auto& [prefix, kind] : kKinds)
    if (comment.starts_with(prefix)) return RuleTag{kind, std::string(comment.substr(prefix.size()))};
  return RuleTag{RuleKind::Unknown, std::string(comment)};
}

bool KernelRule::sameAs(const KernelRule& o) const {
  if (chain != o.chain || tag != o.tag || exprs.size() != o.exprs.size()) return false;
  for (size_t i = 0; i < exprs.size(); ++i)
    if (!exprs[i].sameAs(o.exprs[i])) return false;
  return true;
}

KernelRule::Counter KernelRule::counter() const {
  for (const auto& e : exprs)
    if (e.name == "counter")
      return Counter{e.u64(NFTNL_EXPR_CTR_PACKETS).value_or(0), e.u64(NFTNL_EXPR_CTR_BYTES).value_or(0)};
  return {};
}

std::string KernelRule::key() const {
  std::string out = chain;
  out += '\n';
  out += tag.comment();
  out += '\n';
  for (const auto& e : exprs) appendKey(out, e);
  return out;
}

bool Set::interval() const { return (flags & NFT_SET_INTERVAL) != 0; }

Set Set::withoutElements() const {
  Set s;
  s.name = name;
  s.key_type = key_type;
  s.key_len = key_len;
  s.flags = flags;
  s.timeout_ms = timeout_ms;
  s.size = size;
  s.counters = counters;
  s.handle = handle;
  return s;
}

const Set* Ruleset::findSet(std::string_view set_name) const {
  for (const auto& s : sets)
    if (s.name == set_name) return &s;
  return nullptr;
}

const Chain* Ruleset::findChain(std::string_view chain_name) const {
  for (const auto& c : chains)
    if (c.name == chain_name) return &c;
  return nullptr;
}

std::vector<const KernelRule*> Ruleset::chainRules(std::string_view chain_name) const {
  std::vector<const KernelRule*> out;
  for (const auto& r : rules)
    if (r.chain == chain_name) out.push_back(&r);
  return out;
}

std::string_view chainName(Hook hook) {
  switch (hook) {
    case Hook::Input: return "input";
    case Hook::Forward: return "forward";
    case Hook::Output: return "output";
  }
  return "input";
}

}  // namespace rampart::fw
