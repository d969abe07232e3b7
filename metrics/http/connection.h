// One connection of the HTTP endpoint: the handshake, then requests until
// the client or a deadline ends it. metrics/http/server.cpp runs it over TLS
// (TlsStream, metrics/http/tls_stream.h); bench/endpoint.cpp runs the same
// loop over plain TCP, the baseline for what TLS costs.
//
// The connection reads the socket with Asio's speculative read (one read(2)
// per request, as a plain socket), hands the bytes to the stream, parses
// what comes out with Beast's parser and writes each response with one
// stream write. A Stream provides:
//   Io handshake();                  void recordHandshake(bool ok);
//   std::span<char> inbox(beast::flat_buffer& out);  void received(size_t n);
//   bool pending();                  Io decrypt(beast::flat_buffer& out);
//   Io write(const char*, size_t, size_t& n);   Io shutdown();
//
// Deadlines: one timer per connection. A phase sets its deadline (a clock
// read and a compare); the timer is moved only when the deadline comes
// earlier than where it waits, and when it fires it either cuts the
// connection or waits again for the deadline now in force. So a keep-alive
// request arms no timer.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstddef>
#include <memory>
#include <optional>
#include <span>
#include <string>

#include <boost/asio/buffer.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>

#include "metrics/http/handler.h"
#include "metrics/http/server.h"
#include "metrics/http/tls_stream.h"

namespace rampart::metrics::http {

class ConnectionBase {
 public:
  virtual ~ConnectionBase() = default;
  // Closes the socket: whatever the connection waits for ends.
  virtual void cancel() = 0;
};

// What a connection needs from the server that accepted it. The connection
// holds it (shared) until its last handler has run.
class ConnectionHost {
 public:
  virtual ~ConnectionHost() = default;
  virtual const Timeouts& timeouts() const = 0;
  virtual const RequestHandler& handler() const = 0;
  virtual void timedOut() = 0;                 // a deadline cut a connection
  virtual void closed(ConnectionBase* c) = 0;  // from the connection's destructor
};

template <class Stream>
class Connection : public ConnectionBase, public std::enable_shared_from_this<Connection<Stream>> {
  using Clock = std::chrono::steady_clock;
  using error_code = boost::system::error_code;
  using tcp = boost::asio::ip::tcp;
  using Parser = boost::beast::http::request_parser<boost::beast::http::string_body>;

 public:
  template <class... StreamArgs>
  Connection(std::shared_ptr<ConnectionHost> host, tcp::socket socket, StreamArgs&&... args)
      : host_(std::move(host)),
        timeouts_(host_->timeouts()),
        handler_(host_->handler()),
        socket_(std::move(socket)),
        timer_(socket_.get_executor()),
        stream_(socket_.native_handle(), std::forward<StreamArgs>(args)...) {}
  ~Connection() override { host_->closed(this); }

  void start() {
    setDeadline(timeouts_.handshake);
    handshake();
  }

  void cancel() override {
    error_code ignored;
    socket_.close(ignored);
    timer_.cancel();
  }

 private:
  auto self() { return this->shared_from_this(); }
  const Limits& limits() const { return handler_.config().limits; }

  // ---- deadlines

  void setDeadline(std::chrono::milliseconds d) {
    deadline_ = Clock::now() + d;
    if (!armed_ || deadline_ < timer_.expiry()) arm();
  }

  void arm() {
    armed_ = true;
    timer_.expires_at(deadline_);  // a wait already pending ends with operation_aborted
    timer_.async_wait([self = self()](const error_code& ec) {
      if (ec || !self->socket_.is_open()) return;
      self->armed_ = false;
      if (Clock::now() < self->deadline_) return self->arm();
      self->host_->timedOut();
      self->cancel();
    });
  }

  // ---- handshake

