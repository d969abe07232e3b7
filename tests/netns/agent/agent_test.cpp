// Asio (via the fixture) and istreambuf_iterator trip g++ 12's -Wnull-dereference
// after inlining (false positives inside library headers).
#pragma GCC diagnostic ignored "-Wnull-dereference"

// The real binary as root: peer credentials on the control socket, and the
// daemon's signals. The agent runs in its own network namespace
// (`unshare -n`) so its firewall never touches this machine's.
#include <signal.h>
#include <sys/stat.h>

#include <fstream>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "tests/unit/agent/control_fixture.h"

using namespace rampart::test;
using namespace std::chrono_literals;

namespace {

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc);
  out << text;
}

std::string agentConfig(const TempDir& dir, const std::string& role) {
  return "node:\n  name: test-node\n  role: " + role + "\nlisten: \"127.0.0.1:0\"\nstate_dir: " +
         dir.file("state") + "\ncontrol_socket: " + dir.file("control.sock") + "\n";
}

nlohmann::json statusJson(const std::string& sock) {
  auto r = run({binary(), "status", "--json", "--socket", sock}, 10s);
  INFO(r.err);
  REQUIRE(r.exit_code == 0);
  return nlohmann::json::parse(r.out);
}

// The real agent in its own network namespace, on a temporary config.
struct RunningAgent {
  explicit RunningAgent(const std::string& role)
      : cfg(dir.file("rampart.yaml")), sock(dir.file("control.sock")) {
    writeFile(cfg, agentConfig(dir, role));
    child = std::make_unique<Child>(
        std::vector<std::string>{"unshare", "-n", binary(), "agent", "--config", cfg},
        dir.file("agent.log"));
    REQUIRE(waitUntil([&] { return ::access(sock.c_str(), F_OK) == 0; }, 20s));
  }
  pid_t pid() const { return child->pid(); }

  TempDir dir;
  std::string cfg;
  std::string sock;
  std::unique_ptr<Child> child;
};

}  // namespace

TEST_CASE("control socket: a caller neither root nor in the group is refused") {
  REQUIRE(::geteuid() == 0);
  ServerFixture f;
  f.server->on("status", [](const rampart::agent::Request&, const rampart::agent::Peer&) {
    return rampart::agent::Answer::success({{"up", true}});
  });
  f.start();
  // Let the unprivileged client reach the socket at all, so it is the
  // SO_PEERCRED check that refuses it, not the file mode.
  REQUIRE(::chmod(f.dir.path().c_str(), 0755) == 0);
  REQUIRE(::chmod(f.server->path().c_str(), 0666) == 0);

  auto r = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary(), "status",
                "--socket", f.server->path()});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains("permission denied: uid 65534"));

  auto root = run({binary(), "status", "--socket", f.server->path()});
  CHECK(root.exit_code == 0);
}

TEST_CASE("control socket: a member of the group (supplementary) is let in") {
  REQUIRE(::geteuid() == 0);
  rampart::agent::ControlServerOptions o;
  o.group = 4242;  // stands in for `rampart`
  ServerFixture f(o);
  f.server->on("status", [](const rampart::agent::Request&, const rampart::agent::Peer& p) {
    return rampart::agent::Answer::success({{"uid", p.uid}});
  });
  f.start();
  REQUIRE(::chmod(f.dir.path().c_str(), 0755) == 0);
  struct stat st {};
  REQUIRE(::stat(f.server->path().c_str(), &st) == 0);
  CHECK(st.st_gid == 4242);  // the socket file belongs to the group
  CHECK((st.st_mode & 07777) == 0660);

  auto member = run({"setpriv", "--reuid=65534", "--regid=65534", "--groups=4242", binary(),
                     "status", "--json", "--socket", f.server->path()});
  INFO(member.err);
  CHECK(member.exit_code == 0);
  CHECK_THAT(member.out, Catch::Contains("65534"));

  // Not in the group: the file mode already keeps it out.
  auto other = run({"setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", binary(),
                    "status", "--socket", f.server->path()});
  CHECK(other.exit_code == 1);
  CHECK_THAT(other.err, Catch::Contains("Permission denied"));
}

