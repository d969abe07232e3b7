// Asio's executor comparison trips g++ 12's -Wnull-dereference after
// inlining (a false positive inside Boost headers).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "agent/control_server.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <fstream>
#include <map>
#include <set>

#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>

#include "agent/unique_fd.h"

namespace rampart::agent {
namespace {

namespace asio = boost::asio;
using stream = asio::local::stream_protocol;

std::optional<gid_t> lookupGroup(std::string_view name) {
  group grp{};
  group* found = nullptr;
  std::vector<char> buf(16384);
  if (getgrnam_r(std::string(name).c_str(), &grp, buf.data(), buf.size(), &found) != 0 ||
      found == nullptr) {
    return std::nullopt;
  }
  return found->gr_gid;
}

// The peer's supplementary groups as the kernel recorded them at connect()
// (SO_PEERGROUPS, Linux 4.13); /proc/<pid>/status as a fallback.
std::vector<gid_t> peerGroups(int fd, pid_t pid) {
  std::vector<gid_t> groups(256);
  socklen_t len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
  if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
    groups.resize(len / sizeof(gid_t));
    return groups;
  }
  groups.clear();
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  std::string line;
  while (std::getline(status, line)) {
    if (!line.starts_with("Groups:")) continue;
    std::string_view rest(line);
    rest.remove_prefix(7);
    while (!rest.empty() && groups.size() < 65536) {
      while (!rest.empty() && (rest.front() == ' ' || rest.front() == '\t')) rest.remove_prefix(1);
      gid_t g = 0;
      auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), g);
      if (ec != std::errc()) break;
      groups.push_back(g);
      rest.remove_prefix(static_cast<size_t>(p - rest.data()));
    }
    break;
  }
  return groups;
}

sockaddr_un unixAddress(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::copy(path.begin(), path.end(), addr.sun_path);
  return addr;
}

// True when a process accepts connections on the socket at `path`.
bool someoneListens(const std::string& path) {
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) return false;
  sockaddr_un addr = unixAddress(path);
  return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0;
}

Result<UniqueFd> bindListener(const ControlServerOptions& o, std::optional<gid_t> group) {
  if (o.path.empty() || o.path.size() >= sizeof(sockaddr_un::sun_path)) {
    return fail("control socket path '{}' is empty or longer than {} bytes", o.path,
                sizeof(sockaddr_un::sun_path) - 1);
  }
  if (auto slash = o.path.rfind('/'); slash != std::string::npos && slash > 0) {
    const std::string dir = o.path.substr(0, slash);
    if (::mkdir(dir.c_str(), 0755) != 0 && errno != EEXIST) {
      return std::unexpected(Error::fromErrno(fmt::format("mkdir {}", dir)));
    }
  }
  struct stat st {};
  if (::lstat(o.path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return fail("{} exists and is not a socket; move it away or choose another control_socket",
                  o.path);
    }
    if (someoneListens(o.path)) {
      return fail("another process (a running agent?) already listens on {}", o.path);
    }
    if (::unlink(o.path.c_str()) != 0 && errno != ENOENT) {
      return std::unexpected(Error::fromErrno(fmt::format("unlink stale socket {}", o.path)));
    }
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return std::unexpected(Error::fromErrno("socket(AF_UNIX)"));
  sockaddr_un addr = unixAddress(o.path);
  // The file is born owner-only, then opened up to exactly `mode`, so it is
  // never reachable by more than we intend. (The agent is single-threaded
  // while it starts, so the process-wide umask is ours.)
  const mode_t old_mask = ::umask(0177);
  const int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  const int bind_errno = errno;
  ::umask(old_mask);
  if (rc != 0) return std::unexpected(Error::fromErrno(fmt::format("bind {}", o.path), bind_errno));
  if (group && ::geteuid() == 0 && ::lchown(o.path.c_str(), 0, *group) != 0) {
    return std::unexpected(Error::fromErrno(fmt::format("chown {}", o.path)));
  }
  if (::chmod(o.path.c_str(), o.mode) != 0) {
    return std::unexpected(Error::fromErrno(fmt::format("chmod {}", o.path)));
  }
  if (::listen(fd.get(), 128) != 0) return std::unexpected(Error::fromErrno("listen"));
  return fd;
}

}  // namespace

