// The lock-out guard: which changes cut an SSH connection, in rampart's
// chain order, and which do not.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>

#include <catch2/catch.hpp>

#include "agent/fw_guard.h"
#include "agent/unique_fd.h"
#include "tests/unit/agent/process.h"

using namespace rampart;
using namespace rampart::agent;

namespace {

fw::Cidr cidr(const char* s) { return *fw::Cidr::parse(s); }

fw::Rule rule(const char* name, fw::Action action, const char* port, std::vector<const char*> from = {}) {
  fw::Rule r;
  r.name = name;
  r.action = action;
  if (port != nullptr) r.ports.push_back(*fw::PortSpec::parse(port));
  for (const char* f : from) r.from.push_back(cidr(f));
  return r;
}

fw::Policy sshOnly() {
  fw::Policy p;
  p.rules.push_back(rule("ssh", fw::Action::Allow, "22/tcp"));
  return p;
}

// A connection to the node's 10.0.0.1 on `iface` ("": not known).
GuardConnection conn(const char* peer, uint16_t peer_port, uint16_t local_port, bool typed_over,
                     std::string iface = "") {
  return GuardConnection{cidr(peer), peer_port, local_port, typed_over, cidr("10.0.0.1"), std::move(iface)};
}

const GuardConnection kSession = conn("10.0.0.5", 50000, 22, true);

std::vector<std::string> check(const fw::Policy& before, const fw::Policy& after,
                               const std::vector<fw::Ban>& bans_after = {},
                               std::vector<GuardConnection> conns = {kSession}) {
  static const std::vector<fw::Ban> none;
  GuardInput in;
  in.before = &before;
  in.after = &after;
  in.bans_before = &none;
  in.bans_after = &bans_after;
  in.connections = std::move(conns);
  in.now = std::chrono::system_clock::time_point(std::chrono::hours(500000));
  return lockoutReasons(in);
}

}  // namespace

TEST_CASE("fw guard: adding an unrelated rule is safe") {
  fw::Policy after = sshOnly();
  after.rules.insert(after.rules.begin(), rule("cli-443-tcp", fw::Action::Allow, "443/tcp"));
  CHECK(check(sshOnly(), after).empty());
}

TEST_CASE("fw guard: banning the session's address is refused (bans come before established)") {
  auto reasons = check(sshOnly(), sshOnly(), {fw::Ban{cidr("10.0.0.0/24"), std::nullopt}});
  REQUIRE(reasons.size() == 1);
  CHECK_THAT(reasons[0], Catch::Contains("your SSH session from 10.0.0.5:50000 to port 22"));
  CHECK_THAT(reasons[0], Catch::Contains("ban of 10.0.0.0/24"));
}

TEST_CASE("fw guard: without the policies (bans alone changed), a new ban over a session is still refused") {
  static const std::vector<fw::Ban> none;
  const std::vector<fw::Ban> bans{fw::Ban{cidr("10.0.0.0/24"), std::nullopt}};
  GuardInput in;  // before/after null: the same rules, established accepted first
  in.bans_before = &none;
  in.bans_after = &bans;
  in.connections = {kSession, conn("192.0.2.9", 40000, 22, false)};
  in.now = std::chrono::system_clock::time_point(std::chrono::hours(500000));
  auto reasons = lockoutReasons(in);
  REQUIRE(reasons.size() == 1);
  CHECK_THAT(reasons[0], Catch::Contains("ban of 10.0.0.0/24"));
  in.bans_before = &bans;  // banned already: this change cuts nothing
  CHECK(lockoutReasons(in).empty());
}

TEST_CASE("fw guard: the ssh ports from rules as pointers are those from the policy") {
  fw::Policy p = sshOnly();
  p.rules.push_back(rule("ssh", fw::Action::Allow, "2222/tcp"));
  p.rules.push_back(rule("ssh", fw::Action::Deny, "2200/tcp"));
  std::vector<const fw::Rule*> rules;
  for (const auto& r : p.rules) rules.push_back(&r);
  CHECK(sshPorts(rules) == std::vector<uint16_t>{22, 2222});
  CHECK(sshPorts(p) == std::vector<uint16_t>{22, 2222});
  CHECK(sshPorts(std::span<const fw::Rule* const>{}) == std::vector<uint16_t>{22});
}

