// Asio's executor comparison trips g++ 12's -Wnull-dereference after inlining
// at -O2 (a false positive inside Boost); silence it for this file.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "metrics/http/server.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <optional>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/ssl/ssl_stream.hpp>

namespace rampart::metrics::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;

class Session;

struct Server::Impl : std::enable_shared_from_this<Server::Impl> {
  Impl(asio::io_context& io_, ServerOptions options_, ContextSource contexts_, Handlers handlers)
      : io(io_),
        acceptor(io_),
        retry(io_),
        options(std::move(options_)),
        contexts(std::move(contexts_)),
        handler(options.handler, std::move(handlers)) {}

  void accept();
  void onReadable(const beast::error_code& ec);
  void stopOnIo();

  asio::io_context& io;
  tcp::acceptor acceptor;
  asio::steady_timer retry;  // after accept fails for lack of fds
  ServerOptions options;
  ContextSource contexts;
  RequestHandler handler;
  uint16_t port = 0;
  bool stopped = false;
  std::unordered_map<Session*, std::weak_ptr<Session>> sessions;  // io thread only
  std::atomic<uint64_t> accepted{0}, refused{0}, timeouts{0}, active{0};
};

namespace {

bool isTimeout(const beast::error_code& ec) { return ec == beast::error::timeout; }

}  // namespace

// One connection: handshake, then requests until the client or a deadline
// ends it. Holds the context it was accepted with for its whole life.
class Session : public std::enable_shared_from_this<Session> {
 public:
  Session(std::shared_ptr<Server::Impl> server, tcp::socket socket, std::shared_ptr<tls::ServerContext> ctx)
      : server_(std::move(server)), ctx_(std::move(ctx)), stream_(std::move(socket), ctx_->asio()) {
    server_->active.fetch_add(1);
  }
  ~Session() {
    server_->sessions.erase(this);
    server_->active.fetch_sub(1);
  }

  void start() {
    lowest().expires_after(timeouts().handshake);
    stream_.async_handshake(asio::ssl::stream_base::server,
                            [self = shared_from_this()](const beast::error_code& ec) { self->onHandshake(ec); });
  }

  void cancel() {
    beast::error_code ignored;
    lowest().socket().close(ignored);
  }

 private:
  beast::tcp_stream& lowest() { return beast::get_lowest_layer(stream_); }
  const Timeouts& timeouts() const { return server_->options.timeouts; }
  const Limits& limits() const { return server_->options.handler.limits; }

  void onHandshake(const beast::error_code& ec) {
    ctx_->recordHandshake(!ec);
    if (ec) return end(ec);
    waitForRequest();
  }

  // Waiting for the first byte of a request is the idle phase (the header
  // deadline for the connection's first request); reading the rest of the
  // headers is the header phase.
  void waitForRequest() {
    if (buffer_.size() > 0) return readHeader();
    lowest().expires_after(first_ ? timeouts().header : timeouts().idle);
    stream_.async_read_some(buffer_.prepare(4096),
                            [self = shared_from_this()](const beast::error_code& ec, std::size_t n) {
                              if (ec) return self->end(ec);
                              self->buffer_.commit(n);
                              self->readHeader();
                            });
  }

  void readHeader() {
    parser_.emplace();
    parser_->header_limit(static_cast<std::uint32_t>(limits().header_bytes));
    parser_->body_limit(limits().body_bytes);
    lowest().expires_after(timeouts().header);
    bhttp::async_read_header(stream_, buffer_, *parser_,
                             [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
                               if (ec) return self->onReadError(ec);
                               // A request without a body (every GET) is whole now.
                               if (self->parser_->is_done()) return self->respond();
                               self->readBody();
                             });
  }

  void readBody() {
    lowest().expires_after(timeouts().body);
    bhttp::async_read(stream_, buffer_, *parser_, [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
      if (ec) return self->onReadError(ec);
      self->respond();
    });
  }

  void respond() { write(server_->handler.handle(parser_->get())); }

