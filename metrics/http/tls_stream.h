// TLS for one connection of the HTTPS endpoint, driven step by step by
// metrics/http/connection.h: OpenSSL reads the bytes the connection received
// from its socket (feed), and the records of one write() go to the socket in
// one send(2). A keep-alive request costs the socket's own reads and one
// send, also when its response takes several records: no BIO pair between
// OpenSSL and the socket, no state machine of asynchronous steps per record,
// no TCP_CORK around a response.
#pragma once

#include <cstddef>
#include <memory>
#include <span>
#include <string>

#include <boost/beast/core/flat_buffer.hpp>

#include "tls/server_context.h"

struct ssl_st;
struct bio_st;

namespace rampart::metrics::http {

// What one non-blocking step did.
enum class Io {
  done,        // progress: bytes moved, or the step is complete
  want_read,   // needs bytes from the peer first
  want_write,  // the socket's send buffer is full
  closed,      // the peer ended the session (close_notify)
  failed,      // a TLS or socket error: the connection is over
};

class TlsStream {
 public:
  // A server session on the connected non-blocking socket `fd` with `ctx`'s
  // settings; the stream keeps `ctx` for its whole life (a reload does not
  // change an open connection).
  TlsStream(int fd, std::shared_ptr<tls::ServerContext> ctx);
  TlsStream(const TlsStream&) = delete;
  TlsStream& operator=(const TlsStream&) = delete;

  Io handshake();
  void recordHandshake(bool ok) const { ctx_->recordHandshake(ok); }

  // Where the connection reads socket bytes to (the plaintext buffer is for
  // streams that need no decryption); then received(n).
  std::span<char> inbox(boost::beast::flat_buffer&) { return {inbox_.get(), kInboxBytes}; }
  // The first n bytes of inbox() arrived: OpenSSL reads them on the next
  // steps. They must all be taken (pending() false) before the next read
  // from the socket into inbox().
  void received(std::size_t n) {
    in_ = {inbox_.get(), n};
    starved_ = false;
  }
  // decrypt() could make progress without more bytes from the socket:
  // received bytes OpenSSL has not taken, or records it holds (unless all
  // it holds is part of one, as when it last asked for more).
  bool pending() const;
  // Decrypts what was received into `out` (up to its max_size): done when
  // some plaintext was added; want_read when a whole record is still to come.
  Io decrypt(boost::beast::flat_buffer& out);

  // Writes from `data` (up to 64 KiB a call) and sets `n` to the
  // bytes taken, done once their records are all sent. After want_write the
  // next call must pass the same bytes again: it first sends the rest of
  // the records already made of them.
  Io write(const char* data, std::size_t size, std::size_t& n);
  // Sends close_notify (done once the peer's has been read too; want_read
  // while it is still to come).
  Io shutdown();

 private:
  static int bioRead(bio_st* bio, char* out, int size);
  static int bioWrite(bio_st* bio, const char* data, int size);
  Io fail(int ret);
  Io sendOutbox();

  // SSL_free, for the session this stream owns (OpenSSL's header stays in
  // the .cpp).
  struct SslFree {
    void operator()(ssl_st* ssl) const noexcept;
  };

  static constexpr std::size_t kInboxBytes = 16 * 1024;
  static constexpr std::size_t kMaxWrite = 64 * 1024;  // 4 records
  static constexpr std::size_t kKeptOutboxBytes = 32 * 1024;
  std::shared_ptr<tls::ServerContext> ctx_;
  int fd_;
  std::unique_ptr<ssl_st, SslFree> ssl_;
  std::unique_ptr<char[]> inbox_;
  std::span<const char> in_;  // received and not yet taken by OpenSSL
  bool starved_ = false;      // OpenSSL asked for bytes since the last received()
  // The records of one write(), sent together; while gathering, OpenSSL's
  // writes land here instead of the socket.
  std::string outbox_;
  std::size_t outbox_sent_ = 0;
  std::size_t outbox_plain_ = 0;  // the plaintext bytes those records carry
  bool gathering_ = false;
};

}  // namespace rampart::metrics::http
