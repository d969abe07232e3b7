// The firewall policy as typed values (SPEC.md `firewall:`). Everything the
// engine needs is here, already valid: compile() never re-checks strings.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <expected>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/diag.h"
#include "common/units.h"

namespace YAML {
class Node;
}

namespace rampart::fw {

enum class Family : uint8_t { V4, V6 };

// An address or a network. Host bits must be zero ("10.0.1.5/24" is an
// error: did the user mean 10.0.1.5 or 10.0.1.0/24?). A plain address is a
// /32 or /128. IPv4-mapped IPv6 (::ffff:a.b.c.d) is refused: write the IPv4.
struct Cidr {
  Family family = Family::V4;
  std::array<uint8_t, 16> addr{};  // network byte order; first 4 bytes for V4
  uint8_t prefix = 32;

  static std::expected<Cidr, std::string> parse(std::string_view text);
  std::string str() const;  // "10.0.1.0/24", "2001:db8::1" (no /128 for hosts)
  bool isHost() const { return prefix == (family == Family::V4 ? 32 : 128); }
  bool contains(const Cidr& other) const;
  auto operator<=>(const Cidr&) const = default;
  // As two words, not a call to memcmp: lists of 100,000 bans are compared
  // and searched on every `fw ban`.
  bool operator==(const Cidr& o) const {
    uint64_t a[2], b[2];
    std::memcpy(a, addr.data(), 16);
    std::memcpy(b, o.addr.data(), 16);
    return ((a[0] ^ b[0]) | (a[1] ^ b[1])) == 0 && prefix == o.prefix && family == o.family;
  }
};

enum class Proto : uint8_t { Tcp, Udp };

// "22/tcp", "8000-8100/udp", "53" (tcp and udp). Ports 1..65535. Or an IP
// protocol that has no ports, by name: "vrrp" (keepalived), "esp" and "ah"
// (IPsec), "gre", "ospf", "igmp", "sctp".
struct PortRange {
  uint16_t first = 0;
  uint16_t last = 0;  // == first for a single port
  auto operator<=>(const PortRange&) const = default;
};
struct PortSpec {
  PortRange range;
  std::vector<Proto> protos;  // sorted, unique; {Tcp, Udp} when none was written
  uint8_t ip_proto = 0;       // a protocol without ports: its number (range, protos empty)

