// A control server on its own io_context thread, and raw socket helpers to
// play clients that misbehave.
#pragma once

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <future>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "agent/control_server.h"
#include "tests/unit/agent/process.h"

namespace rampart::test {

class ServerFixture {
 public:
  explicit ServerFixture(agent::ControlServerOptions o = {}) {
    if (o.path.empty()) o.path = dir.file("control.sock");
    auto s = agent::ControlServer::create(io, o);
    if (!s) throw std::runtime_error(s.error().message);
    server = std::move(*s);
  }
  ~ServerFixture() { stopThread(); }

  // Handlers are registered before start().
  void start() {
    thread = std::thread([this] { io.run(); });
  }
  void stopThread() {
    guard.reset();
    io.stop();
    if (thread.joinable()) thread.join();
  }
  // Runs f on the io thread and returns its value.
  template <class F>
  auto onIo(F f) {
    std::packaged_task<decltype(f())()> task(std::move(f));
    auto fut = task.get_future();
    boost::asio::post(io, [&task] { task(); });
    return fut.get();
  }
  size_t connections() {
    return onIo([this] { return server->connections(); });
  }

  TempDir dir;
  boost::asio::io_context io;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard =
      boost::asio::make_work_guard(io);
  std::unique_ptr<agent::ControlServer> server;
  std::thread thread;
};

inline int connectTo(const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    ::close(fd);
    return -1;
  }
  return fd;
}

inline bool sendAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Reads up to the first newline; nullopt on EOF or timeout.
inline std::optional<std::string> readLine(int fd, std::chrono::milliseconds timeout =
                                                       std::chrono::seconds(10)) {
  std::string line;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    char c;
    const ssize_t n = ::read(fd, &c, 1);
    if (n <= 0) return std::nullopt;
    if (c == '\n') return line;
    line += c;
  }
  return std::nullopt;
}

// True when the peer closed the connection within the timeout (unread data
// before the close is skipped).
inline bool closedWithin(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  char buf[65536];
  while (std::chrono::steady_clock::now() < deadline) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, 50) <= 0) continue;
    const ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n <= 0) return true;
  }
  return false;
}

}  // namespace rampart::test
