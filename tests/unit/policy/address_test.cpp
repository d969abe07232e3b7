// Cidr, PortSpec and the name rules: the leaves of every policy rule.
#include <catch2/catch.hpp>

#include "firewall/policy.h"

using namespace rampart::fw;

namespace {
std::string cidrError(std::string_view text) {
  auto c = Cidr::parse(text);
  return c ? "parsed as " + c->str() : c.error();
}
std::string portError(std::string_view text) {
  auto p = PortSpec::parse(text);
  return p ? "parsed as " + p->str() : p.error();
}
}  // namespace

TEST_CASE("cidr: IPv4 and IPv6 hosts and networks parse and print back") {
  auto host = Cidr::parse("10.0.1.5");
  REQUIRE(host);
  CHECK(host->family == Family::V4);
  CHECK(host->prefix == 32);
  CHECK(host->isHost());
  CHECK(host->addr[0] == 10);
  CHECK(host->addr[3] == 5);
  CHECK(host->str() == "10.0.1.5");

  auto net = Cidr::parse("10.0.1.0/24");
  REQUIRE(net);
  CHECK(net->prefix == 24);
  CHECK(net->str() == "10.0.1.0/24");

  auto v6 = Cidr::parse("2001:DB8:1::/64");
  REQUIRE(v6);
  CHECK(v6->family == Family::V6);
  CHECK(v6->str() == "2001:db8:1::/64");  // canonical lower case, compressed
  CHECK(Cidr::parse("2001:0db8:0000:0000:0000:0000:0000:0001")->str() == "2001:db8::1");
  CHECK(Cidr::parse("::1")->str() == "::1");
}

TEST_CASE("cidr: a /32 or /128 written out is the same value as the plain address") {
  CHECK(*Cidr::parse("10.0.1.5/32") == *Cidr::parse("10.0.1.5"));
  CHECK(Cidr::parse("10.0.1.5/32")->str() == "10.0.1.5");
  CHECK(*Cidr::parse("2001:db8::1/128") == *Cidr::parse("2001:db8::1"));
}

TEST_CASE("cidr: the whole address spaces and the unspecified addresses") {
  auto any4 = Cidr::parse("0.0.0.0/0");
  REQUIRE(any4);
  CHECK(any4->prefix == 0);
  CHECK(any4->str() == "0.0.0.0/0");
  auto any6 = Cidr::parse("::/0");
  REQUIRE(any6);
  CHECK(any6->str() == "::/0");
  auto unspec = Cidr::parse("::");
  REQUIRE(unspec);
  CHECK(unspec->family == Family::V6);
  CHECK(unspec->prefix == 128);
  CHECK(unspec->str() == "::");
  CHECK(Cidr::parse("0.0.0.0")->str() == "0.0.0.0");
  CHECK(Cidr::parse("255.255.255.255/32")->str() == "255.255.255.255");
}

TEST_CASE("cidr: host bits set is refused, naming the network and the host it could be") {
  CHECK(cidrError("10.0.1.5/24") ==
        "10.0.1.5/24 has host bits set (did you mean 10.0.1.0/24 or 10.0.1.5?)");
  CHECK(cidrError("2001:db8::1/64") ==
        "2001:db8::1/64 has host bits set (did you mean 2001:db8::/64 or 2001:db8::1?)");
  CHECK(cidrError("10.0.0.1/0") ==
        "10.0.0.1/0 has host bits set (did you mean 0.0.0.0/0 or 10.0.0.1?)");
  CHECK(cidrError("192.168.1.129/25") ==
        "192.168.1.129/25 has host bits set (did you mean 192.168.1.128/25 or 192.168.1.129?)");
}

TEST_CASE("cidr: prefix lengths out of range, empty, signed or padded are refused") {
  CHECK(cidrError("1.2.3.4/33") == "'1.2.3.4/33': prefix length /33 is out of range for IPv4 (0..32)");
  CHECK(cidrError("::/129") == "'::/129': prefix length /129 is out of range for IPv6 (0..128)");
  CHECK(cidrError("10.0.0.0/") == "'10.0.0.0/' has no prefix length after '/'");
  CHECK(cidrError("10.0.0.0/08") == "'10.0.0.0/08': write the prefix length as /8");
  CHECK(cidrError("10.0.0.0/8/8") == "'10.0.0.0/8/8': prefix length '8/8' is not a number");
  CHECK(cidrError("10.0.0.0/99999999999") ==
        "'10.0.0.0/99999999999': prefix length '99999999999' is not a number");
  CHECK_FALSE(Cidr::parse("10.0.0.0/-1"));
}