  void handshake() {
    switch (stream_.handshake()) {
      case Io::done:
        stream_.recordHandshake(true);
        return waitForRequest();
      case Io::want_read: return readSocket([](Connection& c) { c.handshake(); }, &Connection::handshakeFailed);
      case Io::want_write: return waitWritable([](Connection& c) { c.handshake(); }, &Connection::handshakeFailed);
      case Io::closed:
      case Io::failed: return handshakeFailed();
    }
  }

  void handshakeFailed() {
    stream_.recordHandshake(false);
    cancel();
  }

  // ---- reading

  // Reads the socket into the stream's inbox; then `next`, or `lost` when
  // the socket ends (EOF, error, cancel).
  template <class Next>
  void readSocket(Next next, void (Connection::*lost)()) {
    auto inbox = stream_.inbox(buffer_);
    socket_.async_read_some(boost::asio::buffer(inbox.data(), inbox.size()),
                            [self = self(), next, lost](const error_code& ec, std::size_t n) {
                              if (ec) return ((*self).*lost)();
                              self->stream_.received(n);
                              next(*self);
                            });
  }

  template <class Next>
  void waitWritable(Next next, void (Connection::*lost)()) {
    socket_.async_wait(tcp::socket::wait_write, [self = self(), next, lost](const error_code& ec) {
      if (ec) return ((*self).*lost)();
      next(*self);
    });
  }

  // Waiting for the first byte of a request is the idle phase (the header
  // deadline for the connection's first request); the rest of the headers
  // is the header phase, the body the body phase.
  void waitForRequest() {
    parser_.reset();
    // A pipelined request: parse it from the io loop, not from inside the
    // previous one's call chain (hundreds in one buffer must not nest).
    if (buffer_.size() > 0 || stream_.pending())
      return boost::asio::post(socket_.get_executor(), [self = self()] { self->parse(); });
    setDeadline(first_ ? timeouts_.header : timeouts_.idle);
    readMore();
  }

  // More request bytes: what the stream still holds, else the socket's.
  void readMore() {
    if (buffer_.size() >= buffer_.max_size()) return onReadError(boost::beast::http::error::buffer_overflow);
    if (stream_.pending()) return decrypted(stream_.decrypt(buffer_));
    readSocket([](Connection& c) { c.decrypted(c.stream_.decrypt(c.buffer_)); }, &Connection::cancel);
  }

  void decrypted(Io io) {
    switch (io) {
      case Io::done: return parse();
      case Io::want_read: return readMore();
      case Io::want_write:
        return waitWritable([](Connection& c) { c.decrypted(c.stream_.decrypt(c.buffer_)); }, &Connection::cancel);
      case Io::closed:
      case Io::failed: return cancel();
    }
  }

  void parse() {
    if (!parser_) {
      if (buffer_.size() == 0) return readMore();
      parser_.emplace();
      parser_->header_limit(static_cast<std::uint32_t>(limits().header_bytes));
      parser_->body_limit(limits().body_bytes);
      parser_->eager(true);
      setDeadline(timeouts_.header);
    }
    const bool had_header = parser_->is_header_done();
    error_code ec;
    while (buffer_.size() > 0 && !parser_->is_done()) {
      std::size_t n = parser_->put(buffer_.data(), ec);
      buffer_.consume(n);
      if (ec == boost::beast::http::error::need_more) {
        ec = {};
        break;
      }
      if (ec) return onReadError(ec);
      if (n == 0) break;
    }
    // A request without a body (every GET) is whole with its header.
    if (parser_->is_done()) return respond();
    if (parser_->is_header_done() && !had_header) setDeadline(timeouts_.body);
    readMore();
  }

  void respond() { write(handler_.handle(parser_->get())); }

  void onReadError(const error_code& ec) {
    namespace bhttp = boost::beast::http;
    drain_ = true;  // the rest of the request is still on its way
    if (ec == bhttp::error::header_limit) return write(RequestHandler::errorResponse(431));
    if (ec == bhttp::error::body_limit) return write(RequestHandler::errorResponse(413));
    write(RequestHandler::errorResponse(400));
  }