  static std::expected<PortSpec, std::string> parse(std::string_view text);
  std::string str() const;  // "443/tcp", "8000-8100/udp", "53"
  auto operator<=>(const PortSpec&) const = default;
};

// Deny drops in silence; Reject answers, as a closed port does: a TCP
// reset, ICMP (v6) port unreachable for anything else.
// A service by name (ssh, https, dns, postgresql, ipsec...): its ports and
// protocols from a fixed table; nullopt for a name it does not hold.
std::optional<std::vector<PortSpec>> servicePorts(std::string_view name);
std::vector<std::string_view> serviceNames();  // the table's names, in order
// What a rule's allow/deny/reject item may be: a PortSpec, or a service
// name standing for one or more of them.
std::expected<std::vector<PortSpec>, std::string> parsePorts(std::string_view text);

enum class Action : uint8_t { Allow, Deny, Reject };
// "allow", "deny", "reject".
std::string_view actionName(Action a);
enum class Hook : uint8_t { Input, Forward, Output };
enum class ChainPolicy : uint8_t { Accept, Drop };

// A named set of sources. DNS names are resolved by the agent (and
// re-resolved on a timer); their last good addresses are kept in `resolved`.
struct Group {
  std::string name;
  std::vector<Cidr> cidrs;               // written literally
  std::vector<std::string> dns_names;    // written as names
  std::vector<Cidr> resolved;            // filled by the agent from dns_names
  SourceLoc loc;
  bool operator==(const Group&) const = default;
};

enum class Origin : uint8_t { Config, Cli };

struct Rule {
  std::string name;            // unique in the policy; [A-Za-z0-9_.-]{1,64}
  Action action = Action::Allow;
  Hook hook = Hook::Input;     // `chain:` key, default input
  // Empty ports means every port and protocol ("deny: any").
  std::vector<PortSpec> ports;
  std::vector<Cidr> from;             // literal sources
  std::vector<std::string> from_groups;  // names of Policy::groups
  // Empty from and from_groups means any source.
  // `to:` destinations, addresses and networks: in input and forward the
  // node's own (one of several addresses, a VIP), in output the peer's.
  // Empty: any. A rule's sources and destinations share a family.
  std::vector<Cidr> to;
  // `interface:` (patterns as isValidInterfacePattern takes them): in the
  // input and forward chains the interface the packet came in on, in
  // output the one it leaves by. Empty: any interface.
  std::vector<std::string> interfaces;
  std::optional<Rate> limit;   // per source address, new connections over it are dropped
  Origin origin = Origin::Config;
  // For temporary rules added with `fw allow --for`: when it removes itself.
  std::optional<std::chrono::system_clock::time_point> expires;
  SourceLoc loc;
  bool operator==(const Rule&) const = default;
};

// The rules that are always there unless switched off (`builtins:`).
struct Builtins {
  bool loopback = true;      // iif lo accept
  bool established = true;   // ct state established,related accept
  bool invalid = true;       // ct state invalid drop
  bool icmp = true;          // essential ICMP / ICMPv6 (ND, MLD, PMTU, errors, echo)
  // The replies a DHCP client waits for: udp 67 -> 68, and DHCPv6 from a
  // link-local server, udp 547 -> 546. Connection tracking cannot take
  // them for replies: the requests went to a broadcast or multicast address.
  bool dhcp = true;
  // Echo requests (ping) among the essential ICMP: false answers no ping,
  // keeping the errors and neighbour discovery a host needs.
  bool ping = true;
  bool operator==(const Builtins&) const = default;
};

// docker0, br-* (Docker), virbr* (libvirt), cni* (CNI bridges: containerd,
// k3s), podman*, and Kubernetes networks: cali* and vxlan.calico (Calico),
// flannel* (Flannel), cilium_* and lxc* (Cilium; lxc* is LXC's too),
// lxdbr* (LXD), weave (Weave Net), kube-bridge (kube-router).
std::vector<std::string> defaultForwardInterfaces();
// An interface name as `forward_interfaces` and a rule's `interface:` take
// it: 1 to 15 characters, none of them '/', ':', whitespace or '*' except
// one '*' at the end.
bool isValidInterfacePattern(std::string_view name);
// What isValidInterfacePattern asks, for error messages.
inline constexpr std::string_view kInterfaceNameRule =
    "not an interface name (1 to 15 characters, no '/', ':' or spaces; a '*' only at the end, matching a prefix)";
// Whether interface `name` is one `pattern` names: the same name, or for
// "br-*" any name starting with "br-" (as the kernel rule compares it).
bool interfaceMatches(std::string_view pattern, std::string_view name);
// The most interfaces one rule names (each is a kernel rule of its own).
inline constexpr size_t kMaxRuleInterfaces = 8;

struct Policy {
  ChainPolicy input_policy = ChainPolicy::Drop;
  ChainPolicy forward_policy = ChainPolicy::Drop;
  ChainPolicy output_policy = ChainPolicy::Accept;
  std::optional<Rate> log_dropped = Rate{5, RateUnit::Second};  // nullopt: `false`
  Builtins builtins;
  // Forwarded traffic in or out of these interfaces is accepted by the
  // forward chain (after its builtins and its rules, so a forward deny
  // still stops some of it), so the tables that manage them (Docker's, libvirt's, Podman's) decide it: in
  // nftables every base chain on a hook must accept a packet, and a drop
  // policy here would cut every container off. A trailing '*' matches a
  // prefix ("br-*": Docker's user-defined networks).
  std::vector<std::string> forward_interfaces = defaultForwardInterfaces();
  std::vector<Group> groups;
  std::vector<Rule> rules;
  bool operator==(const Policy&) const = default;

  const Group* findGroup(std::string_view name) const;
};

// A banned address or network; dropped before every other rule.
struct Ban {
  Cidr cidr;
  std::optional<std::chrono::system_clock::time_point> expires;  // nullopt: permanent
  bool operator==(const Ban&) const = default;
};

// Whether a rule's sources and `to:` destinations share an address family
// (a rule without either always does); when not, it would match nothing.
bool familiesMeet(const Rule& rule);

// Names as the policy accepts them, shared with the CLI (`fw allow --name`,
// `--from GROUP`). Rule names: [A-Za-z0-9_.-]{1,64}. Group names are the
// same but start with a letter or '_', so no group name reads as an address.
bool isValidRuleName(std::string_view name);
bool isValidGroupName(std::string_view name);
// A host name as RFC 1123 allows it: dot-separated labels of letters, digits
// and '-', each 1..63 long and not starting or ending with '-', at most 253
// characters, an optional final dot, and a last label that is not all digits
// (so "1.2.3" is a mistyped address, not a name).
bool isValidHostName(std::string_view name);

// Parses the `firewall:` mapping. Reports every error into `diags` with its
// file:line:col and returns the policy built from what was valid (rules and
// groups with an error are left out). Diagnostics come in file order. A
// `firewall:` key with no value is an error (an empty section is far more
// likely commented out than meant as "allow nothing"); `{}` is not.
Policy parsePolicy(const YAML::Node& firewall, const std::string& file, Diagnostics& diags);

// The policy of the embedded default (SPEC.md): SSH, HTTP(S), the agent's port.
Policy defaultPolicy(uint16_t agent_port);

}  // namespace rampart::fw
