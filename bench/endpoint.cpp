// rampart's HTTPS endpoint and collectors without the rest of the agent,
// for bench/tls.sh and bench/scrape.sh: the same metrics::http::Server,
// tls::ServerContext and metrics::Metrics the agent wires together. `plain`
// answers the same RequestHandler over plain HTTP/1.1 (a minimal
// thread-per-connection loop), the baseline for the cost of TLS on
// keep-alive requests.
//
//   bench_endpoint https PORT CERT KEY [COLLECTOR...]   collectors to keep
//   bench_endpoint plain PORT [COLLECTOR...]
//
// Listens on 127.0.0.1 only; stops on SIGTERM or SIGINT.
#include <csignal>
#include <charconv>
#include <memory>
#include <set>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/write.hpp>
#include <fmt/format.h>

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

// One connection: requests answered in order until the client closes.
void plainSession(tcp::socket socket, const http::RequestHandler& handler) {
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    http::Request req;
    beast::http::read(socket, buffer, req, ec);
    if (ec) return;
    http::Response res = handler.handle(req);
    res.keep_alive(req.keep_alive());
    res.prepare_payload();
    beast::http::write(socket, res, ec);
    if (ec || !res.keep_alive()) return;
  }
}

int servePlain(uint16_t port, rampart::metrics::Metrics& metrics) {
  http::HandlerConfig config;
  config.node_name = "bench";
  const http::RequestHandler handler(config, handlers(metrics));
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::signal_set signals(io, SIGTERM, SIGINT);
  stopOnSignal(io, signals);
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      std::thread(plainSession, std::move(socket), std::cref(handler)).detach();
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
