// Asio's executor comparison trips g++ 12's -Wnull-dereference after inlining
// at -O2 (a false positive inside Boost); silence it for this file.
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "metrics/http/server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <unordered_map>

#include <boost/asio/dispatch.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/steady_timer.hpp>

#include "metrics/http/connection.h"
#include "metrics/http/tls_stream.h"

namespace rampart::metrics::http {
namespace asio = boost::asio;
namespace beast = boost::beast;
using tcp = asio::ip::tcp;

using Session = Connection<TlsStream>;

struct Server::Impl : std::enable_shared_from_this<Server::Impl>, ConnectionHost {
  Impl(asio::io_context& io_, ServerOptions options_, ContextSource contexts_, Handlers handlers)
      : io(io_),
        acceptor(io_),
        retry(io_),
        options(std::move(options_)),
        contexts(std::move(contexts_)),
        request_handler(options.handler, std::move(handlers)) {}

  void accept();
  void onReadable(const beast::error_code& ec);
  void stopOnIo();
  void take(int fd);  // a connection accept4 gave: its session, or closed over the limit

  const Timeouts& timeouts() const override { return options.timeouts; }
  const RequestHandler& handler() const override { return request_handler; }
  void timedOut() override { timeouts_cut.fetch_add(1); }
  void closed(ConnectionBase* c) override {
    sessions.erase(c);
    active.fetch_sub(1);
  }

  asio::io_context& io;
  tcp::acceptor acceptor;
  asio::steady_timer retry;  // after accept fails for lack of fds
  ServerOptions options;
  ContextSource contexts;
  RequestHandler request_handler;
  uint16_t port = 0;
  bool stopped = false;
  std::unordered_map<ConnectionBase*, std::weak_ptr<ConnectionBase>> sessions;  // io thread only
  std::atomic<uint64_t> accepted{0}, refused{0}, timeouts_cut{0}, active{0};
};

void Server::Impl::accept() {
  if (stopped) return;
  acceptor.async_wait(tcp::acceptor::wait_read,
                      [self = shared_from_this()](const beast::error_code& ec) { self->onReadable(ec); });
}

// Connections taken per wakeup of the listening socket. Under load every
// wakeup comes a whole round of busy connections later, so taking one at a
// time would have the last of a burst of new connections (64 scrapers
// reconnecting) wait that many rounds for its accept, past its handshake
// timeout. The bound keeps a flood of new connections from starving the
// established ones in turn.
constexpr int kAcceptsPerWakeup = 64;

void Server::Impl::onReadable(const beast::error_code& ec) {
  if (stopped || ec == asio::error::operation_aborted) return;
  for (int taken = 0; taken < kAcceptsPerWakeup && !stopped; ++taken) {
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
      if (errno == EINTR || errno == ECONNABORTED) continue;
      break;  // EAGAIN: none left
    }
    take(fd);
  }
  accept();
}

void Server::Impl::take(int fd) {
  tcp::socket socket(io);
  beast::error_code assign_ec;
  socket.assign(acceptor.local_endpoint().protocol(), fd, assign_ec);
  if (assign_ec) {
    ::close(fd);
    return;
  }
  accepted.fetch_add(1);
  // Responses are whole; waiting to coalesce them with later bytes (Nagle
  // against the peer's delayed ACK) only adds tens of milliseconds.
  socket.set_option(tcp::no_delay(true), assign_ec);
  std::shared_ptr<tls::ServerContext> ctx = contexts ? contexts() : nullptr;
  if (active.load() >= options.handler.limits.max_connections || !ctx) {
    refused.fetch_add(1);
    return;  // `socket` closes here
  }
  active.fetch_add(1);
  auto session = std::make_shared<Session>(shared_from_this(), std::move(socket), std::move(ctx));
  sessions.emplace(session.get(), session);
  session->start();
}

void Server::Impl::stopOnIo() {
  if (stopped) return;
  stopped = true;
  beast::error_code ignored;
  acceptor.close(ignored);
  retry.cancel();
  std::vector<std::shared_ptr<ConnectionBase>> open;
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
  return ServerStats{impl_->accepted.load(), impl_->refused.load(), impl_->timeouts_cut.load(), impl_->active.load()};
}

}  // namespace rampart::metrics::http
