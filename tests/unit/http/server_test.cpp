#include <catch2/catch.hpp>

#include <poll.h>
#include <signal.h>

#include <fstream>
#include <thread>

#include <fmt/format.h>

#include "tests/unit/http/test_support.h"
#include "tls/files.h"

using namespace rampart;
using namespace rampart::testing;
using Ms = std::chrono::milliseconds;

namespace {

struct IgnoreSigpipe {
  IgnoreSigpipe() { ::signal(SIGPIPE, SIG_IGN); }
} ignore_sigpipe;

struct Node {
  TempDir dir;
  std::string cert, key;
  std::shared_ptr<tls::Reloader> reloader;
  explicit Node(tls::ServerConfig config = {}) {
    std::tie(cert, key) = makeSelfSigned(dir);
    config.cert_file = cert;
    config.key_file = key;
    auto r = tls::Reloader::create(config);
    if (!r) throw std::runtime_error(r.error().message);
    reloader = *r;
  }
  metrics::http::ContextSource source() const {
    return [r = reloader] { return r->current(); };
  }
};

ClientOptions trusting(const Node& node) {
  ClientOptions o;
  o.ca_file = node.cert;
  return o;
}

}  // namespace

TEST_CASE("https: TLS 1.3 and 1.2 succeed, 1.1 is refused, and handshakes are counted") {
  Node node;
  TestServer server(node.source());
  auto o = trusting(node);

  o.min_version = o.max_version = TLS1_3_VERSION;
  auto v13 = TlsClient::connect(server.port(), o);
  REQUIRE(v13);
  CHECK(v13->version() == TLS1_3_VERSION);
  CHECK(v13->verified());
  CHECK(statusOf(v13->get("/healthz")) == 200);

  o.min_version = o.max_version = TLS1_2_VERSION;
  auto v12 = TlsClient::connect(server.port(), o);
  REQUIRE(v12);
  CHECK(v12->version() == TLS1_2_VERSION);
  CHECK(statusOf(v12->get("/metrics")) == 200);

  o.min_version = TLS1_VERSION;
  o.max_version = TLS1_1_VERSION;
  std::string error;
  CHECK_FALSE(TlsClient::connect(server.port(), o, &error));
  CHECK_THAT(error, Catch::Contains("handshake failed"));

  // The server counts the refusal when it sees the failed handshake; wait for
  // it with a deadline rather than a fixed sleep.
  const auto& counters = node.reloader->handshakes();
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (counters.failure.load() < 1 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  CHECK(counters.success.load() == 2);
  CHECK(counters.failure.load() == 1);
}

TEST_CASE("https: keep-alive serves several requests on one connection") {
  Node node;
  TestServer server(node.source());
  auto c = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(c);
  for (int i = 0; i < 5; ++i) CHECK(statusOf(c->get("/healthz")) == 200);
  auto res = c->get("/");
  CHECK(statusOf(res) == 200);
  CHECK_THAT(res, Catch::Contains("test-node"));
}

TEST_CASE("https: mTLS refuses no client cert and a cert from another CA, accepts a CA-signed one") {
  TempDir pki;
  REQUIRE(tls::initCa(pki / "fleet"));
  REQUIRE(tls::initCa(pki / "rogue"));
  tls::CertSpec spec;
  spec.hosts = {"prometheus"};
  spec.client_auth = true;
  auto good = tls::signNode(pki / "fleet", spec, pki / "good");
  auto bad = tls::signNode(pki / "rogue", spec, pki / "bad");
  REQUIRE(good);
  REQUIRE(bad);

  tls::ServerConfig config;
  config.client_auth = tls::ClientAuth::RequireAndVerifyClientCert;
  config.client_ca_file = pki / "fleet/ca.pem";
  Node node(config);
  TestServer server(node.source());

  for (int version : {TLS1_2_VERSION, TLS1_3_VERSION}) {
    INFO("version " << version);
    auto o = trusting(node);
    o.min_version = o.max_version = version;
    // TLS 1.3 clients learn of the refusal on their first read.
    auto none = TlsClient::connect(server.port(), o);
    CHECK((!none || statusOf(none->get("/healthz")) == 0));

    o.cert_file = bad->cert_path;
    o.key_file = bad->key_path;
    auto rogue = TlsClient::connect(server.port(), o);
    CHECK((!rogue || statusOf(rogue->get("/healthz")) == 0));

    o.cert_file = good->cert_path;
    o.key_file = good->key_path;
    auto ok = TlsClient::connect(server.port(), o);
    REQUIRE(ok);
    CHECK(statusOf(ok->get("/healthz")) == 200);
  }
}

TEST_CASE("https: RequestClientCert asks for but does not need a certificate") {
  tls::ServerConfig config;
  config.client_auth = tls::ClientAuth::RequestClientCert;
  Node node(config);
  TestServer server(node.source());
  auto c = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(c);
  CHECK(statusOf(c->get("/healthz")) == 200);
}

TEST_CASE("https: a wrong basic-auth password is 401") {
  Node node;
  auto options = TestServer::fastOptions();
  crypt_data data{};
  options.handler.basic_auth_users = {{"prometheus", crypt_r("s3cret", "$2b$04$abcdefghijklmnopqrstuu", &data)}};
  TestServer server(node.source(), options);
  auto c = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(c);
  auto wrong = c->get("/metrics", "Authorization: Basic cHJvbWV0aGV1czp3cm9uZw==\r\n");
  CHECK(statusOf(wrong) == 401);
  CHECK_THAT(wrong, Catch::Contains("WWW-Authenticate: Basic"));
  CHECK(statusOf(c->get("/metrics", "Authorization: Basic cHJvbWV0aGV1czpzM2NyZXQ=\r\n")) == 200);
}

TEST_CASE("https: a slowloris client is cut at the header deadline while another client is served") {
  Node node;
  auto options = TestServer::fastOptions();
  options.timeouts.header = Ms(1000);
  TestServer server(node.source(), options);
  auto slow = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(slow);
  const std::string request = "GET /healthz HTTP/1.1\r\nHost: localhost\r\nX-Padding: " + std::string(40, 'p') +
                              "\r\n\r\n";
  auto start = std::chrono::steady_clock::now();
  bool closed = false;
  bool other_served = false;
  std::size_t sent = 0;
  // One byte, then wait up to 200 ms for the server to hang up. The pauses are
  // the attack itself; the loop ends on the event (the hang-up).
  for (; sent < request.size() && !closed; ++sent) {
    if (!slow->send(request.substr(sent, 1))) {
      closed = true;
      break;
    }
    if (sent == 2) {
      std::string error;
      auto other = TlsClient::connect(server.port(), trusting(node), &error);
      INFO(error);
      REQUIRE(other);
      auto res = other->get("/healthz");
      INFO(res);
      other_served = statusOf(res) == 200;
      CHECK(other_served);
    }
    pollfd p{slow->fd(), POLLIN, 0};
    if (::poll(&p, 1, 200) > 0) closed = slow->closedNow();
  }
  auto elapsed = std::chrono::steady_clock::now() - start;
  CHECK(other_served);
  CHECK(closed);
  CHECK(sent < request.size());
  CHECK(elapsed >= Ms(900));
  CHECK(elapsed < Ms(3000));
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.server->stats().timeouts < 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  CHECK(server.server->stats().timeouts == 1);
}

TEST_CASE("https: a 100 KiB header is refused with 431 and never served") {
  Node node;
  TestServer server(node.source());
  auto c = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(c);
  c->send("GET /metrics HTTP/1.1\r\nHost: localhost\r\nX-Big: " + std::string(100 * 1024, 'a') + "\r\n\r\n");
  auto res = c->readResponse();
  CHECK(statusOf(res) == 431);
  CHECK(c->waitClosed());
}

TEST_CASE("https: the connection limit closes connections over it") {
  Node node;
  auto options = TestServer::fastOptions();
  options.handler.limits.max_connections = 2;
  TestServer server(node.source(), options);
  auto a = TlsClient::connect(server.port(), trusting(node));
  auto b = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(a);
  REQUIRE(b);
  auto c = TlsClient::connect(server.port(), trusting(node));
  CHECK((!c || statusOf(c->get("/healthz")) == 0));
  CHECK(statusOf(a->get("/healthz")) == 200);
  CHECK(server.server->stats().refused_over_limit == 1);
  a.reset();
  // The slot frees when the server sees the close; wait for it with a deadline.
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.server->stats().active > 1 && std::chrono::steady_clock::now() < deadline) std::this_thread::yield();
  auto d = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(d);
  CHECK(statusOf(d->get("/healthz")) == 200);
}

