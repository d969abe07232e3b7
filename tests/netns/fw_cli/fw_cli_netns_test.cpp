// Asio-free, but istreambuf_iterator trips g++ 12's -Wnull-dereference
// after inlining (a false positive inside library headers).
#pragma GCC diagnostic ignored "-Wnull-dereference"

// `rampart fw` end to end: the real agent binary in a fresh network
// namespace ("node"), the CLI over its control socket, and real TCP traffic
// from a second namespace ("peer", 10.77.0.2-4) over a veth pair.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <thread>

#include <catch2/catch.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/unique_fd.h"
#include "agent/fw_state.h"
#include "tests/support/netns.h"
#include "tests/unit/agent/process.h"

using namespace rampart::test;
using namespace std::chrono_literals;
using nlohmann::json;

namespace {

constexpr const char* kNode = "10.77.0.1";

// The project's owning fd (agent/unique_fd.h).
using Fd = rampart::agent::UniqueFd;

sockaddr_in v4(const std::string& ip, uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  ::inet_pton(AF_INET, ip.c_str(), &a.sin_addr);
  return a;
}

// A TCP listener on 0.0.0.0:port inside `ns`; the kernel completes
// handshakes from its backlog.
Fd listenOn(const NetNs& ns, uint16_t port) {
  auto in = ns.enter();
  REQUIRE(in.ok());
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  int one = 1;
  ::setsockopt(s.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto a = v4("0.0.0.0", port);
  REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
  REQUIRE(::listen(s.get(), 512) == 0);
  return s;
}

// A TCP connection from `src` (in `ns`) to kNode:port; an invalid Fd when
// the handshake does not complete in time.
// A TCP handshake from `src` to the node's port, and how it ended: 0 when
// it completed, ETIMEDOUT when nothing answered in time, else its error
// (ECONNREFUSED: a reset came back).
std::pair<Fd, int> handshake(const NetNs& ns, const std::string& src, uint16_t port,
                             std::chrono::milliseconds timeout) {
  auto in = ns.enter();
  REQUIRE(in.ok());
  Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  auto from = v4(src, 0);
  REQUIRE(::bind(s.get(), reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
  auto to = v4(kNode, port);
  if (::connect(s.get(), reinterpret_cast<sockaddr*>(&to), sizeof to) != 0 && errno != EINPROGRESS)
    return {Fd(), errno};
  pollfd p{s.get(), POLLOUT, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) != 1) return {Fd(), ETIMEDOUT};
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(s.get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return {err == 0 ? std::move(s) : Fd(), err};
}

int connectError(const NetNs& ns, const std::string& src, uint16_t port, std::chrono::milliseconds timeout = 600ms) {
  return handshake(ns, src, port, timeout).second;
}

Fd connectFrom(const NetNs& ns, const std::string& src, uint16_t port, std::chrono::milliseconds timeout = 600ms) {
  return std::move(handshake(ns, src, port, timeout).first);
}

bool opens(const NetNs& ns, const std::string& src, uint16_t port,
           std::chrono::milliseconds timeout = 600ms) {
  return connectFrom(ns, src, port, timeout).get() >= 0;
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

const std::string kRules =
    "  groups:\n"
    "    peers: [10.77.0.2]\n"
    "  rules:\n"
    "    - name: ssh\n"
    "      allow: 2222/tcp\n"
    "    - name: web\n"
    "      allow: 8081/tcp\n";

// The node: a namespace with the agent, a peer namespace, a temp dir with
// the configuration, the state and the socket.
struct Node {
  TempDir dir;
  NetNs ns = *NetNs::create("rampart-fwn");
  NetNs peer = *NetNs::create("rampart-fwp");
  std::unique_ptr<Child> agent;
  std::string sock = dir.file("control.sock");
  std::string config = dir.file("rampart.yaml");

  explicit Node(const std::string& rules = kRules) {
    REQUIRE(vethPair(ns, "veth-n", "10.77.0.1/24", "fd77::1/64", peer, "veth-p", "10.77.0.2/24", "fd77::2/64"));
    REQUIRE(peer.run("ip addr add 10.77.0.3/24 dev veth-p && ip addr add 10.77.0.4/24 dev veth-p").status == 0);
    writeConfig(rules);
    start();
  }
  ~Node() { agent.reset(); }

  void writeConfig(const std::string& rules) {
    writeFile(config, "node:\n  name: fw-test\nlisten: \"127.0.0.1:0\"\nstate_dir: " + dir.file("state") +
                          "\ncontrol_socket: " + sock + "\nfirewall:\n" + rules);
  }

  void start() {
    agent = std::make_unique<Child>(
        std::vector<std::string>{"ip", "netns", "exec", ns.name(), binary(), "agent", "--config", config},
        dir.file("agent.log"));
    bool up = waitUntil([&] { return run({binary(), "--socket", sock, "fw", "status"}, 5s).exit_code == 0; }, 20s);
    INFO(readFile(dir.file("agent.log")));
    REQUIRE(up);
  }
  void stop() {
    ::kill(agent->pid(), SIGTERM);
    CHECK(agent->wait(10s) == 0);
    agent.reset();
  }
  void kill9() {
    ::kill(agent->pid(), SIGKILL);
    agent->wait(10s);
    agent.reset();
  }

  RunResult fw(std::vector<std::string> args, std::vector<std::string> env = {}) {
    std::vector<std::string> argv{"env", "-u", "SSH_CONNECTION"};
    argv.insert(argv.end(), env.begin(), env.end());
    argv.insert(argv.end(), {binary(), "--socket", sock, "fw"});
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv, 60s);
  }
  void ok(std::vector<std::string> args) {
    auto r = fw(args);
    INFO(fmt::format("fw {}: {}{}", fmt::join(args, " "), r.out, r.err));
    REQUIRE(r.exit_code == 0);
  }
  json status() {
    auto r = fw({"status", "--json"});
    INFO(r.err);
    REQUIRE(r.exit_code == 0);
    return json::parse(r.out);
  }
  json rule(const std::string& name) {
    // Kept in a variable: a range-for over status()["rules"] would iterate a
    // destroyed temporary.
    const json st = status();
    for (const auto& r : st["rules"])
      if (r["name"] == name) return r;
    return nullptr;
  }
  bool kernelHasBan(const std::string& addr) {
    return ns.run("nft get element inet rampart bans_v4 '{ " + addr + " }'").status == 0;
  }
  // The agent's state file with its ban journal replayed (as loadState does,
  // without setting anything aside); it is written at the first change, and
  // until then its absence means an empty state.
  rampart::agent::FwState stateFile() {
    const std::string path = dir.file("state/firewall.json");
    rampart::agent::FwState state;
    if (std::filesystem::exists(path)) {
      auto s = rampart::agent::parseState(readFile(path));
      INFO((s ? "" : s.error()));
      REQUIRE(s.has_value());
      state = std::move(*s);
    }
    const std::string journal = path + std::string(rampart::agent::kBanJournalSuffix);
    if (std::filesystem::exists(journal)) {
      auto replayed = rampart::agent::replayBanJournal(readFile(journal), state.bans);
      INFO((replayed ? "" : replayed.error()));
      REQUIRE(replayed.has_value());
    }
    return state;
  }
};

}  // namespace

TEST_CASE("fw allow opens a port, delete closes it again, a CLI deny beats a config allow") {
  REQUIRE(::geteuid() == 0);
  Node node;
  Fd l8080 = listenOn(node.ns, 8080), l8081 = listenOn(node.ns, 8081);
  CHECK_FALSE(opens(node.peer, "10.77.0.2", 8080));
  CHECK(opens(node.peer, "10.77.0.2", 8081));

  auto added = node.fw({"allow", "8080/tcp"});
  CHECK(added.exit_code == 0);
  CHECK_THAT(added.out, Catch::Contains("added rule 'cli-8080-tcp'"));
  CHECK(opens(node.peer, "10.77.0.2", 8080));

  // The same rule again is reported and not added twice.
  auto dup = node.fw({"allow", "8080/tcp", "--name", "again"});
  CHECK(dup.exit_code == 0);
  CHECK_THAT(dup.out, Catch::Contains("skipped: the same rule exists as 'cli-8080-tcp'"));
  CHECK(node.status()["rules"].size() == 3);

  node.ok({"deny", "8081/tcp", "--from", "peers"});
  CHECK_FALSE(opens(node.peer, "10.77.0.2", 8081));
  CHECK(opens(node.peer, "10.77.0.3", 8081));  // not in the group

  json st = node.status();
  REQUIRE(st["rules"].size() == 4);
  CHECK(st["rules"][0]["name"] == "cli-8080-tcp");
  CHECK(st["rules"][0]["origin"] == "cli");
  CHECK(st["rules"][1]["name"] == "cli-deny-8081-tcp");
  CHECK(st["rules"][2]["name"] == "ssh");
  CHECK(st["rules"][2]["origin"] == "config");
  CHECK(st["rules"][0]["packets"].get<uint64_t>() >= 1);

  auto by_number = node.fw({"delete", "2"});
  CHECK(by_number.exit_code == 0);
  CHECK_THAT(by_number.out, Catch::Contains("deleted rule 'cli-deny-8081-tcp'"));
  CHECK(opens(node.peer, "10.77.0.2", 8081));
  node.ok({"delete", "cli-8080-tcp"});
  CHECK_FALSE(opens(node.peer, "10.77.0.2", 8080));

  auto config_rule = node.fw({"delete", "web"});
  CHECK(config_rule.exit_code == 1);
  CHECK_THAT(config_rule.err, Catch::Contains("comes from the configuration file"));
  CHECK_THAT(config_rule.err, Catch::Contains("edit it there"));

  // A service name stands for its ports.
  Fd l5432 = listenOn(node.ns, 5432);
  auto pg = node.fw({"allow", "postgresql", "--from", "10.77.0.3"});
  CHECK(pg.exit_code == 0);
  CHECK_THAT(pg.out, Catch::Contains("added rule 'cli-5432-tcp': allow 5432/tcp from 10.77.0.3"));
  CHECK(opens(node.peer, "10.77.0.3", 5432));
  CHECK_FALSE(opens(node.peer, "10.77.0.2", 5432));
  node.ok({"delete", "cli-5432-tcp"});
  auto unknown_service = node.fw({"allow", "postgres"});
  CHECK(unknown_service.exit_code == 2);
  CHECK_THAT(unknown_service.err, Catch::Contains("'postgres' is not a port, a protocol or a service"));

  auto unknown_group = node.fw({"allow", "9000/tcp", "--from", "nosuchgroup"});
  CHECK(unknown_group.exit_code == 2);
  CHECK_THAT(unknown_group.err, Catch::Contains("--from 'nosuchgroup': no such group in the policy (groups: peers)"));
  CHECK(node.status()["rules"].size() == 2);
}

TEST_CASE("fw ban stops a source, unban lets it back; bans lists them") {
  REQUIRE(::geteuid() == 0);
  Node node;
  Fd l = listenOn(node.ns, 8081);
  REQUIRE(opens(node.peer, "10.77.0.3", 8081));
  node.ok({"ban", "10.77.0.3", "2001:db8::/32", "--for", "1h"});
  CHECK_FALSE(opens(node.peer, "10.77.0.3", 8081));
  CHECK(opens(node.peer, "10.77.0.4", 8081));
  auto bans = node.fw({"bans", "--json"});
  REQUIRE(bans.exit_code == 0);
  CHECK(json::parse(bans.out)["bans"].size() == 2);
  auto not_banned = node.fw({"unban", "10.77.0.9"});
  CHECK(not_banned.exit_code == 1);
  CHECK_THAT(not_banned.err, Catch::Contains("10.77.0.9 is not banned"));
  node.ok({"unban", "10.77.0.3"});
  CHECK(opens(node.peer, "10.77.0.3", 8081));
  CHECK(node.stateFile().bans.size() == 1);
}

TEST_CASE("fw ban and unban of one address append to the ban journal, not a new state file; a restart replays it") {
  REQUIRE(::geteuid() == 0);
  Node node;
  Fd l = listenOn(node.ns, 8081);
  std::string list;
  for (int i = 0; i < 3000; ++i) list += fmt::format("198.18.{}.{}\n", (2 * i) / 256, (2 * i) % 256);
  writeFile(node.dir.file("bans.txt"), list);
  node.ok({"ban", "--file", node.dir.file("bans.txt")});  // 3,000 at once: a whole new file
  const std::string path = node.dir.file("state/firewall.json");
  const std::string journal = path + std::string(rampart::agent::kBanJournalSuffix);
  CHECK_FALSE(std::filesystem::exists(journal));
  struct stat before{};
  REQUIRE(::stat(path.c_str(), &before) == 0);

  node.ok({"ban", "10.77.0.3", "--for", "1h"});
  node.ok({"unban", "198.18.0.0"});
  CHECK_FALSE(opens(node.peer, "10.77.0.3", 8081));
  struct stat after{};
  REQUIRE(::stat(path.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);  // not replaced
  CHECK(after.st_size == before.st_size);
  const std::string lines = readFile(journal);
  CHECK_THAT(lines, Catch::StartsWith("ban 10.77.0.3 "));
  CHECK_THAT(lines, Catch::EndsWith("\nunban 198.18.0.0\n"));
  CHECK(std::ranges::count(lines, '\n') == 2);

  // As after a reboot: the table is gone, and the journal brings both back.
  node.stop();
  REQUIRE(node.ns.run("nft delete table inet rampart").status == 0);
  node.start();
  CHECK(node.kernelHasBan("10.77.0.3"));
  CHECK_FALSE(node.kernelHasBan("198.18.0.0"));
  CHECK(node.kernelHasBan("198.18.0.2"));
  CHECK_FALSE(opens(node.peer, "10.77.0.3", 8081));
  // The start wrote the replayed state as a whole file and began a new journal.
  CHECK_FALSE(std::filesystem::exists(journal));
  auto file = node.stateFile();
  CHECK(file.bans.size() == 3000);
  CHECK(std::ranges::count(file.bans, *rampart::fw::Cidr::parse("10.77.0.3"), &rampart::fw::Ban::cidr) == 1);
}

TEST_CASE("fw ban: an address named twice is one ban, for many at once and for a few; the kernel holds each once") {
  REQUIRE(::geteuid() == 0);
  Node node;
  // 40 addresses from a file, one of them twice (the path for many at once).
  std::string list;
  for (int i = 1; i <= 40; ++i) list += fmt::format("10.78.0.{}\n", i);
  list += "10.78.0.7\n";
  writeFile(node.dir.file("many.txt"), list);
  auto many = node.fw({"ban", "--file", node.dir.file("many.txt")});
  INFO(many.out << many.err);
  REQUIRE(many.exit_code == 0);
  CHECK_THAT(many.out, Catch::Contains("banned 40 new, 1 renewed; 40 bans in all"));
  // A few at once (the path that scans the list): one new twice, one known.
  auto few = node.fw({"ban", "10.78.1.1", "10.78.1.1", "10.78.0.3"});
  INFO(few.out << few.err);
  REQUIRE(few.exit_code == 0);
  CHECK_THAT(few.out, Catch::Contains("banned 1 new, 2 renewed; 41 bans in all"));
  CHECK(node.stateFile().bans.size() == 41);
  auto elements = [&] {
    auto r = node.ns.run("nft list set inet rampart bans_v4 | grep -o '10\\.78\\.[0-9]*\\.[0-9]*' | sort -u | wc -l");
    return r.output;
  };
  CHECK(elements() == "41\n");
  CHECK(node.kernelHasBan("10.78.1.1"));
  node.ok({"unban", "10.78.0.7"});
  CHECK_FALSE(node.kernelHasBan("10.78.0.7"));
  CHECK(node.kernelHasBan("10.78.0.8"));
  CHECK(elements() == "40\n");
}

TEST_CASE("fw: a temporary rule removes itself") {
  REQUIRE(::geteuid() == 0);
  Node node;
  Fd l = listenOn(node.ns, 8080);
  node.ok({"allow", "8080/tcp", "--for", "2s"});
  CHECK(opens(node.peer, "10.77.0.2", 8080));
  CHECK(node.rule("cli-8080-tcp")["expires_ms"].is_number());
  CHECK(waitUntil([&] { return !opens(node.peer, "10.77.0.2", 8080, 300ms); }, 10s));
  CHECK(node.rule("cli-8080-tcp").is_null());
  CHECK(node.stateFile().rules.empty());
}

TEST_CASE("fw: after a restart rules and bans are back, counters of kept rules kept, expired bans not restored") {
  REQUIRE(::geteuid() == 0);
  Node node;
  Fd l = listenOn(node.ns, 8080), l2 = listenOn(node.ns, 8081);
  node.ok({"allow", "8080/tcp"});
  for (int i = 0; i < 3; ++i) REQUIRE(opens(node.peer, "10.77.0.2", 8080));
  const uint64_t packets = node.rule("cli-8080-tcp")["packets"];
  CHECK(packets >= 3);
  node.ok({"ban", "10.77.0.3", "--for", "1h"});
  node.ok({"ban", "10.77.0.4", "--for", "3s"});

  // A plain restart: the kernel kept the table; counters go on.
  node.stop();
  node.start();
  CHECK(node.rule("cli-8080-tcp")["packets"].get<uint64_t>() >= packets);
  CHECK(opens(node.peer, "10.77.0.2", 8080));
  CHECK_FALSE(opens(node.peer, "10.77.0.3", 8081));

  // As after a reboot: the table is gone; the agent restores rules and each
  // ban with the time it has left, in one batch.
  node.stop();
  REQUIRE(node.ns.run("nft delete table inet rampart").status == 0);
  CHECK(opens(node.peer, "10.77.0.3", 8081));  // no firewall at all now
  node.start();
  CHECK(opens(node.peer, "10.77.0.2", 8080));
  CHECK(node.kernelHasBan("10.77.0.3"));
  // The 3 s ban ends on its own time, the 1 h one stays.
  CHECK(waitUntil([&] { return opens(node.peer, "10.77.0.4", 8081, 300ms); }, 10s));
  CHECK_FALSE(opens(node.peer, "10.77.0.3", 8081));
  // The agent's own expiry (the policy applied last, with the bans left)
  // keeps the engine in step with the kernel: no error, and the next ban lands.
  CHECK(waitUntil([&] { return readFile(node.dir.file("agent.log")).find("temporary bans ended") != std::string::npos; }, 10s));
  CHECK(readFile(node.dir.file("agent.log")).find("removing expired entries") == std::string::npos);
  node.ok({"ban", "10.77.0.5", "--for", "1h"});
  CHECK(node.kernelHasBan("10.77.0.5"));
  node.ok({"unban", "10.77.0.5"});

  // A ban that expired while the agent was down is not restored.
  node.ok({"ban", "10.77.0.4", "--for", "1s"});
  node.stop();
  REQUIRE(node.ns.run("nft delete table inet rampart").status == 0);
  std::this_thread::sleep_for(1500ms);  // the ban's own time has to pass; nothing to wait on
  node.start();
  CHECK_FALSE(node.kernelHasBan("10.77.0.4"));
  CHECK(node.kernelHasBan("10.77.0.3"));
  auto bans = json::parse(node.fw({"bans", "--json"}).out)["bans"];
  CHECK(bans.size() == 1);
}

TEST_CASE("fw: kill -9 in the middle of a change leaves kernel and file each before or after, and restart converges") {
  REQUIRE(::geteuid() == 0);
  Node node;
  std::string list;
  const int n = 20000;
  for (int i = 0; i < n; ++i) list += fmt::format("198.18.{}.{}\n", (2 * i) / 256, (2 * i) % 256);
  writeFile(node.dir.file("bans.txt"), list);
  const std::string first = "198.18.0.0", last = fmt::format("198.18.{}.{}", (2 * (n - 1)) / 256, (2 * (n - 1)) % 256);
  for (int delay_ms : {0, 30, 80, 150, 300}) {
    INFO("kill after " << delay_ms << " ms");
    std::thread cli([&] { node.fw({"ban", "--file", node.dir.file("bans.txt")}); });
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    node.kill9();
    cli.join();
    // The file: valid, with all of the batch or none of it.
    auto file = node.stateFile();
    const size_t in_file = file.bans.size();
    CHECK((in_file == 0 || in_file == static_cast<size_t>(n)));
    // The kernel: all or none (one transaction).
    const bool k_first = node.kernelHasBan(first), k_last = node.kernelHasBan(last);
    CHECK(k_first == k_last);
    // Never the kernel ahead of the file.
    CHECK((!k_first || in_file == static_cast<size_t>(n)));
    node.start();
    CHECK(node.kernelHasBan(first) == (in_file == static_cast<size_t>(n)));
    CHECK(node.kernelHasBan(last) == (in_file == static_cast<size_t>(n)));
    // Start the next round from nothing.
    if (in_file != 0) node.ok({"unban", first});
    file = node.stateFile();
    if (!file.bans.empty()) {
      std::vector<std::string> args{"unban"};
      for (const auto& b : file.bans) args.push_back(b.cidr.str());
      // In parts that stay under the control socket's request size limit.
      for (size_t i = 1; i < args.size(); i += 2000) {
        std::vector<std::string> part{"unban"};
        for (size_t j = i; j < std::min(args.size(), i + 2000); ++j) part.push_back(args[j]);
        node.ok(part);
      }
    }
    REQUIRE(node.stateFile().bans.empty());
  }
}

TEST_CASE("fw: kill -9 among single bans and unbans: every acknowledged one is there after a restart, in file and kernel") {
  REQUIRE(::geteuid() == 0);
  Node node;
  std::string list;
  for (int i = 0; i < 2000; ++i) list += fmt::format("198.18.{}.{}\n", (2 * i) / 256, (2 * i) % 256);
  writeFile(node.dir.file("bans.txt"), list);
  node.ok({"ban", "--file", node.dir.file("bans.txt")});
  for (int delay_ms : {40, 120, 250}) {
    INFO("kill after " << delay_ms << " ms");
    // One CLI after another, alternating a new ban and an unban of an old
    // one, until the agent is gone; each answer that said yes is recorded.
    std::vector<std::pair<std::string, bool>> acked;  // address, banned (else unbanned)
    std::atomic<size_t> acked_n{0};                   // acked.size(), for this thread to read
    std::thread cli([&, round = delay_ms] {
      for (int k = 0; k < 500; ++k) {
        const bool ban = k % 2 == 0;
        const std::string addr = ban ? fmt::format("10.{}.{}.{}", 100 + round % 100, k / 256, k % 256)
                                     : fmt::format("198.18.{}.{}", (2 * (k + round)) / 256, (2 * (k + round)) % 256);
        auto r = node.fw({ban ? "ban" : "unban", addr});
        if (r.exit_code != 0) break;
        acked.emplace_back(addr, ban);
        acked_n = acked.size();
      }
    });
    // The delay counts from the first answer: a CLI start takes a while
    // under a sanitizer.
    const bool answered = waitUntil([&] { return acked_n.load() > 0; }, 20s);
    std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms));
    node.kill9();
    cli.join();
    REQUIRE(answered);
    node.start();
    const rampart::agent::FwState file = node.stateFile();
    for (const auto& [addr, banned] : acked) {
      INFO(addr << (banned ? " banned" : " unbanned"));
      const auto c = *rampart::fw::Cidr::parse(addr);
      CHECK(std::ranges::count(file.bans, c, &rampart::fw::Ban::cidr) == (banned ? 1 : 0));
      CHECK(node.kernelHasBan(addr) == banned);
    }
  }
}

TEST_CASE("fw apply --confirm rolls back by itself unless confirmed, also across a restart") {
  REQUIRE(::geteuid() == 0);
  Node node;
  Fd l = listenOn(node.ns, 8082);
  CHECK_FALSE(opens(node.peer, "10.77.0.2", 8082));
  node.writeConfig(kRules + "    - name: new\n      allow: 8082/tcp\n");
  auto plan = node.fw({"plan", "--check"});
  CHECK(plan.exit_code == 0);
  CHECK_THAT(plan.out, Catch::Contains("+ rule input: tcp dport 8082 counter accept comment \"rule:new\"\n"));

  node.ok({"apply", "--confirm", "2s"});
  CHECK(opens(node.peer, "10.77.0.2", 8082));
  CHECK(node.status().contains("confirm_deadline_ms"));
  CHECK(waitUntil([&] { return !opens(node.peer, "10.77.0.2", 8082, 300ms); }, 10s));
  CHECK(node.status().contains("rolled_back_at_ms"));
  CHECK(node.rule("new").is_null());

  // Confirmed in time: stays.
  node.ok({"apply", "--confirm", "30s"});
  CHECK(opens(node.peer, "10.77.0.2", 8082));
  node.ok({"confirm"});
  CHECK_FALSE(node.status().contains("confirm_deadline_ms"));
  CHECK(node.fw({"confirm"}).exit_code == 1);

  // A window open when the agent dies: the restarted agent rolls back on time.
  node.writeConfig(kRules);
  node.ok({"apply", "--confirm", "3s"});
  CHECK_FALSE(opens(node.peer, "10.77.0.2", 8082));
  node.kill9();
  node.start();
  CHECK(node.status().contains("confirm_deadline_ms"));
  CHECK(waitUntil([&] { return opens(node.peer, "10.77.0.2", 8082, 300ms); }, 10s));
  CHECK_FALSE(node.status().contains("confirm_deadline_ms"));
}

TEST_CASE("fw guard: a change that would drop an established connection to the ssh port is refused unless --force") {
  REQUIRE(::geteuid() == 0);
  Node node;
  Fd sshd = listenOn(node.ns, 2222);
  Fd session = connectFrom(node.peer, "10.77.0.2", 2222);
  REQUIRE(session.get() >= 0);
  Fd accepted(::accept4(sshd.get(), nullptr, nullptr, SOCK_CLOEXEC));
  REQUIRE(accepted.get() >= 0);

  auto ban = node.fw({"ban", "10.77.0.0/24"});
  CHECK(ban.exit_code == 1);
  CHECK_THAT(ban.err, Catch::Contains("refused, it would lock you out"));
  CHECK_THAT(ban.err, Catch::Contains("from 10.77.0.2:"));
  CHECK_THAT(ban.err, Catch::Contains("--force"));
  CHECK(node.stateFile().bans.empty());

  auto deny = node.fw({"deny", "2222/tcp", "--from", "10.77.0.2"});
  CHECK(deny.exit_code == 1);
  CHECK_THAT(deny.err, Catch::Contains("next login from 10.77.0.2 would be refused"));

  // The session named by $SSH_CONNECTION is protected too.
  auto own = node.fw({"ban", "10.77.0.4"}, {"SSH_CONNECTION=10.77.0.4 40000 10.77.0.1 2222"});
  CHECK(own.exit_code == 1);
  CHECK_THAT(own.err, Catch::Contains("your SSH session from 10.77.0.4:40000"));
  CHECK(node.status()["rules"].size() == 2);

  // A configuration without the ssh rule: `fw apply` refuses; with a
  // confirm window it goes in (the rollback is the safety net) and says
  // what it cuts; the rollback brings the rule back.
  node.writeConfig("  rules:\n    - name: web\n      allow: 8081/tcp\n");
  auto apply = node.fw({"apply"});
  CHECK(apply.exit_code == 1);
  CHECK_THAT(apply.err, Catch::Contains("--confirm"));
  auto tried = node.fw({"apply", "--confirm", "5m"});
  CHECK(tried.exit_code == 0);
  CHECK_THAT(tried.err, Catch::Contains("warning: "));
  CHECK_THAT(tried.err, Catch::Contains("next login from 10.77.0.2 would be refused"));
  CHECK_FALSE(opens(node.peer, "10.77.0.2", 2222));
  node.ok({"rollback"});
  CHECK(opens(node.peer, "10.77.0.2", 2222));
  node.writeConfig(kRules);
  node.ok({"apply"});

  // An unrelated change goes through; --force overrides.
  node.ok({"ban", "10.77.0.3"});
  node.ok({"deny", "2222/tcp", "--from", "10.77.0.2", "--force"});
  CHECK_FALSE(opens(node.peer, "10.77.0.2", 2222));
}

TEST_CASE("fw allow --interface: only what comes in on it; the guard knows which interface a session is on") {
  REQUIRE(::geteuid() == 0);
  Node node;
  Fd l8080 = listenOn(node.ns, 8080);
  node.ok({"allow", "8080/tcp", "--interface", "veth-n"});
  CHECK(opens(node.peer, "10.77.0.2", 8080));
  CHECK(node.rule("cli-8080-tcp")["interfaces"] == json::array({"veth-n"}));
  auto text = node.fw({"status"});
  CHECK_THAT(text.out, Catch::Contains("8080/tcp on veth-n"));
  // On another interface it is another rule, not the same one again.
  auto other = node.fw({"allow", "8080/tcp", "--interface", "eth7", "--interface", "vlan*"});
  CHECK(other.exit_code == 0);
  CHECK_THAT(other.out, Catch::Contains("added rule 'cli-8080-tcp-2': allow 8080/tcp from any on eth7,vlan*"));
  node.ok({"delete", "cli-8080-tcp"});
  CHECK_FALSE(opens(node.peer, "10.77.0.2", 8080));
  // --to: only to the node's address named.
  REQUIRE(node.ns.run("ip addr add 10.77.0.11/24 dev veth-n").status == 0);
  auto to = node.fw({"allow", "8080/tcp", "--to", "10.77.0.11"});
  CHECK(to.exit_code == 0);
  CHECK_THAT(to.out, Catch::Contains("allow 8080/tcp from any to 10.77.0.11"));
  CHECK(node.rule("cli-8080-tcp")["to"] == json::array({"10.77.0.11"}));
  CHECK_THAT(node.fw({"status"}).out, Catch::Contains("8080/tcp to 10.77.0.11"));
  CHECK_FALSE(opens(node.peer, "10.77.0.2", 8080));  // to 10.77.0.1
  {
    auto in = node.peer.enter();
    REQUIRE(in.ok());
    Fd s(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    auto to11 = v4("10.77.0.11", 8080);
    CHECK(::connect(s.get(), reinterpret_cast<sockaddr*>(&to11), sizeof to11) == 0);
  }
  auto mixed = node.fw({"allow", "8080/tcp", "--from", "10.77.0.2", "--to", "fd77::1"});
  CHECK(mixed.exit_code == 2);
  CHECK_THAT(mixed.err, Catch::Contains("the sources are all of one address family and the destinations of the other"));
  node.ok({"delete", "cli-8080-tcp"});
  auto bad = node.fw({"allow", "8080/tcp", "--interface", "a b"});
  CHECK(bad.exit_code == 2);
  CHECK_THAT(bad.err, Catch::Contains("--interface 'a b': not an interface name (1 to 15 characters"));

  // An SSH session in on veth-n: a deny of its port on another interface
  // cuts nothing; on veth-n, or on a prefix of it, it is refused.
  Fd sshd = listenOn(node.ns, 2222);
  Fd session = connectFrom(node.peer, "10.77.0.2", 2222);
  REQUIRE(session.get() >= 0);
  node.ok({"deny", "2222/tcp", "--interface", "eth7"});
  auto cut = node.fw({"deny", "2222/tcp", "--interface", "veth-*"});
  CHECK(cut.exit_code == 1);
  CHECK_THAT(cut.err, Catch::Contains("next login from 10.77.0.2 would be refused"));
  // The same for the session named by $SSH_CONNECTION, by its address.
  auto own = node.fw({"deny", "2222/tcp", "--interface", "veth-n", "--from", "10.77.0.4"},
                     {"SSH_CONNECTION=10.77.0.4 40000 10.77.0.1 2222"});
  CHECK(own.exit_code == 1);
  CHECK_THAT(own.err, Catch::Contains("your SSH session from 10.77.0.4:40000"));
  CHECK(opens(node.peer, "10.77.0.2", 2222));
}

TEST_CASE("fw reject refuses at once (a TCP reset) where deny keeps silent; status and state say reject") {
  REQUIRE(::geteuid() == 0);
  Node node;
  Fd l8081 = listenOn(node.ns, 8081);
  auto added = node.fw({"reject", "8081/tcp", "--from", "10.77.0.3"});
  CHECK(added.exit_code == 0);
  CHECK_THAT(added.out, Catch::Contains("added rule 'cli-reject-8081-tcp': reject 8081/tcp from 10.77.0.3"));
  CHECK(connectError(node.peer, "10.77.0.3", 8081) == ECONNREFUSED);
  CHECK(connectError(node.peer, "10.77.0.2", 8081) == 0);
  CHECK(node.rule("cli-reject-8081-tcp")["action"] == "reject");
  CHECK(node.rule("cli-reject-8081-tcp")["packets"].get<uint64_t>() >= 1);
  node.ok({"deny", "8081/tcp", "--from", "10.77.0.4"});
  CHECK(connectError(node.peer, "10.77.0.4", 8081, 400ms) == ETIMEDOUT);
  // Kept across a restart, as a reject.
  node.stop();
  node.start();
  CHECK(node.rule("cli-reject-8081-tcp")["action"] == "reject");
  CHECK(connectError(node.peer, "10.77.0.3", 8081) == ECONNREFUSED);
  auto limited = node.fw({"reject", "8082/tcp", "--limit", "5/minute"});
  CHECK(limited.exit_code == 2);  // no --limit for reject
}

TEST_CASE("fw: two CLIs changing rules at once both land") {
  REQUIRE(::geteuid() == 0);
  Node node;
  std::atomic<int> failures{0};
  auto worker = [&](int base) {
    for (int i = 0; i < 15; ++i)
      if (node.fw({"allow", fmt::format("{}/tcp", base + i)}).exit_code != 0) ++failures;
  };
  std::thread a(worker, 10000), b(worker, 20000);
  a.join();
  b.join();
  CHECK(failures == 0);
  json st = node.status();
  CHECK(st["rules"].size() == 32);
  CHECK(node.stateFile().rules.size() == 30);
  for (const auto& r : st["rules"]) CHECK(r["in_kernel"] == true);
}

TEST_CASE("fw groups: a DNS name in a group is looked up by the agent and its addresses land in the group's set") {
  REQUIRE(::geteuid() == 0);
  // `localhost` resolves through /etc/hosts on every machine: no network.
  Node node(
      "  groups:\n"
      "    local: [localhost, 10.77.0.9]\n"
      "  rules:\n"
      "    - name: ssh\n"
      "      allow: 2222/tcp\n"
      "    - name: from-local\n"
      "      allow: 8090/tcp\n"
      "      from: local\n");
  bool resolved = waitUntil(
      [&] {
        auto set = node.ns.run("nft list set inet rampart g_local_v4");
        return set.status == 0 && set.output.find("127.0.0.1") != std::string::npos;
      },
      10s);
  INFO(node.ns.run("nft list table inet rampart").output);
  CHECK(resolved);
  // The literal member is there too.
  CHECK(node.ns.run("nft list set inet rampart g_local_v4").output.find("10.77.0.9") != std::string::npos);
}
