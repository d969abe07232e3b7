// Times rampart's firewall engine (firewall/engine.h) for bench/fw-apply.sh
// and sets up the policy of bench/packet-path.sh. Each timed run works in
// a network namespace of its own (unshare(CLONE_NEWNET)), so the host's
// firewall is never touched; the namespace goes away with the process or
// the next run.
//
//   fw_apply full RULES RUNS              apply RULES rules to an empty namespace
//   fw_apply group hash|interval N RUNS   apply one group of N addresses / CIDRs
//   fw_apply change RULES RUNS            change one rule's port in a RULES-rule policy
//   fw_apply add-element hash|interval N RUNS   add one entry to an N-entry group
//   fw_apply bans N RUNS                  apply N bans on top of a small policy
//   fw_apply add-ban N RUNS               one more ban on top of N bans
//   fw_apply netns-group NETNS N CLIENT PORT    in /run/netns/NETNS: allow PORT/tcp
//                                         from a group of N addresses holding CLIENT
//
// Timed modes print one line per run: "ms <milliseconds> <what the engine did>".
#include <fcntl.h>
#include <sched.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "bench/args.h"

#include "firewall/engine.h"
#include "firewall/policy.h"

namespace {

namespace fw = rampart::fw;
using Clock = std::chrono::steady_clock;

using rampart::bench::parseU64;

fw::Cidr v4(uint32_t addr, uint8_t prefix = 32) {
  fw::Cidr c;
  c.family = fw::Family::V4;
  c.addr[0] = static_cast<uint8_t>(addr >> 24);
  c.addr[1] = static_cast<uint8_t>(addr >> 16);
  c.addr[2] = static_cast<uint8_t>(addr >> 8);
  c.addr[3] = static_cast<uint8_t>(addr);
  c.prefix = prefix;
  return c;
}

constexpr uint32_t kHostBase = (198u << 24) | (18u << 16);   // 198.18.0.0/15, RFC 2544
constexpr uint32_t kNetBase = 10u << 24;                     // 10.0.0.0/8, set contents only
constexpr uint32_t kMemberBase = (10u << 24) | (128u << 16);  // 10.128.0.0/9, set contents only

// The same addresses bench/fw-apply.sh and bench/cli.sh write for nft.
// Host i of the benchmark range: the source of rule i.
fw::Cidr host(uint32_t i) { return v4(kHostBase + i); }
// Group member i: every other address, so that no two members make a
// range (real groups are scattered; consecutive addresses would let rampart
// store a whole group as a few intervals).
fw::Cidr member(uint32_t i) { return v4(kMemberBase + 2 * i + 1); }
// CIDR i: a /28, /29, /30 or /31 (by i % 4) at the start of the i-th block
// of 32 addresses: four prefix lengths, as real lists have several, and
// never two adjacent, so an interval set cannot merge any two.
fw::Cidr net(uint32_t i) { return v4(kNetBase + i * 32, static_cast<uint8_t>(28 + i % 4)); }
uint16_t port(uint32_t i) { return static_cast<uint16_t>(1024 + i % 60000); }

fw::Rule allowRule(std::string name, uint16_t p) {
  fw::Rule r;
  r.name = std::move(name);
  r.action = fw::Action::Allow;
  r.hook = fw::Hook::Input;
  fw::PortSpec ps;
  ps.range = {p, p};
  ps.protos = {fw::Proto::Tcp};
  r.ports = {ps};
  return r;
}

// RULES rules of the shape `ip saddr A tcp dport P counter accept`.
fw::Policy rulesPolicy(uint32_t rules) {
  fw::Policy p;
  p.rules.reserve(rules);
  for (uint32_t i = 0; i < rules; ++i) {
    auto r = allowRule(fmt::format("r{}", i), port(i));
    r.from = {host(i)};
    p.rules.push_back(std::move(r));
  }
  return p;
}

// One group of N hosts (hash set) or N CIDRs (interval set), used by one rule.
fw::Policy groupPolicy(bool interval, uint32_t n) {
  fw::Policy p;
  fw::Group g;
  g.name = "big";
  g.cidrs.reserve(n);
  for (uint32_t i = 0; i < n; ++i) g.cidrs.push_back(interval ? net(i) : member(i));
  p.groups.push_back(std::move(g));
  auto r = allowRule("from-big", 22);
  r.from_groups = {"big"};
  p.rules.push_back(std::move(r));
  return p;
}

rampart::Result<std::unique_ptr<fw::Engine>> freshEngine() {
  if (unshare(CLONE_NEWNET) != 0) return std::unexpected(rampart::Error::fromErrno("unshare(CLONE_NEWNET)"));
  return fw::Engine::create();
}

std::string describe(const fw::ApplyReport& r) {
  return fmt::format("messages={} rules+={} rules-={} elements+={} elements-={} retries={}", r.messages,
                     r.rules_added, r.rules_deleted, r.elements_added, r.elements_deleted, r.retries);
}

// Times one apply; prints the line; false on error.
bool timedApply(fw::Engine& engine, const fw::Policy& policy, const std::vector<fw::Ban>& bans,
                Clock::time_point t0) {
  auto report = engine.apply(policy, bans);
  const double ms = std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
  if (!report) {
    fmt::print(stderr, "fw_apply: apply: {}\n", report.error().message);
    return false;
  }
  fmt::print("ms {:.3f} {}\n", ms, describe(*report));
  std::fflush(stdout);
  return true;
}

// Full apply from empty: engine creation (netlink socket) included.
int fullApply(const fw::Policy& policy, const std::vector<fw::Ban>& bans, uint64_t runs) {
  for (uint64_t run = 0; run < runs; ++run) {
    if (unshare(CLONE_NEWNET) != 0) {
      fmt::print(stderr, "fw_apply: unshare(CLONE_NEWNET): {}\n", std::strerror(errno));
      return 1;
    }
    const auto t0 = Clock::now();
    auto engine = fw::Engine::create();
    if (!engine) {
      fmt::print(stderr, "fw_apply: {}\n", engine.error().message);
      return 1;
    }
    if (!timedApply(**engine, policy, bans, t0)) return 1;
  }
  return 0;
}

// Applies `base`, then RUNS times a policy that `mutate(policy, run)` made
// from the previous one, timing each of those applies.
template <class Mutate>
int incremental(fw::Policy policy, std::vector<fw::Ban> bans, uint64_t runs, Mutate mutate) {
  auto engine = freshEngine();
  if (!engine) {
    fmt::print(stderr, "fw_apply: {}\n", engine.error().message);
    return 1;
  }
  if (auto r = (*engine)->apply(policy, bans); !r) {
    fmt::print(stderr, "fw_apply: initial apply: {}\n", r.error().message);
    return 1;
  }
  for (uint64_t run = 0; run < runs; ++run) {
    mutate(policy, bans, static_cast<uint32_t>(run));
    if (!timedApply(**engine, policy, bans, Clock::now())) return 1;
  }
  return 0;
}

int netnsGroup(const std::string& netns, uint32_t n, std::string_view client, uint16_t p) {
  auto client_cidr = fw::Cidr::parse(client);
  if (!client_cidr) {
    fmt::print(stderr, "fw_apply: {}: {}\n", client, client_cidr.error());
    return 2;
  }
  const std::string path = "/run/netns/" + netns;
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0 || setns(fd, CLONE_NEWNET) != 0) {
    fmt::print(stderr, "fw_apply: setns {}: {}\n", path, std::strerror(errno));
    return 1;
  }
  close(fd);
  fw::Policy policy;
  fw::Group g;
  g.name = "clients";
  for (uint32_t i = 0; i + 1 < n; ++i) g.cidrs.push_back(member(i));
  g.cidrs.push_back(*client_cidr);
  policy.groups.push_back(std::move(g));
  auto r = allowRule("bench", p);
  r.from_groups = {"clients"};
  policy.rules.push_back(std::move(r));
  auto engine = fw::Engine::create();
  if (!engine) {
    fmt::print(stderr, "fw_apply: {}\n", engine.error().message);
    return 1;
  }
  return timedApply(**engine, policy, {}, Clock::now()) ? 0 : 1;
}