TEST_CASE("https: reload under an open keep-alive connection: old connection still answers, new one sees the new certificate") {
  Node node;
  TestServer server(node.source());
  ClientOptions any;  // no verification: the certificate changes under the test
  auto old_conn = TlsClient::connect(server.port(), any);
  REQUIRE(old_conn);
  CHECK(statusOf(old_conn->get("/healthz")) == 200);
  const std::string old_fp = old_conn->peerFingerprint();
  CHECK(old_fp == node.reloader->current()->identity().fingerprint());

  auto [cert2, key2] = makeSelfSigned(node.dir, "next", {"localhost"});
  REQUIRE(tls::writeFileAtomic(node.key, slurp(key2), 0600));
  REQUIRE(tls::writeFileAtomic(node.cert, slurp(cert2), 0644));
  auto reloaded = node.reloader->check();
  REQUIRE(reloaded);
  REQUIRE(*reloaded);

  CHECK(statusOf(old_conn->get("/healthz")) == 200);
  CHECK(old_conn->peerFingerprint() == old_fp);
  auto new_conn = TlsClient::connect(server.port(), any);
  REQUIRE(new_conn);
  CHECK(new_conn->peerFingerprint() != old_fp);
  CHECK(new_conn->peerFingerprint() == node.reloader->current()->identity().fingerprint());
  CHECK(statusOf(new_conn->get("/healthz")) == 200);
}

