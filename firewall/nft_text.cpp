#include "firewall/nft_text.h"

#include <arpa/inet.h>
#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

#include <cstring>
#include <optional>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "firewall/expr.h"

namespace rampart::fw {
namespace {

std::string strAt(const Expr& e, uint16_t type) {
  const ExprAttr* a = e.find(type);
  if (a == nullptr) return {};
  std::string s(a->data.begin(), a->data.end());
  if (size_t nul = s.find('\0'); nul != std::string::npos) s.resize(nul);
  return s;
}
const Bytes* dataAt(const Expr& e, uint16_t type) {
  const ExprAttr* a = e.find(type);
  return a == nullptr ? nullptr : &a->data;
}

std::string protoName(unsigned p) {
  switch (p) {
    case 1: return "icmp";
    case 2: return "igmp";
    case 6: return "tcp";
    case 17: return "udp";
    case 47: return "gre";
    case 50: return "esp";
    case 51: return "ah";
    case 58: return "ipv6-icmp";
    case 89: return "ospf";
    case 112: return "vrrp";
    case 132: return "sctp";
    default: return fmt::format("{}", p);
  }
}

std::string address(const Bytes& b) {
  char text[INET6_ADDRSTRLEN] = {};
  if (b.size() == 4) ::inet_ntop(AF_INET, b.data(), text, sizeof text);
  else if (b.size() == 16) ::inet_ntop(AF_INET6, b.data(), text, sizeof text);
  else return "0x" + fmt::format("{:02x}", fmt::join(b, ""));
  return text;
}

// Leading one bits of a netmask, or nullopt when it is not one.
std::optional<unsigned> prefixOf(const Bytes& mask) {
  unsigned n = 0;
  bool ended = false;
  for (uint8_t byte : mask) {
    for (int bit = 7; bit >= 0; --bit) {
      bool one = (byte >> bit) & 1;
      if (one && ended) return std::nullopt;
      if (one) ++n;
      else ended = true;
    }
  }
  return n;
}

std::string ctStates(uint32_t bits) {
  static constexpr std::pair<uint32_t, const char*> kNames[] = {
      {1u << 0, "invalid"}, {1u << 1, "established"}, {1u << 2, "related"}, {1u << 3, "new"}, {1u << 6, "untracked"}};
  std::string out;
  for (auto [bit, name] : kNames)
    if (bits & bit) out += fmt::format("{}{}", out.empty() ? "" : ",", name);
  return out.empty() ? fmt::format("0x{:x}", bits) : out;
}

// A value loaded into a register, and how to show what is compared with it.
enum class Kind { Nfproto, L4proto, Ifindex, Ifname, Addr, Port, Byte, CtState, Raw };
struct Load {
  std::string name;  // "ip saddr", "tcp dport", "meta l4proto"
  Kind kind = Kind::Raw;
  uint32_t dreg = NFT_REG_1;
  bool transport = false;  // a transport header field (its protocol may name it)
};

std::string valueText(Kind kind, const Bytes& v) {
  auto be = [&] {
    uint64_t n = 0;
    for (uint8_t b : v) n = n << 8 | b;
    return n;
  };
  uint32_t host = 0;
  if (v.size() == 4) std::memcpy(&host, v.data(), 4);
  switch (kind) {
    case Kind::Nfproto:
      return v.size() == 1 && v[0] == NFPROTO_IPV4 ? "ipv4" : v.size() == 1 && v[0] == NFPROTO_IPV6 ? "ipv6" : "?";
    case Kind::L4proto:
      return v.size() == 1 ? protoName(v[0]) : "?";
    case Kind::Ifindex:
      return host == 1 ? "\"lo\"" : fmt::format("{}", host);
    case Kind::Ifname: {
      std::string name(v.begin(), v.end());
      bool whole = name.find('\0') != std::string::npos;
      if (whole) name.resize(name.find('\0'));
      return fmt::format("\"{}{}\"", name, whole ? "" : "*");
    }
    case Kind::Addr:
      return address(v);
    case Kind::Port:
    case Kind::Byte:
      return fmt::format("{}", be());
    case Kind::CtState:
      return ctStates(host);
    case Kind::Raw:
      break;
  }
  return "0x" + fmt::format("{:02x}", fmt::join(v, ""));
}

std::string limitText(const Expr& e) {
  uint64_t rate = e.u64(NFTNL_EXPR_LIMIT_RATE).value_or(0);
  uint64_t unit = e.u64(NFTNL_EXPR_LIMIT_UNIT).value_or(1);
  const char* per = unit == 1 ? "second" : unit == 60 ? "minute" : unit == 3600 ? "hour" : unit == 86400 ? "day" : "week";
  bool over = (e.u32(NFTNL_EXPR_LIMIT_FLAGS).value_or(0) & NFT_LIMIT_F_INV) != 0;
  std::string out = fmt::format("limit rate {}{}/{}", over ? "over " : "", rate, per);
  if (uint32_t burst = e.u32(NFTNL_EXPR_LIMIT_BURST).value_or(5); burst != 5)
    out += fmt::format(" burst {} packets", burst);
  return out;
}

std::string verdictText(const Expr& e) {
  auto code = e.u32(NFTNL_EXPR_IMM_VERDICT);
  if (!code) return "[immediate]";
  switch (static_cast<int32_t>(*code)) {
    case NF_ACCEPT: return "accept";
    case NF_DROP: return "drop";
    case NFT_RETURN: return "return";
    case NFT_CONTINUE: return "continue";
    case NFT_JUMP: return "jump " + strAt(e, NFTNL_EXPR_IMM_CHAIN);
    case NFT_GOTO: return "goto " + strAt(e, NFTNL_EXPR_IMM_CHAIN);
    default: return "[immediate]";
  }
}

std::string rejectText(const Expr& e) {
  uint32_t type = e.u32(NFTNL_EXPR_REJECT_TYPE).value_or(NFT_REJECT_ICMPX_UNREACH);
  if (type == NFT_REJECT_TCP_RST) return "reject with tcp reset";
  const Bytes* code = dataAt(e, NFTNL_EXPR_REJECT_CODE);
  unsigned c = code != nullptr && !code->empty() ? unsigned{(*code)[0]} : unsigned{NFT_REJECT_ICMPX_PORT_UNREACH};
  if (type == NFT_REJECT_ICMPX_UNREACH && c == NFT_REJECT_ICMPX_PORT_UNREACH) return "reject";
  return fmt::format("reject with {} {}", type == NFT_REJECT_ICMPX_UNREACH ? "icmpx" : "icmp", c);
}

class Renderer {
 public:
  explicit Renderer(const std::vector<Expr>& exprs) : x_(exprs) {}

