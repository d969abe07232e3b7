// The HTTPS endpoint's request path without sockets or TLS
// (metrics::http::RequestHandler::handleBytes): parsing with the endpoint's
// limits, routing, basic auth and gzip. The first byte picks a handler with
// or without basic auth. Every input must get an answer with a status code.
#include <crypt.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/http/handler.h"

namespace {

using rampart::metrics::http::HandlerConfig;
using rampart::metrics::http::Handlers;
using rampart::metrics::http::MetricsBody;
using rampart::metrics::http::RequestHandler;

Handlers handlers() {
  Handlers h;
  h.metrics = [] {
    MetricsBody body;
    body.body = "# HELP up 1\n# TYPE up gauge\nup 1\n";
    for (int i = 0; i < 100; ++i) body.body += "rampart_fuzz_series{n=\"" + std::to_string(i) + "\"} 1\n";
    return body;
  };
  h.healthy = [] { return true; };
  return h;
}

const RequestHandler& open() {
  static const RequestHandler handler(HandlerConfig{"fuzz-node", {}, {}, 1024}, handlers());
  return handler;
}

const RequestHandler& withAuth() {
  static const RequestHandler handler = [] {
    crypt_data cd{};
    // bcrypt at its lowest cost, so a fuzz run is not all key stretching.
    const char* hash = crypt_r("s3cret", "$2b$04$abcdefghijklmnopqrstuu", &cd);
    HandlerConfig config{"fuzz-node", {{"prometheus", hash ? hash : "*"}}, {}, 1024};
    return RequestHandler(std::move(config), handlers());
  }();
  return handler;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  std::string_view raw(reinterpret_cast<const char*>(data) + 1, size - 1);
  const RequestHandler& handler = (data[0] & 1) ? withAuth() : open();
  auto response = handler.handleBytes(raw);
  unsigned status = response.result_int();
  if (status < 100 || status > 599) __builtin_trap();
  return 0;
}