int usage() {
  fmt::print(stderr,
             "usage: fw_apply full RULES RUNS | group hash|interval N RUNS | change RULES RUNS |\n"
             "       add-element hash|interval N RUNS | bans N RUNS | add-ban N RUNS |\n"
             "       netns-group NETNS N CLIENT PORT\n");
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string_view> a(argv + 1, argv + argc);
  auto num = [&](size_t i) -> std::optional<uint32_t> {
    if (i >= a.size()) return std::nullopt;
    auto v = parseU64(a[i]);
    if (!v || *v > 10'000'000) return std::nullopt;
    return static_cast<uint32_t>(*v);
  };
  if (a.empty()) return usage();
  const std::string_view mode = a[0];
  if (mode == "full" && a.size() == 3 && num(1) && num(2)) return fullApply(rulesPolicy(*num(1)), {}, *num(2));
  if (mode == "group" && a.size() == 4 && num(2) && num(3) && (a[1] == "hash" || a[1] == "interval"))
    return fullApply(groupPolicy(a[1] == "interval", *num(2)), {}, *num(3));
  if (mode == "change" && a.size() == 3 && num(1) && num(2) && *num(1) > 0) {
    const uint32_t rules = *num(1);
    return incremental(rulesPolicy(rules), {}, *num(2), [rules](fw::Policy& p, auto&, uint32_t run) {
      // A different rule each run, spread over the policy; a port no rule has.
      auto& r = p.rules[(run * 7919u) % rules];
      r.ports[0].range = {static_cast<uint16_t>(61000 + run), static_cast<uint16_t>(61000 + run)};
    });
  }
  if (mode == "add-element" && a.size() == 4 && num(2) && num(3) && (a[1] == "hash" || a[1] == "interval")) {
    const bool interval = a[1] == "interval";
    const uint32_t n = *num(2);
    return incremental(groupPolicy(interval, n), {}, *num(3), [interval, n](fw::Policy& p, auto&, uint32_t run) {
      p.groups[0].cidrs.push_back(interval ? net(n + run) : member(n + run));
    });
  }
  if (mode == "bans" && a.size() == 3 && num(1) && num(2)) {
    std::vector<fw::Ban> bans;
    for (uint32_t i = 0; i < *num(1); ++i) bans.push_back(fw::Ban{member(i), std::nullopt});
    return fullApply(rulesPolicy(10), bans, *num(2));
  }
  if (mode == "add-ban" && a.size() == 3 && num(1) && num(2)) {
    const uint32_t n = *num(1);
    std::vector<fw::Ban> bans;
    for (uint32_t i = 0; i < n; ++i) bans.push_back(fw::Ban{member(i), std::nullopt});
    return incremental(rulesPolicy(10), std::move(bans), *num(2), [n](fw::Policy&, auto& b, uint32_t run) {
      b.push_back(fw::Ban{member(n + run), std::nullopt});
    });
  }
  if (mode == "netns-group" && a.size() == 5 && num(2) && num(4) && *num(4) <= 65535)
    return netnsGroup(std::string(a[1]), *num(2), a[3], static_cast<uint16_t>(*num(4)));
  return usage();
}
