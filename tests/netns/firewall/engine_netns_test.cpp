// The engine against the real kernel, each test in fresh network
// namespaces: "srv" holds the firewall, "cli" sends traffic over a veth pair.
#include <catch2/catch.hpp>

#include <arpa/inet.h>
#include <fcntl.h>
#include <net/if.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>
#include <functional>
#include <map>
#include <regex>
#include <sstream>
#include <thread>
#include <utility>

#include <fmt/format.h>

#include "agent/unique_fd.h"
#include "firewall/compile.h"
#include "firewall/diff.h"
#include "firewall/engine.h"
#include "firewall/nft_text.h"
#include "firewall/netlink.h"
#include "tests/support/netns.h"

using namespace rampart;
using namespace rampart::fw;
using rampart::test::NetNs;
using namespace std::chrono_literals;

namespace {

Cidr cidr(std::string_view s) { return *Cidr::parse(s); }

Rule allow(std::string name, std::vector<std::string> ports, std::vector<std::string> from = {}) {
  Rule r;
  r.name = std::move(name);
  for (const auto& p : ports) r.ports.push_back(*PortSpec::parse(p));
  for (const auto& f : from) r.from.push_back(cidr(f));
  return r;
}

// The project's owning fd (agent/unique_fd.h).
using Fd = rampart::agent::UniqueFd;

// A link-local IPv6 address is scoped to `ifname` (looked up in the
// namespace the calling thread is in).
sockaddr_storage address(const std::string& ip, uint16_t port, socklen_t& len, const char* ifname = nullptr) {
  sockaddr_storage ss{};
  if (ip.find(':') == std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    inet_pton(AF_INET, ip.c_str(), &a->sin_addr);
    len = sizeof(sockaddr_in);
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr);
    if (ifname != nullptr && ip.starts_with("fe80:")) a->sin6_scope_id = if_nametoindex(ifname);
    len = sizeof(sockaddr_in6);
  }
  return ss;
}

// A TCP listener in `ns` on port 0 (both families); the kernel completes
// handshakes from its backlog, no accept() needed.
struct Listener {
  Fd v4, v6;
  uint16_t port = 0;
};

Listener listen(const NetNs& ns) {
  auto in = ns.enter();
  REQUIRE(in.ok());
  Listener l;
  l.v4 = Fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  socklen_t len = 0;
  auto a4 = address("0.0.0.0", 0, len);
  REQUIRE(bind(l.v4.get(), reinterpret_cast<sockaddr*>(&a4), len) == 0);
  REQUIRE(::listen(l.v4.get(), 128) == 0);
  sockaddr_in bound{};
  socklen_t blen = sizeof bound;
  getsockname(l.v4.get(), reinterpret_cast<sockaddr*>(&bound), &blen);
  l.port = ntohs(bound.sin_port);
  l.v6 = Fd(socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  setsockopt(l.v6.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  auto a6 = address("::", l.port, len);
  REQUIRE(bind(l.v6.get(), reinterpret_cast<sockaddr*>(&a6), len) == 0);
  REQUIRE(::listen(l.v6.get(), 128) == 0);
  return l;
}

// How a TCP handshake from `src` to dst:port in `ns` ends: 0 when it
// completes in time, ETIMEDOUT when nothing answers, else its error
// (ECONNREFUSED: a reset came back).
int connectResult(const NetNs& ns, const std::string& src, const std::string& dst, uint16_t port,
                  std::chrono::milliseconds timeout = 700ms) {
  auto in = ns.enter();
  REQUIRE(in.ok());
  bool v6 = dst.find(':') != std::string::npos;
  Fd s(socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  socklen_t len = 0;
  auto from = address(src, 0, len);
  REQUIRE(bind(s.get(), reinterpret_cast<sockaddr*>(&from), len) == 0);
  auto to = address(dst, port, len);
  int r = connect(s.get(), reinterpret_cast<sockaddr*>(&to), len);
  if (r == 0) return 0;
  if (errno != EINPROGRESS) return errno;
  pollfd p{s.get(), POLLOUT, 0};
  if (poll(&p, 1, static_cast<int>(timeout.count())) != 1) return ETIMEDOUT;
  int err = 0;
  socklen_t elen = sizeof err;
  getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &elen);
  return err;
}

// Whether a TCP handshake from `src` to dst:port in `ns` completes in time.
bool connects(const NetNs& ns, const std::string& src, const std::string& dst, uint16_t port,
              std::chrono::milliseconds timeout = 700ms) {
  return connectResult(ns, src, dst, port, timeout) == 0;
}

// Two namespaces joined by a veth pair, the engine opened inside "srv".
struct Testbed {
  NetNs srv = *NetNs::create("rampart-srv");
  NetNs cli = *NetNs::create("rampart-cli");
  std::unique_ptr<Engine> engine;

  explicit Testbed(EngineOptions options = {}) {
    REQUIRE(rampart::test::vethPair(srv, "veth-s", "10.99.0.1/24", "fd99::1/64", cli, "veth-c", "10.99.0.2/24",
                                    "fd99::2/64"));
    REQUIRE(cli.run("ip addr add 10.99.0.3/24 dev veth-c && ip -6 addr add fd99::3/64 dev veth-c nodad").status == 0);
    auto in = srv.enter();
    REQUIRE(in.ok());
    auto e = Engine::create(std::move(options));
    if (!e) FAIL(e.error().message);
    engine = std::move(*e);
  }

  Ruleset live() {
    auto rs = engine->dumpRuleset();
    if (!rs) FAIL(rs.error().message);
    REQUIRE(rs->has_value());
    return **rs;
  }
};

std::vector<Ban> someBans() {
  return {Ban{cidr("203.0.113.0/24"), std::nullopt},
          Ban{cidr("198.51.100.7"), std::chrono::system_clock::now() + 1h},
          Ban{cidr("2001:db8:bad::/48"), std::nullopt}};
}

Policy richPolicy() {
  Policy p;
  p.groups.push_back(Group{"app", {cidr("10.99.0.2"), cidr("fd99::2"), cidr("10.1.0.0/16")}, {}, {}, {}});
  p.rules.push_back(allow("ssh", {"22/tcp"}));
  p.rules.push_back(allow("web", {"80/tcp", "443/tcp", "8000-8100"}, {"10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"}));
  Rule db = allow("db", {"5432/tcp"});
  db.from_groups = {"app"};
  p.rules.push_back(db);
  Rule smtp = allow("smtp", {"25/tcp"});
  smtp.limit = Rate{10, RateUnit::Minute};
  p.rules.push_back(smtp);
  Rule deny;
  deny.name = "no-forward";
  deny.action = Action::Deny;
  deny.hook = Hook::Forward;
  deny.from = {cidr("192.0.2.0/24")};
  p.rules.push_back(deny);
  return p;
}

}  // namespace

TEST_CASE("fw apply: the kernel holds exactly what compile() produced", "[netns]") {
  Testbed tb;
  auto r = tb.engine->apply(richPolicy(), someBans());
  if (!r) FAIL(r.error().message);
  CHECK(r->rules_added > 10);
  Ruleset want = compile(richPolicy(), someBans(), {"rampart", std::chrono::system_clock::now()});
  Changes left = diff(want, tb.live(), true);
  INFO(describe(left));
  CHECK(left.empty());
  auto again = tb.engine->apply(richPolicy(), someBans());
  REQUIRE(again);
  CHECK(again->messages == 0);

  // nft reads the same table back, with every rule's comment.
  auto json = tb.srv.run("nft -j list table inet rampart");
  REQUIRE(json.status == 0);
  for (const auto* name : {"rule:ssh", "rule:web", "rule:db", "limit:smtp", "ban:v4", "builtin:icmpv6"})
    CHECK(json.output.find(name) != std::string::npos);
  auto text = tb.srv.run("nft list table inet rampart");
  CHECK(text.output.find("ip saddr @g_app_v4 tcp dport 5432") != std::string::npos);
}

TEST_CASE("fw traffic: each kind of rule lets through what it says and drops the rest", "[netns]") {
  Testbed tb;
  Listener open = listen(tb.srv), closed = listen(tb.srv), db = listen(tb.srv), lim = listen(tb.srv);
  Policy p;
  p.groups.push_back(Group{"app", {cidr("10.99.0.2"), cidr("fd99::2")}, {}, {}, {}});
  p.rules.push_back(allow("open", {fmt::format("{}/tcp", open.port)}));
  Rule dbr = allow("db", {fmt::format("{}/tcp", db.port)});
  dbr.from_groups = {"app"};
  p.rules.push_back(dbr);
  Rule limr = allow("lim", {fmt::format("{}/tcp", lim.port)});
  limr.limit = Rate{1, RateUnit::Minute};
  p.rules.push_back(limr);
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);

  CHECK(connects(tb.cli, "10.99.0.2", "10.99.0.1", open.port));
  CHECK_FALSE(connects(tb.cli, "10.99.0.2", "10.99.0.1", closed.port));
  CHECK(connects(tb.cli, "10.99.0.2", "10.99.0.1", db.port));
  CHECK_FALSE(connects(tb.cli, "10.99.0.3", "10.99.0.1", db.port));
  CHECK(connects(tb.cli, "fd99::2", "fd99::1", open.port));
  CHECK_FALSE(connects(tb.cli, "fd99::2", "fd99::1", closed.port));
  CHECK(connects(tb.cli, "fd99::2", "fd99::1", db.port));
  CHECK_FALSE(connects(tb.cli, "fd99::3", "fd99::1", db.port));

  // 1/minute with a burst of 5: the first connections pass, then the
  // source is over its rate and new connections are dropped.
  int passed = 0, dropped = 0;
  for (int i = 0; i < 10; ++i) (connects(tb.cli, "10.99.0.2", "10.99.0.1", lim.port, 400ms) ? passed : dropped)++;
  CHECK(passed >= 1);
  CHECK(dropped >= 1);
  // Another source has its own budget.
  CHECK(connects(tb.cli, "10.99.0.3", "10.99.0.1", lim.port));

  // A ban drops a source before every rule.
  r = tb.engine->apply(p, {Ban{cidr("10.99.0.2"), std::nullopt}});
  REQUIRE(r);
  CHECK(r->rules_added == 0);
  CHECK(r->elements_added == 1);
  CHECK_FALSE(connects(tb.cli, "10.99.0.2", "10.99.0.1", open.port));
  CHECK(connects(tb.cli, "10.99.0.3", "10.99.0.1", open.port));

  // A banned network drops every source in it: 10.99.0.2/31 holds .3 too.
  // Its length is new, so a set and a ban rule come; a second /31 is then
  // one element.
  r = tb.engine->apply(p, {Ban{cidr("10.99.0.2/31"), std::nullopt}});
  REQUIRE(r);
  CHECK(r->rules_added == 1);
  CHECK_FALSE(connects(tb.cli, "10.99.0.3", "10.99.0.1", open.port));
  CHECK(connects(tb.cli, "fd99::3", "fd99::1", open.port));
  r = tb.engine->apply(p, {Ban{cidr("10.99.0.2/31"), std::nullopt}, Ban{cidr("fd99::/126"), std::nullopt},
                           Ban{cidr("10.99.0.8/31"), std::nullopt}});
  REQUIRE(r);
  CHECK(r->rules_added == 1);     // the IPv6 /126's rule, its set made with its element
  CHECK(r->elements_added == 1);  // the second /31
  CHECK_FALSE(connects(tb.cli, "fd99::3", "fd99::1", open.port));
}