  // ---- writing

  // The response goes out as one buffer: one stream write, so the header
  // does not take a TLS record and a TCP segment of its own, and the
  // client gets one segment and one wakeup per response (the TLS stream
  // sends a write's records together).
  void write(const Response& res) {
    keep_alive_ = res.keep_alive();
    wire_.clear();
    appendWire(res, wire_);
    written_ = 0;
    write_deadline_set_ = false;
    writeSome();
  }

  void writeSome() {
    while (written_ < wire_.size()) {
      std::size_t n = 0;
      switch (stream_.write(wire_.data() + written_, wire_.size() - written_, n)) {
        case Io::done: written_ += n; continue;
        case Io::want_write:
          if (!write_deadline_set_) setDeadline(timeouts_.write);
          write_deadline_set_ = true;
          return waitWritable([](Connection& c) { c.writeSome(); }, &Connection::cancel);
        case Io::want_read:
        case Io::closed:
        case Io::failed: return cancel();
      }
    }
    written();
  }

  void written() {
    if (wire_.capacity() > kKeptWireBytes) std::string().swap(wire_);
    if (drain_) return drainThenClose();
    if (!keep_alive_) {
      setDeadline(timeouts_.write);
      return shutdown();
    }
    first_ = false;
    waitForRequest();
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

  // ---- ending

  // Connection: close ends with the stream's goodbye (TLS close_notify),
  // waiting for the peer's within the write deadline and kMaxDrain bytes.
  void shutdown() {
    switch (stream_.shutdown()) {
      case Io::want_read:
        if (stream_.pending()) return shutdown();
        return readSocket(
            [](Connection& c) {
              if (++c.shutdown_reads_ > kMaxDrain / 1024) return c.cancel();
              c.shutdown();
            },
            &Connection::cancel);
      case Io::want_write: return waitWritable([](Connection& c) { c.shutdown(); }, &Connection::cancel);
      case Io::done:
      case Io::closed:
      case Io::failed: return cancel();
    }
  }

  // After refusing a request that was not read to its end, closing at once
  // would make the kernel answer the client's remaining bytes with a reset,
  // which can destroy the refusal before the client reads it. Half-close
  // instead and discard what still arrives (bounded in bytes and time).
  void drainThenClose() {
    error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_send, ignored);
    setDeadline(timeouts_.write);
    drainSome();
  }

  void drainSome() {
    if (!drain_buf_) drain_buf_ = std::make_unique<char[]>(kDrainChunk);
    socket_.async_read_some(boost::asio::buffer(drain_buf_.get(), kDrainChunk),
                            [self = self()](const error_code& ec, std::size_t n) {
                              self->drained_ += n;
                              if (ec || self->drained_ > kMaxDrain) return self->cancel();
                              self->drainSome();
                            });
  }

  std::shared_ptr<ConnectionHost> host_;
  const Timeouts& timeouts_;
  const RequestHandler& handler_;
  tcp::socket socket_;
  boost::asio::steady_timer timer_;
  Clock::time_point deadline_{};
  bool armed_ = false;
  Stream stream_;
  boost::beast::flat_buffer buffer_{limits().header_bytes + limits().body_bytes + 4096};
  std::optional<Parser> parser_;
  std::string wire_;  // the response being written
  std::size_t written_ = 0;
  bool write_deadline_set_ = false;
  bool keep_alive_ = true;
  bool first_ = true;
  bool drain_ = false;
  std::unique_ptr<char[]> drain_buf_;
  std::size_t drained_ = 0;
  std::size_t shutdown_reads_ = 0;
  static constexpr std::size_t kDrainChunk = 16384;
  static constexpr std::size_t kMaxDrain = 1 << 20;
  // A connection keeps its write buffer between responses up to this size.
  static constexpr std::size_t kKeptWireBytes = 256 * 1024;
};

}  // namespace rampart::metrics::http