TEST_CASE("fw guard: a ban that has already expired cuts nothing") {
  std::vector<fw::Ban> bans{fw::Ban{cidr("10.0.0.5"), std::chrono::system_clock::time_point(std::chrono::hours(1))}};
  CHECK(check(sshOnly(), sshOnly(), bans).empty());
}

TEST_CASE("fw guard: banning another address is safe") {
  CHECK(check(sshOnly(), sshOnly(), {fw::Ban{cidr("192.0.2.1"), std::nullopt}}).empty());
}

TEST_CASE("fw guard: a deny in front of the ssh rule keeps the session but refuses the next login") {
  fw::Policy after = sshOnly();
  after.rules.insert(after.rules.begin(), rule("cli-deny-22-tcp", fw::Action::Deny, "22/tcp", {"10.0.0.0/8"}));
  auto reasons = check(sshOnly(), after);
  REQUIRE(reasons.size() == 1);
  CHECK_THAT(reasons[0], Catch::Contains("next login from 10.0.0.5 would be refused"));
  CHECK_THAT(reasons[0], Catch::Contains("rule 'cli-deny-22-tcp' denies it"));
}

TEST_CASE("fw guard: a deny for another source is safe") {
  fw::Policy after = sshOnly();
  after.rules.insert(after.rules.begin(), rule("cli-deny-22-tcp", fw::Action::Deny, "22/tcp", {"192.0.2.0/24"}));
  CHECK(check(sshOnly(), after).empty());
}

TEST_CASE("fw guard: removing the last rule allowing ssh refuses the next login") {
  fw::Policy after;
  after.rules.push_back(rule("web", fw::Action::Allow, "443/tcp"));
  auto reasons = check(sshOnly(), after);
  REQUIRE(reasons.size() == 1);
  CHECK_THAT(reasons[0], Catch::Contains("no rule allows it and the input policy is drop"));
}

TEST_CASE("fw guard: removing one of two rules allowing ssh is safe") {
  fw::Policy before = sshOnly();
  before.rules.insert(before.rules.begin(), rule("cli-22", fw::Action::Allow, "22/tcp", {"10.0.0.0/8"}));
  CHECK(check(before, sshOnly()).empty());
}

TEST_CASE("fw guard: with the established builtin off, a deny cuts the session itself") {
  fw::Policy after = sshOnly();
  after.builtins.established = false;
  after.rules.insert(after.rules.begin(), rule("cli-deny-any", fw::Action::Deny, nullptr));
  auto reasons = check(sshOnly(), after);
  REQUIRE(reasons.size() == 1);
  CHECK_THAT(reasons[0], Catch::Contains("would be cut: the established builtin is off"));
}

TEST_CASE("fw guard: with the established builtin off, still allowed means safe") {
  fw::Policy after = sshOnly();
  after.builtins.established = false;
  CHECK(check(sshOnly(), after).empty());
}

TEST_CASE("fw guard: with the established builtin off and output filtering, the session's replies must be let out") {
  fw::Policy after = sshOnly();
  after.builtins.established = false;
  after.output_policy = fw::ChainPolicy::Drop;
  auto reasons = check(sshOnly(), after);
  REQUIRE(reasons.size() == 1);
  CHECK_THAT(reasons[0], Catch::Contains("no output rule lets its replies out and the output policy is drop"));

  // An output rule for the peer's port lets them out; one with sources
  // (the node's own addresses) is not counted on.
  fw::Rule out = rule("replies", fw::Action::Allow, "1024-65535/tcp");
  out.hook = fw::Hook::Output;
  fw::Policy sourced = after;
  fw::Rule mine = out;
  mine.from = {cidr("10.0.0.1")};
  sourced.rules.push_back(mine);
  CHECK(check(sshOnly(), sourced).size() == 1);
  after.rules.push_back(out);
  CHECK(check(sshOnly(), after).empty());

  // With the output policy accept, an output deny for the peer's port cuts.
  fw::Policy deny = sshOnly();
  deny.builtins.established = false;
  fw::Rule block = rule("no-out", fw::Action::Deny, nullptr);
  block.hook = fw::Hook::Output;
  deny.rules.push_back(block);
  reasons = check(sshOnly(), deny);
  REQUIRE(reasons.size() == 1);
  CHECK_THAT(reasons[0], Catch::Contains("output rule 'no-out' denies its replies"));

  // With the established builtin on, the replies leave first in output.
  deny.builtins.established = true;
  CHECK(check(sshOnly(), deny).empty());
  // A loopback session's replies leave by the loopback builtin.
  deny.builtins.established = false;
  CHECK(check(sshOnly(), deny, {}, {conn("127.0.0.1", 50000, 22, true)}).empty());
}

