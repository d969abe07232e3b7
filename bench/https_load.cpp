// A small HTTP(S)/1.1 load generator for bench/tls.sh and bench/scrape.sh.
// Loopback only: it refuses any address outside 127.0.0.0/8.
//
//   https_load newconn|keepalive ADDR PORT PATH [--count N] [--max-seconds S]
//              [--threads T] [--plain]
//
// newconn: every request on a new connection with a full handshake (no
// session resumption). keepalive: each thread keeps one connection open.
// Prints one line: requests, seconds, req_s, median_ms, p90_ms, body_bytes
// (per request, mean), errors.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fmt/format.h>

#include "bench/args.h"
#include <openssl/err.h>
#include <openssl/ssl.h>

namespace {

using Clock = std::chrono::steady_clock;

struct Args {
  std::string mode;
  std::string addr;
  uint16_t port = 0;
  std::string path;
  uint64_t count = 1000;
  double max_seconds = 10;
  unsigned threads = 1;
  bool plain = false;
};

using rampart::bench::parseU64;

std::optional<Args> parseArgs(int argc, char** argv) {
  if (argc < 5) return std::nullopt;
  Args a;
  a.mode = argv[1];
  a.addr = argv[2];
  auto port = parseU64(argv[3]);
  if (!port || *port == 0 || *port > 65535) return std::nullopt;
  a.port = static_cast<uint16_t>(*port);
  a.path = argv[4];
  for (int i = 5; i < argc; ++i) {
    std::string_view key = argv[i];
    if (key == "--plain") {
      a.plain = true;
      continue;
    }
    if (i + 1 >= argc) return std::nullopt;
    auto n = parseU64(argv[++i]);
    if (!n) return std::nullopt;
    if (key == "--count") a.count = std::min<uint64_t>(*n, 10'000'000);
    else if (key == "--max-seconds") a.max_seconds = static_cast<double>(std::min<uint64_t>(*n, 600));
    else if (key == "--threads") a.threads = static_cast<unsigned>(std::clamp<uint64_t>(*n, 1, 64));
    else return std::nullopt;
  }
  return a;
}

struct SslFree {
  void operator()(SSL* s) const { SSL_free(s); }
};
struct CtxFree {
  void operator()(SSL_CTX* c) const { SSL_CTX_free(c); }
};

// One client connection, plain or TLS.
class Conn {
 public:
  Conn(const sockaddr_in& sa, SSL_CTX* ctx) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) return;
    timeval tv{5, 0};
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int one = 1;
    setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd_, reinterpret_cast<const sockaddr*>(&sa), sizeof sa) != 0) return;
    if (ctx) {
      ssl_.reset(SSL_new(ctx));
      SSL_set_fd(ssl_.get(), fd_);
      if (SSL_connect(ssl_.get()) != 1) return;
    }
    ok_ = true;
  }
  ~Conn() {
    if (ssl_ && ok_) SSL_shutdown(ssl_.get());
    ssl_.reset();
    if (fd_ >= 0) close(fd_);
  }
  Conn(const Conn&) = delete;
  Conn& operator=(const Conn&) = delete;

  bool ok() const { return ok_; }
  bool writeAll(std::string_view data) {
    while (!data.empty()) {
      long n = ssl_ ? SSL_write(ssl_.get(), data.data(), static_cast<int>(data.size()))
                    : write(fd_, data.data(), data.size());
      if (n <= 0) return false;
      data.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Appends what arrives to `buf`; 0 on EOF, -1 on error.
  long readSome(std::string& buf) {
    char tmp[65536];
    long n = ssl_ ? SSL_read(ssl_.get(), tmp, sizeof tmp) : read(fd_, tmp, sizeof tmp);
    if (n > 0) buf.append(tmp, static_cast<size_t>(n));
    if (n <= 0 && ssl_) {
      int e = SSL_get_error(ssl_.get(), static_cast<int>(n));
      return e == SSL_ERROR_ZERO_RETURN ? 0 : -1;
    }
    return n;
  }

 private:
  int fd_ = -1;
  std::unique_ptr<SSL, SslFree> ssl_;
  bool ok_ = false;
};

bool iequalsPrefix(std::string_view line, std::string_view key) {
  if (line.size() < key.size()) return false;
  for (size_t i = 0; i < key.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(line[i])) != key[i]) return false;
  return true;
}