TEST_CASE("fw traffic: a group's networks match by prefix; a network more of a length it has is one element", "[netns]") {
  Testbed tb;
  REQUIRE(tb.cli.run("ip addr add 10.99.0.5/24 dev veth-c && ip -6 addr add fd99::5/64 dev veth-c nodad").status == 0);
  Listener db = listen(tb.srv);
  Policy p;
  // 10.99.0.2/31 holds the client's .2 and .3, not .5; fd99::/126 holds
  // ::2 and ::3, not ::5. Overlapping members are each their own key.
  p.groups.push_back(Group{"nets", {cidr("10.99.0.2/31"), cidr("10.99.0.0/24"), cidr("fd99::/126")}, {}, {}, {}});
  p.groups[0].cidrs.erase(p.groups[0].cidrs.begin() + 1);
  Rule dbr = allow("db", {fmt::format("{}/tcp", db.port)});
  dbr.from_groups = {"nets"};
  p.rules.push_back(dbr);
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  auto text = tb.srv.run("nft list table inet rampart");
  INFO(text.output);
  // (nft 1.0.6 prints the lookup after a mask as `== @set`.)
  CHECK(text.output.find("ip saddr & 255.255.255.254 == @g_nets_v4_31 tcp dport") != std::string::npos);
  for (const char* src : {"10.99.0.2", "10.99.0.3", "fd99::2", "fd99::3"}) {
    INFO(src);
    CHECK(connects(tb.cli, src, std::string_view(src).find(':') == std::string_view::npos ? "10.99.0.1" : "fd99::1", db.port));
  }
  CHECK_FALSE(connects(tb.cli, "10.99.0.5", "10.99.0.1", db.port));
  CHECK_FALSE(connects(tb.cli, "fd99::5", "fd99::1", db.port));

  // A /30 is a length the group did not have: a set and a rule more.
  p.groups[0].cidrs.push_back(cidr("10.99.0.4/30"));
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(r->rules_added == 1);
  CHECK(connects(tb.cli, "10.99.0.5", "10.99.0.1", db.port));
  // Another /30 and another /31: one element each, no rule touched.
  p.groups[0].cidrs.push_back(cidr("10.99.0.8/30"));
  p.groups[0].cidrs.push_back(cidr("10.99.0.10/31"));
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(r->rules_added == 0);
  CHECK(r->rules_deleted == 0);
  CHECK(r->elements_added == 2);
  // The /30 holding .5 goes, the other stays: .5 is dropped again.
  p.groups[0].cidrs.erase(std::ranges::find(p.groups[0].cidrs, cidr("10.99.0.4/30")));
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(r->rules_deleted == 0);
  CHECK(r->elements_deleted == 1);
  CHECK_FALSE(connects(tb.cli, "10.99.0.5", "10.99.0.1", db.port));
  CHECK(connects(tb.cli, "10.99.0.3", "10.99.0.1", db.port));
  // The rule's count is the sum of its kernel rules' counters.
  auto live = tb.engine->dump();
  REQUIRE(live);
  REQUIRE(live->rules.size() == 1);
  CHECK(live->rules[0].packets >= 6);  // a SYN of each of the six connections let through
  // /0 holds every source: the mask clears the whole address.
  p.groups[0].cidrs = {cidr("0.0.0.0/0"), cidr("::/0")};
  r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  CHECK(connects(tb.cli, "10.99.0.5", "10.99.0.1", db.port));
  CHECK(connects(tb.cli, "fd99::5", "fd99::1", db.port));
}

TEST_CASE("fw upgrade: a table with a group as one interval set (an older rampart's) becomes the sets by prefix length", "[netns]") {
  Testbed tb;
  REQUIRE(tb.cli.run("ip addr add 10.99.0.5/24 dev veth-c").status == 0);
  Listener db = listen(tb.srv);
  const std::string_view old_table = R"(table inet rampart {
  set g_app_v4 {
    type ipv4_addr
    flags interval
    elements = { 10.99.0.2/31, 192.0.2.0/24 }
  }
  chain input {
    type filter hook input priority filter; policy drop;
    ip saddr @g_app_v4 tcp dport PORT counter accept comment "rule:db"
  }
}
)";
  std::string table(old_table);
  table.replace(table.find("PORT"), 4, std::to_string(db.port));
  REQUIRE(tb.srv.run(fmt::format("printf '%s' '{}' | nft -f -", table)).status == 0);
  Policy p;
  p.groups.push_back(Group{"app", {cidr("10.99.0.2/31"), cidr("192.0.2.0/24")}, {}, {}, {}});
  Rule dbr = allow("db", {fmt::format("{}/tcp", db.port)});
  dbr.from_groups = {"app"};
  p.rules.push_back(dbr);
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  Changes left = diff(compile(p, {}, {"rampart", std::chrono::system_clock::now()}), tb.live(), true);
  INFO(describe(left));
  CHECK(left.empty());
  auto text = tb.srv.run("nft list table inet rampart");
  INFO(text.output);
  CHECK(text.output.find("flags interval") == std::string::npos);
  CHECK(connects(tb.cli, "10.99.0.3", "10.99.0.1", db.port));
  CHECK_FALSE(connects(tb.cli, "10.99.0.5", "10.99.0.1", db.port));
}

TEST_CASE("fw change: a one-rule change keeps the other rules' counters and handles", "[netns]") {
  Testbed tb;
  Listener a = listen(tb.srv);
  Policy p;
  p.rules.push_back(allow("a", {fmt::format("{}/tcp", a.port)}));
  p.rules.push_back(allow("b", {"1001/tcp"}));
  REQUIRE(tb.engine->apply(p, {}));
  REQUIRE(connects(tb.cli, "10.99.0.2", "10.99.0.1", a.port));
  auto before = tb.engine->dump();
  REQUIRE(before);
  REQUIRE(before->rules.size() == 2);
  CHECK(before->rules[0].packets >= 1);

  p.rules[1] = allow("b", {"1002/tcp"});
  p.rules.push_back(allow("c", {"1003/tcp"}));
  auto r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(r->rules_deleted == 1);
  CHECK(r->rules_added == 2);
  auto after = tb.engine->dump();
  REQUIRE(after);
  REQUIRE(after->rules.size() == 3);
  CHECK(after->rules[0].name == "a");
  CHECK(after->rules[0].handle == before->rules[0].handle);
  CHECK(after->rules[0].packets >= before->rules[0].packets);
  CHECK(after->rules[1].name == "b");
  CHECK(after->rules[2].name == "c");
}