  std::string run() {
    for (i_ = 0; i_ < x_.size(); ++i_) step(x_[i_]);
    for (const Load& l : loads_) word(l.name);  // a load nothing used
    return out_;
  }

 private:
  void word(std::string_view w) {
    if (w.empty()) return;
    if (!out_.empty()) out_ += ' ';
    out_ += w;
  }

  bool laterPayload(uint32_t base, bool reg1_only) const {
    for (size_t j = i_ + 1; j < x_.size(); ++j) {
      const Expr& e = x_[j];
      if (e.name != "payload" || e.u32(NFTNL_EXPR_PAYLOAD_BASE) != base) continue;
      if (!reg1_only || e.u32(NFTNL_EXPR_PAYLOAD_DREG) == uint32_t{NFT_REG_1}) return true;
    }
    return false;
  }

  // The protocol match the transport header fields after it are named by
  // (tcp dport), left out as nft leaves it out when such a field follows.
  bool implicitL4(unsigned proto) {
    if (!laterPayload(NFT_PAYLOAD_TRANSPORT_HEADER, true)) return false;
    l4_ = proto == 58 ? "icmpv6" : protoName(proto);
    return true;
  }
  // `meta nfproto ipv4` goes without saying before an ip field, or an
  // icmp/icmpv6 field.
  bool implicitNfproto() const {
    if (laterPayload(NFT_PAYLOAD_NETWORK_HEADER, false)) return true;
    for (size_t j = i_ + 1; j + 1 < x_.size(); ++j) {
      if (x_[j].name != "meta" || x_[j].u32(NFTNL_EXPR_META_KEY) != uint32_t{NFT_META_L4PROTO}) continue;
      const Bytes* v = dataAt(x_[j + 1], NFTNL_EXPR_CMP_DATA);
      if (x_[j + 1].name == "cmp" && v != nullptr && v->size() == 1 && ((*v)[0] == 1 || (*v)[0] == 58))
        return laterPayload(NFT_PAYLOAD_TRANSPORT_HEADER, true);
    }
    return false;
  }

