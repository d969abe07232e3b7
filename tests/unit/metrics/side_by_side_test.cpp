// rampart and the real node_exporter (Debian prometheus-node-exporter) read
// this machine's live /proc in the same moment: every family both export has
// the same label sets, and values agree (counters bracketed by two rampart
// scrapes taken just before and just after node_exporter's).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <filesystem>

#include "exposition.h"
#include "metrics/metrics.h"
#include "support.h"

using namespace rampart::metrics;

namespace {

constexpr const char* kNodeExporter = "/usr/bin/prometheus-node-exporter";

uint16_t freePort() {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), len) == 0);
  REQUIRE(::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
  ::close(fd);
  return ntohs(addr.sin_port);
}

// node_exporter on 127.0.0.1:port, killed (by pid) when this goes away.
struct NodeExporter {
  pid_t pid = -1;
  int log = -1;  // its stderr
  explicit NodeExporter(uint16_t port) {
    int fds[2];
    REQUIRE(::pipe2(fds, O_CLOEXEC) == 0);
    std::string listen = "--web.listen-address=127.0.0.1:" + std::to_string(port);
    pid = ::fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
      ::dup2(fds[1], 2);
      ::execl(kNodeExporter, kNodeExporter, listen.c_str(), "--collector.disable-defaults",
              "--collector.cpu", "--collector.cpu.guest", "--collector.netdev",
              "--no-collector.netdev.netlink", "--collector.netdev.device-exclude=^$",
              "--collector.netstat", "--collector.conntrack", "--collector.loadavg",
              "--collector.meminfo", "--collector.uname", "--collector.filesystem",
              static_cast<char*>(nullptr));
      ::_exit(127);
    }
    ::close(fds[1]);
    log = fds[0];
  }
  ~NodeExporter() {
    if (pid > 0) {
      ::kill(pid, SIGTERM);
      ::waitpid(pid, nullptr, 0);
    }
    if (log >= 0) ::close(log);
  }
  // Waits (up to 10 s) for its "Listening on" log line.
  bool waitListening() {
    std::string seen;
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (seen.find("Listening on") == std::string::npos) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
          deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) return false;
      pollfd p{log, POLLIN, 0};
      if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return false;
      char buf[4096];
      ssize_t n = ::read(log, buf, sizeof buf);
      if (n <= 0) return false;
      seen.append(buf, static_cast<size_t>(n));
    }
    return true;
  }
};

std::string httpGet(uint16_t port, const std::string& path) {
  int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(port);
  REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
  timeval timeout{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, sizeof timeout);
  std::string request = "GET " + path + " HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
  REQUIRE(::write(fd, request.data(), request.size()) == static_cast<ssize_t>(request.size()));
  std::string response;
  char buf[65536];
  while (response.size() < (64u << 20)) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    response.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  size_t body = response.find("\r\n\r\n");
  REQUIRE(body != std::string::npos);
  return response.substr(body + 4);
}

// How far a value may stray from the bracket [before, after] of rampart's
// two scrapes.
double slack(const std::string& family, double value) {
  if (family.starts_with("node_load")) return 0.5;
  if (family.starts_with("node_memory_")) return 0.02 * std::fabs(value) + (16 << 20);
  if (family == "node_filesystem_free_bytes" || family == "node_filesystem_avail_bytes")
    return 256 << 20;
  if (family == "node_filesystem_files_free") return 10000;
  if (family == "node_nf_conntrack_entries") return 100;
  // idle and iowait can step back a tick on NO_HZ kernels.
  if (family.starts_with("node_cpu")) return 0.05;
  if (family == "node_netstat_Tcp_CurrEstab") return 20;
  return 1e-9 * std::fabs(value);
}

}  // namespace

TEST_CASE("side by side: rampart and node_exporter 1.5 agree on this machine's /proc") {
  if (!std::filesystem::exists(kNodeExporter)) {
    WARN("prometheus-node-exporter is not installed; comparison skipped");
    return;
  }
  Options options;
  options.disabled = {"process", "node_info"};
  auto metrics = Metrics::create(options);
  REQUIRE(metrics);

  uint16_t port = freePort();
  NodeExporter exporter(port);
  REQUIRE(exporter.waitListening());

  auto before = test::parseExposition((*metrics)->scrape());
  auto theirs = test::parseExposition(httpGet(port, "/metrics"));
  auto after = test::parseExposition((*metrics)->scrape());

  int compared_families = 0, compared_samples = 0;
  for (const auto& [family, ours_before] : before.samples) {
    if (family.starts_with("node_scrape_collector_")) continue;  // differ by design
    auto it = theirs.samples.find(family);
    if (it == theirs.samples.end()) continue;
    INFO("family " << family);
    CHECK(before.types[family] == theirs.types[family]);
    const auto& ours_after = after.samples[family];
    std::vector<std::string> our_labels, their_labels;
    for (const auto& [labels, v] : ours_before) our_labels.push_back(labels);
    for (const auto& [labels, v] : it->second) their_labels.push_back(labels);
    CHECK(our_labels == their_labels);
    for (const auto& [labels, value] : it->second) {
      if (!ours_before.contains(labels) || !ours_after.contains(labels)) continue;
      double lo = std::min(ours_before.at(labels), ours_after.at(labels));
      double hi = std::max(ours_before.at(labels), ours_after.at(labels));
      double s = slack(family, value);
      INFO(labels << " node_exporter " << value << ", rampart " << lo << ".." << hi);
      CHECK(value >= lo - s);
      CHECK(value <= hi + s);
      ++compared_samples;
    }
    ++compared_families;
  }
  // node_exporter's netstat fields are a subset of rampart's (1.5 lacks
  // TCPOFOQueue and TCPRcvQDrop).
  for (const auto& [family, samples] : theirs.samples) {
    if (!family.starts_with("node_netstat_") && !family.starts_with("node_cpu") &&
        !family.starts_with("node_filesystem") && !family.starts_with("node_memory") &&
        family != "node_uname_info")
      continue;
    INFO("node_exporter exports " << family << " and rampart does not");
    CHECK(before.samples.contains(family));
  }
  INFO(compared_families << " families, " << compared_samples << " samples compared");
  CHECK(compared_families > 80);
}