TEST_CASE("fw drift: another process's change is reported with its pid and name, and undone", "[netns]") {
  Testbed tb;
  REQUIRE(tb.engine->apply(richPolicy(), {}));
  auto own = tb.engine->readEvents();  // our own commit is not drift
  REQUIRE(own);
  CHECK(own->empty());

  REQUIRE(tb.srv.run("nft add rule inet rampart input tcp dport 9999 accept").status == 0);
  std::vector<DriftEvent> events;
  auto deadline = std::chrono::steady_clock::now() + 5s;
  while (events.empty() && std::chrono::steady_clock::now() < deadline) {
    pollfd p{tb.engine->eventFd(), POLLIN, 0};
    poll(&p, 1, 500);
    auto got = tb.engine->readEvents();
    REQUIRE(got);
    events.insert(events.end(), got->begin(), got->end());
  }
  REQUIRE(events.size() == 1);
  CHECK(events[0].process == "nft");
  CHECK(events[0].pid != 0);
  CHECK(events[0].pid != static_cast<uint32_t>(getpid()));

  // A change to another table is not ours to report.
  REQUIRE(tb.srv.run("nft add table ip other").status == 0);
  pollfd p{tb.engine->eventFd(), POLLIN, 0};
  poll(&p, 1, 500);
  auto other = tb.engine->readEvents();
  REQUIRE(other);
  CHECK(other->empty());

  auto r = tb.engine->apply(richPolicy(), {});
  REQUIRE(r);
  CHECK(r->rules_deleted == 1);
  CHECK(r->rules_added == 0);
  CHECK(tb.srv.run("nft list table inet rampart").output.find("9999") == std::string::npos);
}

TEST_CASE("fw reject: a batch the kernel refuses changes nothing and names the rule", "[netns]") {
  Testbed tb;
  REQUIRE(tb.engine->apply(richPolicy(), {}));
  Ruleset before = tb.live();

  auto in = tb.srv.enter();
  auto sock = nl::Socket::open();
  REQUIRE(sock);
  auto gen = sock->generation();
  REQUIRE(gen);
  Changes c;
  KernelRule good;
  good.chain = "input";
  good.tag = RuleTag{RuleKind::Policy, "fine"};
  good.exprs = compile(Policy{}, {}, {}).rules.front().exprs;  // a valid rule
  c.add_rules.push_back(RuleAdd{good, 0, true});
  KernelRule bad = good;
  bad.tag = RuleTag{RuleKind::Policy, "mysql"};
  bad.loc = SourceLoc{"/etc/rampart/rampart.yaml", 23, 7};
  // A payload load longer than every register together.
  Expr load;
  load.name = "payload";
  auto u32 = [](uint16_t t, uint32_t v) {
    Bytes b(4);
    std::memcpy(b.data(), &v, 4);
    return ExprAttr{t, b};
  };
  load.attrs = {u32(1, 1), u32(2, 1), u32(3, 0), u32(4, 200)};
  bad.exprs.insert(bad.exprs.begin(), load);
  c.add_rules.push_back(RuleAdd{bad, 0, true});
  auto sent = sock->send("rampart", c, *gen, true);
  REQUIRE_FALSE(sent);
  INFO(sent.error().message);
  CHECK(sent.error().message.find("rule 'mysql' (/etc/rampart/rampart.yaml:23:7)") != std::string::npos);
  CHECK(sent.error().message.find("rule 'fine'") == std::string::npos);

  // Nothing of the batch was committed.
  Ruleset after = tb.live();
  CHECK(diff(before, after, true).empty());
  CHECK(after.rules.size() == before.rules.size());
}

TEST_CASE("fw concurrency: a change between dump and commit makes the kernel refuse, apply retries", "[netns]") {
  bool armed = false;
  NetNs* srv = nullptr;
  EngineOptions options;
  options.before_commit = [&] {
    if (!armed) return;
    armed = false;
    REQUIRE(srv->run("nft add rule inet rampart input tcp dport 4444 accept").status == 0);
  };
  Testbed tb(options);
  srv = &tb.srv;
  REQUIRE(tb.engine->apply(richPolicy(), {}));
  Policy changed = richPolicy();
  changed.rules.push_back(allow("extra", {"7777/tcp"}));
  armed = true;
  auto r = tb.engine->apply(changed, {});
  if (!r) FAIL(r.error().message);
  CHECK(r->retries == 1);
  CHECK(r->rules_deleted == 1);  // the concurrent rule, seen on the retry
  Ruleset want = compile(changed, {}, {"rampart", std::chrono::system_clock::now()});
  CHECK(diff(want, tb.live(), true).empty());
}

TEST_CASE("fw isolation: other tables (Docker's) are untouched by apply and removeTable", "[netns]") {
  Testbed tb;
  const char* docker = R"(table ip nat {
  chain DOCKER {
    iifname "docker0" counter return
  }
  chain PREROUTING {
    type nat hook prerouting priority dstnat; policy accept;
    fib daddr type local counter jump DOCKER
  }
}
table ip filter {
  chain DOCKER {
  }
  chain FORWARD {
    type filter hook forward priority filter; policy drop;
    counter jump DOCKER
    oifname "docker0" ct state related,established counter accept
  }
}
)";
  REQUIRE(tb.srv.run(fmt::format("printf '%s' '{}' | nft -f -", docker)).status == 0);
  auto others = [&] {
    return tb.srv.run("nft -a list table ip nat").output + tb.srv.run("nft -a list table ip filter").output;
  };
  std::string before = others();
  REQUIRE(before.find("DOCKER") != std::string::npos);
  REQUIRE(tb.engine->apply(richPolicy(), someBans()));
  Policy changed = richPolicy();
  changed.rules.erase(changed.rules.begin());
  REQUIRE(tb.engine->apply(changed, {}));
  CHECK(others() == before);
  REQUIRE(tb.engine->removeTable());
  CHECK(others() == before);
  CHECK(tb.srv.run("nft list table inet rampart").status != 0);
  // Removing a table that is not there is fine.
  CHECK(tb.engine->removeTable());
}

TEST_CASE("fw plan: a kernel-checked plan lists the change and commits nothing", "[netns]") {
  Testbed tb;
  REQUIRE(tb.engine->apply(richPolicy(), {}));
  auto gen_before = tb.engine->dump();
  REQUIRE(gen_before);
  Policy changed = richPolicy();
  changed.rules.push_back(allow("extra", {"7777/tcp"}));
  changed.rules[0].ports = {*PortSpec::parse("2222/tcp")};
  changed.groups[0].cidrs.push_back(cidr("10.2.0.0/16"));
  auto plan = tb.engine->plan(changed, {someBans()[0]}, true);
  if (!plan) FAIL(plan.error().message);
  INFO(*plan);
  // What changes, as nft would list it: a rule out, rules in, elements in.
  CHECK_THAT(*plan, Catch::Contains("+ rule input: tcp dport 7777 counter accept comment \"rule:extra\"\n"));
  CHECK_THAT(*plan, Catch::Matches(R"((.|\n)*- rule input handle [0-9]+: tcp dport 22 counter accept comment "rule:ssh"\n(.|\n)*)"));
  CHECK_THAT(*plan, Catch::Contains("+ rule input: tcp dport 2222 counter accept comment \"rule:ssh\"\n"));
  CHECK_THAT(*plan, Catch::Contains("+ elements g_app_v4_16 (1) { 10.2.0.0 }\n"));
  CHECK_THAT(*plan, Catch::Contains("+ set bans_v4_24 (1 elements) { 203.0.113.0 }\n"));
  CHECK_THAT(*plan, Catch::Contains("+ rule input: ip saddr & 255.255.255.0 == @bans_v4_24 counter drop comment \"ban:v4\"\n"));
  auto gen_after = tb.engine->dump();
  REQUIRE(gen_after);
  CHECK(gen_after->generation == gen_before->generation);
  CHECK(gen_after->kernel_rules == gen_before->kernel_rules);
}

TEST_CASE("fw fail closed: the table stays when the engine goes away", "[netns]") {
  Testbed tb;
  REQUIRE(tb.engine->apply(richPolicy(), {}));
  tb.engine.reset();
  auto listed = tb.srv.run("nft list table inet rampart");
  CHECK(listed.status == 0);
  CHECK(listed.output.find("rule:ssh") != std::string::npos);
}

TEST_CASE("fw bans: a ban the kernel already timed out does not break the next apply", "[netns]") {
  Testbed tb;
  Policy p;
  p.rules.push_back(allow("ssh", {"22/tcp"}));
  auto soon = std::chrono::system_clock::now() + 1s;
  std::vector<Ban> bans = {Ban{cidr("198.51.100.7"), soon}, Ban{cidr("203.0.113.9"), std::nullopt}};
  REQUIRE(tb.engine->apply(p, bans));
  // Wait (with a deadline) until the kernel has dropped the element itself.
  auto deadline = std::chrono::steady_clock::now() + 10s;
  size_t left = 2;
  while (left > 1 && std::chrono::steady_clock::now() < deadline) {
    auto state = tb.engine->dump();
    REQUIRE(state);
    left = state->bans;
    if (left > 1) {
      pollfd none{-1, 0, 0};
      poll(&none, 0, 100);  // the kernel's garbage collector has no event to wait on
    }
  }
  REQUIRE(left == 1);
  // A new ban: the engine's memory of the table still holds the expired
  // element; the kernel refuses that, and apply looks at the real table.
  bans.push_back(Ban{cidr("192.0.2.77"), std::nullopt});
  auto r = tb.engine->apply(p, bans);
  if (!r) FAIL(r.error().message);
  CHECK(r->elements_added == 1);
  auto state = tb.engine->dump();
  REQUIRE(state);
  CHECK(state->bans == 2);
}

