// The HTTPS endpoint (/metrics, /healthz, /): Boost.Beast over Asio and TLS,
// on the agent's io_context. HTTP/1.1 keep-alive, a deadline for every phase,
// header/body/connection limits. What it answers is metrics/http/handler.h;
// which certificate it serves is whatever ContextSource returns when a
// connection is accepted (the Reloader's current context).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/error.h"
#include "metrics/http/handler.h"
#include "tls/server_context.h"

namespace boost::asio {
class io_context;
}

namespace rampart::metrics::http {

struct Timeouts {
  std::chrono::milliseconds handshake{10'000};
  std::chrono::milliseconds header{10'000};  // from the first byte of a request to the end of its headers
  std::chrono::milliseconds body{10'000};
  std::chrono::milliseconds idle{60'000};    // between requests of a keep-alive connection
  std::chrono::milliseconds write{10'000};
};

struct ServerOptions {
  std::string host = "0.0.0.0";  // IPv4 or IPv6 literal
  uint16_t port = 9643;          // 0: any free port (tests)
  Timeouts timeouts;
  HandlerConfig handler;         // limits, basic auth, node name
};

using ContextSource = std::function<std::shared_ptr<tls::ServerContext>()>;

struct ServerStats {
  uint64_t accepted = 0;
  uint64_t refused_over_limit = 0;  // closed on accept: max_connections reached
  uint64_t timeouts = 0;            // connections cut at a deadline
  uint64_t active = 0;
};

class Server {
 public:
  // Binds and listens; accepting starts at once on `io`.
  static Result<std::unique_ptr<Server>> create(boost::asio::io_context& io, ServerOptions options,
                                                ContextSource contexts, Handlers handlers);
  ~Server();  // stop()s
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  uint16_t port() const;  // the bound port
  // Closes the listener and every open connection. Safe from any thread.
  void stop();
  ServerStats stats() const;

  struct Impl;

 private:
  explicit Server(std::shared_ptr<Impl> impl);
  std::shared_ptr<Impl> impl_;
};

}  // namespace rampart::metrics::http
