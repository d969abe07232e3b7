// Asio's executor comparison trips g++ 12's -Wnull-dereference after
// inlining (a false positive inside Boost headers).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include <sys/stat.h>

#include <atomic>
#include <fstream>
#include <vector>

#include <boost/asio/steady_timer.hpp>
#include <catch2/catch.hpp>

#include "agent/control_client.h"
#include "tests/unit/agent/control_fixture.h"

using namespace rampart::agent;
using namespace rampart::test;
using namespace std::chrono_literals;

namespace {

nlohmann::json ask(const std::string& path, const std::string& cmd) {
  ControlClient client(path, 5s);
  auto a = client.call(Request{cmd, nlohmann::json::object()});
  REQUIRE(a.has_value());
  if (!a->ok) return {{"error", a->error}, {"code", a->code}};
  return a->result;
}

}  // namespace

TEST_CASE("control socket: a registered handler answers; an unknown command is an error answer") {
  ServerFixture f;
  f.server->on("echo.peer", [](const Request& req, const Peer& peer) {
    return Answer::success({{"uid", peer.uid}, {"pid", peer.pid}, {"params", req.params}});
  });
  f.start();
  auto r = ask(f.server->path(), "echo.peer");
  CHECK(r["uid"] == ::getuid());
  CHECK(r["pid"] == ::getpid());
  CHECK(ask(f.server->path(), "ping")["pong"] == true);
  auto u = ask(f.server->path(), "no.such");
  CHECK(u["code"] == "unknown_command");
}

TEST_CASE("control socket: the socket file is mode 0660 and a stale file is replaced") {
  TempDir dir;
  const std::string path = dir.file("c.sock");
  {
    // A socket file nobody listens on, as a crashed agent leaves it.
    int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
    REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
    ::close(fd);
  }
  ControlServerOptions o;
  o.path = path;
  ServerFixture f(o);
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  CHECK(S_ISSOCK(st.st_mode));
  CHECK((st.st_mode & 07777) == 0660);
  CHECK(st.st_uid == ::geteuid());

  SECTION("a second server on a live socket is refused") {
    boost::asio::io_context io2;
    auto second = ControlServer::create(io2, o);
    REQUIRE_FALSE(second.has_value());
    CHECK_THAT(second.error().message, Catch::Contains("already listens"));
  }
}

TEST_CASE("control socket: a path that is not a socket is never removed") {
  TempDir dir;
  const std::string path = dir.file("c.sock");
  std::ofstream(path) << "precious";
  boost::asio::io_context io;
  ControlServerOptions o;
  o.path = path;
  auto s = ControlServer::create(io, o);
  REQUIRE_FALSE(s.has_value());
  CHECK_THAT(s.error().message, Catch::Contains("is not a socket"));
  std::ifstream in(path);
  std::string content;
  in >> content;
  CHECK(content == "precious");
}

TEST_CASE("control socket: an oversized request gets an error answer and the connection closes") {
  ServerFixture f;
  f.start();
  int fd = connectTo(f.server->path());
  REQUIRE(fd >= 0);
  // 70 KiB without a newline; the server may close before taking it all.
  sendAll(fd, R"({"cmd":"status","params":{"x":")" + std::string(70 * 1024, 'a'));
  auto line = readLine(fd);
  REQUIRE(line.has_value());
  CHECK_THAT(*line, Catch::Contains("\"code\":\"too_large\""));
  CHECK(closedWithin(fd, 5s));
  ::close(fd);
  // The server still serves others.
  CHECK(ask(f.server->path(), "ping")["pong"] == true);
}

TEST_CASE("control socket: a request line just under the limit is answered") {
  ServerFixture f;
  f.start();
  int fd = connectTo(f.server->path());
  REQUIRE(fd >= 0);
  std::string req = R"({"cmd":"ping","params":{"x":")";
  req += std::string(kMaxRequestBytes - req.size() - 3, 'a') + "\"}}\n";
  REQUIRE(req.size() == kMaxRequestBytes + 1);
  REQUIRE(sendAll(fd, req));
  auto line = readLine(fd);
  REQUIRE(line.has_value());
  CHECK_THAT(*line, Catch::Contains("\"pong\":true"));
  ::close(fd);
}

TEST_CASE("control socket: a malformed line gets an error answer and the connection stays") {
  ServerFixture f;
  f.start();
  int fd = connectTo(f.server->path());
  REQUIRE(fd >= 0);
  REQUIRE(sendAll(fd, "not json\n{\"cmd\":\"ping\"}\n"));
  auto first = readLine(fd);
  REQUIRE(first.has_value());
  CHECK_THAT(*first, Catch::Contains("bad_request"));
  auto second = readLine(fd);
  REQUIRE(second.has_value());
  CHECK_THAT(*second, Catch::Contains("pong"));
  ::close(fd);
}

TEST_CASE("control socket: a client that connects and never sends is dropped") {
  ControlServerOptions o;
  o.idle_timeout = 200ms;
  ServerFixture f(o);
  f.start();
  int fd = connectTo(f.server->path());
  REQUIRE(fd >= 0);
  REQUIRE(waitUntil([&] { return f.connections() == 1; }));
  const auto start = std::chrono::steady_clock::now();
  CHECK(closedWithin(fd, 5s));
  CHECK(std::chrono::steady_clock::now() - start >= 150ms);
  ::close(fd);
  CHECK(waitUntil([&] { return f.connections() == 0; }));
}

