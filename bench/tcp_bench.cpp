// TCP throughput and connection rate between two network namespaces, for
// bench/packet-path.sh. Every run is bounded in bytes or connections and in
// time.
//
//   tcp_bench serve   PORT [--max-seconds S]
//   tcp_bench stream  ADDR PORT [--bytes N] [--max-seconds S]   -> "gbit_s X"
//   tcp_bench connect ADDR PORT [--count N] [--max-seconds S]   -> "conn_s X"
//
// The server accepts one connection at a time, writes one byte (so the
// client knows the handshake went through the firewall both ways), then
// reads until EOF and closes. `connect` closes each connection with a reset
// (SO_LINGER 0) so no TIME_WAIT state limits the rate.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "bench/args.h"

namespace {

using Clock = std::chrono::steady_clock;

using rampart::bench::parseU64;

struct Args {
  std::string mode;
  std::string addr;
  uint16_t port = 0;
  uint64_t bytes = uint64_t{4} << 30;
  uint64_t count = 20000;
  double max_seconds = 5;
};

int usage() {
  fmt::print(stderr,
             "usage: tcp_bench serve PORT [--max-seconds S]\n"
             "       tcp_bench stream ADDR PORT [--bytes N] [--max-seconds S]\n"
             "       tcp_bench connect ADDR PORT [--count N] [--max-seconds S]\n");
  return 2;
}

std::optional<Args> parseArgs(int argc, char** argv) {
  if (argc < 3) return std::nullopt;
  Args a;
  a.mode = argv[1];
  int i = 2;
  if (a.mode != "serve") a.addr = argv[i++];
  if (i >= argc) return std::nullopt;
  auto port = parseU64(argv[i++]);
  if (!port || *port > 65535) return std::nullopt;
  a.port = static_cast<uint16_t>(*port);
  for (; i + 1 < argc; i += 2) {
    std::string_view key = argv[i];
    std::string_view val = argv[i + 1];
    auto n = parseU64(val);
    if (!n) return std::nullopt;
    if (key == "--bytes") a.bytes = *n;
    else if (key == "--count") a.count = *n;
    else if (key == "--max-seconds") a.max_seconds = static_cast<double>(*n);
    else return std::nullopt;
  }
  if (i != argc) return std::nullopt;
  return a;
}

sockaddr_in makeAddr(const std::string& addr, uint16_t port) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  if (addr.empty()) sa.sin_addr.s_addr = htonl(INADDR_ANY);
  else inet_pton(AF_INET, addr.c_str(), &sa.sin_addr);
  return sa;
}

void setTimeouts(int fd, double seconds) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(seconds);
  tv.tv_usec = static_cast<suseconds_t>((seconds - static_cast<double>(tv.tv_sec)) * 1e6);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

int serve(const Args& a) {
  int ls = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  int one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  sockaddr_in sa = makeAddr("", a.port);
  if (bind(ls, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0 || listen(ls, 1024) != 0) {
    fmt::print(stderr, "tcp_bench serve: bind/listen: {}\n", std::strerror(errno));
    return 1;
  }
  setTimeouts(ls, 1);
  std::vector<char> buf(1 << 20);
  const auto deadline = Clock::now() + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.max_seconds));
  while (Clock::now() < deadline) {
    int fd = accept4(ls, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) continue;  // the accept timeout lets the deadline be checked
    setTimeouts(fd, 5);
    char b = 'x';
    if (write(fd, &b, 1) == 1) {
      while (read(fd, buf.data(), buf.size()) > 0) {
      }
    }
    close(fd);
  }
  close(ls);
  return 0;
}

int connectTo(const Args& a) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  setTimeouts(fd, 5);
  sockaddr_in sa = makeAddr(a.addr, a.port);
  if (connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) != 0) {
    close(fd);
    return -1;
  }
  char b = 0;
  if (read(fd, &b, 1) != 1) {
    close(fd);
    return -1;
  }
  return fd;
}

int stream(const Args& a) {
  int fd = connectTo(a);
  if (fd < 0) {
    fmt::print(stderr, "tcp_bench stream: connect {}:{}: {}\n", a.addr, a.port, std::strerror(errno));
    return 1;
  }
  std::vector<char> buf(1 << 17, 'a');
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.max_seconds));
  uint64_t sent = 0;
  while (sent < a.bytes && Clock::now() < deadline) {
    size_t n = static_cast<size_t>(std::min<uint64_t>(buf.size(), a.bytes - sent));
    ssize_t w = write(fd, buf.data(), n);
    if (w <= 0) {
      fmt::print(stderr, "tcp_bench stream: write: {}\n", std::strerror(errno));
      close(fd);
      return 1;
    }
    sent += static_cast<uint64_t>(w);
  }
  shutdown(fd, SHUT_WR);
  char b;
  while (read(fd, &b, 1) > 0) {  // the server closes once it has read everything
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  close(fd);
  fmt::print("gbit_s {:.3f} bytes {} seconds {:.3f}\n", static_cast<double>(sent) * 8 / secs / 1e9,
             sent, secs);
  return 0;
}

int connectLoop(const Args& a) {
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(a.max_seconds));
  uint64_t done = 0;
  uint64_t failed = 0;
  linger lg{1, 0};
  while (done < a.count && Clock::now() < deadline) {
    int fd = connectTo(a);
    if (fd < 0) {
      if (++failed > 10) {
        fmt::print(stderr, "tcp_bench connect: {}:{}: {}\n", a.addr, a.port, std::strerror(errno));
        return 1;
      }
      continue;
    }
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
    ++done;
  }
  const double secs = std::chrono::duration<double>(Clock::now() - start).count();
  fmt::print("conn_s {:.1f} connections {} seconds {:.3f}\n", static_cast<double>(done) / secs, done,
             secs);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  auto args = parseArgs(argc, argv);
  if (!args) return usage();
  if (args->mode == "serve") return serve(*args);
  if (args->mode == "stream") return stream(*args);
  if (args->mode == "connect") return connectLoop(*args);
  return usage();
}
