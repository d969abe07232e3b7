// agent/config.cpp on inputs it must refuse with file:line:col, beyond the
// per-key tests in tests/unit/config.
#include <catch2/catch.hpp>

#include <string>

#include "agent/config.h"

using rampart::agent::parseConfig;
using rampart::agent::parseListen;

namespace {

// The first diagnostic of a refused file, as "line:col: message".
std::string firstError(const std::string& text) {
  auto c = parseConfig(text, "t.yaml");
  if (c) return "accepted";
  const auto& d = c.error().items().front();
  return std::to_string(d.loc.line) + ":" + std::to_string(d.loc.col) + ": " + d.message;
}

}  // namespace

TEST_CASE("config: a second YAML document is an error at its '---', not ignored") {
  CHECK_THAT(firstError("listen: \":9643\"\n---\nlisten: \":1\"\n"),
             Catch::StartsWith("2:1: a second YAML document starts here"));
  CHECK_THAT(firstError("listen: \":9643\"\n---\n"), Catch::StartsWith("2:1: a second YAML document"));
  CHECK_THAT(firstError("listen: \":9643\"\n...\n---\n[\n"), Catch::StartsWith("3:1: a second YAML document"));
  // An explicit start of the one document is fine, and so is an end marker.
  CHECK(parseConfig("---\nlisten: \":9643\"\n...\n", "t.yaml"));
  CHECK(parseConfig("# only a comment\n", "t.yaml"));
}

TEST_CASE("config: listen refuses an IPv4-mapped IPv6 address as firewall addresses do") {
  auto l = parseListen("[::ffff:127.0.0.1]:9643");
  REQUIRE_FALSE(l);
  CHECK_THAT(l.error(), Catch::Contains("IPv4-mapped"));
  CHECK_THAT(l.error(), Catch::Contains("127.0.0.1:PORT"));
  CHECK_FALSE(parseListen("[::ffff:0.0.0.0]:9643"));
  CHECK(parseListen("[::1]:9643"));
  CHECK(parseListen("[::]:9643"));
  CHECK(parseListen("127.0.0.1:9643"));
  CHECK_THAT(firstError("listen: \"[::ffff:10.0.0.1]:1\"\n"), Catch::StartsWith("1:9: listen: "));
}

TEST_CASE("config: a diagnostic shows control characters from the file escaped and long values clipped") {
  const std::string msg = firstError("node:\n  role: \"w\\e[2Jb\"\n");
  CHECK_THAT(msg, Catch::Contains("'w\\x1b[2Jb'"));
  for (unsigned char c : msg) CHECK_FALSE((c < 0x20 || c == 0x7f));
  const std::string long_role = firstError("node:\n  role: " + std::string(100000, 'r') + "!\n");
  CHECK(long_role.size() < 300);
  CHECK_THAT(long_role, Catch::Contains("rrr…'"));
  auto l = parseListen(std::string(5000, '9'));
  REQUIRE_FALSE(l);
  CHECK(l.error().size() < 300);
}

TEST_CASE("config: a diagnostic's location clips a very long path") {
  rampart::SourceLoc loc{"/tmp/" + std::string(5000, 'p') + "/rampart.yaml", 3, 7};
  const std::string s = loc.str();
  CHECK(s.size() < 300);
  CHECK_THAT(s, Catch::StartsWith("/tmp/ppp"));
  CHECK_THAT(s, Catch::EndsWith("ppp/rampart.yaml:3:7"));
}