TEST_CASE("https: a half-written or garbage certificate file leaves the old identity serving") {
  Node node;
  TestServer server(node.source());
  const std::string pem = slurp(node.cert);
  const std::string fp = node.reloader->current()->identity().fingerprint();
  ClientOptions trust;  // a copy: the served file is about to be spoiled
  trust.ca_file = node.dir / "trust.pem";
  std::ofstream(trust.ca_file) << pem;

  std::ofstream(node.cert, std::ios::trunc) << pem.substr(0, pem.size() / 2);
  CHECK_FALSE(node.reloader->check());
  auto c1 = TlsClient::connect(server.port(), trust);
  REQUIRE(c1);
  CHECK(c1->peerFingerprint() == fp);
  CHECK(statusOf(c1->get("/healthz")) == 200);

  std::ofstream(node.cert, std::ios::trunc) << "\x01\x02 garbage";
  CHECK_FALSE(node.reloader->check());
  auto c2 = TlsClient::connect(server.port(), trust);
  REQUIRE(c2);
  CHECK(c2->peerFingerprint() == fp);
  CHECK(node.reloader->failures() == 2);
}

TEST_CASE("https: curl speaks to the endpoint with gzip") {
  Node node;
  metrics::http::Handlers handlers{[] { return metrics::http::MetricsBody{std::string(5000, 'x') + "\n"}; },
                                   [] { return true; }};
  TestServer server(node.source(), TestServer::fastOptions(), handlers);
  std::string cmd = fmt::format(
      "curl -sS --max-time 5 --compressed --cacert {} -o /dev/null -w '%{{http_code}} %{{size_download}}' "
      "https://localhost:{}/metrics",
      node.cert, server.port());
  FILE* p = ::popen(cmd.c_str(), "r");
  REQUIRE(p);
  char buf[128] = {};
  std::size_t n = std::fread(buf, 1, sizeof buf - 1, p);
  ::pclose(p);
  std::string out(buf, n);
  CHECK_THAT(out, Catch::StartsWith("200 "));
  // size_download is the compressed size: 5001 bytes of 'x' shrink a lot.
  CHECK(std::stoul(out.substr(4)) < 200);
}

namespace {

// Waits (with a deadline) until the server has no open connection.
bool allClosed(const TestServer& server) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (server.server->stats().active > 0 && std::chrono::steady_clock::now() < deadline)
    std::this_thread::yield();
  return server.server->stats().active == 0;
}

}  // namespace

