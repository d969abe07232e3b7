#include "metrics/http/handler.h"

#include <zlib.h>

#include <boost/beast/core/buffers_to_string.hpp>
#include <boost/beast/http/parser.hpp>

#include <fmt/format.h>

#include "metrics/http/basic_auth.h"

namespace rampart::metrics::http {
namespace bhttp = boost::beast::http;
namespace {

std::string htmlEscape(std::string_view s) {
  std::string out;
  for (char c : s) {
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  }
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) return false;
  return true;
}

Response textResponse(unsigned status, unsigned version, std::string body,
                      std::string_view content_type = "text/plain; charset=utf-8") {
  Response res{static_cast<bhttp::status>(status), version};
  res.set(bhttp::field::content_type, content_type);
  res.set(bhttp::field::server, "rampart");
  res.set("X-Content-Type-Options", "nosniff");
  res.body() = std::move(body);
  return res;
}

std::string indexPage(const std::string& node) {
  std::string n = htmlEscape(node);
  return fmt::format(
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>rampart on {0}</title></head>\n"
      "<body><h1>rampart on {0}</h1>\n<p><a href=\"/metrics\">Metrics</a></p>\n"
      "<p><a href=\"/healthz\">Health</a></p>\n</body></html>\n",
      n);
}

}  // namespace

bool acceptsGzip(std::string_view header) {
  while (!header.empty()) {
    auto comma = header.find(',');
    std::string_view item = header.substr(0, comma);
    header = comma == std::string_view::npos ? std::string_view{} : header.substr(comma + 1);
    auto semi = item.find(';');
    std::string_view coding = trim(item.substr(0, semi));
    if (!iequals(coding, "gzip") && coding != "*") continue;
    if (semi == std::string_view::npos) return true;
    std::string_view params = trim(item.substr(semi + 1));
    // q=0, q=0.0, q=0.000 refuse; any other value accepts (RFC 9110 12.4.2).
    if (params.size() >= 2 && (params[0] == 'q' || params[0] == 'Q') && params[1] == '=') {
      std::string_view q = trim(params.substr(2));
      bool zero = !q.empty() && q[0] == '0' && q.find_first_not_of("0.", 0) == std::string_view::npos;
      if (!zero) return true;
    } else {
      return true;
    }
  }
  return false;
}

std::string gzipCompress(std::string_view data) {
  z_stream zs{};
  if (deflateInit2(&zs, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) return {};
  std::string out(deflateBound(&zs, data.size()) + 32, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  zs.avail_in = static_cast<uInt>(data.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return rc == Z_STREAM_END ? out : std::string{};
}

RequestHandler::RequestHandler(HandlerConfig config, Handlers handlers)
    : config_(std::move(config)),
      handlers_(std::move(handlers)),
      auth_(std::make_unique<BasicAuth>(config_.basic_auth_users)) {}
RequestHandler::~RequestHandler() = default;
RequestHandler::RequestHandler(RequestHandler&&) noexcept = default;

Response RequestHandler::errorResponse(unsigned status, unsigned version) {
  std::string reason(bhttp::obsolete_reason(static_cast<bhttp::status>(status)));
  Response res = textResponse(status, version, reason + "\n");
  res.keep_alive(false);
  res.prepare_payload();
  return res;
}

Response RequestHandler::route(const Request& req) const {
  const unsigned v = req.version();
  if (req.method() != bhttp::verb::get && req.method() != bhttp::verb::head) {
    Response res = textResponse(405, v, "method not allowed\n");
    res.set(bhttp::field::allow, "GET, HEAD");
    return res;
  }
  if (auth_->enabled() && !auth_->check(req[bhttp::field::authorization])) {
    Response res = textResponse(401, v, "unauthorized\n");
    res.set(bhttp::field::www_authenticate, "Basic realm=\"rampart\", charset=\"UTF-8\"");
    return res;
  }
  std::string_view target = req.target();
  std::string_view path = target.substr(0, target.find('?'));
  if (path == "/metrics") {
    if (!handlers_.metrics) return textResponse(503, v, "metrics are not available\n");
    try {
      MetricsBody m = handlers_.metrics();
      Response res = textResponse(200, v, std::move(m.body), m.content_type);
      res.set(bhttp::field::cache_control, "no-store");
      return res;
    } catch (const std::exception& e) {
      return textResponse(500, v, fmt::format("collecting metrics failed: {}\n", e.what()));
    }
  }
  if (path == "/healthz") {
    bool ok = !handlers_.healthy || handlers_.healthy();
    return textResponse(ok ? 200 : 503, v, ok ? "ok\n" : "unhealthy\n");
  }
  if (path == "/") return textResponse(200, v, indexPage(config_.node_name), "text/html; charset=utf-8");
  return textResponse(404, v, "not found\n");
}

Response RequestHandler::handle(const Request& req) const {
  Response res = route(req);
  res.keep_alive(req.keep_alive());
  if (res.body().size() >= config_.gzip_min_bytes && acceptsGzip(req[bhttp::field::accept_encoding])) {
    std::string z = gzipCompress(res.body());
    if (!z.empty()) {
      res.body() = std::move(z);
      res.set(bhttp::field::content_encoding, "gzip");
    }
  }
  res.set(bhttp::field::vary, "Accept-Encoding");
  res.prepare_payload();
  if (req.method() == bhttp::verb::head) {
    auto length = res.body().size();
    res.body().clear();
    res.content_length(length);
  }
  return res;
}

Response RequestHandler::handleBytes(std::string_view raw) const {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(static_cast<std::uint32_t>(config_.limits.header_bytes));
  parser.body_limit(config_.limits.body_bytes);
  parser.eager(true);
  boost::beast::error_code ec;
  std::size_t used = 0;
  while (!parser.is_done() && used < raw.size()) {
    std::size_t n = parser.put(boost::asio::buffer(raw.data() + used, raw.size() - used), ec);
    if (ec == bhttp::error::need_more) {
      ec = {};
      break;
    }
    if (ec) break;
    if (n == 0) break;
    used += n;
  }
  if (ec == bhttp::error::header_limit) return errorResponse(431);
  if (ec == bhttp::error::body_limit) return errorResponse(413);
  if (ec || !parser.is_done()) {
    // A header longer than the limit may also end the input before the parser
    // saw the limit.
    if (!parser.is_header_done() && raw.size() > config_.limits.header_bytes) return errorResponse(431);
    return errorResponse(400);
  }
  return handle(parser.get());
}

}  // namespace rampart::metrics::http