// Reads one response; returns the body size, or nullopt on error or a
// status other than 200. `closed` tells whether the server ended the
// connection.
std::optional<size_t> readResponse(Conn& c, std::string& buf, bool& closed) {
  closed = false;
  size_t hdr_end;
  while ((hdr_end = buf.find("\r\n\r\n")) == std::string::npos) {
    if (buf.size() > 1 << 16 || c.readSome(buf) <= 0) return std::nullopt;
  }
  std::string_view head(buf.data(), hdr_end);
  if (head.size() < 12 || head.substr(9, 3) != "200") return std::nullopt;
  std::optional<size_t> length;
  bool chunked = false;
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    std::string_view line = head.substr(pos + 2, next == std::string_view::npos ? head.npos : next - pos - 2);
    if (iequalsPrefix(line, "content-length:")) {
      std::string_view v = line.substr(15);
      while (!v.empty() && v.front() == ' ') v.remove_prefix(1);
      if (auto n = parseU64(v)) length = static_cast<size_t>(*n);
    } else if (iequalsPrefix(line, "transfer-encoding:") && line.find("chunked") != line.npos) {
      chunked = true;
    }
    pos = next;
  }
  size_t body_start = hdr_end + 4;
  if (length) {
    while (buf.size() < body_start + *length)
      if (c.readSome(buf) <= 0) return std::nullopt;
    buf.erase(0, body_start + *length);
    return *length;
  }
  if (chunked) {
    size_t body = 0;
    size_t at = body_start;
    for (;;) {
      size_t eol;
      while ((eol = buf.find("\r\n", at)) == std::string::npos)
        if (c.readSome(buf) <= 0) return std::nullopt;
      size_t n = 0;
      std::string_view hex(buf.data() + at, eol - at);
      auto [p, ec] = std::from_chars(hex.data(), hex.data() + hex.size(), n, 16);
      if (ec != std::errc{}) return std::nullopt;
      (void)p;
      at = eol + 2;
      while (buf.size() < at + n + 2)
        if (c.readSome(buf) <= 0) return std::nullopt;
      at += n + 2;
      body += n;
      if (n == 0) break;  // no trailers expected from these servers
    }
    buf.erase(0, at);
    return body;
  }
  for (;;) {  // no length: the body ends with the connection
    long r = c.readSome(buf);
    if (r == 0) break;
    if (r < 0) return std::nullopt;
  }
  closed = true;
  size_t n = buf.size() - body_start;
  buf.clear();
  return n;
}

struct ThreadResult {
  std::vector<double> latencies_ms;
  uint64_t body_bytes = 0;
  uint64_t errors = 0;
};

void runThread(const Args& a, SSL_CTX* ctx, const sockaddr_in& sa, std::atomic<uint64_t>& issued,
               Clock::time_point deadline, ThreadResult& out) {
  const std::string close_req =
      fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\nConnection: close\r\n\r\n", a.path, a.addr, a.port);
  const std::string keep_req =
      fmt::format("GET {} HTTP/1.1\r\nHost: {}:{}\r\n\r\n", a.path, a.addr, a.port);
  const bool newconn = a.mode == "newconn";
  std::unique_ptr<Conn> conn;
  std::string buf;
  while (Clock::now() < deadline && out.errors < 100) {
    if (issued.fetch_add(1) >= a.count) break;
    const auto t0 = Clock::now();
    if (!conn) {
      conn = std::make_unique<Conn>(sa, ctx);
      buf.clear();
      if (!conn->ok()) {
        ++out.errors;
        conn.reset();
        continue;
      }
    }
    bool closed = false;
    std::optional<size_t> body;
    if (conn->writeAll(newconn ? close_req : keep_req)) body = readResponse(*conn, buf, closed);
    if (!body) {
      ++out.errors;
      conn.reset();
      continue;
    }
    if (newconn || closed) conn.reset();
    out.latencies_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    out.body_bytes += *body;
  }
}

double percentile(std::vector<double>& v, double p) {
  if (v.empty()) return 0;
  size_t k = static_cast<size_t>(p * static_cast<double>(v.size() - 1));
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(k), v.end());
  return v[k];
}

}  // namespace

int main(int argc, char** argv) {
  auto args = parseArgs(argc, argv);
  if (!args || (args->mode != "newconn" && args->mode != "keepalive")) {
    fmt::print(stderr,
               "usage: https_load newconn|keepalive ADDR PORT PATH [--count N] "
               "[--max-seconds S] [--threads T] [--plain]\n");
    return 2;
  }
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(args->port);
  if (inet_pton(AF_INET, args->addr.c_str(), &sa.sin_addr) != 1 ||
      (ntohl(sa.sin_addr.s_addr) >> 24) != 127) {
    fmt::print(stderr, "https_load: {} is not a loopback IPv4 address\n", args->addr);
    return 2;
  }
  std::unique_ptr<SSL_CTX, CtxFree> ctx;
  if (!args->plain) {
    ctx.reset(SSL_CTX_new(TLS_client_method()));
    SSL_CTX_set_verify(ctx.get(), SSL_VERIFY_NONE, nullptr);
    SSL_CTX_set_session_cache_mode(ctx.get(), SSL_SESS_CACHE_OFF);
    SSL_CTX_set_options(ctx.get(), SSL_OP_NO_TICKET);
    // Read what the socket has rather than a record header and then its body
    // in two reads: one read per response, as on a plain connection (and as
    // Go's buffered crypto/tls reader in Prometheus does).
    SSL_CTX_set_read_ahead(ctx.get(), 1);
  }
  std::atomic<uint64_t> issued{0};
  std::vector<ThreadResult> results(args->threads);
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(args->max_seconds));
  {
    std::vector<std::jthread> threads;
    for (unsigned t = 0; t < args->threads; ++t)
      threads.emplace_back([&, t] { runThread(*args, ctx.get(), sa, issued, deadline, results[t]); });
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  std::vector<double> lat;
  uint64_t bytes = 0;
  uint64_t errors = 0;
  for (auto& r : results) {
    lat.insert(lat.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    bytes += r.body_bytes;
    errors += r.errors;
  }
  const size_t n = lat.size();
  const double p90 = percentile(lat, 0.9);
  const double median = percentile(lat, 0.5);
  fmt::print("requests {} seconds {:.3f} req_s {:.1f} median_ms {:.3f} p90_ms {:.3f} body_bytes {} errors {}\n",
             n, secs, static_cast<double>(n) / secs, median, p90, n ? bytes / n : 0, errors);
  return n == 0 ? 1 : 0;
}