TEST_CASE("fw guard: an input policy of accept keeps ssh open without rules") {
  fw::Policy after;
  after.input_policy = fw::ChainPolicy::Accept;
  CHECK(check(sshOnly(), after).empty());
}

TEST_CASE("fw guard: a group source is resolved to its addresses") {
  fw::Policy before;
  before.groups.push_back(fw::Group{"admins", {cidr("10.0.0.0/24")}, {}, {}, {}});
  before.rules.push_back(rule("ssh", fw::Action::Allow, "22/tcp"));
  before.rules.back().from_groups = {"admins"};
  fw::Policy after = before;
  after.groups[0].cidrs = {cidr("10.1.0.0/24")};
  CHECK_FALSE(check(before, after).empty());
}

TEST_CASE("fw guard: every established connection to sshd is protected, not only the session") {
  GuardConnection other = conn("2001:db8::7", 40000, 22, false);
  auto reasons = check(sshOnly(), sshOnly(), {fw::Ban{cidr("2001:db8::/32"), std::nullopt}}, {kSession, other});
  REQUIRE(reasons.size() == 1);
  CHECK_THAT(reasons[0], Catch::Contains("the established SSH connection from [2001:db8::7]:40000"));
}

TEST_CASE("fw guard: a temporary rule that has expired does not count as allowing") {
  fw::Policy after;
  after.rules.push_back(rule("ssh-tmp", fw::Action::Allow, "22/tcp"));
  after.rules.back().expires = std::chrono::system_clock::time_point(std::chrono::hours(1));
  CHECK_FALSE(check(sshOnly(), after).empty());
}

TEST_CASE("fw guard: ssh ports come from the rule named ssh, else 22") {
  CHECK(sshPorts(sshOnly()) == std::vector<uint16_t>{22});
  fw::Policy p;
  p.rules.push_back(rule("ssh", fw::Action::Allow, "2222/tcp"));
  CHECK(sshPorts(p) == std::vector<uint16_t>{2222});
  CHECK(sshPorts(fw::Policy{}) == std::vector<uint16_t>{22});
}

TEST_CASE("fw guard: /proc/net/tcp and tcp6 lines parse, IPv4-mapped becomes IPv4") {
  const char* tcp =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n"
      "   0: 00000000:0016 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1\n"
      "   1: 0100000A:0016 0500000A:C350 01 00000000:00000000 02:000AFB5E 00000000     0        0 2 4\n";
  auto v4 = parseProcNetTcp(tcp, false);
  REQUIRE(v4.size() == 2);
  CHECK(v4[1].state == 1);
  CHECK(v4[1].local.str() == "10.0.0.1");
  CHECK(v4[1].local_port == 22);
  CHECK(v4[1].remote.str() == "10.0.0.5");
  CHECK(v4[1].remote_port == 50000);
  const char* tcp6 =
      "  sl  local_address                         remote_address                        st\n"
      "   0: 0000000000000000FFFF00000100000A:0016 0000000000000000FFFF00000500000A:C350 01 0\n"
      "   1: B80D0120000000000000000001000000:0016 B80D0120000000000000000007000000:9C40 01 0\n"
      "   2: garbage\n";
  auto v6 = parseProcNetTcp(tcp6, true);
  REQUIRE(v6.size() == 2);
  CHECK(v6[0].remote.str() == "10.0.0.5");
  CHECK(v6[0].remote.family == fw::Family::V4);
  CHECK(v6[1].remote.str() == "2001:db8::7");
  CHECK(v6[1].remote_port == 40000);
}

TEST_CASE("fw guard: established connections are read from a proc root, filtered by port and state") {
  rampart::test::TempDir dir;
  std::filesystem::create_directories(dir.file("net"));
  std::ofstream(dir.file("net/tcp")) <<
      "  sl  local_address rem_address   st\n"
      "   0: 0100000A:0016 0500000A:C350 01 0\n"
      "   1: 0100000A:0016 0600000A:C351 06 0\n"
      "   2: 0100000A:01BB 0700000A:C352 01 0\n";
  auto conns = establishedTo({22}, dir.path());
  REQUIRE(conns.size() == 1);
  CHECK(conns[0].peer.str() == "10.0.0.5");
  CHECK_FALSE(conns[0].typed_over);
}

