// Test helpers for TLS and the HTTPS endpoint: temporary directories, a
// blocking OpenSSL client with deadlines, and a server on its own thread.
#pragma once

#include <arpa/inet.h>
#include <fcntl.h>
#include <crypt.h>
#include <netinet/in.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <charconv>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include "metrics/http/server.h"
#include "tls/ca.h"
#include "tls/files.h"
#include "tls/generate.h"
#include "tls/reloader.h"

namespace rampart::testing {

struct TempDir {
  std::filesystem::path path;
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "rampart-tls-XXXXXX").string();
    path = ::mkdtemp(tmpl.data());
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string operator/(const std::string& name) const { return (path / name).string(); }
};

inline std::string slurp(const std::string& path) {
  auto f = tls::readSmallFile(path);
  return f ? f->bytes : std::string{};
}

// A self-signed node identity in `dir`: returns {cert, key}.
inline std::pair<std::string, std::string> makeSelfSigned(const TempDir& dir, const std::string& name = "node",
                                                          std::vector<std::string> hosts = {"localhost",
                                                                                            "127.0.0.1"}) {
  std::string cert = dir / (name + ".pem"), key = dir / (name + "-key.pem");
  tls::CertSpec spec;
  spec.hosts = std::move(hosts);
  auto r = tls::generateSelfSigned(spec, cert, key);
  if (!r) throw std::runtime_error(r.error().message);
  return {cert, key};
}

struct ClientOptions {
  int min_version = 0;  // TLS1_2_VERSION etc.; 0: OpenSSL's default
  int max_version = 0;
  std::string ca_file;    // verify the server against it when set
  std::string cert_file;  // client certificate
  std::string key_file;
  std::chrono::milliseconds timeout{5000};
};

// A blocking TLS client over loopback; every read and write has a deadline
// (SO_RCVTIMEO/SO_SNDTIMEO), so a test never hangs.
class TlsClient {
 public:
  ~TlsClient() {
    if (ssl_) SSL_free(ssl_);
    if (ctx_) SSL_CTX_free(ctx_);
    if (fd_ >= 0) ::close(fd_);
  }
  TlsClient(const TlsClient&) = delete;

  // Connects and completes the handshake. The error names what failed.
  static std::unique_ptr<TlsClient> connect(uint16_t port, const ClientOptions& o, std::string* error = nullptr) {
    std::unique_ptr<TlsClient> c(new TlsClient());
    if (!c->tcpConnect(port, o.timeout)) return c->failWith(error, "connect failed");
    c->ctx_ = SSL_CTX_new(TLS_client_method());
    // Debian's openssl.cnf sets a floor of TLS 1.2 at SECLEVEL 2; the tests
    // that offer older versions must be able to.
    SSL_CTX_set_security_level(c->ctx_, 0);
    if (o.min_version) SSL_CTX_set_min_proto_version(c->ctx_, o.min_version);
    if (o.max_version) SSL_CTX_set_max_proto_version(c->ctx_, o.max_version);
    if (!o.ca_file.empty()) {
      SSL_CTX_load_verify_locations(c->ctx_, o.ca_file.c_str(), nullptr);
      SSL_CTX_set_verify(c->ctx_, SSL_VERIFY_PEER, nullptr);
    }
    if (!o.cert_file.empty()) {
      SSL_CTX_use_certificate_chain_file(c->ctx_, o.cert_file.c_str());
      SSL_CTX_use_PrivateKey_file(c->ctx_, o.key_file.c_str(), SSL_FILETYPE_PEM);
    }
    c->ssl_ = SSL_new(c->ctx_);
    SSL_set_fd(c->ssl_, c->fd_);
    SSL_ctrl(c->ssl_, SSL_CTRL_SET_TLSEXT_HOSTNAME, TLSEXT_NAMETYPE_host_name, const_cast<char*>("localhost"));
    if (SSL_connect(c->ssl_) != 1) return c->failWith(error, "handshake failed: " + errors());
    return c;
  }

  // Sends raw bytes; false when the connection is gone.
  bool send(std::string_view data) {
    ERR_clear_error();
    return SSL_write(ssl_, data.data(), static_cast<int>(data.size())) == static_cast<int>(data.size());
  }

  // Reads one HTTP response (headers + Content-Length body). Empty when the
  // connection ends first or the deadline passes. TLS 1.3 reports a refused
  // client certificate here, after the handshake.
  std::string readResponse() {
    std::string buf;
    char chunk[16384];
    while (true) {
      auto end = buf.find("\r\n\r\n");
      if (end != std::string::npos) {
        std::size_t want = end + 4 + contentLength(buf.substr(0, end));
        if (buf.size() >= want) return buf.substr(0, want);
      }
      int n = SSL_read(ssl_, chunk, sizeof chunk);
      if (n <= 0) return {};
      buf.append(chunk, static_cast<std::size_t>(n));
    }
  }

