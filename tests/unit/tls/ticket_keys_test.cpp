#include <catch2/catch.hpp>

#include <atomic>
#include <memory>

#include "tests/unit/http/test_support.h"
#include "tls/files.h"
#include "tls/openssl_ptr.h"
#include "tls/reloader.h"
#include "tls/ticket_keys.h"

using namespace rampart;
using rampart::testing::TempDir;
using rampart::testing::TestServer;
using rampart::testing::slurp;

namespace {

using SessionPtr = std::unique_ptr<SSL_SESSION, tls::Deleter<SSL_SESSION_free>>;

struct Visit {
  bool ok = false;
  bool resumed = false;
  SessionPtr session;  // to offer next time
};

// One TLS connection to 127.0.0.1:port offering `offer` (if any): a GET
// /healthz, then the session the server left us (TLS 1.3 tickets arrive
// after the handshake, so only once a response was read).
Visit visit(uint16_t port, SSL_SESSION* offer, int max_version = 0) {
  Visit v;
  tls::SslCtxPtr ctx(SSL_CTX_new(TLS_client_method()));
  SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
  if (max_version) SSL_CTX_set_max_proto_version(ctx.get(), max_version);
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  tls::SslPtr ssl(SSL_new(ctx.get()));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    SSL_set_fd(ssl.get(), fd);
    if (offer) SSL_set_session(ssl.get(), offer);
    const std::string_view req = "GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n";
    char buf[4096];
    if (SSL_connect(ssl.get()) == 1 && SSL_write(ssl.get(), req.data(), static_cast<int>(req.size())) > 0 &&
        SSL_read(ssl.get(), buf, sizeof buf) > 0) {
      v.ok = true;
      v.resumed = SSL_session_reused(ssl.get()) == 1;
      v.session.reset(SSL_get1_session(ssl.get()));
      SSL_shutdown(ssl.get());
    }
  }
  ssl.reset();
  ::close(fd);
  return v;
}

tls::ServerConfig configFor(const std::string& cert, const std::string& key) {
  tls::ServerConfig c;
  c.cert_file = cert;
  c.key_file = key;
  return c;
}

void replaceIdentity(const TempDir& dir, const std::string& cert, const std::string& key) {
  auto [cert2, key2] = testing::makeSelfSigned(dir, "next", {"next"});
  REQUIRE(tls::writeFileAtomic(key, slurp(key2), 0600));
  REQUIRE(tls::writeFileAtomic(cert, slurp(cert2), 0644));
}

}  // namespace

TEST_CASE("tls tickets: a session from before a certificate reload resumes after it") {
  const int version = GENERATE(0, TLS1_2_VERSION);  // 0: TLS 1.3
  CAPTURE(version);
  TempDir dir;
  auto [cert, key] = testing::makeSelfSigned(dir);
  auto reloader = tls::Reloader::create(configFor(cert, key));
  REQUIRE(reloader);
  auto r = *reloader;
  TestServer server([r] { return r->current(); });

  Visit first = visit(server.port(), nullptr, version);
  REQUIRE(first.ok);
  CHECK_FALSE(first.resumed);
  REQUIRE(first.session);
  REQUIRE(SSL_SESSION_is_resumable(first.session.get()) == 1);

  auto before = r->current();
  replaceIdentity(dir, cert, key);
  auto changed = r->check();
  REQUIRE(changed);
  REQUIRE(*changed);
  REQUIRE(r->current() != before);

  Visit again = visit(server.port(), first.session.get(), version);
  REQUIRE(again.ok);
  CHECK(again.resumed);
}

TEST_CASE("tls tickets: contexts with keys of their own do not open each other's tickets") {
  TempDir dir;
  auto [cert, key] = testing::makeSelfSigned(dir);
  auto a = tls::ServerContext::create(configFor(cert, key));
  auto b = tls::ServerContext::create(configFor(cert, key));
  REQUIRE(a);
  REQUIRE(b);
  std::shared_ptr<tls::ServerContext> ca = *a, cb = *b;
  TestServer server_a([ca] { return ca; });
  TestServer server_b([cb] { return cb; });

  Visit first = visit(server_a.port(), nullptr);
  REQUIRE(first.ok);
  REQUIRE(first.session);
  Visit other = visit(server_b.port(), first.session.get());
  REQUIRE(other.ok);
  CHECK_FALSE(other.resumed);
  // The same ticket at the server that issued it does resume.
  Visit same = visit(server_a.port(), first.session.get());
  REQUIRE(same.ok);
  CHECK(same.resumed);
}

TEST_CASE("tls tickets: a rotated key still opens its tickets; two rotations later they need a full handshake") {
  TempDir dir;
  auto [cert, key] = testing::makeSelfSigned(dir);
  const auto start = tls::TicketKeys::Clock::now();
  auto elapsed = std::make_shared<std::atomic<int>>(0);  // seconds; read on the server's thread
  auto keys = tls::TicketKeys::create(std::chrono::seconds(60),
                                      [start, elapsed] { return start + std::chrono::seconds(elapsed->load()); });
  REQUIRE(keys);
  auto reloader = tls::Reloader::create(configFor(cert, key), {}, *keys);
  REQUIRE(reloader);
  auto r = *reloader;
  REQUIRE(r->ticketKeys() == *keys);
  TestServer server([r] { return r->current(); });

  Visit first = visit(server.port(), nullptr);
  REQUIRE(first.ok);
  REQUIRE(first.session);
  CHECK((*keys)->rotations() == 0);

  elapsed->store(61);  // the first key is due: it rotates out but still opens
  Visit second = visit(server.port(), first.session.get());
  REQUIRE(second.ok);
  CHECK(second.resumed);
  CHECK((*keys)->rotations() == 1);

  elapsed->store(122);  // the second key is due: the first is dropped
  Visit third = visit(server.port(), first.session.get());
  REQUIRE(third.ok);
  CHECK_FALSE(third.resumed);
  CHECK((*keys)->rotations() == 2);
  // A ticket from the second visit (sealed with the second key) still opens.
  REQUIRE(second.session);
  Visit fourth = visit(server.port(), second.session.get());
  REQUIRE(fourth.ok);
  CHECK(fourth.resumed);
}
