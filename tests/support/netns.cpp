#include "tests/support/netns.h"

#include <atomic>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <tuple>

#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fmt/format.h>

namespace rampart::test {

CommandResult runCommand(const std::string& command, std::chrono::milliseconds timeout) {
  constexpr size_t kMaxOutput = 1 << 20;
  CommandResult result;
  int pipefd[2];
  if (pipe2(pipefd, O_CLOEXEC) != 0) return result;
  pid_t pid = fork();
  if (pid < 0) {
    close(pipefd[0]);
    close(pipefd[1]);
    return result;
  }
  if (pid == 0) {
    dup2(pipefd[1], STDOUT_FILENO);
    dup2(pipefd[1], STDERR_FILENO);
    setpgid(0, 0);  // its own group, so a timeout kills its children too
    execl("/bin/sh", "sh", "-c", command.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  close(pipefd[1]);
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[4096];
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      result.timed_out = true;
      kill(-pid, SIGKILL);
      break;
    }
    pollfd p{pipefd[0], POLLIN, 0};
    int r = poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) continue;
    ssize_t n = read(pipefd[0], buf, sizeof buf);
    if (n <= 0) break;  // EOF: the command closed its output
    if (result.output.size() < kMaxOutput) result.output.append(buf, static_cast<size_t>(n));
  }
  close(pipefd[0]);
  int status = 0;
  if (result.timed_out) kill(-pid, SIGKILL);
  waitpid(pid, &status, 0);
  if (!result.timed_out && WIFEXITED(status)) result.status = WEXITSTATUS(status);
  return result;
}

std::optional<NetNs> NetNs::create(std::string_view prefix) {
  static std::atomic<int> counter{0};
  std::string name = fmt::format("{}-{}-{}", prefix, getpid(), counter++);
  if (runCommand(fmt::format("ip netns add {}", name)).status != 0) return std::nullopt;
  NetNs ns(name);
  if (ns.run("ip link set lo up").status != 0) return std::nullopt;
  return ns;
}

NetNs::NetNs(NetNs&& other) noexcept : name_(std::move(other.name_)) { other.name_.clear(); }

NetNs::~NetNs() {
  if (!name_.empty()) runCommand(fmt::format("ip netns del {}", name_));
}

CommandResult NetNs::run(const std::string& command, std::chrono::milliseconds timeout) const {
  // The command goes through one more shell, so quote it for that one.
  std::string quoted = "'";
  for (char c : command) quoted += c == '\'' ? std::string("'\\''") : std::string(1, c);
  quoted += "'";
  return runCommand(fmt::format("ip netns exec {} sh -c {}", name_, quoted), timeout);
}

NetNs::Entered::Entered(const NetNs& ns) {
  previous_ = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC);
  int target = open(fmt::format("/run/netns/{}", ns.name()).c_str(), O_RDONLY | O_CLOEXEC);
  if (previous_ >= 0 && target >= 0) ok_ = setns(target, CLONE_NEWNET) == 0;
  if (target >= 0) close(target);
}

NetNs::Entered::~Entered() {
  if (previous_ < 0) return;
  if (ok_) setns(previous_, CLONE_NEWNET);
  close(previous_);
}

bool vethPair(const NetNs& a, std::string_view a_if, std::string_view a_v4, std::string_view a_v6,
              const NetNs& b, std::string_view b_if, std::string_view b_v4, std::string_view b_v6) {
  auto ok = [](const CommandResult& r) { return r.status == 0; };
  if (!ok(a.run(fmt::format("ip link add {} type veth peer name {} netns {}", a_if, b_if, b.name())))) return false;
  for (auto [ns, ifname, v4, v6] : {std::tuple{&a, a_if, a_v4, a_v6}, std::tuple{&b, b_if, b_v4, b_v6}}) {
    std::string cmd = fmt::format("ip link set {} up", ifname);
    if (!v4.empty()) cmd += fmt::format(" && ip addr add {} dev {}", v4, ifname);
    if (!v6.empty()) cmd += fmt::format(" && ip -6 addr add {} dev {} nodad", v6, ifname);
    if (!ok(ns->run(cmd))) return false;
  }
  return true;
}

}  // namespace rampart::test