TEST_CASE("control socket: many clients at once are all answered") {
  ServerFixture f;
  f.start();
  constexpr int kClients = 50;
  std::vector<int> fds;
  for (int i = 0; i < kClients; ++i) {
    fds.push_back(connectTo(f.server->path()));
    REQUIRE(fds.back() >= 0);
  }
  for (int fd : fds) REQUIRE(sendAll(fd, "{\"cmd\":\"ping\"}\n"));
  int answered = 0;
  for (int fd : fds) {
    auto line = readLine(fd);
    if (line && line->find("pong") != std::string::npos) ++answered;
    ::close(fd);
  }
  CHECK(answered == kClients);
}

TEST_CASE("control socket: a slow handler on one connection does not hold up another") {
  ServerFixture f;
  boost::asio::steady_timer slow_timer(f.io);
  f.server->onAsync("slow", [&](const Request&, const Peer&, ControlServer::Reply reply) {
    slow_timer.expires_after(3s);
    slow_timer.async_wait([reply](boost::system::error_code) {
      reply(Answer::success({{"slow", true}}));
    });
  });
  f.start();
  int slow = connectTo(f.server->path());
  REQUIRE(sendAll(slow, "{\"cmd\":\"slow\"}\n"));
  const auto start = std::chrono::steady_clock::now();
  CHECK(ask(f.server->path(), "ping")["pong"] == true);
  CHECK(std::chrono::steady_clock::now() - start < 2s);
  auto line = readLine(slow);
  REQUIRE(line.has_value());
  CHECK_THAT(*line, Catch::Contains("\"slow\":true"));
  ::close(slow);
}

TEST_CASE("control socket: a client that never reads its answers is dropped, others go on") {
  ControlServerOptions o;
  o.idle_timeout = 300ms;
  ServerFixture f(o);
  std::atomic<int> handled{0};
  // 1 MiB answers fill the socket buffer after a few requests.
  f.server->on("big", [&](const Request&, const Peer&) {
    ++handled;
    return Answer::success({{"blob", std::string(1 << 20, 'x')}});
  });
  f.start();
  int fd = connectTo(f.server->path());
  REQUIRE(fd >= 0);
  std::string many;
  for (int i = 0; i < 200; ++i) many += "{\"cmd\":\"big\"}\n";
  // Sending may block once the server stops reading; send what fits.
  ::send(fd, many.data(), many.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  CHECK(waitUntil([&] { return f.connections() == 0; }, 10s));
  // One request at a time per connection: the server never queued answers.
  CHECK(handled.load() < 10);
  CHECK(ask(f.server->path(), "ping")["pong"] == true);
  ::close(fd);
}

TEST_CASE("control socket: connections over the bound are told the agent is busy") {
  ControlServerOptions o;
  o.max_connections = 4;
  ServerFixture f(o);
  f.start();
  std::vector<int> held;
  for (int i = 0; i < 4; ++i) held.push_back(connectTo(f.server->path()));
  REQUIRE(waitUntil([&] { return f.connections() == 4; }));
  int extra = connectTo(f.server->path());
  REQUIRE(extra >= 0);
  auto line = readLine(extra);
  REQUIRE(line.has_value());
  CHECK_THAT(*line, Catch::Contains("\"code\":\"busy\""));
  ::close(extra);
  for (int fd : held) ::close(fd);
  CHECK(waitUntil([&] { return f.connections() == 0; }));
  CHECK(ask(f.server->path(), "ping")["pong"] == true);
}

TEST_CASE("control socket: peers are allowed as root or by primary or supplementary group") {
  CHECK(peerAllowed(Peer{1, 0, 0}, std::nullopt, {}));
  CHECK_FALSE(peerAllowed(Peer{1, 1000, 1000}, std::nullopt, {1000}));
  CHECK(peerAllowed(Peer{1, 1000, 990}, gid_t{990}, {}));
  CHECK(peerAllowed(Peer{1, 1000, 1000}, gid_t{990}, {27, 990}));
  CHECK_FALSE(peerAllowed(Peer{1, 1000, 1000}, gid_t{990}, {27, 100}));
}

TEST_CASE("control client: no socket means not running; a silent agent is a timeout") {
  TempDir dir;
  ControlClient none(dir.file("none.sock"), 1s);
  auto r = none.call(Request{"status", {}});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().kind == ClientError::Kind::NotRunning);

  // A listener that accepts (backlog) but never answers.
  const std::string path = dir.file("mute.sock");
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  path.copy(addr.sun_path, sizeof(addr.sun_path) - 1);
  REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0);
  REQUIRE(::listen(fd, 4) == 0);
  ControlClient mute(path, 300ms);
  const auto start = std::chrono::steady_clock::now();
  auto t = mute.call(Request{"status", {}});
  REQUIRE_FALSE(t.has_value());
  CHECK(t.error().kind == ClientError::Kind::Timeout);
  CHECK(std::chrono::steady_clock::now() - start < 3s);
  ::close(fd);
}