  Load loadOf(const Expr& e) {
    Load l;
    if (e.name == "meta") {
      l.dreg = e.u32(NFTNL_EXPR_META_DREG).value_or(NFT_REG_1);
      switch (e.u32(NFTNL_EXPR_META_KEY).value_or(~0u)) {
        case NFT_META_NFPROTO: return {"meta nfproto", Kind::Nfproto, l.dreg, false};
        case NFT_META_L4PROTO: return {"meta l4proto", Kind::L4proto, l.dreg, false};
        case NFT_META_IIF: return {"iif", Kind::Ifindex, l.dreg, false};
        case NFT_META_OIF: return {"oif", Kind::Ifindex, l.dreg, false};
        case NFT_META_IIFNAME: return {"iifname", Kind::Ifname, l.dreg, false};
        case NFT_META_OIFNAME: return {"oifname", Kind::Ifname, l.dreg, false};
        default: return {fmt::format("meta {}", e.u32(NFTNL_EXPR_META_KEY).value_or(0)), Kind::Raw, l.dreg, false};
      }
    }
    if (e.name == "ct") {
      uint32_t key = e.u32(NFTNL_EXPR_CT_KEY).value_or(~0u);
      return {key == NFT_CT_STATE ? "ct state" : fmt::format("ct {}", key), key == NFT_CT_STATE ? Kind::CtState : Kind::Raw,
              NFT_REG_1, false};
    }
    // payload
    uint32_t base = e.u32(NFTNL_EXPR_PAYLOAD_BASE).value_or(0);
    uint32_t off = e.u32(NFTNL_EXPR_PAYLOAD_OFFSET).value_or(0);
    uint32_t len = e.u32(NFTNL_EXPR_PAYLOAD_LEN).value_or(0);
    l.dreg = e.u32(NFTNL_EXPR_PAYLOAD_DREG).value_or(NFT_REG_1);
    if (base == NFT_PAYLOAD_NETWORK_HEADER && off == 12 && len == 4) return {"ip saddr", Kind::Addr, l.dreg, false};
    if (base == NFT_PAYLOAD_NETWORK_HEADER && off == 16 && len == 4) return {"ip daddr", Kind::Addr, l.dreg, false};
    if (base == NFT_PAYLOAD_NETWORK_HEADER && off == 8 && len == 16) return {"ip6 saddr", Kind::Addr, l.dreg, false};
    if (base == NFT_PAYLOAD_NETWORK_HEADER && off == 24 && len == 16) return {"ip6 daddr", Kind::Addr, l.dreg, false};
    // In a concatenation nft names the field by the header alone.
    std::string proto = l.dreg == NFT_REG_1 && !l4_.empty() ? l4_ : "th";
    if (base == NFT_PAYLOAD_TRANSPORT_HEADER && len == 2 && (off == 0 || off == 2))
      return {fmt::format("{} {}", proto, off == 0 ? "sport" : "dport"), Kind::Port, l.dreg, true};
    if (base == NFT_PAYLOAD_TRANSPORT_HEADER && off == 0 && len == 1 && (proto == "icmp" || proto == "icmpv6"))
      return {proto + " type", Kind::Byte, l.dreg, true};
    const char* hdr = base == NFT_PAYLOAD_LL_HEADER ? "ll" : base == NFT_PAYLOAD_NETWORK_HEADER ? "nh" : "th";
    return {fmt::format("@{},{},{}", hdr, off * 8, len * 8), Kind::Raw, l.dreg, false};
  }

  // The load a comparison or lookup reads: the last one.
  std::optional<Load> take() {
    if (loads_.empty()) return std::nullopt;
    Load l = loads_.back();
    loads_.pop_back();
    return l;
  }

