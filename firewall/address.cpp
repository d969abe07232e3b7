// Cidr and PortSpec: the two value types a firewall rule is made of.
#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "common/text.h"
#include "firewall/policy.h"

namespace rampart::fw {
namespace {

// Longest text either type accepts; anything longer is refused before parsing
// (the longest IPv6 CIDR, "ffff:...:255.255.255.255/128", is 49 characters).
constexpr size_t kMaxCidrText = 64;
constexpr size_t kMaxPortText = 32;

// IP protocols a rule can name instead of ports.
struct PortlessProtocol {
  std::string_view name;
  uint8_t number;
};
constexpr PortlessProtocol kPortlessProtocols[] = {{"igmp", 2},  {"gre", 47},   {"esp", 50},  {"ah", 51},
                                                   {"ospf", 89}, {"vrrp", 112}, {"sctp", 132}};

// Services by name, as ufw's application names and firewalld's services
// give them: the well-known ports of what runs on servers. A fixed table,
// so a name means the same on every node (no /etc/services lookup).
struct Service {
  std::string_view name;
  std::string_view ports;  // PortSpec texts, comma-separated
};
constexpr Service kServices[] = {
    {"ssh", "22/tcp"},
    {"http", "80/tcp"},
    {"https", "443/tcp"},
    {"http3", "443/udp"},
    {"dns", "53"},
    {"ntp", "123/udp"},
    {"smtp", "25/tcp"},
    {"submission", "587/tcp"},
    {"smtps", "465/tcp"},
    {"imap", "143/tcp"},
    {"imaps", "993/tcp"},
    {"pop3", "110/tcp"},
    {"pop3s", "995/tcp"},
    {"ldap", "389/tcp"},
    {"ldaps", "636/tcp"},
    {"mysql", "3306/tcp"},
    {"postgresql", "5432/tcp"},
    {"redis", "6379/tcp"},
    {"mongodb", "27017/tcp"},
    {"memcached", "11211/tcp"},
    {"elasticsearch", "9200/tcp"},
    {"nfs", "2049/tcp"},
    {"rsync", "873/tcp"},
    {"syslog", "514/udp"},
    {"prometheus", "9090/tcp"},
    {"node-exporter", "9100/tcp"},
    {"grafana", "3000/tcp"},
    {"rampart", "9643/tcp"},
    {"kube-apiserver", "6443/tcp"},
    {"etcd", "2379-2380/tcp"},
    {"kubelet", "10250/tcp"},
    {"wireguard", "51820/udp"},
    {"openvpn", "1194/udp"},
    {"ipsec", "500/udp,4500/udp,esp,ah"},
};

int maxPrefix(Family f) { return f == Family::V4 ? 32 : 128; }
size_t addrLen(Family f) { return f == Family::V4 ? 4 : 16; }

// Describes the first character that can never appear in an address, so the
// user sees "contains a space" instead of a bare "not an address".
std::optional<std::string> strangeCharacter(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x80) {
      return fmt::format("contains a non-ASCII character at byte {} (only ASCII digits, "
                         "hex letters, '.', ':' and '/' belong in an address)",
                         i + 1);
    }
    if (c == ' ' || c == '\t') return fmt::format("contains a space at position {}", i + 1);
    if (c == '%') return std::string("has a zone index ('%...'), which firewall rules cannot use");
    if (!(std::isxdigit(c) || c == '.' || c == ':' || c == '/')) {
      if (std::isprint(c)) return fmt::format("contains '{}' at position {}", char(c), i + 1);
      return fmt::format("contains the control character 0x{:02x} at position {}", c, i + 1);
    }
  }
  return std::nullopt;
}

// glibc's inet_pton already refuses "010.0.0.1", but only with a bare
// failure; inet_aton (and so ping, curl) reads that as octal 8.0.0.1.
// Say so, since the user meant one or the other.
bool hasLeadingZeroOctet(std::string_view v4) {
  size_t start = 0;
  while (start <= v4.size()) {
    size_t end = v4.find('.', start);
    if (end == std::string_view::npos) end = v4.size();
    if (end - start > 1 && v4[start] == '0') return true;
    start = end + 1;
  }
  return false;
}

void maskTo(std::array<uint8_t, 16>& a, int prefix) {
  for (int i = 0; i < 16; ++i) {
    const int bits = std::clamp(prefix - i * 8, 0, 8);
    a[static_cast<size_t>(i)] &= static_cast<uint8_t>(bits == 0 ? 0 : 0xff << (8 - bits));
  }
}