TEST_CASE("https: two requests in one TLS record get two responses, in order") {
  Node node;
  TestServer server(node.source());
  auto c = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(c);
  REQUIRE(c->send("GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\nGET /nope HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  CHECK(statusOf(c->readResponse()) == 200);
  CHECK(statusOf(c->readResponse()) == 404);
  CHECK(statusOf(c->get("/healthz")) == 200);
}

TEST_CASE("https: a request split across TLS records and a body larger than one record are read whole") {
  Node node;
  metrics::http::Handlers handlers{[] { return metrics::http::MetricsBody{std::string(40'000, 'm') + "\n"}; },
                                   [] { return true; }};
  TestServer server(node.source(), TestServer::fastOptions(), handlers);
  auto c = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(c);
  const std::string request = "GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n";
  for (std::size_t at = 0; at < request.size(); at += 7) REQUIRE(c->send(request.substr(at, 7)));
  auto res = c->readResponse();
  CHECK(statusOf(res) == 200);
  CHECK_THAT(res, Catch::EndsWith(std::string(40'000, 'm') + "\n"));
  // A POST body in several records: read to its end, then answered (405).
  REQUIRE(c->send("POST /metrics HTTP/1.1\r\nHost: localhost\r\nContent-Length: 10\r\n\r\n12345"));
  REQUIRE(c->send("67890"));
  CHECK(statusOf(c->readResponse()) == 405);
  CHECK(statusOf(c->get("/healthz")) == 200);
}

TEST_CASE("https: a response larger than the socket buffers goes out whole and in order to a reader that starts late") {
  // 12 MB: more than loopback's send and receive buffers hold together, so
  // the server's sends stop with EAGAIN part way through a write's records
  // and go on when the client reads.
  std::string body;
  for (int i = 0; body.size() < 12'000'000; ++i) body += fmt::format("line {}\n", i);
  Node node;
  metrics::http::Handlers handlers{[&body] { return metrics::http::MetricsBody{body}; }, [] { return true; }};
  TestServer server(node.source(), TestServer::fastOptions(), handlers);
  auto c = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(c);
  REQUIRE(c->send("GET /metrics HTTP/1.1\r\nHost: localhost\r\n\r\n"));
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  auto res = c->readResponse();
  CHECK(statusOf(res) == 200);
  REQUIRE(res.size() > body.size());
  CHECK(res.compare(res.size() - body.size(), body.size(), body) == 0);
  // The connection goes on after it.
  CHECK(statusOf(c->get("/healthz")) == 200);
}

TEST_CASE("https: Connection: close gets its response, then close_notify") {
  Node node;
  TestServer server(node.source());
  auto c = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(c);
  CHECK(statusOf(c->get("/healthz", "Connection: close\r\n")) == 200);
  CHECK(c->waitClosed());
  CHECK(allClosed(server));
}

TEST_CASE("https: a peer that closes in the middle of a TLS record ends its session, others are served") {
  Node node;
  TestServer server(node.source());
  auto c = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(c);
  REQUIRE(statusOf(c->get("/healthz")) == 200);
  // The header of an application-data record of 64 bytes, and 10 of them.
  const char partial[] = "\x17\x03\x03\x00\x40" "0123456789";
  REQUIRE(::send(c->fd(), partial, sizeof partial - 1, MSG_NOSIGNAL) == static_cast<ssize_t>(sizeof partial - 1));
  auto other = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(other);
  CHECK(statusOf(other->get("/healthz")) == 200);
  other.reset();
  ::shutdown(c->fd(), SHUT_WR);
  CHECK(allClosed(server));
  CHECK(server.server->stats().timeouts == 0);
}

TEST_CASE("https: a keep-alive connection is cut at the idle deadline, not before, and counted") {
  Node node;
  auto options = TestServer::fastOptions();
  options.timeouts.idle = Ms(400);
  TestServer server(node.source(), options);
  auto c = TlsClient::connect(server.port(), trusting(node));
  REQUIRE(c);
  // Each request moves the deadline: five requests 150 ms apart outlive one
  // idle period.
  auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < 5; ++i) {
    REQUIRE(statusOf(c->get("/healthz")) == 200);
    pollfd p{c->fd(), POLLIN, 0};
    CHECK(::poll(&p, 1, 150) == 0);
  }
  CHECK(std::chrono::steady_clock::now() - start >= Ms(700));
  auto idle_from = std::chrono::steady_clock::now();
  CHECK(c->waitClosed());
  auto idle = std::chrono::steady_clock::now() - idle_from;
  CHECK(idle >= Ms(200));
  CHECK(idle < Ms(2000));
  CHECK(allClosed(server));
  CHECK(server.server->stats().timeouts == 1);
}
