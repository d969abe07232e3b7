#include <string>

#include <catch2/catch.hpp>

#include "agent/control_protocol.h"

using namespace rampart::agent;

TEST_CASE("control protocol: a request decodes to its command and params") {
  auto r = decodeRequest(R"({"cmd":"fw.allow","params":{"port":"443/tcp"}})");
  REQUIRE(r.has_value());
  CHECK(r->cmd == "fw.allow");
  CHECK(r->params["port"] == "443/tcp");

  auto bare = decodeRequest(R"({"cmd":"status"})");
  REQUIRE(bare.has_value());
  CHECK(bare->params.is_object());
  CHECK(bare->params.empty());
}

TEST_CASE("control protocol: malformed requests are refused with a reason") {
  const std::pair<const char*, const char*> cases[] = {
      {"", "not valid JSON"},
      {"{", "not valid JSON"},
      {"[1]", "must be a JSON object"},
      {"\"status\"", "must be a JSON object"},
      {"{}", "no \"cmd\""},
      {R"({"cmd":7})", "\"cmd\" must be a string"},
      {R"({"cmd":""})", "no \"cmd\""},
      {R"({"cmd":"Status!"})", "not a command name"},
      {R"({"cmd":"status","params":[]})", "\"params\" must be an object"},
      {R"({"cmd":"status","extra":1})", "unknown field \"extra\""},
  };
  for (auto [line, why] : cases) {
    INFO(line);
    auto r = decodeRequest(line);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error().message, Catch::Contains(why));
  }
}

TEST_CASE("control protocol: oversized and deeply nested requests are refused before parsing") {
  std::string big = R"({"cmd":"status","params":{"x":")" + std::string(kMaxRequestBytes, 'a') +
                    "\"}}";
  auto r = decodeRequest(big);
  REQUIRE_FALSE(r.has_value());
  CHECK_THAT(r.error().message, Catch::Contains("over the limit"));

  std::string deep = R"({"cmd":"status","params":{"x":)" + std::string(10000, '[') +
                     std::string(10000, ']') + "}}";
  auto d = decodeRequest(deep);
  REQUIRE_FALSE(d.has_value());
  CHECK_THAT(d.error().message, Catch::Contains("nested deeper"));

  // Brackets inside strings do not count as nesting.
  std::string quoted = R"({"cmd":"status","params":{"x":")" + std::string(100, '[') + "\"}}";
  CHECK(decodeRequest(quoted).has_value());
}

TEST_CASE("control protocol: requests and answers survive a round trip as one line") {
  Request req{"fw.ban", {{"addrs", {"10.0.0.1", "2001:db8::1"}}}};
  const std::string line = encodeRequest(req);
  REQUIRE(line.back() == '\n');
  CHECK(line.find('\n') == line.size() - 1);
  auto back = decodeRequest(std::string_view(line).substr(0, line.size() - 1));
  REQUIRE(back.has_value());
  CHECK(back->cmd == req.cmd);
  CHECK(back->params == req.params);

  const std::string ok = encodeAnswer(Answer::success({{"n", 3}}));
  auto a = decodeAnswer(std::string_view(ok).substr(0, ok.size() - 1));
  REQUIRE(a.has_value());
  CHECK(a->ok);
  CHECK(a->result["n"] == 3);

  const std::string err = encodeAnswer(Answer::failure("not_found", "no rule 'x'\nat all"));
  CHECK(err.find('\n') == err.size() - 1);  // the newline in the message is escaped
  auto e = decodeAnswer(std::string_view(err).substr(0, err.size() - 1));
  REQUIRE(e.has_value());
  CHECK_FALSE(e->ok);
  CHECK(e->code == "not_found");
  CHECK(e->error == "no rule 'x'\nat all");
}

TEST_CASE("control protocol: invalid UTF-8 in an answer does not break the line") {
  const std::string s = encodeAnswer(Answer::failure("x", std::string("bad \xff byte")));
  CHECK(s.back() == '\n');
  CHECK(decodeAnswer(std::string_view(s).substr(0, s.size() - 1)).has_value());
}