std::string addrText(Family f, const std::array<uint8_t, 16>& a) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (f == Family::V4) {
    // Dotted quad by hand: inet_ntop formats through sprintf, which made
    // writing a state file of 100,000 bans cost more than the ban itself.
    char* at = buf;
    for (size_t i = 0; i < 4; ++i) {
      if (i > 0) *at++ = '.';
      at = std::to_chars(at, buf + sizeof buf, a[i]).ptr;
    }
    return std::string(buf, at);
  }
  inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  return buf;
}

bool isV4Mapped(const std::array<uint8_t, 16>& a) {
  for (size_t i = 0; i < 10; ++i)
    if (a[i] != 0) return false;
  return a[10] == 0xff && a[11] == 0xff;
}

std::expected<int, std::string> parsePrefix(std::string_view whole, std::string_view p,
                                            Family f) {
  if (p.empty()) {
    return std::unexpected(fmt::format("'{}' has no prefix length after '/'", whole));
  }
  int v = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (ec != std::errc() || end != p.data() + p.size() || p.size() > 3) {
    return std::unexpected(
        fmt::format("'{}': prefix length '{}' is not a number", whole, p));
  }
  if (v > maxPrefix(f)) {
    return std::unexpected(fmt::format("'{}': prefix length /{} is out of range for {} (0..{})",
                                       whole, v, f == Family::V4 ? "IPv4" : "IPv6",
                                       maxPrefix(f)));
  }
  if (p.size() > 1 && p[0] == '0') {
    return std::unexpected(fmt::format("'{}': write the prefix length as /{}", whole, v));
  }
  return v;
}

}  // namespace

std::expected<Cidr, std::string> Cidr::parse(std::string_view text) {
  if (text.empty()) return std::unexpected(std::string("an empty string is not an address"));
  if (text.size() > kMaxCidrText) {
    return std::unexpected(fmt::format("'{}...' is too long to be an address or network",
                                       text.substr(0, 20)));
  }
  if (auto strange = strangeCharacter(text)) {
    return std::unexpected(
        fmt::format("'{}' is not an address: it {}", printableClip(text), *strange));
  }
  const size_t slash = text.find('/');
  const std::string_view addr = text.substr(0, slash);
  const std::string host(addr);  // inet_pton needs a terminated string

  Cidr c;
  c.family = addr.find(':') != std::string_view::npos ? Family::V6 : Family::V4;
  if (c.family == Family::V4) {
    if (hasLeadingZeroOctet(addr)) {
      return std::unexpected(fmt::format(
          "'{}' has a number with a leading zero, which some tools read as octal; write it "
          "without the leading zeros",
          addr));
    }
    if (inet_pton(AF_INET, host.c_str(), c.addr.data()) != 1) {
      return std::unexpected(fmt::format(
          "'{}' is not an IPv4 address (expected four numbers 0-255 separated by dots, "
          "like 10.0.1.5)",
          addr));
    }
  } else {
    if (inet_pton(AF_INET6, host.c_str(), c.addr.data()) != 1) {
      return std::unexpected(fmt::format(
          "'{}' is not an IPv6 address (expected hex groups separated by colons, like "
          "2001:db8::1)",
          addr));
    }
    if (isV4Mapped(c.addr)) {
      std::array<uint8_t, 16> v4{};
      std::copy_n(c.addr.begin() + 12, 4, v4.begin());
      return std::unexpected(fmt::format(
          "'{}' is an IPv4-mapped IPv6 address, which never appears on the wire; write the "
          "IPv4 address {} instead",
          text, addrText(Family::V4, v4)));
    }
  }

  c.prefix = static_cast<uint8_t>(maxPrefix(c.family));
  if (slash != std::string_view::npos) {
    auto p = parsePrefix(text, text.substr(slash + 1), c.family);
    if (!p) return std::unexpected(p.error());
    c.prefix = static_cast<uint8_t>(*p);
  }
  auto network = c.addr;
  maskTo(network, c.prefix);
  if (network != c.addr) {
    Cidr meant = c;
    meant.addr = network;
    return std::unexpected(fmt::format("{} has host bits set (did you mean {} or {}?)", text,
                                       meant.str(), addrText(c.family, c.addr)));
  }
  return c;
}

std::string Cidr::str() const {
  std::string out = addrText(family, addr);
  if (isHost()) return out;
  out += '/';
  char digits[4];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, static_cast<unsigned>(prefix)).ptr);
  return out;
}

bool Cidr::contains(const Cidr& other) const {
  if (family != other.family || other.prefix < prefix) return false;
  auto a = other.addr;
  maskTo(a, prefix);
  return std::equal(a.begin(), a.begin() + static_cast<long>(addrLen(family)), addr.begin());
}