  void step(const Expr& e) {
    if (e.name == "meta" || e.name == "ct" || e.name == "payload") {
      loads_.push_back(loadOf(e));
      mask_.reset();
      return;
    }
    if (e.name == "bitwise") {
      if (const Bytes* m = dataAt(e, NFTNL_EXPR_BITWISE_MASK)) mask_ = *m;
      return;
    }
    if (e.name == "cmp") return compare(e);
    if (e.name == "range") {
      auto l = take();
      const Bytes* from = dataAt(e, NFTNL_EXPR_RANGE_FROM_DATA);
      const Bytes* to = dataAt(e, NFTNL_EXPR_RANGE_TO_DATA);
      if (!l || from == nullptr || to == nullptr) return word("[range]");
      word(fmt::format("{} {}-{}", l->name, valueText(l->kind, *from), valueText(l->kind, *to)));
      return;
    }
    if (e.name == "lookup") return lookup(e);
    if (e.name == "dynset") return dynset(e);
    if (e.name == "counter") return word("counter");
    if (e.name == "immediate") return word(verdictText(e));
    if (e.name == "reject") return word(rejectText(e));
    if (e.name == "limit") return word(limitText(e));
    if (e.name == "log") {
      std::string prefix = strAt(e, NFTNL_EXPR_LOG_PREFIX);
      std::string out = prefix.empty() ? "log" : fmt::format("log prefix \"{}\"", prefix);
      if (auto level = e.u32(NFTNL_EXPR_LOG_LEVEL); level && *level != 4) out += fmt::format(" level {}", *level);
      return word(out);
    }
    word(fmt::format("[{}]", e.name));
  }

  void compare(const Expr& e) {
    auto l = take();
    const Bytes* v = dataAt(e, NFTNL_EXPR_CMP_DATA);
    if (!l || v == nullptr) return word("[cmp]");
    uint32_t op = e.u32(NFTNL_EXPR_CMP_OP).value_or(NFT_CMP_EQ);
    Bytes mask = mask_.value_or(Bytes{});
    mask_.reset();
    if (l->kind == Kind::CtState && !mask.empty()) {  // ct state & bits != 0
      uint32_t bits = 0;
      if (mask.size() == 4) std::memcpy(&bits, mask.data(), 4);
      return word(fmt::format("{} {}", l->name, ctStates(bits)));
    }
    if (l->kind == Kind::Nfproto && op == NFT_CMP_EQ && implicitNfproto()) return;
    if (l->kind == Kind::L4proto && op == NFT_CMP_EQ && v->size() == 1 && l->dreg == NFT_REG_1 && implicitL4((*v)[0]))
      return;
    std::string value = valueText(l->kind, *v);
    if (!mask.empty()) {
      if (auto prefix = prefixOf(mask); prefix && l->kind == Kind::Addr) value += fmt::format("/{}", *prefix);
      else return word(fmt::format("{} & {} {} {}", l->name, valueText(l->kind, mask), op == NFT_CMP_EQ ? "==" : "!=", value));
    }
    static constexpr const char* kOps[] = {"", "!= ", "< ", "<= ", "> ", ">= "};
    word(fmt::format("{} {}{}", l->name, op < 6 ? kOps[op] : "? ", value));
  }

  void lookup(const Expr& e) {
    std::string set = "@" + strAt(e, NFTNL_EXPR_LOOKUP_SET);
    bool inverted = (e.u32(NFTNL_EXPR_LOOKUP_FLAGS).value_or(0) & NFT_LOOKUP_F_INV) != 0;
    if (inverted) set = "!= " + set;
    if (loads_.size() > 1) {  // a concatenation: a . b . c @set
      std::string key;
      for (const Load& l : loads_) key += fmt::format("{}{}", key.empty() ? "" : " . ", l.name);
      loads_.clear();
      return word(fmt::format("{} {}", key, set));
    }
    auto l = take();
    if (!l) return word(set);
    if (mask_) {
      std::string text = fmt::format("{} & {} == {}", l->name, valueText(l->kind, *mask_), set);
      mask_.reset();
      return word(text);
    }
    word(fmt::format("{} {}", l->name, set));
  }

