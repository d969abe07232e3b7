#include <catch2/catch.hpp>

#include <zlib.h>

#include <crypt.h>

#include "metrics/http/basic_auth.h"
#include "metrics/http/handler.h"

using namespace rampart::metrics::http;
namespace bhttp = boost::beast::http;

namespace {

Handlers handlers(bool healthy = true) {
  return {[] { return MetricsBody{std::string(4000, 'm') + "\n"}; }, [healthy] { return healthy; }};
}

RequestHandler makeHandler(HandlerConfig config = {}, Handlers h = handlers()) {
  config.node_name = "web-<01>";
  return RequestHandler(std::move(config), std::move(h));
}

std::string gunzip(const std::string& in) {
  z_stream zs{};
  inflateInit2(&zs, 15 + 16);
  std::string out(1 << 20, '\0');
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  zs.avail_in = static_cast<uInt>(in.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  int rc = inflate(&zs, Z_FINISH);
  out.resize(zs.total_out);
  inflateEnd(&zs);
  return rc == Z_STREAM_END ? out : "<inflate failed>";
}

std::string bcrypt(const char* password) {
  crypt_data data{};
  // A fixed salt keeps the test deterministic; cost 4 keeps it fast.
  const char* out = crypt_r(password, "$2b$04$abcdefghijklmnopqrstuu", &data);
  REQUIRE(out);
  REQUIRE(out[0] == '$');
  return out;
}

}  // namespace

TEST_CASE("http handler: routes, 404 and 405") {
  auto h = makeHandler();
  CHECK(h.handleBytes("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n").result_int() == 200);
  auto health = h.handleBytes("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(health.result_int() == 200);
  CHECK(health.body() == "ok\n");
  auto index = h.handleBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(index.result_int() == 200);
  CHECK_THAT(index.body(), Catch::Contains("web-&lt;01&gt;"));
  CHECK_THAT(index.body(), Catch::Contains("href=\"/metrics\""));
  CHECK(h.handleBytes("GET /nope HTTP/1.1\r\nHost: x\r\n\r\n").result_int() == 404);
  auto post = h.handleBytes("POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
  CHECK(post.result_int() == 405);
  CHECK(post[bhttp::field::allow] == "GET, HEAD");
  auto head = h.handleBytes("HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(head.result_int() == 200);
  CHECK(head.body().empty());
  CHECK(head[bhttp::field::content_length] == "4001");
}

TEST_CASE("http handler: /healthz is 503 when the health function says unhealthy") {
  auto h = makeHandler({}, handlers(false));
  CHECK(h.handleBytes("GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").result_int() == 503);
}

TEST_CASE("http handler: a metrics function that throws is a 500, not a crash") {
  auto h = makeHandler({}, Handlers{[]() -> MetricsBody { throw std::runtime_error("boom"); }, {}});
  auto res = h.handleBytes("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(res.result_int() == 500);
  CHECK_THAT(res.body(), Catch::Contains("boom"));
}

TEST_CASE("http handler: gzip when Accept-Encoding asks for it") {
  auto h = makeHandler();
  auto plain = h.handleBytes("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(plain[bhttp::field::content_encoding].empty());
  auto zipped = h.handleBytes("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: deflate, gzip;q=0.5\r\n\r\n");
  CHECK(zipped[bhttp::field::content_encoding] == "gzip");
  CHECK(zipped.body().size() < plain.body().size());
  CHECK(gunzip(zipped.body()) == plain.body());
  auto refused = h.handleBytes("GET /metrics HTTP/1.1\r\nHost: x\r\nAccept-Encoding: gzip;q=0\r\n\r\n");
  CHECK(refused[bhttp::field::content_encoding].empty());
  CHECK(acceptsGzip("*"));
  CHECK(acceptsGzip("GZIP"));
  CHECK_FALSE(acceptsGzip("identity, br"));
  CHECK_FALSE(acceptsGzip("gzipx"));
}

TEST_CASE("http handler: limits give 431 for a long header and 413 for a body") {
  HandlerConfig config;
  config.limits.header_bytes = 8 * 1024;
  config.limits.body_bytes = 100;
  auto h = makeHandler(config);
  std::string big = "GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(100 * 1024, 'a') + "\r\n\r\n";
  CHECK(h.handleBytes(big).result_int() == 431);
  std::string line = "GET /" + std::string(64 * 1024, 'a') + " HTTP/1.1\r\n\r\n";
  CHECK(h.handleBytes(line).result_int() == 431);
  std::string body = "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + std::string(1000, 'b');
  CHECK(h.handleBytes(body).result_int() == 413);
  CHECK(h.handleBytes("NOT HTTP AT ALL\r\n\r\n").result_int() == 400);
  CHECK(h.handleBytes("GET / HTTP/1.1\r\nHost: x\r\n").result_int() == 400);  // incomplete
}

TEST_CASE("http handler: basic auth with bcrypt hashes") {
  HandlerConfig config;
  config.basic_auth_users = {{"prometheus", bcrypt("s3cret")}};
  auto h = makeHandler(config);
  auto none = h.handleBytes("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
  CHECK(none.result_int() == 401);
  CHECK_THAT(std::string(none[bhttp::field::www_authenticate]), Catch::StartsWith("Basic realm="));
  // prometheus:s3cret
  auto good = "GET /metrics HTTP/1.1\r\nHost: x\r\nAuthorization: Basic cHJvbWV0aGV1czpzM2NyZXQ=\r\n\r\n";
  CHECK(h.handleBytes(good).result_int() == 200);
  CHECK(h.handleBytes(good).result_int() == 200);  // second time from the cache
  // prometheus:wrong
  CHECK(h.handleBytes("GET /metrics HTTP/1.1\r\nAuthorization: Basic cHJvbWV0aGV1czp3cm9uZw==\r\n\r\n")
            .result_int() == 401);
  // other:s3cret
  CHECK(h.handleBytes("GET /metrics HTTP/1.1\r\nAuthorization: Basic b3RoZXI6czNjcmV0\r\n\r\n").result_int() ==
        401);
  CHECK(h.handleBytes("GET /metrics HTTP/1.1\r\nAuthorization: Basic !!!\r\n\r\n").result_int() == 401);
  CHECK(h.handleBytes("GET /metrics HTTP/1.1\r\nAuthorization: Bearer abc\r\n\r\n").result_int() == 401);
  // Auth comes before routing: an unknown path without credentials is 401, not 404.
  CHECK(h.handleBytes("GET /nope HTTP/1.1\r\n\r\n").result_int() == 401);
}

TEST_CASE("http basic auth: base64 and constant-time compare") {
  bool ok = false;
  CHECK(decodeBase64("cHJvbWV0aGV1czpzM2NyZXQ=", ok) == "prometheus:s3cret");
  CHECK(ok);
  decodeBase64("a", ok);
  CHECK_FALSE(ok);
  decodeBase64("ab$d", ok);
  CHECK_FALSE(ok);
  CHECK(constantTimeEquals("abc", "abc"));
  CHECK_FALSE(constantTimeEquals("abc", "abd"));
  CHECK_FALSE(constantTimeEquals("abc", "abcd"));
}

TEST_CASE("http handler: hostile inputs never crash and always answer") {
  auto h = makeHandler();
  const std::string inputs[] = {
      "",
      "\r\n\r\n",
      "GET",
      "GET / HTTP/9.9\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
      "GET / HTTP/1.1\r\nContent-Length: 99999999999999999999999\r\n\r\n",
      "GET / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\n",
      std::string("GET /\0 HTTP/1.1\r\n\r\n", 20),
      "GET / HTTP/1.1\r\n" + std::string(10000, ':') + "\r\n\r\n",
  };
  for (const auto& in : inputs) {
    auto res = h.handleBytes(in);
    CHECK(res.result_int() >= 200);
    CHECK(res.result_int() < 600);
  }
}