  std::string get(const std::string& path, const std::string& extra_headers = "") {
    if (!send("GET " + path + " HTTP/1.1\r\nHost: localhost\r\n" + extra_headers + "\r\n")) return {};
    return readResponse();
  }

  // True when the peer closed (EOF or reset) before the deadline.
  bool waitClosed() {
    char c;
    int n = SSL_read(ssl_, &c, 1);
    if (n > 0) return false;
    int err = SSL_get_error(ssl_, n);
    return err == SSL_ERROR_ZERO_RETURN || (err == SSL_ERROR_SYSCALL && errno != EAGAIN && errno != EWOULDBLOCK) ||
           err == SSL_ERROR_SSL;
  }

  int fd() const { return fd_; }

  // Without blocking: has the peer closed? (Session tickets that arrive
  // after a TLS 1.3 handshake also make the socket readable.)
  bool closedNow() {
    int flags = ::fcntl(fd_, F_GETFL);
    ::fcntl(fd_, F_SETFL, flags | O_NONBLOCK);
    char c;
    int n = SSL_read(ssl_, &c, 1);
    int err = SSL_get_error(ssl_, n);
    ::fcntl(fd_, F_SETFL, flags);
    if (n > 0 || err == SSL_ERROR_WANT_READ || err == SSL_ERROR_WANT_WRITE) return false;
    return true;
  }
  int version() const { return SSL_version(ssl_); }
  std::string peerFingerprint() const {
    X509* cert = SSL_get1_peer_certificate(ssl_);
    if (!cert) return {};
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    X509_digest(cert, EVP_sha256(), md, &len);
    X509_free(cert);
    std::string out;
    for (unsigned i = 0; i < len; ++i) out += fmt::format("{}{:02X}", i ? ":" : "", md[i]);
    return out;
  }
  bool verified() const { return SSL_get_verify_result(ssl_) == X509_V_OK; }

  static std::string errors() {
    std::string out;
    while (unsigned long e = ERR_get_error()) {
      char buf[256];
      ERR_error_string_n(e, buf, sizeof buf);
      out += buf;
      out += "; ";
    }
    return out;
  }

 private:
  TlsClient() = default;
  std::unique_ptr<TlsClient> failWith(std::string* error, std::string what) {
    if (error) *error = std::move(what);
    return nullptr;
  }
  bool tcpConnect(uint16_t port, std::chrono::milliseconds timeout) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    timeval tv{static_cast<time_t>(timeout.count() / 1000), static_cast<suseconds_t>(timeout.count() % 1000 * 1000)};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return ::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  static std::size_t contentLength(const std::string& head) {
    std::string lower;
    for (char ch : head) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    auto p = lower.find("\r\ncontent-length:");
    if (p == std::string::npos) return 0;
    return std::strtoul(lower.c_str() + p + 17, nullptr, 10);
  }
  int fd_ = -1;
  SSL_CTX* ctx_ = nullptr;
  SSL* ssl_ = nullptr;
};

inline int statusOf(const std::string& response) {
  if (response.size() < 12 || !response.starts_with("HTTP/1.")) return 0;
  int status = 0;
  std::from_chars(response.data() + 9, response.data() + 12, status);
  return status;
}

// The endpoint on its own io_context thread.
struct TestServer {
  boost::asio::io_context io;
  std::unique_ptr<metrics::http::Server> server;
  std::thread thread;

  TestServer(metrics::http::ContextSource contexts, metrics::http::ServerOptions options = fastOptions(),
             metrics::http::Handlers handlers = defaultHandlers()) {
    options.host = "127.0.0.1";
    options.port = 0;
    auto s = metrics::http::Server::create(io, std::move(options), std::move(contexts), std::move(handlers));
    if (!s) throw std::runtime_error(s.error().message);
    server = std::move(*s);
    thread = std::thread([this] {
      auto guard = boost::asio::make_work_guard(io);
      io.run();
    });
  }
  ~TestServer() {
    server->stop();
    io.stop();
    thread.join();
    server.reset();
  }
  uint16_t port() const { return server->port(); }

  static metrics::http::ServerOptions fastOptions() {
    metrics::http::ServerOptions o;
    o.timeouts.handshake = std::chrono::milliseconds(2000);
    o.timeouts.header = std::chrono::milliseconds(1500);
    o.timeouts.body = std::chrono::milliseconds(1500);
    o.timeouts.idle = std::chrono::milliseconds(5000);
    o.timeouts.write = std::chrono::milliseconds(2000);
    o.handler.node_name = "test-node";
    return o;
  }
  static metrics::http::Handlers defaultHandlers() {
    return {[] { return metrics::http::MetricsBody{"rampart_up 1\n"}; }, [] { return true; }};
  }
};

}  // namespace rampart::testing