bool peerAllowed(const Peer& peer, std::optional<gid_t> group,
                 const std::vector<gid_t>& supplementary) {
  if (peer.uid == 0) return true;
  if (!group) return false;
  return peer.gid == *group ||
         std::find(supplementary.begin(), supplementary.end(), *group) != supplementary.end();
}

class Connection;

struct ControlServer::Impl : std::enable_shared_from_this<ControlServer::Impl> {
  Impl(asio::io_context& io_, ControlServerOptions o) : io(io_), options(std::move(o)), acceptor(io_) {}

  asio::io_context& io;
  ControlServerOptions options;
  std::optional<gid_t> group;
  stream::acceptor acceptor;
  bool stopped = false;
  std::map<std::string, AsyncHandler, std::less<>> handlers;
  std::set<std::shared_ptr<Connection>> connections;

  void acceptLoop();
  void acceptReady();
  void dispatch(const Request& req, const Peer& peer, Reply reply);
};

class Connection : public std::enable_shared_from_this<Connection> {
 public:
  Connection(std::shared_ptr<ControlServer::Impl> server, stream::socket socket, Peer peer)
      : server_(std::move(server)), socket_(std::move(socket)), timer_(server_->io), peer_(peer) {}

  void start(bool allowed) {
    if (!allowed) {
      writeAndClose(Answer::failure(
          "permission_denied",
          fmt::format("permission denied: uid {} is neither root nor in group '{}'", peer_.uid,
                      kControlGroup)));
      return;
    }
    readNext();
  }

  void close() {
    if (closed_) return;
    closed_ = true;
    timer_.cancel();
    boost::system::error_code ignored;
    socket_.shutdown(stream::socket::shutdown_both, ignored);
    socket_.close(ignored);
    server_->connections.erase(shared_from_this());
  }

 private:
  void armTimer() {
    timer_.expires_after(server_->options.idle_timeout);
    timer_.async_wait([self = shared_from_this()](boost::system::error_code ec) {
      if (!ec) self->close();
    });
  }

  void readNext() {
    if (closed_) return;
    armTimer();
    asio::async_read_until(
        socket_, asio::dynamic_buffer(buffer_, kMaxRequestBytes + 1), '\n',
        [self = shared_from_this()](boost::system::error_code ec, size_t n) {
          self->onRead(ec, n);
        });
  }

  void onRead(boost::system::error_code ec, size_t n) {
    if (closed_) return;
    timer_.cancel();
    if (ec == asio::error::not_found) {
      writeAndClose(Answer::failure(
          "too_large", fmt::format("request over the limit of {} bytes", kMaxRequestBytes)));
      return;
    }
    if (ec) {
      close();
      return;
    }
    std::string_view line(buffer_.data(), n - 1);
    if (line.ends_with('\r')) line.remove_suffix(1);
    auto req = decodeRequest(line);
    buffer_.erase(0, n);
    if (!req) {
      write(Answer::failure("bad_request", req.error().message));
      return;
    }
    auto self = shared_from_this();
    auto answered = std::make_shared<bool>(false);
    server_->dispatch(*req, peer_, [self, answered](Answer a) {
      if (*answered) return;
      *answered = true;
      self->write(std::move(a));
    });
  }

  void write(Answer answer, bool then_close = false) {
    if (closed_) return;
    out_ = encodeAnswer(answer);
    if (out_.size() > kMaxAnswerBytes) {
      out_ = encodeAnswer(Answer::failure(
          "too_large", fmt::format("the answer is over the limit of {} bytes", kMaxAnswerBytes)));
    }
    armTimer();  // a client that does not read its answer is dropped
    asio::async_write(socket_, asio::buffer(out_),
                      [self = shared_from_this(), then_close](boost::system::error_code ec, size_t) {
                        self->timer_.cancel();
                        if (ec || then_close) self->close();
                        else self->readNext();
                      });
  }

  void writeAndClose(Answer answer) { write(std::move(answer), true); }

  std::shared_ptr<ControlServer::Impl> server_;
  stream::socket socket_;
  asio::steady_timer timer_;
  Peer peer_;
  std::string buffer_;
  std::string out_;
  bool closed_ = false;
};

