// The CLI's side of the control socket: connect, send one request, read its
// answer, all within one deadline.
#pragma once

#include <chrono>
#include <string>

#include "agent/control_protocol.h"
#include "common/error.h"

namespace rampart::agent {

struct ClientError {
  enum class Kind {
    NotRunning,        // no socket file, or nobody listening on it
    PermissionDenied,  // the socket file is not ours to open
    Timeout,
    Failed,            // anything else (protocol, I/O)
  };
  Kind kind = Kind::Failed;
  std::string message;
};

class ControlClient {
 public:
  explicit ControlClient(std::string path,
                         std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : path_(std::move(path)), timeout_(timeout) {}

  // One request, one answer, on a fresh connection. An answer with ok=false
  // is a success here: it is the agent's word, the caller shows it.
  std::expected<Answer, ClientError> call(const Request& request) const;

  const std::string& path() const { return path_; }

 private:
  std::string path_;
  std::chrono::milliseconds timeout_;
};

}  // namespace rampart::agent