  void onReadError(const beast::error_code& ec) {
    drain_ = true;  // the rest of the request is still on its way
    if (ec == bhttp::error::header_limit) return write(RequestHandler::errorResponse(431));
    if (ec == bhttp::error::body_limit) return write(RequestHandler::errorResponse(413));
    if (ec.category() == bhttp::make_error_code(bhttp::error::bad_target).category() && ec != bhttp::error::end_of_stream &&
        ec != bhttp::error::partial_message)
      return write(RequestHandler::errorResponse(400));
    end(ec);
  }

  // The response goes out as one buffer: one SSL_write, so the header does
  // not take a TLS record and a TCP segment of its own. TCP_CORK holds the
  // records (a body over 16 KiB is two) until the last is written, so the
  // client gets one segment and one wakeup per response.
  void write(Response res) {
    keep_alive_ = res.keep_alive();
    wire_.clear();
    appendWire(res, wire_);
    setCork(true);
    lowest().expires_after(timeouts().write);
    asio::async_write(stream_, asio::buffer(wire_), [self = shared_from_this()](const beast::error_code& ec, std::size_t) {
      self->setCork(false);
      if (ec) return self->end(ec);
      if (self->wire_.capacity() > kKeptWireBytes) std::string().swap(self->wire_);
      if (self->drain_) return self->drainThenClose();
      if (!self->keep_alive_) return self->shutdown();
      self->first_ = false;
      self->waitForRequest();
    });
  }

  // The bytes Beast's serializer writes for `res` (status line, fields,
  // blank line, body); every response has its Content-Length set.
  static void appendWire(const Response& res, std::string& out) {
    out.reserve(res.body().size() + 256);
    out += "HTTP/";
    out += static_cast<char>('0' + res.version() / 10);
    out += '.';
    out += static_cast<char>('0' + res.version() % 10);
    out += ' ';
    out += std::to_string(res.result_int());
    out += ' ';
    out += res.reason();
    out += "\r\n";
    for (const auto& field : res) {
      out += field.name_string();
      out += ": ";
      out += field.value();
      out += "\r\n";
    }
    out += "\r\n";
    out += res.body();
  }

  void setCork(bool on) {
    int value = on ? 1 : 0;
    ::setsockopt(lowest().socket().native_handle(), IPPROTO_TCP, TCP_CORK, &value, sizeof value);
  }

  void shutdown() {
    lowest().expires_after(timeouts().write);
    stream_.async_shutdown([self = shared_from_this()](const beast::error_code&) { self->cancel(); });
  }

  // After refusing a request that was not read to its end, closing at once
  // would make the kernel answer the client's remaining bytes with a reset,
  // which can destroy the refusal before the client reads it. Half-close
  // instead and discard what still arrives (bounded in bytes and time).
  void drainThenClose() {
    beast::error_code ignored;
    lowest().socket().shutdown(tcp::socket::shutdown_send, ignored);
    lowest().expires_after(timeouts().write);
    drain_buf_ = std::make_shared<std::array<char, 16384>>();
    drainSome();
  }

  void drainSome() {
    lowest().async_read_some(asio::buffer(*drain_buf_),
                             [self = shared_from_this()](const beast::error_code& ec, std::size_t n) {
                               self->drained_ += n;
                               if (ec || self->drained_ > kMaxDrain) return self->cancel();
                               self->drainSome();
                             });
  }

  void end(const beast::error_code& ec) {
    if (isTimeout(ec)) server_->timeouts.fetch_add(1);
    cancel();
  }

  std::shared_ptr<Server::Impl> server_;
  std::shared_ptr<tls::ServerContext> ctx_;
  beast::ssl_stream<beast::tcp_stream> stream_;
  beast::flat_buffer buffer_{limits().header_bytes + limits().body_bytes + 4096};
  std::optional<bhttp::request_parser<bhttp::string_body>> parser_;
  std::string wire_;  // the response being written
  bool keep_alive_ = true;
  bool first_ = true;
  bool drain_ = false;
  std::shared_ptr<std::array<char, 16384>> drain_buf_;
  std::size_t drained_ = 0;
  static constexpr std::size_t kMaxDrain = 1 << 20;
  // A connection keeps its write buffer between responses up to this size.
  static constexpr std::size_t kKeptWireBytes = 256 * 1024;
};