namespace {

std::expected<uint16_t, std::string> parsePort(std::string_view whole, std::string_view p) {
  if (p.empty()) return std::unexpected(fmt::format("'{}' is missing a port number", whole));
  const bool digits = std::all_of(p.begin(), p.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
  if (!digits) {
    if (auto service = servicePorts(p)) {
      std::string ports;
      for (const PortSpec& spec : *service) ports += (ports.empty() ? "" : ", ") + spec.str();
      return std::unexpected(
          fmt::format("'{}': a service name stands alone, without /PROTO ({} is {})", whole, p, ports));
    }
    return std::unexpected(fmt::format("'{}': '{}' is not a port number (expected 1..65535)", whole, p));
  }
  uint32_t v = 0;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), v);
  if (ec != std::errc() || v == 0 || v > 65535 || p.size() > 5) {
    return std::unexpected(
        fmt::format("'{}': port {} is out of range (expected 1..65535)", whole, p));
  }
  if (p[0] == '0') return std::unexpected(fmt::format("'{}': write the port as {}", whole, v));
  return static_cast<uint16_t>(v);
}

}  // namespace

std::expected<PortSpec, std::string> PortSpec::parse(std::string_view text) {
  if (text.empty()) return std::unexpected(std::string("an empty string is not a port"));
  if (text.size() > kMaxPortText) {
    return std::unexpected(fmt::format("'{}...' is too long to be a port", text.substr(0, 20)));
  }
  PortSpec spec;
  if (std::all_of(text.begin(), text.end(), [](char ch) { return ch >= 'a' && ch <= 'z'; })) {
    auto it = std::ranges::find(kPortlessProtocols, text, &PortlessProtocol::name);
    if (it == std::end(kPortlessProtocols)) {
      return std::unexpected(fmt::format("'{}' is not a port, a protocol or a service (expected a port like "
                                         "22/tcp, 8000-8100/udp or 53, one of vrrp, esp, ah, gre, ospf, igmp, "
                                         "sctp, or a service such as ssh, https, dns, postgresql: `man rampart` "
                                         "lists them)",
                                         text));
    }
    spec.ip_proto = it->number;
    return spec;
  }
  std::string_view ports = text;
  const size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    spec.protos = {Proto::Tcp, Proto::Udp};
  } else {
    ports = text.substr(0, slash);
    const std::string_view proto = text.substr(slash + 1);
    if (proto == "tcp") spec.protos = {Proto::Tcp};
    else if (proto == "udp") spec.protos = {Proto::Udp};
    else {
      return std::unexpected(fmt::format(
          "'{}': unknown protocol '{}' (expected tcp or udp, or no /PROTO for both)", text,
          proto));
    }
  }
  const size_t dash = ports.find('-');
  auto first = parsePort(text, ports.substr(0, dash));
  if (!first) return std::unexpected(first.error());
  spec.range = {*first, *first};
  if (dash != std::string_view::npos) {
    auto last = parsePort(text, ports.substr(dash + 1));
    if (!last) return std::unexpected(last.error());
    if (*last < *first) {
      return std::unexpected(fmt::format(
          "'{}': the range ends before it starts (did you mean {}-{}?)", text, *last, *first));
    }
    spec.range.last = *last;
  }
  return spec;
}

std::optional<std::vector<PortSpec>> servicePorts(std::string_view name) {
  auto it = std::ranges::find(kServices, name, &Service::name);
  if (it == std::end(kServices)) return std::nullopt;
  std::vector<PortSpec> out;
  std::string_view rest = it->ports;
  while (!rest.empty()) {
    size_t comma = rest.find(',');
    out.push_back(*PortSpec::parse(rest.substr(0, comma)));  // the table is ours: it parses
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
  }
  return out;
}

std::vector<std::string_view> serviceNames() {
  std::vector<std::string_view> out;
  for (const Service& s : kServices) out.push_back(s.name);
  return out;
}

std::expected<std::vector<PortSpec>, std::string> parsePorts(std::string_view text) {
  if (auto service = servicePorts(text)) return std::move(*service);
  auto spec = PortSpec::parse(text);
  if (!spec) return std::unexpected(spec.error());
  return std::vector<PortSpec>{*spec};
}

std::string PortSpec::str() const {
  if (ip_proto != 0) {
    auto it = std::ranges::find(kPortlessProtocols, ip_proto, &PortlessProtocol::number);
    return it != std::end(kPortlessProtocols) ? std::string(it->name) : fmt::format("proto-{}", ip_proto);
  }
  std::string out = range.first == range.last ? fmt::format("{}", range.first)
                                              : fmt::format("{}-{}", range.first, range.last);
  if (protos.size() == 1) out += protos[0] == Proto::Tcp ? "/tcp" : "/udp";
  return out;
}

}  // namespace rampart::fw
