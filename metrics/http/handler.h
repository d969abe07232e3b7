// What the HTTPS endpoint answers, as a function of the request alone:
// routing, basic auth, limits, gzip. No sockets and no TLS, so tests and
// fuzzers call it directly; metrics/http/server.cpp only moves bytes.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>

#include <boost/beast/http/message.hpp>
#include <boost/beast/http/string_body.hpp>

namespace rampart::metrics::http {

using Request = boost::beast::http::request<boost::beast::http::string_body>;
using Response = boost::beast::http::response<boost::beast::http::string_body>;

struct MetricsBody {
  std::string body;
  std::string content_type = "text/plain; version=0.0.4; charset=utf-8";
};

// What the agent plugs in.
struct Handlers {
  std::function<MetricsBody()> metrics;  // GET /metrics
  std::function<bool()> healthy;         // GET /healthz: 200 "ok" or 503
};

struct Limits {
  std::size_t header_bytes = 8 * 1024;  // request line + headers; more is 431
  std::size_t body_bytes = 16 * 1024;   // more is 413 (GET and HEAD need none)
  std::size_t max_connections = 256;    // more are closed on accept
};

struct HandlerConfig {
  std::string node_name;
  std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash; empty: no auth
  Limits limits;
  std::size_t gzip_min_bytes = 1024;  // smaller bodies are sent as they are
};

class BasicAuth;

class RequestHandler {
 public:
  RequestHandler(HandlerConfig config, Handlers handlers);
  ~RequestHandler();
  RequestHandler(RequestHandler&&) noexcept;

  Response handle(const Request& req) const;

  // Parses raw request bytes with the endpoint's limits and answers them:
  // the server's path without the socket (for tests and fuzzing). Only the
  // first request in `raw` is answered; an incomplete request is a 400.
  Response handleBytes(std::string_view raw) const;

  const HandlerConfig& config() const { return config_; }

  // The answer to a request that could not be read (431, 413, 400); the
  // connection closes after it.
  static Response errorResponse(unsigned status, unsigned version = 11);

 private:
  Response route(const Request& req) const;
  HandlerConfig config_;
  Handlers handlers_;
  std::unique_ptr<BasicAuth> auth_;
};

// Accept-Encoding lists gzip (or *) with a non-zero q-value.
bool acceptsGzip(std::string_view accept_encoding);
// gzip (RFC 1952) of `data`.
std::string gzipCompress(std::string_view data);

}  // namespace rampart::metrics::http
