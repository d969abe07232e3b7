#include "firewall/expr.h"

#include <algorithm>
#include <cstring>

#include <arpa/inet.h>
#include <libnftnl/expr.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>

namespace rampart::fw::expr {
namespace {

// Attribute encoders: the widths are the ones libnftnl keeps (and returns
// from nftnl_expr_get on a dump), so built and dumped values compare equal.
ExprAttr u32(uint16_t type, uint32_t v) {
  Bytes b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return {type, std::move(b)};
}
ExprAttr u64(uint16_t type, uint64_t v) {
  Bytes b(sizeof v);
  std::memcpy(b.data(), &v, sizeof v);
  return {type, std::move(b)};
}
ExprAttr str(uint16_t type, std::string_view s) {
  Bytes b(s.begin(), s.end());
  b.push_back(0);  // libnftnl returns strings with their NUL
  return {type, std::move(b)};
}
ExprAttr data(uint16_t type, Bytes b) { return {type, std::move(b)}; }

Expr make(std::string name, std::vector<ExprAttr> attrs) {
  std::ranges::sort(attrs, {}, &ExprAttr::type);
  return Expr{std::move(name), std::move(attrs), {}};
}

Bytes be16(uint16_t v) { return Bytes{static_cast<uint8_t>(v >> 8), static_cast<uint8_t>(v)}; }
Bytes hostU32(uint32_t v) {
  Bytes b(4);
  std::memcpy(b.data(), &v, 4);
  return b;
}

// payload load: [ payload load <len>b @ <base> + <offset> => reg 1 ]
Expr payload(uint32_t base, uint32_t offset, uint32_t len, uint32_t dreg = NFT_REG_1) {
  return make("payload", {u32(NFTNL_EXPR_PAYLOAD_DREG, dreg), u32(NFTNL_EXPR_PAYLOAD_BASE, base),
                          u32(NFTNL_EXPR_PAYLOAD_OFFSET, offset), u32(NFTNL_EXPR_PAYLOAD_LEN, len)});
}
// meta load <key> => reg 1
Expr meta(uint32_t key, uint32_t dreg = NFT_REG_1) {
  return make("meta", {u32(NFTNL_EXPR_META_KEY, key), u32(NFTNL_EXPR_META_DREG, dreg)});
}
// ct load <key> => reg 1
Expr ct(uint32_t key) {
  return make("ct", {u32(NFTNL_EXPR_CT_KEY, key), u32(NFTNL_EXPR_CT_DREG, NFT_REG_1)});
}
// cmp <op> reg 1 <value>
Expr cmp(uint32_t op, Bytes value) {
  return make("cmp", {u32(NFTNL_EXPR_CMP_SREG, NFT_REG_1), u32(NFTNL_EXPR_CMP_OP, op),
                      data(NFTNL_EXPR_CMP_DATA, std::move(value))});
}
// bitwise reg 1 = (reg 1 & mask) ^ 0
Expr bitwise(Bytes mask) {
  Bytes zero(mask.size(), 0);
  auto len = static_cast<uint32_t>(mask.size());
  return make("bitwise", {u32(NFTNL_EXPR_BITWISE_SREG, NFT_REG_1), u32(NFTNL_EXPR_BITWISE_DREG, NFT_REG_1),
                          u32(NFTNL_EXPR_BITWISE_LEN, len), u32(NFTNL_EXPR_BITWISE_OP, NFT_BITWISE_BOOL),
                          data(NFTNL_EXPR_BITWISE_MASK, std::move(mask)),
                          data(NFTNL_EXPR_BITWISE_XOR, std::move(zero))});
}
// lookup reg 1 set <name>
Expr lookup(std::string_view set) {
  return make("lookup", {u32(NFTNL_EXPR_LOOKUP_SREG, NFT_REG_1), str(NFTNL_EXPR_LOOKUP_SET, set),
                         u32(NFTNL_EXPR_LOOKUP_FLAGS, 0)});
}
// immediate reg 0 <verdict>
Expr verdict(uint32_t code) {
  return make("immediate",
              {u32(NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT), u32(NFTNL_EXPR_IMM_VERDICT, code)});
}
// limit rate [over] <count>/<unit> burst 5 packets
Expr limit(Rate r, bool over) {
  return make("limit", {u64(NFTNL_EXPR_LIMIT_RATE, r.count),
                        u64(NFTNL_EXPR_LIMIT_UNIT, static_cast<uint64_t>(r.period().count())),
                        u32(NFTNL_EXPR_LIMIT_BURST, 5), u32(NFTNL_EXPR_LIMIT_TYPE, NFT_LIMIT_PKTS),
                        u32(NFTNL_EXPR_LIMIT_FLAGS, over ? NFT_LIMIT_F_INV : 0)});
}

Exprs saddrLoad(Family f) {
  // ip saddr: offset 12 in the IPv4 header; ip6 saddr: offset 8 in IPv6.
  return {payload(NFT_PAYLOAD_NETWORK_HEADER, f == Family::V4 ? 12 : 8, f == Family::V4 ? 4 : 16)};
}
Exprs daddrLoad(Family f) {
  // ip daddr: offset 16 in the IPv4 header; ip6 daddr: offset 24 in IPv6.
  return {payload(NFT_PAYLOAD_NETWORK_HEADER, f == Family::V4 ? 16 : 24, f == Family::V4 ? 4 : 16)};
}

// <load> 10.0.0.0/8 for the address loaded by `load`
Exprs addressIs(Exprs load, const Cidr& c) {
  size_t len = c.family == Family::V4 ? 4 : 16;
  Bytes addr(c.addr.begin(), c.addr.begin() + static_cast<std::ptrdiff_t>(len));
  if (!c.isHost()) load.push_back(bitwise(prefixMask(c.family, c.prefix)));
  load.push_back(cmp(NFT_CMP_EQ, std::move(addr)));
  return load;
}

}  // namespace

uint8_t l4proto(Proto p) { return p == Proto::Tcp ? kTcp : kUdp; }

// meta nfproto ipv4 / meta nfproto ipv6
Exprs nfproto(Family f) {
  return {meta(NFT_META_NFPROTO), cmp(NFT_CMP_EQ, Bytes{f == Family::V4 ? uint8_t{NFPROTO_IPV4}
                                                                         : uint8_t{NFPROTO_IPV6}})};
}

// meta l4proto tcp
Exprs l4protoIs(uint8_t proto) { return {meta(NFT_META_L4PROTO), cmp(NFT_CMP_EQ, Bytes{proto})}; }

// iif "lo" (the loopback device is ifindex 1 in every network namespace)
Exprs iifLoopback() { return {meta(NFT_META_IIF), cmp(NFT_CMP_EQ, hostU32(1))}; }
Exprs oifLoopback() { return {meta(NFT_META_OIF), cmp(NFT_CMP_EQ, hostU32(1))}; }

Exprs ifnameIs(bool in, std::string_view pattern) {
  // A whole name is compared with its trailing NULs (IFNAMSIZ bytes); a
  // prefix compares only its own bytes.
  Bytes name(pattern.begin(), pattern.end());
  if (name.empty() || name.back() != '*') name.resize(16, 0);
  else name.pop_back();
  return {meta(in ? NFT_META_IIFNAME : NFT_META_OIFNAME), cmp(NFT_CMP_EQ, std::move(name))};
}

// ip saddr 10.0.0.0/8, ip saddr 192.0.2.1, ip6 saddr 2001:db8::/32
Exprs saddrIs(const Cidr& c) { return addressIs(saddrLoad(c.family), c); }

// ip daddr 192.0.2.10, ip6 daddr 2001:db8::/64
Exprs daddrIs(const Cidr& c) { return addressIs(daddrLoad(c.family), c); }

// ip daddr @set / ip6 daddr @set
Exprs daddrIn(Family f, std::string_view set) {
  Exprs out = daddrLoad(f);
  out.push_back(lookup(set));
  return out;
}

// ip saddr @set / ip6 saddr @set
Exprs saddrIn(Family f, std::string_view set) {
  Exprs out = saddrLoad(f);
  out.push_back(lookup(set));
  return out;
}

Bytes prefixMask(Family f, uint8_t prefix) {
  const size_t len = f == Family::V4 ? 4 : 16;
  Bytes mask(len, 0);
  for (size_t i = 0; i < len; ++i) {
    int bits = std::clamp(static_cast<int>(prefix) - static_cast<int>(i * 8), 0, 8);
    mask[i] = static_cast<uint8_t>(0xff00 >> bits);
  }
  return mask;
}

// ip saddr & 255.255.255.0 @set / ip6 saddr & ffff:ffff:ffff:ffff:: @set
Exprs saddrMaskedIn(Family f, uint8_t prefix, std::string_view set) {
  Exprs out = saddrLoad(f);
  out.push_back(bitwise(prefixMask(f, prefix)));
  out.push_back(lookup(set));
  return out;
}

// th dport 443 / th dport 8000-8100
Exprs sportIs(uint16_t port) {
  return {payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2), cmp(NFT_CMP_EQ, be16(port))};
}

