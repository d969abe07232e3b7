// nftText/nftElements beyond what rampart writes (the netns test "fw plan
// text" holds every rule rampart writes against nft's own listing): ranges,
// interval sets, rules someone else wrote, the element cut-off.
#include <catch2/catch.hpp>

#include <libnftnl/expr.h>
#include <linux/netfilter/nf_tables.h>

#include "firewall/compile.h"
#include "firewall/expr.h"
#include "firewall/nft_text.h"
#include "fw_test_util.h"

using namespace rampart;
using namespace rampart::fw;
using namespace rampart::fw::test;

namespace {

Set setOf(const char* name, uint32_t key_type, uint32_t key_len, uint32_t flags = 0) {
  Set s;
  s.name = name;
  s.key_type = key_type;
  s.key_len = key_len;
  s.flags = flags;
  return s;
}

SetElem range(Bytes from, Bytes to) {
  SetElem e = SetElem::of(std::move(from));
  e.key_end = std::move(to);
  return e;
}

KernelRule ruleOf(std::vector<expr::Exprs> parts, RuleTag tag = {RuleKind::Policy, "r"}) {
  KernelRule r;
  r.chain = "input";
  for (auto& p : parts) r.exprs.insert(r.exprs.end(), p.begin(), p.end());
  r.tag = std::move(tag);
  return r;
}

}  // namespace

TEST_CASE("nft text: matches, ranges and verdicts read as nft writes them") {
  CHECK(nftText(ruleOf({expr::nfproto(Family::V6), expr::saddrIs(cidr("2001:db8::/32")), expr::l4protoIs(expr::kUdp),
                        expr::dportIs(PortRange{8000, 8100}), expr::counter(), expr::accept()})) ==
        "ip6 saddr 2001:db8::/32 udp dport 8000-8100 counter accept comment \"rule:r\"");
  CHECK(nftText(ruleOf({expr::ifnameIs(false, "wg*"), expr::l4protoIs(50), expr::reject(false)})) ==
        "oifname \"wg*\" meta l4proto esp reject comment \"rule:r\"");
  CHECK(nftText(ruleOf({expr::ctStateIn(expr::kCtNew), expr::limitRate(Rate{3, RateUnit::Hour}, true), expr::drop()},
                       {RuleKind::Builtin, "x"})) == "ct state new limit rate over 3/hour drop comment \"builtin:x\"");
  // Someone else's rule, with an expression nft_text does not know and no comment.
  expr::Exprs quota{Expr{"quota", {}, {}}};
  CHECK(nftText(ruleOf({expr::dportIs(PortRange{22, 22}), quota, expr::accept()}, {RuleKind::Unknown, ""})) ==
        "th dport 22 [quota] accept");
}

TEST_CASE("nft text: elements of address, port and interval sets; a cut-off; unknown key types counted") {
  Set hosts = setOf("h", expr::kTypeIpv4Addr, 4);
  for (const char* a : {"10.0.0.1", "10.0.0.2", "10.0.0.3"}) hosts.elems.push_back(SetElem::of(networkKey(cidr(a))));
  CHECK(nftElements(hosts, 8) == "10.0.0.1, 10.0.0.2, 10.0.0.3");
  CHECK(nftElements(hosts, 2) == "10.0.0.1, 10.0.0.2 … (1 more)");
  Set nets = setOf("n", expr::kTypeIpv4Addr, 4, NFT_SET_INTERVAL);
  nets.elems = cidrElements({cidr("10.0.0.0/8"), cidr("192.0.2.7"), cidr("255.255.255.0/24")}, Family::V4);
  CHECK(nftElements(nets, 8) == "10.0.0.0/8, 192.0.2.7, 255.255.255.0/24");
  Set v6 = setOf("v6", expr::kTypeIpv6Addr, 16, NFT_SET_INTERVAL);
  v6.elems = cidrElements({cidr("2001:db8::/48"), cidr("2001:db8:1::/48")}, Family::V6);  // adjacent: merged
  CHECK(nftElements(v6, 8) == "2001:db8::/47");
  Set ports = setOf("p", expr::kTypeInetService, 2, NFT_SET_INTERVAL);
  ports.elems.push_back(range(Bytes{0x17, 0x70}, Bytes{0x17, 0x7b}));  // 6000-6010
  ports.elems.push_back(SetElem::of(Bytes{0x1b, 0x58}));                // 7000 to the top
  CHECK(nftElements(ports, 8) == "6000-6010, 7000-65535");
  Set run = setOf("run", 0x31cd, 12);
  run.elems.push_back(SetElem::of(Bytes(12, 1)));
  CHECK(nftElements(run, 8) == "(1 elements)");
  CHECK(nftElements(setOf("empty", expr::kTypeIpv4Addr, 4), 8).empty());
}
