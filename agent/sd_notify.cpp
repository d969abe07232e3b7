#include "agent/sd_notify.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <charconv>
#include <cstdlib>
#include <cstring>
#include <string>

#include "agent/unique_fd.h"

namespace rampart::agent {
namespace {

std::optional<uint64_t> envNumber(const char* name) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  uint64_t out = 0;
  auto [end, ec] = std::from_chars(v, v + std::strlen(v), out);
  if (ec != std::errc{} || *end != '\0') return std::nullopt;
  return out;
}

}  // namespace

bool notifyServiceManager(std::string_view state) {
  const char* path = std::getenv("NOTIFY_SOCKET");
  if (path == nullptr) return false;
  const size_t len = std::strlen(path);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  // An absolute path, or '@' for a name in the abstract namespace.
  if (len < 2 || len >= sizeof addr.sun_path || (path[0] != '/' && path[0] != '@')) return false;
  std::memcpy(addr.sun_path, path, len);
  if (path[0] == '@') addr.sun_path[0] = '\0';
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) return false;
  auto addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + len);
  ssize_t n = ::sendto(fd.get(), state.data(), state.size(), MSG_NOSIGNAL, reinterpret_cast<sockaddr*>(&addr),
                       addr_len);
  return n == static_cast<ssize_t>(state.size());
}

std::optional<std::chrono::microseconds> serviceWatchdog() {
  auto usec = envNumber("WATCHDOG_USEC");
  if (!usec || *usec == 0) return std::nullopt;
  // WATCHDOG_PID, when set, names the process the watchdog is for.
  if (auto pid = envNumber("WATCHDOG_PID"); pid && *pid != static_cast<uint64_t>(::getpid())) return std::nullopt;
  return std::chrono::microseconds(*usec);
}

}  // namespace rampart::agent