Exprs dportIs(PortRange r) {
  Exprs out{payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2)};
  if (r.first == r.last) {
    out.push_back(cmp(NFT_CMP_EQ, be16(r.first)));
  } else {
    out.push_back(make("range", {u32(NFTNL_EXPR_RANGE_SREG, NFT_REG_1), u32(NFTNL_EXPR_RANGE_OP, NFT_RANGE_EQ),
                                 data(NFTNL_EXPR_RANGE_FROM_DATA, be16(r.first)),
                                 data(NFTNL_EXPR_RANGE_TO_DATA, be16(r.last))}));
  }
  return out;
}

// th dport @set
Exprs dportIn(std::string_view set) {
  return {payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2), lookup(set)};
}

// meta l4proto icmp icmp type @set / meta l4proto ipv6-icmp icmpv6 type @set
Exprs icmpTypeIn(Family f, std::string_view set) {
  Exprs out = nfproto(f);
  for (auto& e : l4protoIs(f == Family::V4 ? kIcmp : kIcmpV6)) out.push_back(std::move(e));
  out.push_back(payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 1));
  out.push_back(lookup(set));
  return out;
}

// ct state established,related (any of the bits)
Exprs ctStateIn(uint32_t state_bits) {
  return {ct(NFT_CT_STATE), bitwise(hostU32(state_bits)), cmp(NFT_CMP_NEQ, hostU32(0))};
}