TEST_CASE("cidr: IPv4-mapped IPv6 is refused, saying which IPv4 address to write") {
  CHECK(cidrError("::ffff:1.2.3.4") ==
        "'::ffff:1.2.3.4' is an IPv4-mapped IPv6 address, which never appears on the wire; "
        "write the IPv4 address 1.2.3.4 instead");
  CHECK_FALSE(Cidr::parse("::ffff:0102:0304"));
  CHECK_FALSE(Cidr::parse("::ffff:0:0/96"));
  // Not mapped: the deprecated IPv4-compatible form and NAT64 are ordinary IPv6.
  CHECK(Cidr::parse("64:ff9b::1.2.3.4"));
}

TEST_CASE("cidr: leading zeros are refused as ambiguous octal") {
  CHECK(cidrError("010.0.0.1") ==
        "'010.0.0.1' has a number with a leading zero, which some tools read as octal; write "
        "it without the leading zeros");
  CHECK_FALSE(Cidr::parse("10.0.0.01"));
  CHECK_FALSE(Cidr::parse("10.00.0.1/16"));
  CHECK(Cidr::parse("10.0.0.0"));  // a lone 0 is not a leading zero
}

TEST_CASE("cidr: short, long, out-of-range and hex IPv4 forms inet_aton would take are refused") {
  CHECK(cidrError("1.2.3") ==
        "'1.2.3' is not an IPv4 address (expected four numbers 0-255 separated by dots, like "
        "10.0.1.5)");
  for (const char* text : {"1.2.3.4.5", "256.0.0.1", "1.2.3.", ".1.2.3", "1..2.3", "16909060",
                           "0x7f.0.0.1", "1.2.3.4a"}) {
    INFO(text);
    CHECK_FALSE(Cidr::parse(text));
  }
  CHECK(cidrError("2001:db8:::1") ==
        "'2001:db8:::1' is not an IPv6 address (expected hex groups separated by colons, like "
        "2001:db8::1)");
  CHECK_FALSE(Cidr::parse("1:2:3:4:5:6:7:8:9"));
  CHECK_FALSE(Cidr::parse("12345::"));
}

TEST_CASE("cidr: spaces, non-ASCII look-alike digits, zone indexes and control bytes say what is wrong") {
  CHECK(cidrError("1.2.3.4 ") == "'1.2.3.4 ' is not an address: it contains a space at position 8");
  CHECK(cidrError(" 1.2.3.4") == "' 1.2.3.4' is not an address: it contains a space at position 1");
  // U+0661 ARABIC-INDIC DIGIT ONE and U+FF11 FULLWIDTH DIGIT ONE.
  CHECK(cidrError("\xd9\xa1.2.3.4") ==
        "'\xd9\xa1.2.3.4' is not an address: it contains a non-ASCII character at byte 1 (only "
        "ASCII digits, hex letters, '.', ':' and '/' belong in an address)");
  CHECK_FALSE(Cidr::parse("\xef\xbc\x91.2.3.4"));
  CHECK_FALSE(Cidr::parse("1.2.3.\xef\xbc\x94"));
  CHECK(cidrError("fe80::1%eth0") ==
        "'fe80::1%eth0' is not an address: it has a zone index ('%...'), which firewall rules "
        "cannot use");
  CHECK(cidrError(std::string("1.2.3.4\0", 8)) ==
        "'1.2.3.4\\x00' is not an address: it contains the control character 0x00 at position 8");
  CHECK(cidrError("") == "an empty string is not an address");
  CHECK(cidrError(std::string(1000, '1')) ==
        "'11111111111111111111...' is too long to be an address or network");
}

TEST_CASE("cidr: contains compares networks of one family, bit by bit") {
  const auto c = [](const char* t) { return *Cidr::parse(t); };
  CHECK(c("10.0.0.0/8").contains(c("10.1.2.3")));
  CHECK(c("10.0.0.0/8").contains(c("10.0.0.0/8")));
  CHECK(c("10.0.0.0/8").contains(c("10.128.0.0/9")));
  CHECK_FALSE(c("10.0.0.0/9").contains(c("10.128.0.1")));
  CHECK_FALSE(c("10.0.0.0/9").contains(c("10.0.0.0/8")));  // the wider one is not inside
  CHECK(c("0.0.0.0/0").contains(c("203.0.113.9")));
  CHECK_FALSE(c("0.0.0.0/0").contains(c("::1")));  // families never mix
  CHECK_FALSE(c("::/0").contains(c("10.0.0.1")));
  CHECK(c("2001:db8::/32").contains(c("2001:db8:ffff::1")));
  CHECK_FALSE(c("2001:db8::/33").contains(c("2001:db8:8000::1")));
  CHECK(c("192.168.1.128/25").contains(c("192.168.1.255")));
  CHECK_FALSE(c("192.168.1.128/25").contains(c("192.168.1.127")));
}