void ControlServer::Impl::acceptLoop() {
  if (stopped) return;
  acceptor.async_wait(stream::acceptor::wait_read,
                      [self = shared_from_this()](boost::system::error_code ec) {
                        if (ec || self->stopped) return;
                        self->acceptReady();
                        self->acceptLoop();
                      });
}

void ControlServer::Impl::acceptReady() {
  // Bounded: a burst of connections is taken in slices of 64 per wake-up.
  for (int i = 0; i < 64; ++i) {
    UniqueFd fd(::accept4(acceptor.native_handle(), nullptr, nullptr,
                          SOCK_CLOEXEC | SOCK_NONBLOCK));
    if (!fd) return;  // EAGAIN, or an error a retry on the next wake-up handles
    ucred cred{};
    socklen_t len = sizeof(cred);
    if (::getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) continue;
    if (connections.size() >= options.max_connections) {
      const std::string busy = encodeAnswer(Answer::failure(
          "busy", fmt::format("the agent serves {} connections already; try again",
                              options.max_connections)));
      [[maybe_unused]] auto n = ::send(fd.get(), busy.data(), busy.size(),
                                       MSG_DONTWAIT | MSG_NOSIGNAL);
      continue;
    }
    Peer peer{cred.pid, cred.uid, cred.gid};
    const bool allowed = peerAllowed(peer, group, peerGroups(fd.get(), cred.pid));
    boost::system::error_code ec;
    stream::socket socket(io);
    socket.assign(stream(), fd.get(), ec);
    if (ec) continue;
    fd.release();  // the socket owns it now
    auto conn = std::make_shared<Connection>(shared_from_this(), std::move(socket), peer);
    connections.insert(conn);
    conn->start(allowed);
  }
}

void ControlServer::Impl::dispatch(const Request& req, const Peer& peer, Reply reply) {
  auto it = handlers.find(req.cmd);
  if (it == handlers.end()) {
    reply(Answer::failure("unknown_command",
                          fmt::format("unknown command '{}' (is the agent older than this CLI?)",
                                      req.cmd)));
    return;
  }
  try {
    it->second(req, peer, reply);
  } catch (const std::exception& e) {
    reply(Answer::failure("internal", fmt::format("internal error in '{}': {}", req.cmd, e.what())));
  }
}

ControlServer::ControlServer(std::shared_ptr<Impl> impl) : impl_(std::move(impl)) {}

ControlServer::~ControlServer() { stop(); }

Result<std::unique_ptr<ControlServer>> ControlServer::create(asio::io_context& io,
                                                             ControlServerOptions options) {
  auto impl = std::make_shared<Impl>(io, std::move(options));
  impl->group = impl->options.group ? impl->options.group : lookupGroup(kControlGroup);
  auto fd = bindListener(impl->options, impl->group);
  if (!fd) return std::unexpected(fd.error());
  boost::system::error_code ec;
  impl->acceptor.assign(stream(), fd->get(), ec);
  if (ec) return fail("control socket: {}", ec.message());
  fd->release();  // the acceptor owns it now
  impl->handlers["ping"] = [](const Request&, const Peer&, Reply reply) {
    reply(Answer::success({{"pong", true}}));
  };
  impl->acceptLoop();
  return std::unique_ptr<ControlServer>(new ControlServer(std::move(impl)));
}

void ControlServer::on(std::string cmd, Handler handler) {
  impl_->handlers[std::move(cmd)] = [h = std::move(handler)](const Request& r, const Peer& p,
                                                             Reply reply) { reply(h(r, p)); };
}

void ControlServer::onAsync(std::string cmd, AsyncHandler handler) {
  impl_->handlers[std::move(cmd)] = std::move(handler);
}

std::vector<std::string> ControlServer::commands() const {
  std::vector<std::string> out;
  for (const auto& [name, h] : impl_->handlers) out.push_back(name);
  return out;
}

void ControlServer::stop() {
  if (!impl_ || impl_->stopped) return;
  impl_->stopped = true;
  boost::system::error_code ignored;
  impl_->acceptor.close(ignored);
  auto conns = impl_->connections;  // close() erases from the set
  for (const auto& c : conns) c->close();
  ::unlink(impl_->options.path.c_str());
}

size_t ControlServer::connections() const { return impl_->connections.size(); }

const std::string& ControlServer::path() const { return impl_->options.path; }

}  // namespace rampart::agent