// ct state invalid
Exprs ctStateInvalid() { return ctStateIn(kCtInvalid); }

// counter packets 0 bytes 0
Exprs counter() {
  return {make("counter", {u64(NFTNL_EXPR_CTR_PACKETS, 0), u64(NFTNL_EXPR_CTR_BYTES, 0)})};
}

// limit rate 5/second / limit rate over 5/second
Exprs limitRate(Rate r, bool over) { return {limit(r, over)}; }

// log prefix "rampart drop input: "
Exprs log(std::string_view prefix) {
  return {make("log", {str(NFTNL_EXPR_LOG_PREFIX, prefix), u32(NFTNL_EXPR_LOG_LEVEL, 4)})};
}

// accept
Exprs accept() { return {verdict(NF_ACCEPT)}; }

// drop
Exprs drop() { return {verdict(NF_DROP)}; }

// reject with tcp reset / reject with icmpx port-unreachable. The kernel
// dumps the code only for the ICMP types: set it only there, so a dump
// compares equal.
Exprs reject(bool tcp_reset) {
  if (tcp_reset) return {make("reject", {u32(NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_TCP_RST)})};
  return {make("reject", {u32(NFTNL_EXPR_REJECT_TYPE, NFT_REJECT_ICMPX_UNREACH),
                          data(NFTNL_EXPR_REJECT_CODE, Bytes{NFT_REJECT_ICMPX_PORT_UNREACH})})};
}

// update @set { ip saddr limit rate over 10/minute }
Exprs meter(Family f, std::string_view set, Rate r) {
  Exprs out = saddrLoad(f);
  Expr dyn = make("dynset", {u32(NFTNL_EXPR_DYNSET_SREG_KEY, NFT_REG_1),
                             u32(NFTNL_EXPR_DYNSET_OP, NFT_DYNSET_OP_UPDATE),
                             u64(NFTNL_EXPR_DYNSET_TIMEOUT, 0),  // the set's timeout applies
                             str(NFTNL_EXPR_DYNSET_SET_NAME, set), u32(NFTNL_EXPR_DYNSET_FLAGS, 0)});
  dyn.children.push_back(limit(r, true));
  out.push_back(std::move(dyn));
  return out;
}

// [ip saddr .] meta l4proto . th dport, each field in its own 32-bit
// register from reg 1 on, as nft lays out a concatenation:
//   [ payload load 4b @ network header + 12 => reg 1 ]   (16b for ip6)
//   [ meta load l4proto => reg 9 ]                        (reg 12 after ip6)
//   [ payload load 2b @ transport header + 2 => reg 10 ]
Exprs runKeyLoad(std::optional<Family> f) {
  Exprs out;
  uint32_t reg = NFT_REG32_00;
  if (f) {
    out.push_back(payload(NFT_PAYLOAD_NETWORK_HEADER, *f == Family::V4 ? 12 : 8, *f == Family::V4 ? 4 : 16,
                          NFT_REG_1));
    reg += *f == Family::V4 ? 1 : 4;
  }
  // The kernel reports a 32-bit register that starts a 128-bit one by the
  // 128-bit name (reg 12 as reg 2): use that name, so a dump compares equal.
  auto name = [](uint32_t reg32) {
    uint32_t offset = reg32 - NFT_REG32_00;
    return offset % 4 == 0 ? uint32_t{NFT_REG_1} + offset / 4 : reg32;
  };
  out.push_back(meta(NFT_META_L4PROTO, name(reg)));
  out.push_back(payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2, name(reg + 1)));
  return out;
}

uint32_t runKeyLen(std::optional<Family> f) { return (f ? (*f == Family::V4 ? 4 : 16) : 0) + 4 + 4; }

uint32_t runKeyType(std::optional<Family> f) {
  // nft encodes a concatenation's type as its parts' ids, 6 bits each.
  uint32_t t = kTypeInetProto << 6 | kTypeInetService;
  if (f) t |= (*f == Family::V4 ? kTypeIpv4Addr : kTypeIpv6Addr) << 12;
  return t;
}

Bytes runKey(const Cidr* host, uint8_t proto, uint16_t port) {
  Bytes key;
  if (host != nullptr) {
    size_t len = host->family == Family::V4 ? 4 : 16;
    key.assign(host->addr.begin(), host->addr.begin() + static_cast<std::ptrdiff_t>(len));
  }
  key.insert(key.end(), {proto, 0, 0, 0, static_cast<uint8_t>(port >> 8), static_cast<uint8_t>(port), 0, 0});
  return key;
}

// lookup reg 1 set <name>
Exprs lookupIn(std::string_view set) { return {lookup(set)}; }

}  // namespace rampart::fw::expr