TEST_CASE("port spec: single ports, ranges, one or both protocols") {
  auto ssh = PortSpec::parse("22/tcp");
  REQUIRE(ssh);
  CHECK(ssh->range == PortRange{22, 22});
  CHECK(ssh->protos == std::vector<Proto>{Proto::Tcp});
  CHECK(ssh->str() == "22/tcp");
  auto dns = PortSpec::parse("53/udp");
  REQUIRE(dns);
  CHECK(dns->protos == std::vector<Proto>{Proto::Udp});
  auto both = PortSpec::parse("53");
  REQUIRE(both);
  CHECK(both->protos == std::vector<Proto>{Proto::Tcp, Proto::Udp});
  CHECK(both->str() == "53");
  auto range = PortSpec::parse("8000-8100/tcp");
  REQUIRE(range);
  CHECK(range->range == PortRange{8000, 8100});
  CHECK(range->str() == "8000-8100/tcp");
  CHECK(PortSpec::parse("1-65535")->str() == "1-65535");
  CHECK(PortSpec::parse("443-443/tcp")->str() == "443/tcp");  // a one-port range is a port
}

TEST_CASE("port spec: out-of-range, reversed, unknown protocol and junk say what was wrong") {
  CHECK(portError("0/tcp") == "'0/tcp': port 0 is out of range (expected 1..65535)");
  CHECK(portError("70000/tcp") == "'70000/tcp': port 70000 is out of range (expected 1..65535)");
  CHECK(portError("99999999999999999999") ==
        "'99999999999999999999': port 99999999999999999999 is out of range (expected 1..65535)");
  CHECK(portError("8100-8000/tcp") ==
        "'8100-8000/tcp': the range ends before it starts (did you mean 8000-8100?)");
  CHECK(portError("443/tcpp") ==
        "'443/tcpp': unknown protocol 'tcpp' (expected tcp or udp, or no /PROTO for both)");
  CHECK(portError("443/TCP") ==
        "'443/TCP': unknown protocol 'TCP' (expected tcp or udp, or no /PROTO for both)");
  CHECK(portError("22/") == "'22/': unknown protocol '' (expected tcp or udp, or no /PROTO for both)");
  CHECK(portError("ssh/tcp") ==
        "'ssh/tcp': a service name stands alone, without /PROTO (ssh is 22/tcp)");
  CHECK(portError("0x16/tcp") == "'0x16/tcp': '0x16' is not a port number (expected 1..65535)");
  CHECK(portError("/tcp") == "'/tcp' is missing a port number");
  CHECK(portError("8000-/tcp") == "'8000-/tcp' is missing a port number");
  CHECK(portError("022/tcp") == "'022/tcp': write the port as 22");
  CHECK(portError("") == "an empty string is not a port");
  for (const char* text : {"-22", "+22", "22 /tcp", " 22", "22/tcp ", "1-2-3", "22:30",
                           "22/tcp/udp", "\xef\xbc\x92\xef\xbc\x92"}) {
    INFO(text);
    CHECK_FALSE(PortSpec::parse(text));
  }
}

TEST_CASE("names: rule, group and host names follow their character rules") {
  CHECK(isValidRuleName("ssh"));
  CHECK(isValidRuleName("web-2.internal_x"));
  CHECK(isValidRuleName("22"));
  CHECK(isValidRuleName(std::string(64, 'a')));
  CHECK_FALSE(isValidRuleName(std::string(65, 'a')));
  CHECK_FALSE(isValidRuleName(""));
  CHECK_FALSE(isValidRuleName("my rule"));
  CHECK_FALSE(isValidRuleName("r\xc3\xa9gle"));

  CHECK(isValidGroupName("app_servers"));
  CHECK(isValidGroupName("_x"));
  CHECK_FALSE(isValidGroupName("10net"));  // would read as an address
  CHECK_FALSE(isValidGroupName("a:b"));

  CHECK(isValidHostName("localhost"));
  CHECK(isValidHostName("db-1.example.com"));
  CHECK(isValidHostName("db-1.example.com."));
  CHECK(isValidHostName("1password.com"));
  CHECK_FALSE(isValidHostName("1.2.3"));  // all-numeric last label: a mistyped address
  CHECK_FALSE(isValidHostName("under_score.example"));
  CHECK_FALSE(isValidHostName("-lead.example"));
  CHECK_FALSE(isValidHostName("a..b"));
  CHECK_FALSE(isValidHostName("."));
  CHECK_FALSE(isValidHostName(std::string(64, 'a') + ".com"));
  CHECK(isValidHostName(std::string(63, 'a') + ".com"));
}