TEST_CASE("fw bans: the policy applied last with new bans changes the bans alone, also when the table drifted", "[netns]") {
  Testbed tb;
  REQUIRE(tb.engine->appliedPolicy() == nullptr);
  Listener l = listen(tb.srv);
  Policy p = richPolicy();
  p.rules.push_back(allow("probe", {fmt::format("{}/tcp", l.port)}));
  REQUIRE(tb.engine->apply(p, {}));
  const Policy* last = tb.engine->appliedPolicy();
  REQUIRE(last != nullptr);
  CHECK(*last == p);
  auto handles = [&] {
    std::vector<uint64_t> out;
    for (const KernelRule& r : tb.live().rules) out.push_back(r.handle);
    return out;
  };
  const std::vector<uint64_t> before = handles();
  REQUIRE(connects(tb.cli, "10.99.0.2", "10.99.0.1", l.port));

  // From the engine's memory of the table: one element.
  std::vector<Ban> bans{Ban{cidr("10.99.0.2"), std::nullopt}};
  auto r = tb.engine->apply(*tb.engine->appliedPolicy(), bans);
  if (!r) FAIL(r.error().message);
  CHECK(r->elements_added == 1);
  CHECK(r->rules_added + r->rules_deleted == 0);
  CHECK(handles() == before);
  CHECK_FALSE(connects(tb.cli, "10.99.0.2", "10.99.0.1", l.port));
  CHECK(connects(tb.cli, "10.99.0.3", "10.99.0.1", l.port));
  REQUIRE(tb.engine->appliedPolicy() != nullptr);
  CHECK(*tb.engine->appliedPolicy() == p);

  // Someone else changed the table: the engine reads it again and puts the
  // policy it keeps back, the new ban with it.
  REQUIRE(tb.srv.run("nft add rule inet rampart input tcp dport 9999 accept").status == 0);
  bans.push_back(Ban{cidr("10.99.0.3"), std::chrono::system_clock::now() + 1h});
  r = tb.engine->apply(*tb.engine->appliedPolicy(), bans);
  if (!r) FAIL(r.error().message);
  CHECK(r->rules_deleted == 1);
  CHECK(r->elements_added == 1);
  CHECK(tb.srv.run("nft list table inet rampart").output.find("9999") == std::string::npos);
  CHECK_FALSE(connects(tb.cli, "10.99.0.3", "10.99.0.1", l.port));
  REQUIRE(tb.engine->appliedPolicy() != nullptr);
  CHECK(*tb.engine->appliedPolicy() == p);
  // And what the kernel holds is what compile() makes of it.
  Ruleset want = compile(p, bans, CompileOptions{"rampart", std::chrono::system_clock::now()});
  CHECK(diff(want, tb.live(), true).empty());
}

TEST_CASE("fw dumpCounters: the rules, counters, drops and ban count of a full dump, also for rules in a table", "[netns]") {
  Testbed tb;
  Listener l = listen(tb.srv);
  Policy p = richPolicy();
  // 20 rules of one shape: a rule table, whose elements carry the counters.
  for (int i = 0; i < 20; ++i)
    p.rules.push_back(allow(fmt::format("t{}", i), {fmt::format("{}/tcp", i == 5 ? l.port : 3000 + i)}, {"10.99.0.2"}));
  std::vector<Ban> bans = someBans();
  bans.push_back(Ban{cidr("198.51.100.9"), std::chrono::system_clock::now() + 1s});
  REQUIRE(tb.engine->apply(p, bans));
  REQUIRE(tb.live().findSet("run_input_cfg_allow_src0_v4") != nullptr);
  for (int i = 0; i < 3; ++i) REQUIRE(connects(tb.cli, "10.99.0.2", "10.99.0.1", l.port));
  CHECK_FALSE(connects(tb.cli, "10.99.0.3", "10.99.0.1", l.port, 300ms));  // a policy drop

  auto same = [&](size_t bans_now) {
    auto full = tb.engine->dump();
    auto light = tb.engine->dumpCounters();
    REQUIRE(full);
    REQUIRE(light);
    CHECK(full->bans == bans_now);
    CHECK(light->bans == bans_now);
    CHECK(light->kernel_rules == full->kernel_rules);
    CHECK(light->table_present);
    REQUIRE(light->rules.size() == full->rules.size());
    for (size_t i = 0; i < full->rules.size(); ++i) {
      INFO(full->rules[i].name);
      CHECK(light->rules[i].name == full->rules[i].name);
      CHECK(light->rules[i].packets == full->rules[i].packets);
      CHECK(light->rules[i].bytes == full->rules[i].bytes);
    }
    for (size_t h = 0; h < 3; ++h) CHECK(light->dropped[h].packets == full->dropped[h].packets);
    auto t5 = std::ranges::find(light->rules, std::string("t5"), &LiveRule::name);
    REQUIRE(t5 != light->rules.end());
    CHECK(t5->packets >= 3);  // counted on its element of the rule table
    CHECK(light->dropped[0].packets >= 1);
  };
  same(4);
  // A ban's time runs out: the kernel drops its element by itself, and the
  // count without the elements follows without an apply.
  std::this_thread::sleep_for(1500ms);  // the ban's own time has to pass; nothing to wait on
  same(3);
}

TEST_CASE("fw rule tables: 60 rules of two shapes are two lookups, with traffic and counters per rule", "[netns]") {
  Testbed tb;
  Listener sourced = listen(tb.srv), any = listen(tb.srv);
  Policy p;
  // h0..h39: one port each, from the client's two addresses; h7 has the
  // listener's port. o0..o19: one port each from anywhere; o5 is open.
  for (int i = 0; i < 40; ++i) {
    uint16_t port = i == 7 ? sourced.port : static_cast<uint16_t>(20000 + i);
    p.rules.push_back(allow(fmt::format("h{}", i), {fmt::format("{}/tcp", port)}, {"10.99.0.2", "fd99::2"}));
  }
  for (int i = 0; i < 20; ++i) {
    uint16_t port = i == 5 ? any.port : static_cast<uint16_t>(30000 + i);
    p.rules.push_back(allow(fmt::format("o{}", i), {fmt::format("{}/tcp", port)}));
  }
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  Ruleset live = tb.live();
  // The 60 policy rules are three kernel rules (the sourced table's v4 and
  // v6 lookups, the other's), not 60 and more.
  CHECK(std::ranges::count_if(live.rules, [](const KernelRule& k) {
          return k.tag.kind == RuleKind::Run || k.tag.kind == RuleKind::Policy;
        }) == 3);
  INFO(describe(diff(compile(p, {}, {"rampart", std::chrono::system_clock::now()}), live, true)));
  CHECK(diff(compile(p, {}, {"rampart", std::chrono::system_clock::now()}), live, true).empty());
  auto text = tb.srv.run("nft list table inet rampart");
  INFO(text.output);
  CHECK(text.output.find("ip saddr . meta l4proto . th dport @run_input_cfg_allow_src0_v4 accept") != std::string::npos);
  CHECK(text.output.find("meta l4proto . th dport @run_input_cfg_allow_any0_any accept") != std::string::npos);
  CHECK(text.output.find("comment \"rule:h7\"") != std::string::npos);

  CHECK(connects(tb.cli, "10.99.0.2", "10.99.0.1", sourced.port));
  CHECK_FALSE(connects(tb.cli, "10.99.0.3", "10.99.0.1", sourced.port));
  CHECK(connects(tb.cli, "fd99::2", "fd99::1", sourced.port));
  CHECK_FALSE(connects(tb.cli, "fd99::3", "fd99::1", sourced.port));
  CHECK(connects(tb.cli, "10.99.0.3", "10.99.0.1", any.port));
  CHECK(connects(tb.cli, "fd99::3", "fd99::1", any.port));

  auto counted = [&](const std::string& name) -> uint64_t {
    auto d = tb.engine->dump();
    REQUIRE(d);
    for (const LiveRule& lr : d->rules)
      if (lr.name == name) return lr.packets;
    FAIL("no rule " << name << " in the dump");
    return 0;
  };
  const uint64_t h7 = counted("h7");
  CHECK(h7 >= 2);  // at least the two SYNs that were let in
  CHECK(counted("h8") == 0);
  CHECK(counted("o5") >= 2);

  // One rule of a table changed: two elements out, two in, no rule, and
  // every other rule's counter stays.
  p.rules[20].ports = {*PortSpec::parse("21020/tcp")};
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(r->rules_added == 0);
  CHECK(r->rules_deleted == 0);
  CHECK(r->elements_added == 2);
  CHECK(r->elements_deleted == 2);
  CHECK(counted("h7") >= h7);
  CHECK(diff(compile(p, {}, {"rampart", std::chrono::system_clock::now()}), tb.live(), true).empty());

  // The table's first rule goes: the table stays (tables are numbered, not
  // named after a rule), so it is element changes and h7 keeps its count.
  p.rules.erase(p.rules.begin());
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(r->rules_added == 0);
  CHECK(r->rules_deleted == 0);
  CHECK(r->elements_deleted == 2);
  CHECK(counted("h7") >= h7);
  CHECK(diff(compile(p, {}, {"rampart", std::chrono::system_clock::now()}), tb.live(), true).empty());

  // A rule of another shape in the middle splits the table in two; traffic
  // is still decided rule by rule.
  Rule ranged = allow("ranged", {"40000-40010/tcp"});
  p.rules.insert(p.rules.begin() + 19, ranged);
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(diff(compile(p, {}, {"rampart", std::chrono::system_clock::now()}), tb.live(), true).empty());
  CHECK(connects(tb.cli, "10.99.0.2", "10.99.0.1", sourced.port));
  CHECK_FALSE(connects(tb.cli, "10.99.0.3", "10.99.0.1", sourced.port));
  CHECK(connects(tb.cli, "10.99.0.3", "10.99.0.1", any.port));
}