namespace {

// A listening socket on loopback (IPv4 or IPv6) at a free port.
struct Loopback {
  rampart::agent::UniqueFd fd;
  uint16_t port = 0;
  explicit Loopback(bool v6) : fd(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) {
    sockaddr_storage ss{};
    socklen_t len = 0;
    if (v6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof *a;
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&ss);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof *a;
    }
    REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0);
    REQUIRE(::listen(fd.get(), 4) == 0);
    REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0);
    port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  }
  // Connects to it; returns the client socket (the accepted one is kept).
  rampart::agent::UniqueFd connectOnce(bool v6, uint16_t& client_port) {
    rampart::agent::UniqueFd c(::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_storage ss{};
    socklen_t len = sizeof ss;
    REQUIRE(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0);
    REQUIRE(::connect(c.get(), reinterpret_cast<sockaddr*>(&ss), len) == 0);
    accepted.emplace_back(::accept4(fd.get(), nullptr, nullptr, SOCK_CLOEXEC));
    len = sizeof ss;
    REQUIRE(::getsockname(c.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0);
    client_port = ntohs(v6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
    return c;
  }
  std::vector<rampart::agent::UniqueFd> accepted;
};

}  // namespace

TEST_CASE("fw guard: the kernel's socket table (sock_diag) gives the established connections to the given ports") {
  Loopback v4(false), v6(true), other(false);
  uint16_t p4 = 0, p6 = 0, p_other = 0;
  auto c4 = v4.connectOnce(false, p4);
  auto c6 = v6.connectOnce(true, p6);
  auto c_other = other.connectOnce(false, p_other);
  auto conns = establishedToByDiag({9, v4.port, v6.port});  // 9 (discard): none there
  REQUIRE(conns.has_value());
  auto has = [&](const char* peer, uint16_t peer_port, uint16_t local_port) {
    return std::ranges::any_of(*conns, [&](const GuardConnection& c) {
      return c.peer.str() == peer && c.peer_port == peer_port && c.local_port == local_port;
    });
  };
  CHECK(has("127.0.0.1", p4, v4.port));
  CHECK(has("::1", p6, v6.port));
  // Only connections to those ports, and only the server's side of each
  // (a client socket's local port is its ephemeral one).
  for (const GuardConnection& c : *conns) CHECK((c.local_port == v4.port || c.local_port == v6.port));
  CHECK(conns->size() == 2);
  // No port asked: nothing, without asking the kernel.
  auto none = establishedToByDiag({});
  REQUIRE(none.has_value());
  CHECK(none->empty());
}

TEST_CASE("fw guard: SSH_CONNECTION parses; nonsense does not") {
  auto c = parseSshConnection("10.0.0.5 50000 10.0.0.1 22");
  REQUIRE(c.has_value());
  CHECK(c->peer.str() == "10.0.0.5");
  CHECK(c->peer_port == 50000);
  CHECK(c->local_port == 22);
  CHECK(c->typed_over);
  CHECK(c->local.str() == "10.0.0.1");
  CHECK(c->interface.empty());  // found later, by nameInterfaces
  auto m = parseSshConnection("::ffff:10.0.0.5 1 ::ffff:10.0.0.1 2222");
  REQUIRE(m.has_value());
  CHECK(m->peer.family == fw::Family::V4);
  CHECK_FALSE(parseSshConnection("10.0.0.5 50000 10.0.0.1").has_value());
  CHECK_FALSE(parseSshConnection("10.0.0.5 0 10.0.0.1 22").has_value());
  CHECK_FALSE(parseSshConnection("nope 1 10.0.0.1 22").has_value());
  CHECK_FALSE(parseSshConnection("10.0.0.5 70000 10.0.0.1 22").has_value());
  // Link-local addresses with their zone: the node's names the interface.
  auto z = parseSshConnection("fe80::5%eth1 50000 fe80::1%eth1 22");
  REQUIRE(z.has_value());
  CHECK(z->peer.str() == "fe80::5");
  CHECK(z->local.str() == "fe80::1");
  CHECK(z->interface == "eth1");
  // A local address that does not parse leaves it unknown, the session kept.
  auto u = parseSshConnection("10.0.0.5 50000 what 22");
  REQUIRE(u.has_value());
  CHECK(u->interface.empty());
}

TEST_CASE("fw guard: a rule's to: counts for a session to one of those addresses") {
  fw::Policy to_vip = sshOnly();
  to_vip.rules[0].to = {cidr("192.0.2.10")};
  const GuardConnection on_main = kSession;  // to 10.0.0.1
  GuardConnection on_vip = kSession;
  on_vip.local = cidr("192.0.2.10");
  auto moved = check(sshOnly(), to_vip, {}, {on_main});
  REQUIRE(moved.size() == 1);
  CHECK_THAT(moved[0], Catch::Contains("it is to 10.0.0.1, rule 'ssh' allows it only to 192.0.2.10"));
  CHECK(check(sshOnly(), to_vip, {}, {on_vip}).empty());
  GuardConnection unknown = kSession;
  unknown.local = fw::Cidr{};
  CHECK(check(sshOnly(), to_vip, {}, {unknown}).empty());  // taken to match
}

TEST_CASE("fw guard: a reject cuts as a deny does, and says so") {
  fw::Policy after = sshOnly();
  after.rules.insert(after.rules.begin(), rule("refuse", fw::Action::Reject, "22/tcp", {"10.0.0.0/24"}));
  auto next = check(sshOnly(), after);
  REQUIRE(next.size() == 1);
  CHECK_THAT(next[0], Catch::Contains("next login from 10.0.0.5 would be refused: rule 'refuse' rejects it"));
  after.builtins.established = false;
  auto cut = check(sshOnly(), after);
  REQUIRE(cut.size() == 1);
  CHECK_THAT(cut[0], Catch::Contains("would be cut: the established builtin is off and rule 'refuse' rejects it"));
  // In output, its replies.
  fw::Policy out = sshOnly();
  out.builtins.established = false;
  out.rules.push_back(rule("no-replies", fw::Action::Reject, "50000/tcp"));
  out.rules.back().hook = fw::Hook::Output;
  auto held = check(sshOnly(), out);
  REQUIRE(held.size() == 1);
  CHECK_THAT(held[0], Catch::Contains("output rule 'no-replies' rejects its replies"));
}

TEST_CASE("fw guard: a rule limited to interfaces counts for a connection on one of them") {
  fw::Policy on_eth0 = sshOnly();
  on_eth0.rules[0].interfaces = {"eth0"};
  fw::Policy on_vlans = sshOnly();
  on_vlans.rules[0].interfaces = {"eth1", "vlan*"};
  const GuardConnection eth0 = conn("10.0.0.5", 50000, 22, true, "eth0");
  const GuardConnection vlan = conn("10.0.0.5", 50000, 22, true, "vlan42");
  // The session on eth0: moving ssh to other interfaces refuses its next login.
  CHECK(check(sshOnly(), on_eth0, {}, {eth0}).empty());
  auto moved = check(on_eth0, on_vlans, {}, {eth0});
  REQUIRE(moved.size() == 1);
  CHECK_THAT(moved[0], Catch::Contains("next login from 10.0.0.5 would be refused: it comes in on eth0, rule 'ssh' "
                                       "allows it only on eth1, vlan*, and the input policy is drop"));
  // On a vlan the prefix takes it; off it, moving to eth0 refuses it.
  CHECK(check(sshOnly(), on_vlans, {}, {vlan}).empty());
  CHECK_FALSE(check(on_vlans, on_eth0, {}, {vlan}).empty());
  // Not known: the rule is taken to match, before as after, so an unrelated
  // change is safe and taking the rule away is not.
  const GuardConnection unknown = conn("10.0.0.5", 50000, 22, true);
  fw::Policy more = on_vlans;
  more.rules.push_back(rule("web", fw::Action::Allow, "443/tcp"));
  CHECK(check(on_vlans, more, {}, {unknown}).empty());
  CHECK_FALSE(check(on_vlans, fw::Policy{}, {}, {unknown}).empty());
  // With established off, a deny on another interface does not cut it, one
  // on its own does.
  fw::Policy deny_vlan = sshOnly();
  deny_vlan.builtins.established = false;
  deny_vlan.rules.insert(deny_vlan.rules.begin(), rule("no-ssh", fw::Action::Deny, "22/tcp"));
  deny_vlan.rules[0].interfaces = {"vlan*"};
  CHECK(check(sshOnly(), deny_vlan, {}, {eth0}).empty());
  auto cut = check(sshOnly(), deny_vlan, {}, {vlan});
  REQUIRE(cut.size() == 1);
  CHECK_THAT(cut[0], Catch::Contains("would be cut: the established builtin is off and rule 'no-ssh' denies it"));
}
