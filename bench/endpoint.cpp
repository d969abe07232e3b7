// rampart's HTTPS endpoint and collectors without the rest of the agent,
// for bench/tls.sh and bench/scrape.sh: the same metrics::http::Server,
// tls::ServerContext and metrics::Metrics the agent wires together. `plain`
// answers the same RequestHandler over plain HTTP/1.1 with the endpoint's
// connection loop (PlainSession below: one io thread, the same deadlines,
// buffer and parser), the baseline for the cost of TLS on keep-alive
// requests.
//
//   bench_endpoint https PORT CERT KEY [COLLECTOR...]   collectors to keep
//   bench_endpoint plain PORT [COLLECTOR...]
//
// Listens on 127.0.0.1 only; stops on SIGTERM or SIGINT.
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>

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
#include <boost/asio/write.hpp>
#include <boost/beast/core/buffers_range.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/serializer.hpp>
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

// The plain baseline: the endpoint's connection loop over plain TCP. As in
// metrics/http/server.cpp: one io thread for every connection, a
// beast::tcp_stream deadline per phase (idle, header, body, write), the same
// buffer, parser limits and RequestHandler, no body read for a request that
// has none, the response written as one buffer under TCP_CORK. Only the TLS
// layer is missing, so the two differ by TLS alone.
class PlainSession : public std::enable_shared_from_this<PlainSession> {
 public:
  PlainSession(tcp::socket socket, const http::RequestHandler& handler, const http::Timeouts& timeouts)
      : stream_(std::move(socket)), handler_(handler), timeouts_(timeouts) {}

  void waitForRequest() {
    if (buffer_.size() > 0) return readHeader();
    stream_.expires_after(first_ ? timeouts_.header : timeouts_.idle);
    stream_.async_read_some(buffer_.prepare(4096), [self = shared_from_this()](const beast::error_code& ec, size_t n) {
      if (ec) return self->close();
      self->buffer_.commit(n);
      self->readHeader();
    });
  }

 private:
  void readHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<uint32_t>(limits().header_bytes));
    parser_->body_limit(limits().body_bytes);
    stream_.expires_after(timeouts_.header);
    beast::http::async_read_header(stream_, buffer_, *parser_,
                                   [self = shared_from_this()](const beast::error_code& ec, size_t) {
                                     if (ec) return self->close();
                                     if (self->parser_->is_done()) return self->respond();
                                     self->readBody();
                                   });
  }

  void readBody() {
    stream_.expires_after(timeouts_.body);
    beast::http::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](const beast::error_code& ec, size_t) {
      if (ec) return self->close();
      self->respond();
    });
  }

  void respond() { write(handler_.handle(parser_->get())); }

  // As the endpoint: the whole response as one buffer, under TCP_CORK.
  void write(const http::Response& res) {
    keep_alive_ = res.keep_alive();
    wire_.clear();
    beast::http::serializer<false, beast::http::string_body> sr(res);
    beast::error_code ec;
    while (!ec && !sr.is_done())
      sr.next(ec, [&](beast::error_code&, const auto& buffers) {
        for (auto b : beast::buffers_range_ref(buffers)) wire_.append(static_cast<const char*>(b.data()), b.size());
        sr.consume(beast::buffer_bytes(buffers));
      });
    setCork(true);
    stream_.expires_after(timeouts_.write);
    asio::async_write(stream_, asio::buffer(wire_), [self = shared_from_this()](const beast::error_code& e, size_t) {
      self->setCork(false);
      if (e || !self->keep_alive_) return self->close();
      self->first_ = false;
      self->waitForRequest();
    });
  }

  void setCork(bool on) {
    int value = on ? 1 : 0;
    ::setsockopt(stream_.socket().native_handle(), IPPROTO_TCP, TCP_CORK, &value, sizeof value);
  }

  void close() {
    beast::error_code ignored;
    stream_.socket().shutdown(tcp::socket::shutdown_both, ignored);
    stream_.close();
  }

  const http::Limits& limits() const { return handler_.config().limits; }

  beast::tcp_stream stream_;
  const http::RequestHandler& handler_;
  const http::Timeouts& timeouts_;
  beast::flat_buffer buffer_{limits().header_bytes + limits().body_bytes + 4096};
  std::optional<beast::http::request_parser<beast::http::string_body>> parser_;
  std::string wire_;  // the response being written
  bool keep_alive_ = true;
  bool first_ = true;
};

int servePlain(uint16_t port, rampart::metrics::Metrics& metrics) {
  http::ServerOptions options;
  options.handler.node_name = "bench";
  const http::RequestHandler handler(options.handler, handlers(metrics));
  asio::io_context io;
  tcp::acceptor acceptor(io, tcp::endpoint(asio::ip::make_address("127.0.0.1"), port));
  asio::signal_set signals(io, SIGTERM, SIGINT);
  stopOnSignal(io, signals);
  std::function<void()> accept = [&] {
    acceptor.async_accept([&](const boost::system::error_code& ec, tcp::socket socket) {
      if (ec) return;
      boost::system::error_code ignored;
      socket.set_option(tcp::no_delay(true), ignored);  // as the endpoint does
      std::make_shared<PlainSession>(std::move(socket), handler, options.timeouts)->waitForRequest();
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