TEST_CASE("fw bans: a ban's new expiry reaches the kernel (extended, shortened, made permanent)", "[netns]") {
  Testbed tb;
  Policy p;
  p.rules.push_back(allow("ssh", {"22/tcp"}));
  const auto now = std::chrono::system_clock::now();
  auto expiryOf = [&](std::string_view set) -> std::optional<uint64_t> {
    Ruleset live = tb.live();
    const Set* s = live.findSet(set);
    REQUIRE(s != nullptr);
    REQUIRE(s->elems.size() == 1);
    return s->elems.front().expiration_ms;
  };
  std::vector<Ban> bans{Ban{cidr("203.0.113.7"), now + 1h}, Ban{cidr("2001:db8::7"), now + 1h}};
  REQUIRE(tb.engine->apply(p, bans));
  auto first = expiryOf("bans_v4");
  REQUIRE(first);
  CHECK(*first > 3500'000);
  CHECK(*first <= 3600'000);

  bans[0].expires = now + 3h;  // extended
  auto r = tb.engine->apply(p, bans);
  REQUIRE(r);
  CHECK(r->elements_added == 1);
  CHECK(r->elements_deleted == 1);
  auto later = expiryOf("bans_v4");
  REQUIRE(later);
  CHECK(*later > 3 * 3500'000);

  bans[1].expires = now + 10min;  // shortened
  REQUIRE(tb.engine->apply(p, bans));
  auto sooner = expiryOf("bans_v6");
  REQUIRE(sooner);
  CHECK(*sooner <= 600'000);

  bans[0].expires.reset();  // made permanent
  REQUIRE(tb.engine->apply(p, bans));
  CHECK_FALSE(expiryOf("bans_v4"));

  // The same bans again change nothing, from the engine's cache and from a
  // fresh engine reading the kernel.
  r = tb.engine->apply(p, bans);
  REQUIRE(r);
  CHECK(r->messages == 0);
  auto in = tb.srv.enter();
  REQUIRE(in.ok());
  auto fresh = Engine::create();
  REQUIRE(fresh);
  r = (*fresh)->apply(p, bans);
  REQUIRE(r);
  CHECK(r->messages == 0);
}

TEST_CASE("fw dump: ENOBUFS during a dump grows the receive buffer and the dump completes", "[netns]") {
  Testbed tb;
  Policy p;
  Group big{"big", {}, {}, {}, {}};
  for (int i = 0; i < 20000; ++i) big.cidrs.push_back(cidr(fmt::format("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256)));
  p.groups.push_back(big);
  for (int i = 0; i < 300; ++i) {
    Rule r = allow(fmt::format("r{}", i), {fmt::format("{}/tcp", 2000 + i)});
    r.from_groups = {"big"};
    p.rules.push_back(r);
  }
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  // A second engine, with a small buffer, only reads.
  auto in = tb.srv.enter();
  REQUIRE(in.ok());
  // The ENOBUFS is injected (see EngineOptions::inject_dump_enobufs); the
  // kernel, the table and the dumps that follow are real.
  EngineOptions options;
  options.initial_rcvbuf = 65536;
  options.inject_dump_enobufs = 2;
  auto small = Engine::create(std::move(options));
  REQUIRE(small);
  const int before = (*small)->receiveBuffer();
  auto live = (*small)->dumpRuleset();
  if (!live) FAIL(live.error().message);
  REQUIRE(live->has_value());
  const Set* s = (*live)->findSet("g_big_v4");
  REQUIRE(s != nullptr);
  CHECK(s->elems.size() == 20000);
  CHECK((*live)->rules.size() > 300);
  INFO("receive buffer " << before << " -> " << (*small)->receiveBuffer());
  CHECK((*small)->receiveBuffer() >= 4 * before);  // doubled twice
  // More overflows than attempts: a clear error, not a wrong table.
  EngineOptions hopeless;
  hopeless.inject_dump_enobufs = 100;
  auto never = Engine::create(std::move(hopeless));
  REQUIRE(never);
  auto failed = (*never)->dumpRuleset();
  REQUIRE_FALSE(failed);
  CHECK_THAT(failed.error().message, Catch::Contains("overflowing"));
}

TEST_CASE("fw events: a large commit is sent without events about itself, and a commit by another in that moment is reported", "[netns]") {
  EngineOptions options;
  bool other_commits = false;
  std::function<void()> hook;
  options.after_commit = [&] {
    if (other_commits) hook();
  };
  Testbed tb(std::move(options));
  hook = [&] { REQUIRE(tb.srv.run("nft add table inet someone_else").status == 0); };
  Policy p;
  Group big{"big", {}, {}, {}, {}};
  for (int i = 0; i < 5000; ++i) big.cidrs.push_back(cidr(fmt::format("10.{}.{}.{}", 100 + i / 65536, (i / 256) % 256, i % 256)));
  p.groups.push_back(big);
  Rule r = allow("from-big", {"22/tcp"});
  r.from_groups = {"big"};
  p.rules.push_back(r);
  auto first = tb.engine->apply(p, {});
  REQUIRE(first);
  CHECK_FALSE(first->unseen_commit);
  // Our own big commit left no events behind to read as drift.
  auto drift = tb.engine->readEvents();
  REQUIRE(drift);
  CHECK(drift->empty());

  other_commits = true;
  p.groups[0].cidrs.resize(2000);  // 3,000 elements out: a large commit again
  auto second = tb.engine->apply(p, {});
  REQUIRE(second);
  CHECK(second->unseen_commit);
  // Events flow again afterwards: a drifting change to our table is seen.
  other_commits = false;
  REQUIRE(tb.srv.run("nft add rule inet rampart input counter").status == 0);
  bool seen = false;
  for (int i = 0; i < 50 && !seen; ++i) {
    auto d = tb.engine->readEvents();
    REQUIRE(d);
    seen = !d->empty();
    if (!seen) std::this_thread::sleep_for(20ms);
  }
  CHECK(seen);
}

TEST_CASE("fw rule tables: a rule that joins or leaves a table keeps its count; a changed rule starts again", "[netns]") {
  Testbed tb;
  Listener l = listen(tb.srv);
  Policy p;
  // h0..h15: one port each from the client's address, h7 the listener's:
  // 16 rules of one shape, so one table.
  for (int i = 0; i < 16; ++i) {
    uint16_t port = i == 7 ? l.port : static_cast<uint16_t>(20000 + i);
    p.rules.push_back(allow(fmt::format("h{}", i), {fmt::format("{}/tcp", port)}, {"10.99.0.2"}));
  }
  REQUIRE(tb.engine->apply(p, {}));
  auto counted = [&](const std::string& name) -> uint64_t {
    auto d = tb.engine->dump();
    REQUIRE(d);
    uint64_t packets = 0;
    for (const LiveRule& lr : d->rules)
      if (lr.name == name) packets += lr.packets;
    return packets;
  };
  auto tables = [&] { return tb.srv.run("nft list table inet rampart").output.find("@run_input_cfg_allow_src0_v4") != std::string::npos; };
  REQUIRE(tables());
  for (int k = 0; k < 3; ++k) REQUIRE(connects(tb.cli, "10.99.0.2", "10.99.0.1", l.port));
  const uint64_t in_table = counted("h7");
  CHECK(in_table >= 3);

  // h0 goes: 15 rules are too few for a table, so h7 becomes a kernel rule
  // of its own, and starts from the count its element had.
  p.rules.erase(p.rules.begin());
  auto r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK_FALSE(tables());
  CHECK(r->counters_carried >= 1);
  const uint64_t own_rule = counted("h7");
  CHECK(own_rule >= in_table);
  REQUIRE(connects(tb.cli, "10.99.0.2", "10.99.0.1", l.port));
  CHECK(counted("h7") > own_rule);
  const uint64_t before_back = counted("h7");

  // h0 comes back: a table again, h7's element starts from its rule's count.
  p.rules.insert(p.rules.begin(), allow("h0", {"20000/tcp"}, {"10.99.0.2"}));
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(tables());
  CHECK(r->counters_carried >= 1);
  CHECK(counted("h7") >= before_back);
  REQUIRE(connects(tb.cli, "10.99.0.2", "10.99.0.1", l.port));
  CHECK(counted("h7") > before_back);
  CHECK(diff(compile(p, {}, {"rampart", std::chrono::system_clock::now()}), tb.live(), true).empty());

  // A rule that changes is a new rule: its count starts again.
  p.rules[7].ports = {*PortSpec::parse("21007/tcp")};
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(r->counters_carried == 0);
  CHECK(counted("h7") == 0);
}

TEST_CASE("fw output drop: replies, loopback and neighbour discovery still flow; new outgoing connections do not", "[netns]") {
  Testbed tb;
  Listener open = listen(tb.srv), local = listen(tb.srv);
  Listener remote = listen(tb.cli);
  Policy p;
  p.output_policy = ChainPolicy::Drop;
  p.rules.push_back(allow("open", {fmt::format("{}/tcp", open.port)}));
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  // The replies of an allowed inbound connection leave (established), over
  // both families; IPv6 needs the host's own neighbour solicitations and
  // advertisements to leave too. Flush the neighbour caches first so the
  // handshake has to resolve them under the policy.
  REQUIRE(tb.srv.run("ip neigh flush all && ip -6 neigh flush all").status == 0);
  CHECK(connects(tb.cli, "10.99.0.2", "10.99.0.1", open.port));
  CHECK(connects(tb.cli, "fd99::2", "fd99::1", open.port));
  // The node's own connections to itself (loopback) are not cut.
  CHECK(connects(tb.srv, "127.0.0.1", "127.0.0.1", local.port));
  CHECK(connects(tb.srv, "::1", "::1", local.port));
  // A new outgoing connection no rule allows is dropped by the policy...
  CHECK_FALSE(connects(tb.srv, "10.99.0.1", "10.99.0.2", remote.port, 400ms));
  CHECK_FALSE(connects(tb.srv, "fd99::1", "fd99::2", remote.port, 400ms));
  // ...and one an output rule allows leaves, its replies coming back in.
  Rule out = allow("out", {fmt::format("{}/tcp", remote.port)});
  out.hook = Hook::Output;
  p.rules.push_back(out);
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(connects(tb.srv, "10.99.0.1", "10.99.0.2", remote.port));
  CHECK(connects(tb.srv, "fd99::1", "fd99::2", remote.port));
}

namespace {

// Sends `count` ICMPv6 messages of `type` (24 bytes, code 0, the rest zero:
// an MLD message's size) from `ns` to all nodes on `ifname`'s link, hop
// limit 1, as MLD is sent. The kernel fills in the checksum.
void sendIcmp6ToAllNodes(const NetNs& ns, const char* ifname, uint8_t type, int count) {
  auto in = ns.enter();
  REQUIRE(in.ok());
  Fd s(socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6));
  REQUIRE(s);
  unsigned ifindex = if_nametoindex(ifname);
  REQUIRE(ifindex != 0);
  int hops = 1;
  REQUIRE(setsockopt(s.get(), IPPROTO_IPV6, IPV6_MULTICAST_IF, &ifindex, sizeof ifindex) == 0);
  REQUIRE(setsockopt(s.get(), IPPROTO_IPV6, IPV6_MULTICAST_HOPS, &hops, sizeof hops) == 0);
  socklen_t len = 0;
  auto to = address("ff02::1", 0, len);
  uint8_t msg[24] = {type};
  for (int i = 0; i < count; ++i)
    REQUIRE(sendto(s.get(), msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&to), len) == static_cast<ssize_t>(sizeof msg));
}

}  // namespace

TEST_CASE("fw icmpv6: multicast listener discovery is let in; an ICMPv6 type no host needs is dropped", "[netns]") {
  Testbed tb;
  Policy p;
  p.rules.push_back(allow("ssh", {"22/tcp"}));
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  // What input drops: by its policy, and as invalid (conntrack takes an
  // ICMPv6 type it does not know for invalid).
  auto dropped = [&] {
    uint64_t n = 0;
    for (const KernelRule& k : tb.live().rules)
      if (k.chain == "input" && (k.tag == RuleTag{RuleKind::PolicyDrop, "input"} || k.tag == RuleTag{RuleKind::Builtin, "invalid"}))
        n += k.counter().packets;
    return n;
  };
  const uint64_t before = dropped();
  // MLD query, MLDv1 report, done, MLDv2 report.
  for (uint8_t type : {130, 131, 132, 143}) sendIcmp6ToAllNodes(tb.cli, "veth-c", type, 2);
  std::this_thread::sleep_for(100ms);
  CHECK(dropped() == before);
  // Type 200 (private experimentation) is dropped: the counters that
  // stayed put above do count.
  sendIcmp6ToAllNodes(tb.cli, "veth-c", 200, 2);
  std::this_thread::sleep_for(100ms);
  CHECK(dropped() >= before + 2);
}

namespace {

// A UDP socket in `ns` bound to ip:port; a link-local IPv6 address is
// scoped to `ifname`.
Fd udpSocket(const NetNs& ns, const std::string& ip, uint16_t port, const char* ifname) {
  auto in = ns.enter();
  REQUIRE(in.ok());
  socklen_t len = 0;
  auto a = address(ip, port, len, ifname);
  Fd s(socket(a.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  REQUIRE(s);
  int one = 1;
  setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (a.ss_family == AF_INET6) setsockopt(s.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  REQUIRE(bind(s.get(), reinterpret_cast<sockaddr*>(&a), len) == 0);
  return s;
}

// Whether a datagram from src:sport in the client namespace reaches
// `receiver` (bound to dst:dport in the server namespace).
bool udpArrives(const Testbed& tb, const std::string& src, uint16_t sport, const std::string& dst, uint16_t dport,
                const Fd& receiver) {
  Fd s = udpSocket(tb.cli, src, sport, "veth-c");
  socklen_t len = 0;
  sockaddr_storage to;
  {
    auto in = tb.cli.enter();
    to = address(dst, dport, len, "veth-c");
  }
  const char msg[] = "dhcp";
  REQUIRE(sendto(s.get(), msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&to), len) == static_cast<ssize_t>(sizeof msg));
  pollfd p{receiver.get(), POLLIN, 0};
  if (poll(&p, 1, 300) != 1) return false;
  char buf[64];
  return recv(receiver.get(), buf, sizeof buf, 0) == static_cast<ssize_t>(sizeof msg);
}

}  // namespace

// What a datagram from `src` to dst:port on a connected UDP socket in the
// client namespace hears back within 400 ms: ECONNREFUSED for an ICMP port
// unreachable, ETIMEDOUT for nothing.
int udpAnswer(const Testbed& tb, const std::string& src, const std::string& dst, uint16_t port) {
  auto in = tb.cli.enter();
  REQUIRE(in.ok());
  socklen_t len = 0;
  auto from = address(src, 0, len);
  Fd s(socket(from.ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  REQUIRE(bind(s.get(), reinterpret_cast<sockaddr*>(&from), len) == 0);
  auto to = address(dst, port, len);
  REQUIRE(connect(s.get(), reinterpret_cast<sockaddr*>(&to), len) == 0);
  REQUIRE(send(s.get(), "x", 1, 0) == 1);
  pollfd p{s.get(), POLLIN, 0};
  if (poll(&p, 1, 400) != 1) return ETIMEDOUT;
  char buf[8];
  return recv(s.get(), buf, sizeof buf, 0) < 0 ? errno : 0;
}

TEST_CASE("fw dhcp: a DHCP client's replies are let in (67 -> 68, DHCPv6 547 -> 546 from link-local), not more", "[netns]") {
  Testbed tb;
  REQUIRE(tb.srv.run("ip -6 addr add fe80::99:1/64 dev veth-s nodad").status == 0);
  REQUIRE(tb.cli.run("ip -6 addr add fe80::99:2/64 dev veth-c nodad").status == 0);
  Fd v4 = udpSocket(tb.srv, "0.0.0.0", 68, "veth-s");
  Fd v6 = udpSocket(tb.srv, "::", 546, "veth-s");
  Policy p;
  p.rules.push_back(allow("ssh", {"22/tcp"}));
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);

  CHECK(udpArrives(tb, "10.99.0.2", 67, "10.99.0.1", 68, v4));
  CHECK_FALSE(udpArrives(tb, "10.99.0.2", 1067, "10.99.0.1", 68, v4));
  CHECK(udpArrives(tb, "fe80::99:2", 547, "fe80::99:1", 546, v6));
  CHECK_FALSE(udpArrives(tb, "fd99::2", 547, "fd99::1", 546, v6));    // not from a link-local server
  CHECK_FALSE(udpArrives(tb, "fe80::99:2", 1547, "fe80::99:1", 546, v6));

  p.builtins.dhcp = false;
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK_FALSE(udpArrives(tb, "10.99.0.2", 67, "10.99.0.1", 68, v4));
  CHECK_FALSE(udpArrives(tb, "fe80::99:2", 547, "fe80::99:1", 546, v6));
}

// Whether an echo request from `ns` to `dst` is answered within 400 ms (an
// ICMP "ping socket": the kernel fills in id and checksum).
bool pings(const NetNs& ns, const std::string& dst) {
  auto in = ns.enter();
  REQUIRE(in.ok());
  socklen_t len = 0;
  auto to = address(dst, 0, len);
  const bool v6 = to.ss_family == AF_INET6;
  Fd s(socket(to.ss_family, SOCK_DGRAM | SOCK_CLOEXEC, v6 ? int{IPPROTO_ICMPV6} : int{IPPROTO_ICMP}));
  REQUIRE(s);
  const unsigned char echo[8] = {static_cast<unsigned char>(v6 ? 128 : 8), 0, 0, 0, 0, 0, 0, 1};
  REQUIRE(sendto(s.get(), echo, sizeof echo, 0, reinterpret_cast<sockaddr*>(&to), len) == 8);
  pollfd p{s.get(), POLLIN, 0};
  if (poll(&p, 1, 400) != 1) return false;
  unsigned char reply[64];
  return recv(s.get(), reply, sizeof reply, 0) >= 8 && reply[0] == (v6 ? 129 : 0);
}

TEST_CASE("fw ping: echo requests answered by default, not with builtins.ping off; ICMP errors still pass", "[netns]") {
  Testbed tb;
  REQUIRE(tb.cli.run("sysctl -qw net.ipv4.ping_group_range='0 2147483647'").status == 0);
  Policy p;
  p.rules.push_back(allow("ssh", {"22/tcp"}));
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  CHECK(pings(tb.cli, "10.99.0.1"));
  CHECK(pings(tb.cli, "fd99::1"));
  p.builtins.ping = false;
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK_FALSE(pings(tb.cli, "10.99.0.1"));
  CHECK_FALSE(pings(tb.cli, "fd99::1"));
  // Neighbour discovery still works: a fresh v6 neighbour resolves and TCP connects.
  Listener app = listen(tb.srv);
  p.rules.push_back(allow("app", {fmt::format("{}/tcp", app.port)}));
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  REQUIRE(tb.cli.run("ip -6 neigh flush all").status == 0);
  CHECK(connects(tb.cli, "fd99::2", "fd99::1", app.port));
  // The node itself still pings out: the replies are established traffic.
  REQUIRE(tb.srv.run("sysctl -qw net.ipv4.ping_group_range='0 2147483647'").status == 0);
  CHECK(pings(tb.srv, "10.99.0.2"));
  CHECK(pings(tb.srv, "fd99::2"));
}

TEST_CASE("fw to: a rule takes traffic to the addresses it names, not to the node's others", "[netns]") {
  Testbed tb;
  REQUIRE(tb.srv.run("ip addr add 10.99.0.11/24 dev veth-s && ip -6 addr add fd99::11/64 dev veth-s nodad").status == 0);
  Listener app = listen(tb.srv);
  Policy p;
  Rule vip = allow("vip", {fmt::format("{}/tcp", app.port)});
  vip.to = {cidr("10.99.0.11"), cidr("fd99::11")};
  p.rules.push_back(vip);
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  CHECK(connects(tb.cli, "10.99.0.2", "10.99.0.11", app.port));
  CHECK(connects(tb.cli, "fd99::2", "fd99::11", app.port));
  CHECK_FALSE(connects(tb.cli, "10.99.0.2", "10.99.0.1", app.port, 400ms));
  CHECK_FALSE(connects(tb.cli, "fd99::2", "fd99::1", app.port, 400ms));
  // With sources: each family's sources with that family's destinations.
  p.rules[0].from = {cidr("10.99.0.3")};
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(connects(tb.cli, "10.99.0.3", "10.99.0.11", app.port));
  CHECK_FALSE(connects(tb.cli, "10.99.0.2", "10.99.0.11", app.port, 400ms));
  CHECK_FALSE(connects(tb.cli, "fd99::2", "fd99::11", app.port, 400ms));
}

TEST_CASE("fw reject: a TCP reset and ICMP port unreachable come back at once, where deny stays silent", "[netns]") {
  Testbed tb;
  Listener app = listen(tb.srv);
  Fd dns4 = udpSocket(tb.srv, "0.0.0.0", 5353, "veth-s");
  Fd dns6 = udpSocket(tb.srv, "::", 5353, "veth-s");
  Policy p;
  p.input_policy = ChainPolicy::Accept;
  Rule closed = allow("closed", {fmt::format("{}/tcp", app.port), "5353/udp"});
  closed.action = Action::Reject;
  p.rules.push_back(closed);
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  CHECK(connectResult(tb.cli, "10.99.0.2", "10.99.0.1", app.port) == ECONNREFUSED);
  CHECK(connectResult(tb.cli, "fd99::2", "fd99::1", app.port) == ECONNREFUSED);
  CHECK(udpAnswer(tb, "10.99.0.2", "10.99.0.1", 5353) == ECONNREFUSED);
  CHECK(udpAnswer(tb, "fd99::2", "fd99::1", 5353) == ECONNREFUSED);
  // The dump reads back what was applied: nothing to change.
  auto plan = tb.engine->plan(p, {}, false);
  REQUIRE(plan);
  CHECK(*plan == "");
  uint64_t counted = 0;
  for (const KernelRule& k : tb.live().rules)
    if (k.tag.name == "closed") counted += k.counter().packets;
  CHECK(counted == 4);

  // `reject: any` from one source: TCP reset first, ICMP for the rest.
  Rule them;
  them.name = "them";
  them.action = Action::Reject;
  them.from = {cidr("10.99.0.3"), cidr("fd99::3")};
  p.rules = {them};
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(connectResult(tb.cli, "10.99.0.3", "10.99.0.1", app.port) == ECONNREFUSED);
  CHECK(udpAnswer(tb, "fd99::3", "fd99::1", 5353) == ECONNREFUSED);
  CHECK(connects(tb.cli, "10.99.0.2", "10.99.0.1", app.port));
  CHECK(udpAnswer(tb, "10.99.0.2", "10.99.0.1", 5353) == ETIMEDOUT);  // delivered: no answer

  // The same rule as deny: silence.
  p.rules[0].action = Action::Deny;
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(connectResult(tb.cli, "10.99.0.3", "10.99.0.1", app.port, 400ms) == ETIMEDOUT);
  CHECK(udpAnswer(tb, "fd99::3", "fd99::1", 5353) == ETIMEDOUT);
}

TEST_CASE("fw plan text: every rule reads as nft itself lists it", "[netns]") {
  Testbed tb;
  Policy p = richPolicy();
  p.output_policy = ChainPolicy::Drop;
  Rule lan = allow("lan", {"2049/tcp"}, {"10.99.0.0/24"});
  lan.interfaces = {"veth-s", "vlan*"};
  p.rules.push_back(lan);
  Rule vip = allow("vip", {"443/tcp"}, {"10.99.0.0/24"});
  vip.to = {cidr("10.99.0.11"), cidr("10.99.0.64/26"), cidr("fd99::11")};
  p.rules.push_back(vip);
  Rule vip6 = allow("vip6", {"443/tcp"});
  vip6.to = {cidr("fd99::11")};
  p.rules.push_back(vip6);
  p.rules.push_back(allow("closed", {"8080/tcp", "53", "vrrp"}));
  p.rules.push_back(allow("them", {}, {"198.51.100.0/24", "2001:db8:bad::/48"}));  // any
  for (Rule* r : {&p.rules[p.rules.size() - 2], &p.rules.back()}) r->action = Action::Reject;
  for (int i = 0; i < 17; ++i) p.rules.push_back(allow(fmt::format("t{}", i), {fmt::format("{}/tcp", 3000 + i)}, {fmt::format("10.7.0.{}", i + 1)}));
  for (int i = 0; i < 17; ++i) {
    p.rules.push_back(allow(fmt::format("u{}", i), {fmt::format("{}/udp", 4000 + i)}));
    p.rules.back().action = Action::Deny;
  }
  Rule out = allow("smtp-out", {"25/tcp"}, {"10.99.0.1"});
  out.hook = Hook::Output;
  p.rules.push_back(out);
  auto r = tb.engine->apply(p, someBans());
  if (!r) FAIL(r.error().message);
  const Ruleset live = tb.live();

  auto listed = tb.srv.run("nft list table inet rampart");
  REQUIRE(listed.status == 0);
  std::map<std::string, std::vector<std::string>> theirs, ours;
  std::string chain;
  std::istringstream lines(listed.output);
  for (std::string line; std::getline(lines, line);) {
    line.erase(0, line.find_first_not_of(" \t"));
    if (line.starts_with("chain ")) {
      chain = line.substr(6, line.find(' ', 6) - 6);
    } else if (line == "}") {
      chain.clear();
    } else if (!chain.empty() && !line.starts_with("type filter hook")) {
      // counter packets 12 bytes 720 -> counter
      static const std::regex kCounts(" packets [0-9]+ bytes [0-9]+");
      theirs[chain].push_back(std::regex_replace(line, kCounts, ""));
    }
  }
  for (const char* c : {"input", "forward", "output"})
    for (const KernelRule* k : live.chainRules(c)) ours[c].push_back(nftText(*k));
  CHECK(ours["input"].size() > 30);
  for (const char* c : {"input", "forward", "output"}) {
    INFO("chain " << c);
    CHECK(ours[c] == theirs[c]);
  }
}

TEST_CASE("fw forward: traffic to a container bridge is left to its runtime's tables; other forwarding is dropped", "[netns]") {
  Testbed tb;
  // "ctr" stands for a container behind the node's docker0; the node routes.
  NetNs ctr = *NetNs::create("rampart-ctr");
  REQUIRE(tb.srv.run("ip link add docker0 type veth peer name eth0 netns " + ctr.name() +
                     " && ip link set docker0 up && ip addr add 172.31.0.1/24 dev docker0 && "
                     "sysctl -qw net.ipv4.ip_forward=1")
              .status == 0);
  REQUIRE(ctr.run("ip link set lo up && ip link set eth0 up && ip addr add 172.31.0.2/24 dev eth0 && "
                  "ip route add default via 172.31.0.1")
              .status == 0);
  REQUIRE(tb.cli.run("ip route add 172.31.0.0/24 via 10.99.0.1").status == 0);
  Listener app = listen(ctr);
  // Another table, as a runtime's, that accepts what it forwards: in
  // nftables every base chain on the hook must accept.
  REQUIRE(tb.srv.run("nft add table ip runtime && "
                     "nft 'add chain ip runtime decide { type filter hook forward priority 10; policy accept; }'")
              .status == 0);

  Policy p;  // forward policy drop, the default forward_interfaces
  p.rules.push_back(allow("ssh", {"22/tcp"}));
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  CHECK(connects(tb.cli, "10.99.0.2", "172.31.0.2", app.port));

  p.forward_interfaces = {};  // no exemption: the forward policy drops it
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK_FALSE(connects(tb.cli, "10.99.0.2", "172.31.0.2", app.port, 400ms));

  p.forward_interfaces = {"dock*"};  // a prefix
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(connects(tb.cli, "10.99.0.2", "172.31.0.2", app.port));

  // A forward rule comes before the exemption: a deny there holds for the
  // container's traffic (ufw's rules cannot reach Docker's published ports).
  Rule no_app = allow("no-app", {fmt::format("{}/tcp", app.port)}, {"10.99.0.2"});
  no_app.action = Action::Deny;
  no_app.hook = Hook::Forward;
  p.rules.push_back(no_app);
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK_FALSE(connects(tb.cli, "10.99.0.2", "172.31.0.2", app.port, 400ms));
  CHECK(connects(tb.cli, "10.99.0.3", "172.31.0.2", app.port));
  p.rules.pop_back();
  r = tb.engine->apply(p, {});
  REQUIRE(r);

  // The runtime's own table still decides: its drop holds.
  REQUIRE(tb.srv.run("nft add rule ip runtime decide tcp dport " + std::to_string(app.port) + " drop").status == 0);
  CHECK_FALSE(connects(tb.cli, "10.99.0.2", "172.31.0.2", app.port, 400ms));
}

TEST_CASE("fw interface: a rule limited to interfaces takes what comes in on them, whatever the address", "[netns]") {
  Testbed tb;  // the client on veth-s; a second network on lan0
  NetNs lan = *NetNs::create("rampart-lan");
  REQUIRE(rampart::test::vethPair(tb.srv, "lan0", "10.98.0.1/24", "fd98::1/64", lan, "lan-c", "10.98.0.2/24",
                                  "fd98::2/64"));
  // The client reaches lan0's address too, through veth-s.
  REQUIRE(tb.cli.run("ip route add 10.98.0.0/24 via 10.99.0.1 && ip -6 route add fd98::/64 via fd99::1").status == 0);
  Listener app = listen(tb.srv);

  Policy p;
  Rule svc = allow("svc", {fmt::format("{}/tcp", app.port)});
  svc.interfaces = {"lan0"};
  p.rules.push_back(svc);
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);
  CHECK(connects(lan, "10.98.0.2", "10.98.0.1", app.port));
  CHECK(connects(lan, "fd98::2", "fd98::1", app.port));
  CHECK_FALSE(connects(tb.cli, "10.99.0.2", "10.99.0.1", app.port, 400ms));
  CHECK_FALSE(connects(tb.cli, "fd99::2", "fd99::1", app.port, 400ms));
  // lan0's address, but in on veth-s: the interface decides, not the address.
  CHECK_FALSE(connects(tb.cli, "10.99.0.2", "10.98.0.1", app.port, 400ms));
  CHECK_FALSE(connects(tb.cli, "fd99::2", "fd98::1", app.port, 400ms));
  const Ruleset live = tb.live();
  const KernelRule* rule = nullptr;
  for (const KernelRule& k : live.rules)
    if (k.tag.name == "svc") rule = &k;
  REQUIRE(rule != nullptr);
  CHECK(rule->counter().packets == 2);  // the two SYNs from lan

  // A prefix, then the other interface.
  p.rules[0].interfaces = {"lan*"};
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(connects(lan, "10.98.0.2", "10.98.0.1", app.port));
  CHECK_FALSE(connects(tb.cli, "10.99.0.2", "10.99.0.1", app.port, 400ms));
  p.rules[0].interfaces = {"veth-s"};
  r = tb.engine->apply(p, {});
  REQUIRE(r);
  CHECK(connects(tb.cli, "10.99.0.2", "10.98.0.1", app.port));
  CHECK(connects(tb.cli, "fd99::2", "fd99::1", app.port));
  CHECK_FALSE(connects(lan, "10.98.0.2", "10.98.0.1", app.port, 400ms));

  // In output, the interface a packet leaves by.
  Listener on_cli = listen(tb.cli), on_lan = listen(lan);
  Policy out;
  out.input_policy = ChainPolicy::Accept;
  Rule block = allow("no-out", {fmt::format("{}/tcp", on_cli.port), fmt::format("{}/tcp", on_lan.port)});
  block.action = Action::Deny;
  block.hook = Hook::Output;
  block.interfaces = {"veth-s"};
  out.rules.push_back(block);
  r = tb.engine->apply(out, {});
  REQUIRE(r);
  CHECK_FALSE(connects(tb.srv, "10.99.0.1", "10.99.0.2", on_cli.port, 400ms));
  CHECK_FALSE(connects(tb.srv, "fd99::1", "fd99::2", on_cli.port, 400ms));
  CHECK(connects(tb.srv, "10.98.0.1", "10.98.0.2", on_lan.port));
  CHECK(connects(tb.srv, "fd98::1", "fd98::2", on_lan.port));
}

namespace {

// Whether an IP datagram of `protocol` (raw, a few payload bytes) from src
// in the client namespace reaches `receiver`, a raw socket of that protocol
// in the server namespace.
bool rawArrives(const Testbed& tb, const std::string& src, const std::string& dst, int protocol, const Fd& receiver) {
  auto in = tb.cli.enter();
  REQUIRE(in.ok());
  socklen_t len = 0;
  auto from = address(src, 0, len);
  Fd s(socket(from.ss_family, SOCK_RAW | SOCK_CLOEXEC, protocol));
  REQUIRE(s);
  REQUIRE(bind(s.get(), reinterpret_cast<sockaddr*>(&from), len) == 0);
  auto to = address(dst, 0, len);
  const char msg[] = "vrrp-ish";
  REQUIRE(sendto(s.get(), msg, sizeof msg, 0, reinterpret_cast<sockaddr*>(&to), len) == static_cast<ssize_t>(sizeof msg));
  pollfd p{receiver.get(), POLLIN, 0};
  if (poll(&p, 1, 300) != 1) return false;
  char buf[256];
  return recv(receiver.get(), buf, sizeof buf, 0) > 0;
}

Fd rawReceiver(const NetNs& ns, int family, int protocol) {
  auto in = ns.enter();
  REQUIRE(in.ok());
  Fd s(socket(family, SOCK_RAW | SOCK_CLOEXEC, protocol));
  REQUIRE(s);
  return s;
}

}  // namespace

TEST_CASE("fw protocols: a rule naming vrrp lets VRRP in from its sources only, over both families", "[netns]") {
  Testbed tb;
  Fd v4 = rawReceiver(tb.srv, AF_INET, 112), v6 = rawReceiver(tb.srv, AF_INET6, 112);
  Fd gre = rawReceiver(tb.srv, AF_INET, 47);
  Policy p;
  Rule vrrp;
  vrrp.name = "keepalived";
  vrrp.ports = {*PortSpec::parse("vrrp")};
  vrrp.from = {cidr("10.99.0.2"), cidr("fd99::2")};
  p.rules.push_back(vrrp);
  auto r = tb.engine->apply(p, {});
  if (!r) FAIL(r.error().message);

  CHECK(rawArrives(tb, "10.99.0.2", "10.99.0.1", 112, v4));
  CHECK_FALSE(rawArrives(tb, "10.99.0.3", "10.99.0.1", 112, v4));
  CHECK(rawArrives(tb, "fd99::2", "fd99::1", 112, v6));
  CHECK_FALSE(rawArrives(tb, "fd99::3", "fd99::1", 112, v6));
  CHECK_FALSE(rawArrives(tb, "10.99.0.2", "10.99.0.1", 47, gre));  // another protocol from the same peer

  // The rule's counter counts them (one kernel rule per family).
  auto live = tb.engine->dumpCounters();
  REQUIRE(live);
  REQUIRE(live->rules.size() == 1);
  CHECK(live->rules[0].name == "keepalived");
  CHECK(live->rules[0].packets == 2);
}
