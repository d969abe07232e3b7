// One builder per nftables expression, each returning the expressions it
// stands for as plain values (ruleset.h). The comment on each builder is the
// nft syntax it emits. Registers: everything loads into NFT_REG_1.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/units.h"
#include "firewall/policy.h"
#include "firewall/ruleset.h"

namespace rampart::fw::expr {

using Exprs = std::vector<Expr>;

// IP protocol numbers used in l4proto matches.
inline constexpr uint8_t kIcmp = 1;
inline constexpr uint8_t kTcp = 6;
inline constexpr uint8_t kUdp = 17;
inline constexpr uint8_t kIcmpV6 = 58;

// nft datatype ids for set keys (what `nft list` shows as `type ...`).
inline constexpr uint32_t kTypeIpv4Addr = 7;
inline constexpr uint32_t kTypeIpv6Addr = 8;
inline constexpr uint32_t kTypeInetProto = 12;
inline constexpr uint32_t kTypeInetService = 13;
inline constexpr uint32_t kTypeIcmpType = 14;
inline constexpr uint32_t kTypeIcmp6Type = 29;

uint8_t l4proto(Proto p);

Exprs nfproto(Family f);                       // meta nfproto ipv4
Exprs l4protoIs(uint8_t proto);                // meta l4proto tcp
Exprs iifLoopback();                           // iif "lo"
Exprs oifLoopback();                           // oif "lo"
// iifname "docker0" (oifname when !in); "br-*" matches the prefix "br-".
Exprs ifnameIs(bool in, std::string_view pattern);
Exprs saddrIs(const Cidr& c);                  // ip saddr 10.0.0.0/8 (ip6 saddr ...)
Exprs saddrIn(Family f, std::string_view set); // ip saddr @set
Exprs daddrIs(const Cidr& c);                  // ip daddr 192.0.2.10 (ip6 daddr ...)
Exprs daddrIn(Family f, std::string_view set); // ip daddr @set
// ip saddr & 255.255.255.0 @set (the source's network of this prefix length)
Exprs saddrMaskedIn(Family f, uint8_t prefix, std::string_view set);
// The netmask of a prefix length: 24 -> ff ff ff 00 (16 bytes for IPv6).
Bytes prefixMask(Family f, uint8_t prefix);
Exprs dportIs(PortRange r);                    // th dport 443 / th dport 8000-8100
Exprs dportIn(std::string_view set);           // th dport @set
Exprs sportIs(uint16_t port);                  // th sport 67
Exprs icmpTypeIn(Family f, std::string_view set);  // icmp type @set / icmpv6 type @set
Exprs ctStateIn(uint32_t state_bits);          // ct state established,related
Exprs ctStateInvalid();                        // ct state invalid
Exprs counter();                               // counter packets 0 bytes 0
Exprs limitRate(Rate r, bool over);            // limit rate [over] 5/second
Exprs log(std::string_view prefix);            // log prefix "..."
Exprs accept();                                // accept
Exprs drop();                                  // drop
// reject with tcp reset (a TCP packet), else reject with icmpx
// port-unreachable (ICMP or ICMPv6 port unreachable, by the packet's family)
Exprs reject(bool tcp_reset);
// add @set { ip saddr limit rate over 10/minute }  (per source address)
Exprs meter(Family f, std::string_view set, Rate r);

// The key of a rule table (compile.h): ip saddr . meta l4proto . th dport
// for family f, meta l4proto . th dport without one.
Exprs runKeyLoad(std::optional<Family> f);
uint32_t runKeyLen(std::optional<Family> f);
uint32_t runKeyType(std::optional<Family> f);
// One key: `host` (nullptr: no address part), protocol and port, padded
// to 32 bits per field as the registers hold them.
Bytes runKey(const Cidr* host, uint8_t proto, uint16_t port);
Exprs lookupIn(std::string_view set);          // lookup reg 1 @set

// ct state bits (host order), as nf_conntrack_common.h defines them.
inline constexpr uint32_t kCtInvalid = 1u << 0;
inline constexpr uint32_t kCtEstablished = 1u << 1;
inline constexpr uint32_t kCtRelated = 1u << 2;
inline constexpr uint32_t kCtNew = 1u << 3;

}  // namespace rampart::fw::expr
