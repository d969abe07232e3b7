#include "agent/control_client.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>

#include "agent/unique_fd.h"

namespace rampart::agent {
namespace {

using Clock = std::chrono::steady_clock;

std::unexpected<ClientError> clientFail(ClientError::Kind kind, std::string message) {
  return std::unexpected(ClientError{kind, std::move(message)});
}

// Waits for `events` on fd until the deadline; false on timeout.
bool waitFor(int fd, short events, Clock::time_point deadline) {
  for (int i = 0; i < 1000; ++i) {  // bounded: EINTR retries only
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd, events, 0};
    const int n = ::poll(&p, 1, static_cast<int>(std::min<int64_t>(left.count(), 60'000)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // let the next call report the error
  }
  return false;
}

}  // namespace

std::expected<Answer, ClientError> ControlClient::call(const Request& request) const {
  using K = ClientError::Kind;
  const auto deadline = Clock::now() + timeout_;
  sockaddr_un addr{};
  if (path_.empty() || path_.size() >= sizeof(addr.sun_path)) {
    return clientFail(K::Failed, fmt::format("control socket path '{}' is too long", path_));
  }
  addr.sun_family = AF_UNIX;
  std::copy(path_.begin(), path_.end(), addr.sun_path);

  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return clientFail(K::Failed, Error::fromErrno("socket(AF_UNIX)").message);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    const int err = errno;
    if (err == ENOENT || err == ECONNREFUSED || err == ENOTDIR) {
      return clientFail(K::NotRunning, fmt::format("no agent listens on {}", path_));
    }
    if (err == EACCES || err == EPERM) {
      return clientFail(K::PermissionDenied,
                        fmt::format("cannot open {}: {} (run as root or as a member of group "
                                    "'rampart')",
                                    path_, std::strerror(err)));
    }
    if (err != EAGAIN && err != EINPROGRESS) {
      return clientFail(K::Failed, Error::fromErrno(fmt::format("connect {}", path_), err).message);
    }
    // A full backlog: wait for room until the deadline.
    if (!waitFor(fd.get(), POLLOUT, deadline)) {
      return clientFail(K::Timeout, fmt::format("the agent at {} did not accept in time", path_));
    }
  }

  const std::string line = encodeRequest(request);
  size_t sent = 0;
  while (sent < line.size()) {
    const ssize_t n = ::send(fd.get(), line.data() + sent, line.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!waitFor(fd.get(), POLLOUT, deadline)) {
        return clientFail(K::Timeout, "the agent did not take the request in time");
      }
    } else {
      // The agent may have answered and closed (a refusal): read it below.
      break;
    }
  }

  std::string in;
  char buf[16384];
  for (;;) {
    if (auto nl = in.find('\n'); nl != std::string::npos) {
      auto answer = decodeAnswer(std::string_view(in).substr(0, nl));
      if (!answer) return clientFail(K::Failed, "bad answer from the agent: " + answer.error().message);
      return *answer;
    }
    if (in.size() > kMaxAnswerBytes) return clientFail(K::Failed, "the agent's answer is too large");
    const ssize_t n = ::recv(fd.get(), buf, sizeof(buf), 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return clientFail(K::Failed, "the agent closed the connection without answering");
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!waitFor(fd.get(), POLLIN, deadline)) {
        return clientFail(K::Timeout, fmt::format("the agent did not answer within {} ms",
                                                  timeout_.count()));
      }
    } else {
      return clientFail(K::Failed, Error::fromErrno("recv from the agent").message);
    }
  }
}

}  // namespace rampart::agent
