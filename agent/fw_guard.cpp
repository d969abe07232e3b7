#include "agent/fw_guard.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/sock_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <optional>

#include <fmt/format.h>

#include "agent/unique_fd.h"
#include "firewall/compile.h"

namespace rampart::agent {
namespace {

// What a rule that is not an allow does to a packet, as a verb.
std::string_view stops(fw::Action a) { return a == fw::Action::Reject ? "rejects" : "denies"; }

bool isLoopback(const fw::Cidr& c) {
  if (c.family == fw::Family::V4) return c.addr[0] == 127;
  static constexpr std::array<uint8_t, 16> one{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
  return c.addr == one;
}

bool sourceMatches(const fw::Policy& p, const fw::Rule& r, const fw::Cidr& peer) {
  if (r.from.empty() && r.from_groups.empty()) return true;
  for (const auto& c : r.from)
    if (c.contains(peer)) return true;
  for (const auto& name : r.from_groups) {
    const fw::Group* g = p.findGroup(name);
    if (g == nullptr) continue;
    for (const auto* list : {&g->cidrs, &g->resolved})
      for (const auto& c : *list)
        if (c.contains(peer)) return true;
  }
  return false;
}

// Whether a rule limited to interfaces takes the connection's packets: when
// its interface is not known, taken to (the same before and after a change,
// so only a change to that rule itself decides).
bool interfaceMatches(const fw::Rule& r, const GuardConnection& c) {
  if (r.interfaces.empty() || c.interface.empty()) return true;
  return std::ranges::any_of(r.interfaces, [&](const std::string& p) { return fw::interfaceMatches(p, c.interface); });
}

// Whether a rule's `to:` takes `address` (the node's for input, the peer's
// for output); an address not known (all zero) is taken to.
bool destinationMatches(const fw::Rule& r, const fw::Cidr& address) {
  if (r.to.empty() || address == fw::Cidr{}) return true;
  return std::ranges::any_of(r.to, [&](const fw::Cidr& c) { return c.contains(address); });
}

bool portMatches(const fw::Rule& r, uint16_t port) {
  if (r.ports.empty()) return true;
  for (const auto& spec : r.ports) {
    if (std::ranges::find(spec.protos, fw::Proto::Tcp) == spec.protos.end()) continue;
    if (spec.range.first <= port && port <= spec.range.last) return true;
  }
  return false;
}

// The rule deciding a TCP packet from `peer` to `port` in the input chain
// (nullptr: none, the chain policy decides).
const fw::Rule* decidingRule(const fw::Policy& p, const GuardConnection& c, std::chrono::system_clock::time_point now) {
  for (const auto& r : p.rules) {
    if (r.hook != fw::Hook::Input) continue;
    if (r.expires && *r.expires <= now) continue;
    if (portMatches(r, c.local_port) && sourceMatches(p, r, c.peer) && destinationMatches(r, c.local) &&
        interfaceMatches(r, c))
      return &r;
  }
  return nullptr;
}

// Why the replies of connection `c` could not leave through the output
// chain, or nothing when they can. With the established builtin on, or the
// chain not filtering, they always can. Otherwise the first output rule for
// the peer's port decides (the replies go to it), else the chain policy. A
// rule with sources (in output: the node's own addresses, which the guard
// does not know) is taken at its worst: a deny matches, an allow does not.
std::optional<std::string> repliesHeldBack(const fw::Policy& p, const GuardConnection& c,
                                           std::chrono::system_clock::time_point now) {
  if (p.builtins.established || !fw::filtersOutput(p)) return std::nullopt;
  if (p.builtins.loopback && isLoopback(c.peer)) return std::nullopt;
  for (const auto& r : p.rules) {
    if (r.hook != fw::Hook::Output || (r.expires && *r.expires <= now) || !portMatches(r, c.peer_port) ||
        !interfaceMatches(r, c) || !destinationMatches(r, c.peer))
      continue;
    bool sourced = !r.from.empty() || !r.from_groups.empty();
    if (r.action != fw::Action::Allow)
      return fmt::format("output rule '{}' {} its replies", r.name, stops(r.action));
    if (!sourced) return std::nullopt;
  }
  if (p.output_policy == fw::ChainPolicy::Accept) return std::nullopt;
  return std::string("no output rule lets its replies out and the output policy is drop");
}

bool rulesAccept(const fw::Policy& p, const GuardConnection& c, std::chrono::system_clock::time_point now) {
  if (p.builtins.loopback && isLoopback(c.peer)) return true;
  const fw::Rule* r = decidingRule(p, c, now);
  if (r != nullptr) return r->action == fw::Action::Allow;
  return p.input_policy == fw::ChainPolicy::Accept;
}

const fw::Ban* banCovering(const std::vector<fw::Ban>& bans, const fw::Cidr& peer,
                           std::chrono::system_clock::time_point now) {
  for (const auto& b : bans)
    if ((!b.expires || *b.expires > now) && b.cidr.contains(peer)) return &b;
  return nullptr;
}

std::string describe(const GuardConnection& c) {
  std::string who = c.typed_over ? "your SSH session" : "the established SSH connection";
  if (c.peer.family == fw::Family::V6) return fmt::format("{} from [{}]:{} to port {}", who, c.peer.str(), c.peer_port, c.local_port);
  return fmt::format("{} from {}:{} to port {}", who, c.peer.str(), c.peer_port, c.local_port);
}

std::string why(const fw::Policy& p, const GuardConnection& c, std::chrono::system_clock::time_point now) {
  const fw::Rule* r = decidingRule(p, c, now);
  if (r != nullptr) return fmt::format("rule '{}' {} it", r->name, stops(r->action));
  for (const auto& o : p.rules) {
    if (o.hook != fw::Hook::Input || o.action != fw::Action::Allow || (o.expires && *o.expires <= now)) continue;
    if (!portMatches(o, c.local_port) || !sourceMatches(p, o, c.peer)) continue;
    if (!destinationMatches(o, c.local)) {
      std::vector<std::string> to;
      for (const auto& d : o.to) to.push_back(d.str());
      return fmt::format("it is to {}, rule '{}' allows it only to {}, and the input policy is drop", c.local.str(),
                         o.name, fmt::join(to, ", "));
    }
    return fmt::format("it comes in on {}, rule '{}' allows it only on {}, and the input policy is drop", c.interface,
                       o.name, fmt::join(o.interfaces, ", "));
  }
  return "no rule allows it and the input policy is drop";
}

// A host address from its bytes: 4 of IPv4 (v6 false) or 16 of IPv6, an
// IPv4-mapped IPv6 address (::ffff:a.b.c.d) taken as the IPv4 address.
fw::Cidr hostOf(const uint8_t* raw, bool v6) {
  static constexpr uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  fw::Cidr c;
  if (v6 && std::memcmp(raw, mapped, 12) != 0) {
    c.family = fw::Family::V6;
    c.prefix = 128;
    std::copy_n(raw, 16, c.addr.begin());
  } else {
    c.family = fw::Family::V4;
    c.prefix = 32;
    std::copy_n(raw + (v6 ? 12 : 0), 4, c.addr.begin());
  }
  return c;
}

bool hexNibble(char ch, uint8_t& out) {
  if (ch >= '0' && ch <= '9') out = static_cast<uint8_t>(ch - '0');
  else if (ch >= 'A' && ch <= 'F') out = static_cast<uint8_t>(ch - 'A' + 10);
  else if (ch >= 'a' && ch <= 'f') out = static_cast<uint8_t>(ch - 'a' + 10);
  else return false;
  return true;
}

// "0100007F:0016": the address as the kernel's 32-bit words in host byte
// order (little-endian here), then the port in hex.
bool parseEndpoint(std::string_view s, bool v6, fw::Cidr& addr, uint16_t& port) {
  const size_t hex_len = v6 ? 32 : 8;
  if (s.size() != hex_len + 5 || s[hex_len] != ':') return false;
  std::array<uint8_t, 16> raw{};
  for (size_t i = 0; i < hex_len / 2; ++i) {
    uint8_t hi = 0, lo = 0;
    if (!hexNibble(s[2 * i], hi) || !hexNibble(s[2 * i + 1], lo)) return false;
    raw[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  // Each 32-bit word was printed as a host-order integer: reverse its bytes.
  for (size_t w = 0; w < hex_len / 8; ++w) std::reverse(raw.begin() + 4 * w, raw.begin() + 4 * w + 4);
  unsigned p = 0;
  auto port_hex = s.substr(hex_len + 1);
  if (std::from_chars(port_hex.data(), port_hex.data() + port_hex.size(), p, 16).ec != std::errc{}) return false;
  port = static_cast<uint16_t>(p);
  addr = hostOf(raw.data(), v6);
  return true;
}

std::string readBounded(const std::string& path, size_t limit) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) return {};
  std::string text;
  char buf[65536];
  while (text.size() < limit) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    text.append(buf, static_cast<size_t>(n));
  }
  return text;
}

std::optional<fw::Cidr> hostAddress(std::string_view text) {
  std::string s(text);
  unsigned char buf[16];
  if (::inet_pton(AF_INET, s.c_str(), buf) == 1) return hostOf(buf, false);
  if (::inet_pton(AF_INET6, s.c_str(), buf) != 1) return std::nullopt;
  return hostOf(buf, true);
}

}  // namespace

std::vector<std::string> lockoutReasons(const GuardInput& in) {
  std::vector<std::string> out;
  for (const auto& c : in.connections) {
    if (const fw::Ban* b = banCovering(*in.bans_after, c.peer, in.now);
        b != nullptr && banCovering(*in.bans_before, c.peer, in.now) == nullptr) {
      out.push_back(fmt::format("{} would be cut: the ban of {} drops it (bans come before established connections)",
                                describe(c), b->cidr.str()));
      continue;
    }
    if (in.before == nullptr) continue;  // the same rules, established accepted first
    const fw::Policy& before = *in.before;
    const fw::Policy& after = *in.after;
    bool was_open = rulesAccept(before, c, in.now);
    bool is_open = rulesAccept(after, c, in.now);
    if (!after.builtins.established && !is_open) {
      out.push_back(fmt::format("{} would be cut: the established builtin is off and {}", describe(c),
                                why(after, c, in.now)));
      continue;
    }
    if (auto held = repliesHeldBack(after, c, in.now)) {
      out.push_back(fmt::format("{} would be cut: the established builtin is off and {}", describe(c), *held));
      continue;
    }
    if (was_open && !is_open) {
      out.push_back(fmt::format("{} stays up, but the next login from {} would be refused: {}", describe(c),
                                c.peer.str(), why(after, c, in.now)));
    }
  }
  return out;
}

std::vector<uint16_t> sshPorts(const fw::Policy& policy) {
  std::vector<const fw::Rule*> rules;
  rules.reserve(policy.rules.size());
  for (const auto& r : policy.rules) rules.push_back(&r);
  return sshPorts(rules);
}

std::vector<uint16_t> sshPorts(std::span<const fw::Rule* const> rules) {
  std::vector<uint16_t> ports;
  for (const fw::Rule* rule : rules) {
    const fw::Rule& r = *rule;
    if (r.name != "ssh" || r.action != fw::Action::Allow) continue;
    for (const auto& spec : r.ports)
      if (std::ranges::find(spec.protos, fw::Proto::Tcp) != spec.protos.end()) ports.push_back(spec.range.first);
  }
  if (ports.empty()) ports.push_back(22);
  std::ranges::sort(ports);
  ports.erase(std::unique(ports.begin(), ports.end()), ports.end());
  return ports;
}

std::vector<ProcTcpSocket> parseProcNetTcp(std::string_view text, bool v6) {
  std::vector<ProcTcpSocket> out;
  bool header = true;
  while (!text.empty()) {
    size_t nl = text.find('\n');
    std::string_view line = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (header) {
      header = false;
      continue;
    }
    // "  sl  local_address rem_address   st ..."
    std::string_view fields[4];
    size_t n = 0;
    size_t pos = 0;
    while (n < 4 && pos < line.size()) {
      while (pos < line.size() && line[pos] == ' ') ++pos;
      size_t end = line.find(' ', pos);
      if (end == std::string_view::npos) end = line.size();
      if (end > pos) fields[n++] = line.substr(pos, end - pos);
      pos = end;
    }
    if (n < 4) continue;
    ProcTcpSocket s;
    if (!parseEndpoint(fields[1], v6, s.local, s.local_port)) continue;
    if (!parseEndpoint(fields[2], v6, s.remote, s.remote_port)) continue;
    unsigned st = 0;
    if (std::from_chars(fields[3].data(), fields[3].data() + fields[3].size(), st, 16).ec != std::errc{}) continue;
    s.state = static_cast<uint8_t>(st);
    out.push_back(s);
  }
  return out;
}

std::optional<std::vector<GuardConnection>> establishedToByDiag(const std::vector<uint16_t>& ports) {
  std::vector<GuardConnection> out;
  if (ports.empty()) return out;
  // The kernel's filter: accept when the local port equals one of `ports`.
  // The kernel checks that every jump lands on an op its `yes` chain
  // reaches, so this is the shape `ss` uses for "sport = A or sport = B":
  //   [S_EQ yes 8 no 12][A] [JMP no: to the end] [S_EQ yes 8 no 12][B] ...
  // A match goes on to the JMP, which always takes `no`: to the end,
  // accept. A miss skips the test and its JMP: the next test, or after the
  // last one 4 bytes past the end, reject. JMP's `no` is 16 bits: enough
  // for 5,000 ports.
  constexpr uint8_t kTest = 2 * sizeof(inet_diag_bc_op);
  constexpr uint8_t kJmp = sizeof(inet_diag_bc_op);
  if (ports.size() > 5000) return std::nullopt;
  std::vector<inet_diag_bc_op> bc;
  for (size_t k = 0; k < ports.size(); ++k) {
    bc.push_back(inet_diag_bc_op{INET_DIAG_BC_S_EQ, kTest, kTest + kJmp});
    bc.push_back(inet_diag_bc_op{0, 0, ports[k]});
    const size_t to_end = (ports.size() - k - 1) * (kTest + kJmp);  // from this JMP
    if (to_end > 0) bc.push_back(inet_diag_bc_op{INET_DIAG_BC_JMP, kJmp, static_cast<uint16_t>(to_end)});
  }
  UniqueFd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd) return std::nullopt;
  timeval timeout{2, 0};  // the kernel answers at once; never wait on it for long
  ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  for (int af : {AF_INET, AF_INET6}) {
    struct {
      nlmsghdr nlh;
      inet_diag_req_v2 req;
      nlattr attr;
    } head{};
    const size_t bc_bytes = bc.size() * sizeof(inet_diag_bc_op);
    head.nlh.nlmsg_len = static_cast<uint32_t>(sizeof head + bc_bytes);
    head.nlh.nlmsg_type = SOCK_DIAG_BY_FAMILY;
    head.nlh.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
    head.nlh.nlmsg_seq = static_cast<uint32_t>(af);
    head.req.sdiag_family = static_cast<uint8_t>(af);
    head.req.sdiag_protocol = IPPROTO_TCP;
    head.req.idiag_states = 1u << TCP_ESTABLISHED;
    head.attr.nla_len = static_cast<uint16_t>(sizeof(nlattr) + bc_bytes);
    head.attr.nla_type = INET_DIAG_REQ_BYTECODE;
    iovec iov[2] = {{&head, sizeof head}, {bc.data(), bc_bytes}};
    sockaddr_nl kernel{};
    kernel.nl_family = AF_NETLINK;
    msghdr msg{};
    msg.msg_name = &kernel;
    msg.msg_namelen = sizeof kernel;
    msg.msg_iov = iov;
    msg.msg_iovlen = 2;
    if (::sendmsg(fd.get(), &msg, 0) < 0) return std::nullopt;
    // Bounded: a node with more than this many connections to its ssh port
    // has other problems; the guard then judges the ones it read.
    constexpr size_t kMaxSockets = 1u << 20;
    alignas(nlmsghdr) char buf[32768];
    bool done = false;
    while (!done && out.size() < kMaxSockets) {
      ssize_t n = ::recv(fd.get(), buf, sizeof buf, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::nullopt;
      auto left = static_cast<unsigned>(n);
      for (auto* h = reinterpret_cast<nlmsghdr*>(buf); NLMSG_OK(h, left); h = NLMSG_NEXT(h, left)) {
        if (h->nlmsg_type == NLMSG_DONE) {
          done = true;
          break;
        }
        if (h->nlmsg_type == NLMSG_ERROR || h->nlmsg_type != SOCK_DIAG_BY_FAMILY) return std::nullopt;
        if (h->nlmsg_len < NLMSG_LENGTH(sizeof(inet_diag_msg))) continue;
        const auto* m = reinterpret_cast<const inet_diag_msg*>(reinterpret_cast<const char*>(h) +
                                                               NLMSG_ALIGN(sizeof(nlmsghdr)));
        GuardConnection c;
        c.peer = hostOf(reinterpret_cast<const uint8_t*>(m->id.idiag_dst), m->idiag_family == AF_INET6);
        c.peer_port = ntohs(m->id.idiag_dport);
        c.local_port = ntohs(m->id.idiag_sport);
        c.local = hostOf(reinterpret_cast<const uint8_t*>(m->id.idiag_src), m->idiag_family == AF_INET6);
        out.push_back(c);
      }
    }
  }
  return out;
}

std::vector<GuardConnection> establishedTo(const std::vector<uint16_t>& ports, const std::string& proc_root) {
  if (proc_root == "/proc")
    if (auto by_diag = establishedToByDiag(ports)) return std::move(*by_diag);
  constexpr size_t kLimit = 16u * 1024 * 1024;
  constexpr uint8_t kEstablished = 1;
  std::vector<GuardConnection> out;
  for (bool v6 : {false, true}) {
    auto text = readBounded(proc_root + (v6 ? "/net/tcp6" : "/net/tcp"), kLimit);
    for (const auto& s : parseProcNetTcp(text, v6)) {
      if (s.state != kEstablished || std::ranges::find(ports, s.local_port) == ports.end()) continue;
      out.push_back(GuardConnection{s.remote, s.remote_port, s.local_port, false, s.local, {}});
    }
  }
  return out;
}

std::optional<GuardConnection> parseSshConnection(std::string_view text) {
  std::string_view parts[4];
  size_t n = 0;
  while (!text.empty() && n < 4) {
    while (!text.empty() && text.front() == ' ') text.remove_prefix(1);
    size_t end = text.find(' ');
    std::string_view word = text.substr(0, end);
    if (!word.empty()) parts[n++] = word;
    text = end == std::string_view::npos ? std::string_view{} : text.substr(end);
  }
  if (n != 4 || parts[0].size() > 64 || parts[2].size() > 64) return std::nullopt;
  // A link-local address may carry its zone ("fe80::1%eth0"): for the
  // node's own address, that is the session's interface.
  auto zone = [](std::string_view& address) {
    size_t at = address.find('%');
    std::string_view z = at == std::string_view::npos ? std::string_view{} : address.substr(at + 1);
    address = address.substr(0, at);
    return z;
  };
  zone(parts[0]);
  std::string_view local_zone = zone(parts[2]);
  auto peer = hostAddress(parts[0]);
  auto local = hostAddress(parts[2]);
  unsigned peer_port = 0, local_port = 0;
  if (!peer) return std::nullopt;
  if (std::from_chars(parts[1].data(), parts[1].data() + parts[1].size(), peer_port).ec != std::errc{} ||
      std::from_chars(parts[3].data(), parts[3].data() + parts[3].size(), local_port).ec != std::errc{} ||
      peer_port == 0 || peer_port > 65535 || local_port == 0 || local_port > 65535)
    return std::nullopt;
  GuardConnection c{*peer, static_cast<uint16_t>(peer_port), static_cast<uint16_t>(local_port), true, {}, {}};
  if (local) c.local = *local;  // else unknown: no interface is found for it
  if (local && fw::isValidInterfacePattern(local_zone) && !local_zone.ends_with('*')) c.interface = local_zone;
  return c;
}

void nameInterfaces(std::vector<GuardConnection>& connections) {
  if (connections.empty()) return;
  ifaddrs* list = nullptr;
  if (::getifaddrs(&list) != 0) return;
  for (const ifaddrs* a = list; a != nullptr; a = a->ifa_next) {
    if (a->ifa_addr == nullptr || a->ifa_name == nullptr) continue;
    std::optional<fw::Cidr> addr;
    if (a->ifa_addr->sa_family == AF_INET)
      addr = hostOf(reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in*>(a->ifa_addr)->sin_addr), false);
    else if (a->ifa_addr->sa_family == AF_INET6)
      addr = hostOf(reinterpret_cast<const uint8_t*>(&reinterpret_cast<const sockaddr_in6*>(a->ifa_addr)->sin6_addr), true);
    if (!addr) continue;
    for (GuardConnection& c : connections)
      if (c.interface.empty() && c.local == *addr) c.interface = a->ifa_name;
  }
  ::freeifaddrs(list);
}

}  // namespace rampart::agent
