// rampart's HTTPS endpoint and collectors without the rest of the agent,
// for bench/tls.sh and bench/scrape.sh: the same metrics::http::Server,
// tls::ServerContext and metrics::Metrics the agent wires together. `plain`
// answers the same RequestHandler over plain HTTP/1.1 with the endpoint's
// own connection loop (metrics/http/connection.h over PlainStream below),
// the baseline for the cost of TLS on keep-alive requests.
//
//   bench_endpoint https PORT CERT KEY [COLLECTOR...]   collectors to keep
//   bench_endpoint plain PORT [COLLECTOR...]
//
// Listens on 127.0.0.1 only; stops on SIGTERM or SIGINT.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <csignal>
#include <charconv>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <fmt/format.h>

#include "metrics/http/connection.h"
#include "metrics/http/handler.h"
#include "metrics/http/server.h"
#include "metrics/metrics.h"
#include "tls/server_config.h"
#include "tls/server_context.h"

namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = rampart::metrics::http;
using tcp = asio::ip::tcp;

// Metrics with only `keep` enabled (all when empty).
std::unique_ptr<rampart::metrics::Metrics> makeMetrics(const std::set<std::string>& keep) {
  rampart::metrics::Options options;
  options.node_name = "bench";
  options.node_role = "bench";
  if (!keep.empty())
    for (auto name : rampart::metrics::collectorNames())
      if (!keep.contains(std::string(name))) options.disabled.insert(std::string(name));
  auto m = rampart::metrics::Metrics::create(std::move(options));
  if (!m) {
    fmt::print(stderr, "bench_endpoint: metrics: {}\n", m.error().message);
    return nullptr;
  }
  return std::move(*m);
}

http::Handlers handlers(rampart::metrics::Metrics& metrics) {
  http::Handlers h;
  h.metrics = [&metrics] { return http::MetricsBody{metrics.scrape()}; };
  h.healthy = [] { return true; };
  return h;
}

void stopOnSignal(asio::io_context& io, asio::signal_set& signals) {
  signals.async_wait([&io](const boost::system::error_code&, int) { io.stop(); });
}

int serveHttps(uint16_t port, const std::string& cert, const std::string& key,
               rampart::metrics::Metrics& metrics) {
  rampart::tls::ServerConfig config;
  config.cert_file = cert;
  config.key_file = key;
  auto ctx = rampart::tls::ServerContext::create(config);
  if (!ctx) {
    fmt::print(stderr, "bench_endpoint: {}\n", ctx.error().message);
    return 1;
  }
  asio::io_context io;
  http::ServerOptions options;
  options.host = "127.0.0.1";
  options.port = port;
  options.handler.node_name = "bench";
  std::shared_ptr<rampart::tls::ServerContext> context = *ctx;
  auto server = http::Server::create(io, options, [context] { return context; }, handlers(metrics));
  if (!server) {
    fmt::print(stderr, "bench_endpoint: {}\n", server.error().message);
    return 1;
  }
  asio::signal_set signals(io, SIGTERM, SIGINT);
  stopOnSignal(io, signals);
  io.run();
  return 0;
}

// The plain baseline: the endpoint's own connection loop
// (metrics/http/connection.h: one io thread for every connection, the same
// deadlines, buffer, parser limits and RequestHandler, the response written
// as one buffer under TCP_CORK) over a stream that passes bytes through.
// Only the TLS layer is missing, so the two differ by TLS alone.
class PlainStream {
 public:
  explicit PlainStream(int fd) : fd_(fd) {}
  http::Io handshake() { return http::Io::done; }
  void recordHandshake(bool) const {}
  // The socket reads straight into the request buffer.
  std::span<char> inbox(beast::flat_buffer& out) {
    auto space = out.prepare(std::min<size_t>(out.max_size() - out.size(), 16 * 1024));
    return {static_cast<char*>(space.data()), space.size()};
  }
  void received(size_t n) { received_ = n; }
  bool pending() const { return false; }
  http::Io decrypt(beast::flat_buffer& out) {
    out.commit(received_);
    received_ = 0;
    return http::Io::done;
  }
  http::Io write(const char* data, size_t size, size_t& n) {
    ssize_t r = ::send(fd_, data, size, MSG_NOSIGNAL);
    n = r > 0 ? static_cast<size_t>(r) : 0;
    if (r >= 0) return http::Io::done;
    return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? http::Io::want_write : http::Io::failed;
  }
  http::Io shutdown() { return http::Io::done; }

 private:
  int fd_;
  size_t received_ = 0;
};

struct PlainHost : http::ConnectionHost {
  PlainHost(const http::ServerOptions& o, http::Handlers h) : options(o), request_handler(o.handler, std::move(h)) {}
  const http::Timeouts& timeouts() const override { return options.timeouts; }
  const http::RequestHandler& handler() const override { return request_handler; }
  void timedOut() override {}
  void closed(http::ConnectionBase*) override {}
  http::ServerOptions options;
  http::RequestHandler request_handler;
};

int servePlain(uint16_t port, rampart::metrics::Metrics& metrics) {
  http::ServerOptions options;
  options.handler.node_name = "bench";
  auto host = std::make_shared<PlainHost>(options, handlers(metrics));
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::signal_set signals(io, SIGTERM, SIGINT);
  stopOnSignal(io, signals);
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // as the endpoint does
      socket.non_blocking(true, ignored);
      std::make_shared<http::Connection<PlainStream>>(host, std::move(socket))->start();
      accept();
    });
  };
  accept();
  io.run();
  return 0;
}

std::optional<uint16_t> parsePort(std::string_view text) {
  unsigned v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size() || v == 0 || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  const bool https = !a.empty() && a[0] == "https";
  const bool plain = !a.empty() && a[0] == "plain";
  const size_t fixed = https ? 4 : 2;
  std::optional<uint16_t> port = a.size() >= 2 ? parsePort(a[1]) : std::nullopt;
  if ((!https && !plain) || a.size() < fixed || !port) {
    fmt::print(stderr, "usage: bench_endpoint https PORT CERT KEY [COLLECTOR...] | plain PORT [COLLECTOR...]\n");
    return 2;
  }
  std::signal(SIGPIPE, SIG_IGN);
  const std::set<std::string> keep(a.begin() + static_cast<std::ptrdiff_t>(fixed), a.end());
  auto metrics = makeMetrics(keep);
  if (!metrics) return 1;
  return https ? serveHttps(*port, a[2], a[3], *metrics) : servePlain(*port, *metrics);
}