void Server::Impl::accept() {
  if (stopped) return;
  acceptor.async_wait(tcp::acceptor::wait_read,
                      [self = shared_from_this()](const beast::error_code& ec) { self->onReadable(ec); });
}

void Server::Impl::onReadable(const beast::error_code& ec) {
  if (stopped || ec == asio::error::operation_aborted) return;
  // accept4 rather than Asio's accept: the new fd must be O_CLOEXEC from birth.
  int fd = ::accept4(acceptor.native_handle(), nullptr, nullptr, SOCK_CLOEXEC | SOCK_NONBLOCK);
  if (fd < 0) {
    if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
      retry.expires_after(std::chrono::milliseconds(100));  // back off until an fd is freed
      retry.async_wait([self = shared_from_this()](const beast::error_code& e) {
        if (!e) self->accept();
      });
      return;
    }
    return accept();  // EAGAIN, ECONNABORTED, EINTR: the next one
  }
  tcp::socket socket(io);
  beast::error_code assign_ec;
  socket.assign(acceptor.local_endpoint().protocol(), fd, assign_ec);
  if (assign_ec) {
    ::close(fd);
    return accept();
  }
  accepted.fetch_add(1);
  // Responses are whole; waiting to coalesce them with later bytes (Nagle
  // against the peer's delayed ACK) only adds tens of milliseconds.
  socket.set_option(tcp::no_delay(true), assign_ec);
  std::shared_ptr<tls::ServerContext> ctx = contexts ? contexts() : nullptr;
  if (active.load() >= options.handler.limits.max_connections || !ctx) {
    refused.fetch_add(1);
    return accept();  // `socket` closes here
  }
  auto session = std::make_shared<Session>(shared_from_this(), std::move(socket), std::move(ctx));
  sessions.emplace(session.get(), session);
  session->start();
  accept();
}

void Server::Impl::stopOnIo() {
  if (stopped) return;
  stopped = true;
  beast::error_code ignored;
  acceptor.close(ignored);
  retry.cancel();
  std::vector<std::shared_ptr<Session>> open;
  for (auto& [ptr, weak] : sessions)
    if (auto s = weak.lock()) open.push_back(std::move(s));
  for (auto& s : open) s->cancel();
}

Server::Server(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

Server::~Server() { stop(); }

Result<std::unique_ptr<Server>> Server::create(asio::io_context& io, ServerOptions options, ContextSource contexts,
                                               Handlers handlers) {
  beast::error_code ec;
  auto address = asio::ip::make_address(options.host, ec);
  if (ec) return fail("listen address '{}' is not an IP address", options.host);
  tcp::endpoint endpoint(address, options.port);
  const std::string where = fmt::format("{}:{}", options.host, options.port);
  auto impl = std::make_shared<Impl>(io, std::move(options), std::move(contexts), std::move(handlers));
  int fd = ::socket(endpoint.protocol().family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
  if (fd < 0) return std::unexpected(Error::fromErrno(fmt::format("socket for {}", where)));
  impl->acceptor.assign(endpoint.protocol(), fd, ec);
  if (ec) {
    ::close(fd);
    return fail("listen on {}: {}", where, ec.message());
  }
  impl->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (address.is_v6()) impl->acceptor.set_option(asio::ip::v6_only(false), ec);
  impl->acceptor.bind(endpoint, ec);
  if (!ec) impl->acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return fail("listen on {}: {}", where, ec.message());
  impl->port = impl->acceptor.local_endpoint().port();
  asio::dispatch(io, [impl] { impl->accept(); });
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

uint16_t Server::port() const { return impl_->port; }

void Server::stop() {
  asio::dispatch(impl_->io, [impl = impl_] { impl->stopOnIo(); });
}

ServerStats Server::stats() const {
  return ServerStats{impl_->accepted.load(), impl_->refused.load(), impl_->timeouts.load(), impl_->active.load()};
}

}  // namespace rampart::metrics::http
