#include "metrics/http/tls_stream.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <climits>

#include <openssl/err.h>
#include <openssl/ssl.h>

namespace rampart::metrics::http {
namespace {

// The BIO between OpenSSL and the connection: reads come from the bytes the
// connection received, writes go to the socket. Created once, never freed
// (every session's BIO uses it).
BIO_METHOD* bioMethod(int (*read)(BIO*, char*, int), int (*write)(BIO*, const char*, int)) {
  static BIO_METHOD* const method = [&] {
    BIO_METHOD* m = BIO_meth_new(BIO_get_new_index() | BIO_TYPE_SOURCE_SINK, "rampart connection");
    if (!m) return m;
    BIO_meth_set_read(m, read);
    BIO_meth_set_write(m, write);
    // Flush: records are sent as they are written. Everything else (kTLS,
    // datagram controls) is not supported: 0.
    BIO_meth_set_ctrl(m, [](BIO*, int cmd, long, void*) -> long { return cmd == BIO_CTRL_FLUSH ? 1 : 0; });
    BIO_meth_set_create(m, [](BIO* b) {
      BIO_set_init(b, 1);
      return 1;
    });
    return m;
  }();
  return method;
}

}  // namespace

TlsStream::TlsStream(int fd, std::shared_ptr<tls::ServerContext> ctx)
    : ctx_(std::move(ctx)), fd_(fd), inbox_(new char[kInboxBytes]) {
  BIO_METHOD* method = bioMethod(bioRead, bioWrite);
  if (method) ssl_.reset(SSL_new(ctx_->native()));
  if (!ssl_) return;
  BIO* bio = BIO_new(method);
  if (!bio) {
    ssl_.reset();  // handshake() then fails the connection
    return;
  }
  BIO_set_data(bio, this);
  SSL_set_bio(ssl_.get(), bio, bio);  // the session owns the BIO (one reference for both directions)
  SSL_set_accept_state(ssl_.get());
  // OpenSSL takes every received byte into its buffer in one BIO read
  // rather than a record header and then its body.
  SSL_set_read_ahead(ssl_.get(), 1);
}

void TlsStream::SslFree::operator()(ssl_st* ssl) const noexcept { SSL_free(ssl); }

int TlsStream::bioRead(BIO* bio, char* out, int size) {
  auto* self = static_cast<TlsStream*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (self->in_.empty()) {
    BIO_set_retry_read(bio);
    return -1;
  }
  const std::size_t n = std::min(self->in_.size(), static_cast<std::size_t>(std::max(size, 0)));
  std::copy_n(self->in_.data(), n, out);
  self->in_ = self->in_.subspan(n);
  return static_cast<int>(n);
}

int TlsStream::bioWrite(BIO* bio, const char* data, int size) {
  auto* self = static_cast<TlsStream*>(BIO_get_data(bio));
  BIO_clear_retry_flags(bio);
  if (self->gathering_) {
    self->outbox_.append(data, static_cast<std::size_t>(std::max(size, 0)));
    return size;
  }
  ssize_t n = ::send(self->fd_, data, static_cast<std::size_t>(std::max(size, 0)), MSG_NOSIGNAL);
  if (n >= 0) return static_cast<int>(n);
  if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) BIO_set_retry_write(bio);
  return -1;
}

bool TlsStream::pending() const { return !in_.empty() || (!starved_ && ssl_ && SSL_has_pending(ssl_.get()) == 1); }

Io TlsStream::fail(int ret) {
  switch (SSL_get_error(ssl_.get(), ret)) {
    case SSL_ERROR_WANT_READ: starved_ = true; return Io::want_read;
    case SSL_ERROR_WANT_WRITE: return Io::want_write;
    case SSL_ERROR_ZERO_RETURN: return Io::closed;
    default:
      // Leave the thread's queue empty: SSL_get_error reads it after the
      // next session's step.
      ERR_clear_error();
      return Io::failed;
  }
}

Io TlsStream::handshake() {
  if (!ssl_) return Io::failed;
  ERR_clear_error();
  int ret = SSL_do_handshake(ssl_.get());
  if (ret == 1) {
    ERR_clear_error();  // whatever a successful handshake queued (a client certificate not verified, ...)
    return Io::done;
  }
  return fail(ret);
}

Io TlsStream::decrypt(boost::beast::flat_buffer& out) {
  bool got = false;
  for (;;) {
    const std::size_t room = std::min<std::size_t>(out.max_size() - out.size(), INT_MAX);
    if (room == 0) return Io::done;  // the rest stays pending until the parser takes some
    auto space = out.prepare(std::min<std::size_t>(room, 16 * 1024));
    std::size_t n = 0;
    if (SSL_read_ex(ssl_.get(), space.data(), space.size(), &n) == 1) {
      out.commit(n);
      got = true;
      // Stop without another call (which would only report want_read) once
      // every received byte has been decrypted and handed over.
      if (!pending()) return Io::done;
      continue;
    }
    Io io = fail(0);
    return got && io != Io::failed ? Io::done : io;
  }
}

Io TlsStream::write(const char* data, std::size_t size, std::size_t& n) {
  n = 0;
  if (outbox_.empty()) {
    // Every record of this write() into the outbox, then one send: the
    // gathering BIO never asks to retry, so OpenSSL takes all of it or fails.
    gathering_ = true;
    std::size_t taken = 0;
    const int ok = SSL_write_ex(ssl_.get(), data, std::min(size, kMaxWrite), &taken);
    gathering_ = false;
    if (ok != 1) {
      outbox_.clear();
      return fail(0);
    }
    outbox_plain_ = taken;
  }
  if (Io io = sendOutbox(); io != Io::done) return io;
  n = outbox_plain_;
  outbox_plain_ = 0;
  outbox_sent_ = 0;
  if (outbox_.capacity() > kKeptOutboxBytes) std::string().swap(outbox_);
  else outbox_.clear();
  return Io::done;
}

Io TlsStream::sendOutbox() {
  while (outbox_sent_ < outbox_.size()) {
    ssize_t w = ::send(fd_, outbox_.data() + outbox_sent_, outbox_.size() - outbox_sent_, MSG_NOSIGNAL);
    if (w >= 0) {
      outbox_sent_ += static_cast<std::size_t>(w);
    } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
      return Io::want_write;
    } else if (errno != EINTR) {
      return Io::failed;
    }
  }
  return Io::done;
}

Io TlsStream::shutdown() {
  int ret = SSL_shutdown(ssl_.get());
  if (ret == 1) return Io::done;
  if (ret == 0) return Io::want_read;  // ours is sent; the peer's is still to come
  return fail(ret);
}

}  // namespace rampart::metrics::http