TEST_CASE("agent: SIGHUP with a broken file keeps the running configuration; a good one is taken") {
  REQUIRE(::geteuid() == 0);
  RunningAgent a("web");
  const std::string& cfg = a.cfg;
  const std::string& sock = a.sock;
  Child& agent = *a.child;
  const TempDir& dir = a.dir;

  auto s1 = statusJson(sock);
  CHECK(s1["up"] == true);
  CHECK(s1["node"] == "test-node");
  CHECK(s1["role"] == "web");
  CHECK(s1["pid"] == agent.pid());
  CHECK(s1["policy_generation"] == 1);

  writeFile(cfg, "node:\n  rol: db\nlisten: nowhere\n");
  REQUIRE(::kill(agent.pid(), SIGHUP) == 0);
  REQUIRE(waitUntil([&] { return statusJson(sock)["failed_reloads"] == 1; }));
  auto s2 = statusJson(sock);
  CHECK(s2["role"] == "web");
  CHECK(s2["policy_generation"] == 1);
  CHECK_THAT(s2["last_reload_error"].get<std::string>(), Catch::Contains("2 error(s)"));

  writeFile(cfg, agentConfig(dir, "db"));
  REQUIRE(::kill(agent.pid(), SIGHUP) == 0);
  REQUIRE(waitUntil([&] { return statusJson(sock)["reloads"] == 1; }));
  auto s3 = statusJson(sock);
  CHECK(s3["role"] == "db");
  CHECK(s3["policy_generation"] == 2);
  CHECK_FALSE(s3.contains("last_reload_error"));

  std::ifstream log(dir.file("agent.log"));
  std::string text((std::istreambuf_iterator<char>(log)), std::istreambuf_iterator<char>());
  CHECK_THAT(text, Catch::Contains("rampart.yaml:2:3: node: unknown key 'rol'"));
  CHECK_THAT(text, Catch::Contains("the running configuration stays"));
}

TEST_CASE("agent: SIGTERM stops it quickly with exit 0 and removes its socket") {
  REQUIRE(::geteuid() == 0);
  RunningAgent a("web");
  const std::string& sock = a.sock;
  Child& agent = *a.child;
  REQUIRE(statusJson(sock)["up"] == true);
  const auto start = std::chrono::steady_clock::now();
  REQUIRE(::kill(agent.pid(), SIGTERM) == 0);
  CHECK(agent.wait(5s) == 0);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  CHECK(::access(sock.c_str(), F_OK) != 0);
  auto r = run({binary(), "status", "--socket", sock});
  CHECK(r.exit_code == 3);
}

TEST_CASE("agent: a bad configuration at start is reported and the agent exits 1") {
  TempDir dir;
  const std::string cfg = dir.file("rampart.yaml");
  writeFile(cfg, "listen: nowhere\n");
  auto r = run({"unshare", "-n", binary(), "agent", "--config", cfg}, 10s);
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains(cfg + ":1:9: listen:"));
}

TEST_CASE("agent: the policy is applied at start and a change behind its back is repaired") {
  REQUIRE(::geteuid() == 0);
  RunningAgent a("web");
  const std::string& sock = a.sock;
  Child& agent = *a.child;
  auto s1 = statusJson(sock);
  INFO(s1.dump());
  REQUIRE(s1["components"]["firewall"]["running"] == true);
  CHECK(s1["components"]["firewall"]["applies_success"] == 1);

  const std::string pid = std::to_string(agent.pid());
  auto listed = run({"nsenter", "-t", pid, "-n", "nft", "list", "table", "inet", "rampart"});
  REQUIRE(listed.exit_code == 0);
  auto added = run({"nsenter", "-t", pid, "-n", "nft", "add", "rule", "inet", "rampart", "input",
                    "tcp", "dport", "4321", "accept"});
  REQUIRE(added.exit_code == 0);
  REQUIRE(waitUntil([&] { return statusJson(sock)["components"]["firewall"]["drift"] >= 1; }));
  auto after = run({"nsenter", "-t", pid, "-n", "nft", "list", "table", "inet", "rampart"});
  CHECK(after.out.find("4321") == std::string::npos);
  CHECK(after.out == listed.out);
}
