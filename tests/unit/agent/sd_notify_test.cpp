// The service-manager protocol without libsystemd: messages reach a
// datagram socket named by NOTIFY_SOCKET (a path or an abstract name), and
// the watchdog interval comes from WATCHDOG_USEC for this process only.
#include <catch2/catch.hpp>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <string>

#include "agent/sd_notify.h"
#include "agent/unique_fd.h"

using rampart::agent::notifyServiceManager;
using rampart::agent::serviceWatchdog;
using rampart::agent::UniqueFd;

namespace {

// A datagram socket bound to `name` ('@' first: abstract namespace).
UniqueFd boundSocket(const std::string& name) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  REQUIRE(fd.get() >= 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, name.data(), name.size());
  if (name[0] == '@') addr.sun_path[0] = '\0';
  auto len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
  REQUIRE(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) == 0);
  return fd;
}

std::string receive(int fd) {
  char buf[256];
  ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
  return n < 0 ? std::string() : std::string(buf, static_cast<size_t>(n));
}

}  // namespace

TEST_CASE("sd_notify: a message reaches the socket NOTIFY_SOCKET names", "[sd_notify]") {
  ::unsetenv("NOTIFY_SOCKET");
  CHECK_FALSE(notifyServiceManager("READY=1"));

  auto dir = std::filesystem::temp_directory_path() / ("rampart-notify-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string path = (dir / "notify").string();
  UniqueFd sock = boundSocket(path);
  ::setenv("NOTIFY_SOCKET", path.c_str(), 1);
  CHECK(notifyServiceManager("READY=1\nSTATUS=running"));
  CHECK(receive(sock.get()) == "READY=1\nSTATUS=running");

  std::string abstract = "@rampart-notify-test-" + std::to_string(::getpid());
  UniqueFd asock = boundSocket(abstract);
  ::setenv("NOTIFY_SOCKET", abstract.c_str(), 1);
  CHECK(notifyServiceManager("WATCHDOG=1"));
  CHECK(receive(asock.get()) == "WATCHDOG=1");

  ::setenv("NOTIFY_SOCKET", "relative/path", 1);
  CHECK_FALSE(notifyServiceManager("READY=1"));
  ::unsetenv("NOTIFY_SOCKET");
  std::filesystem::remove_all(dir);
}

TEST_CASE("sd_notify: the watchdog interval is WATCHDOG_USEC, for this process only", "[sd_notify]") {
  ::unsetenv("WATCHDOG_PID");
  ::unsetenv("WATCHDOG_USEC");
  CHECK_FALSE(serviceWatchdog());
  ::setenv("WATCHDOG_USEC", "30000000", 1);
  REQUIRE(serviceWatchdog());
  CHECK(serviceWatchdog()->count() == 30000000);
  ::setenv("WATCHDOG_PID", std::to_string(::getpid()).c_str(), 1);
  CHECK(serviceWatchdog());
  ::setenv("WATCHDOG_PID", std::to_string(::getpid() + 1).c_str(), 1);
  CHECK_FALSE(serviceWatchdog());
  ::unsetenv("WATCHDOG_PID");
  for (const char* bad : {"0", "", "12x", "-5"}) {
    ::setenv("WATCHDOG_USEC", bad, 1);
    CHECK_FALSE(serviceWatchdog());
  }
  ::unsetenv("WATCHDOG_USEC");
}
