// The lock-out guard: would a firewall change cut the SSH session it was
// typed over, or any established connection to the local sshd, or refuse the
// next login from where the operator is?
//
// What cuts a connection in rampart's input chain order (firewall/compile.h:
// bans, builtins, rules in order, chain policy):
//   - a ban covering the peer: bans come before `ct state established`;
//   - with the `established` builtin switched off, the first rule matching
//     the connection (or the chain policy) decides every packet, so a deny
//     or a missing allow drops it;
//   - with it off and the output chain filtering (its policy drop, or rules
//     in it), the session's replies leave only if the first output rule
//     for the peer's port, or the output policy, lets them;
//   - with it on, established connections live on, but when the change
//     takes away the last rule that let the peer open a new connection to
//     the sshd port, the next login (or a reconnect) is refused.
// The guard is a pure function of the two policies and the connections.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "firewall/policy.h"

namespace rampart::agent {

// One TCP connection to protect, seen from this host.
struct GuardConnection {
  fw::Cidr peer;            // host address (/32 or /128)
  uint16_t peer_port = 0;
  uint16_t local_port = 0;
  bool typed_over = false;  // the CLI's own session ($SSH_CONNECTION)
  fw::Cidr local;           // the node's address of it (/32 or /128)
  // The interface holding `local` (nameInterfaces), taken as the one the
  // session's packets come in on and its replies leave by. Empty when not
  // known: a rule limited to interfaces is then taken to match it, before
  // a change as after it.
  std::string interface;
};

struct GuardInput {
  // Both null: the rules are the same before and after, and the established
  // builtin is on (a `fw ban`): then only a ban can cut a connection.
  const fw::Policy* before = nullptr;
  const std::vector<fw::Ban>* bans_before = nullptr;
  const fw::Policy* after = nullptr;
  const std::vector<fw::Ban>* bans_after = nullptr;
  std::vector<GuardConnection> connections;
  std::chrono::system_clock::time_point now{};
};

// Empty: the change is safe. Otherwise one line per connection it would cut,
// saying which connection and why.
std::vector<std::string> lockoutReasons(const GuardInput& in);

// The TCP ports sshd listens on as far as the policy says: the ports of the
// rule named "ssh" (single ports and the first port of a range), else 22.
std::vector<uint16_t> sshPorts(const fw::Policy& policy);
// The same over the rules in force as pointers (FwService::effectiveRules).
std::vector<uint16_t> sshPorts(std::span<const fw::Rule* const> rules);

// Fills in each connection's `interface`: the one its local address is on
// in this network namespace (getifaddrs), left empty when none has it.
void nameInterfaces(std::vector<GuardConnection>& connections);

// One line of /proc/net/tcp or tcp6, parsed.
struct ProcTcpSocket {
  fw::Cidr local;
  uint16_t local_port = 0;
  fw::Cidr remote;
  uint16_t remote_port = 0;
  uint8_t state = 0;  // 1: ESTABLISHED
};
// Parses the text of /proc/net/tcp (v6 = false) or /proc/net/tcp6 (true).
// IPv4-mapped IPv6 addresses become IPv4. Lines that do not parse are skipped.
std::vector<ProcTcpSocket> parseProcNetTcp(std::string_view text, bool v6);

// ESTABLISHED TCP connections of this network namespace whose local port
// is one of `ports`, asked of the kernel over NETLINK_SOCK_DIAG: the kernel
// picks them by state and port in one walk of its socket table, where
// /proc/net/tcp and tcp6 would walk it once per read and print every
// socket. nullopt when the kernel cannot answer (no sock_diag).
std::optional<std::vector<GuardConnection>> establishedToByDiag(const std::vector<uint16_t>& ports);
// The same connections: by sock_diag for the real /proc, else (a proc root
// of fixtures, or no sock_diag) read from `<proc_root>/net/tcp` and `tcp6`
// (at most a few MiB of each).
std::vector<GuardConnection> establishedTo(const std::vector<uint16_t>& ports,
                                           const std::string& proc_root = "/proc");

// $SSH_CONNECTION: "client_ip client_port server_ip server_port".
std::optional<GuardConnection> parseSshConnection(std::string_view text);

}  // namespace rampart::agent