  void dynset(const Expr& e) {
    auto l = take();
    std::string stmts;
    for (const Expr& c : e.children)
      stmts += " " + (c.name == "limit" ? limitText(c) : c.name == "counter" ? std::string("counter") : "[" + c.name + "]");
    uint32_t op = e.u32(NFTNL_EXPR_DYNSET_OP).value_or(NFT_DYNSET_OP_UPDATE);
    word(fmt::format("{} @{} {{ {}{} }}", op == NFT_DYNSET_OP_ADD ? "add" : "update", strAt(e, NFTNL_EXPR_DYNSET_SET_NAME),
                     l ? l->name : "?", stmts));
  }

  const std::vector<Expr>& x_;
  size_t i_ = 0;
  std::vector<Load> loads_;
  std::optional<Bytes> mask_;
  std::string l4_;  // the protocol transport fields are named by
  std::string out_;
};

// How a set's key of this datatype reads; nullopt: not one shown.
std::optional<std::string> keyText(uint32_t key_type, const Bytes& key) {
  switch (key_type) {
    case expr::kTypeIpv4Addr:
    case expr::kTypeIpv6Addr:
      return address(key);
    case expr::kTypeInetService:
      return key.size() == 2 ? std::optional(fmt::format("{}", key[0] << 8 | key[1])) : std::nullopt;
    case expr::kTypeInetProto:
      return key.size() == 1 ? std::optional(protoName(key[0])) : std::nullopt;
    case expr::kTypeIcmpType:
    case expr::kTypeIcmp6Type:
      return key.size() == 1 ? std::optional(fmt::format("{}", key[0])) : std::nullopt;
    default:
      return std::nullopt;
  }
}

// [key, end) of an interval set as nft shows it: a network, an address, or
// a range a-b.
std::string intervalText(uint32_t key_type, const SetElem& e) {
  auto first = keyText(key_type, e.key);
  if (!first) return "?";
  Bytes last = e.key_end;
  if (last.empty()) last.assign(e.key.size(), 0xff);
  else  // the end is exclusive: one less
    for (size_t i = last.size(); i-- > 0;)
      if (last[i]-- != 0) break;
  if (last == e.key) return *first;
  if (key_type == expr::kTypeIpv4Addr || key_type == expr::kTypeIpv6Addr) {
    Bytes diff(e.key.size());
    for (size_t i = 0; i < diff.size(); ++i) diff[i] = static_cast<uint8_t>(~(e.key[i] ^ last[i]));
    // A network: the first and last address differ exactly in the host bits.
    if (auto p = prefixOf(diff)) {
      bool aligned = true;
      for (size_t i = 0; i < diff.size(); ++i)
        aligned = aligned && (e.key[i] & ~diff[i]) == 0 && (last[i] | diff[i]) == 0xff;
      if (aligned) return fmt::format("{}/{}", *first, *p);
    }
  }
  return fmt::format("{}-{}", *first, keyText(key_type, last).value_or("?"));
}

}  // namespace

std::string nftText(const KernelRule& rule) {
  std::string out = Renderer(rule.exprs).run();
  std::string comment = rule.tag.kind == RuleKind::Unknown ? rule.tag.name : rule.tag.comment();
  if (!comment.empty()) out += fmt::format("{}comment \"{}\"", out.empty() ? "" : " ", comment);
  return out;
}

std::string nftElements(const Set& set, size_t most) {
  if (set.elems.empty()) return "";
  if (!keyText(set.key_type, set.elems.front().key)) return fmt::format("({} elements)", set.elems.size());
  std::string out;
  size_t shown = 0;
  for (const SetElem& e : set.elems) {
    if (shown == most) break;
    std::string text = set.interval() ? intervalText(set.key_type, e) : keyText(set.key_type, e.key).value_or("?");
    out += fmt::format("{}{}", shown++ == 0 ? "" : ", ", text);
  }
  if (shown < set.elems.size()) out += fmt::format(" … ({} more)", set.elems.size() - shown);
  return out;
}

}  // namespace rampart::fw
