#include <catch2/catch.hpp>

#include <fstream>

#include "tests/unit/http/test_support.h"
#include "tls/files.h"
#include "tls/reloader.h"

using namespace rampart;
using rampart::testing::TempDir;
using rampart::testing::slurp;

namespace {

tls::ServerConfig configFor(const std::string& cert, const std::string& key) {
  tls::ServerConfig c;
  c.cert_file = cert;
  c.key_file = key;
  return c;
}

}  // namespace

TEST_CASE("tls reloader: unchanged files are not reloaded; new valid files swap the context") {
  TempDir dir;
  auto [cert, key] = testing::makeSelfSigned(dir);
  auto r = tls::Reloader::create(configFor(cert, key));
  REQUIRE(r);
  auto first = (*r)->current();
  auto unchanged = (*r)->check();
  REQUIRE(unchanged);
  CHECK_FALSE(*unchanged);
  CHECK((*r)->current() == first);

  auto [cert2, key2] = testing::makeSelfSigned(dir, "next", {"next"});
  REQUIRE(tls::writeFileAtomic(key, slurp(key2), 0600));
  REQUIRE(tls::writeFileAtomic(cert, slurp(cert2), 0644));
  auto changed = (*r)->check();
  REQUIRE(changed);
  CHECK(*changed);
  CHECK((*r)->current() != first);
  CHECK((*r)->current()->identity().subject() == "CN=next");
  CHECK((*r)->reloads() == 1);
  // The old context is still whole for whoever holds it.
  CHECK(first->identity().subject() == "CN=localhost");
}

TEST_CASE("tls reloader: a garbage or half-written certificate leaves the old identity, reported once") {
  TempDir dir;
  auto [cert, key] = testing::makeSelfSigned(dir);
  auto r = tls::Reloader::create(configFor(cert, key));
  REQUIRE(r);
  auto before = (*r)->current();
  std::string pem = slurp(cert);

  std::ofstream(cert, std::ios::trunc) << pem.substr(0, pem.size() / 2);
  auto half = (*r)->check();
  REQUIRE_FALSE(half);
  CHECK_THAT(half.error().message, Catch::Contains("still serving"));
  CHECK_THAT(half.error().message, Catch::Contains("failed to load certificate chain from " + cert));
  CHECK((*r)->current() == before);
  CHECK((*r)->failures() == 1);
  // The same bad file is not reported again on every tick.
  auto again = (*r)->check();
  REQUIRE(again);
  CHECK_FALSE(*again);
  CHECK((*r)->failures() == 1);

  std::ofstream(cert, std::ios::trunc) << "garbage\n";
  CHECK_FALSE((*r)->check());
  CHECK((*r)->current() == before);
  CHECK((*r)->failures() == 2);

  // Fixed: the next check picks it up.
  std::ofstream(cert, std::ios::trunc) << pem;
  auto fixed = (*r)->check();
  REQUIRE(fixed);
  CHECK(*fixed);
  CHECK((*r)->current()->identity().fingerprint() == before->identity().fingerprint());
}

TEST_CASE("tls reloader: a new key readable by others is refused and the old identity stays") {
  TempDir dir;
  auto [cert, key] = testing::makeSelfSigned(dir);
  auto r = tls::Reloader::create(configFor(cert, key));
  REQUIRE(r);
  auto before = (*r)->current();
  auto [cert2, key2] = testing::makeSelfSigned(dir, "next", {"next"});
  REQUIRE(tls::writeFileAtomic(key, slurp(key2), 0644));
  REQUIRE(tls::writeFileAtomic(cert, slurp(cert2), 0644));
  auto result = (*r)->check();
  REQUIRE_FALSE(result);
  CHECK_THAT(result.error().message, Catch::Contains("refusing private key"));
  CHECK((*r)->current() == before);
}

TEST_CASE("tls reloader: the timer reports a reload on the io_context") {
  TempDir dir;
  auto [cert, key] = testing::makeSelfSigned(dir);
  // The io_context is declared first so it outlives the reloader's timer.
  boost::asio::io_context io;
  auto r = tls::Reloader::create(configFor(cert, key));
  REQUIRE(r);
  std::optional<Result<bool>> reported;
  (*r)->watch(io, std::chrono::milliseconds(10), [&](const Result<bool>& res) {
    reported = res;
    (*r)->stop();
  });
  auto [cert2, key2] = testing::makeSelfSigned(dir, "next", {"next"});
  REQUIRE(tls::writeFileAtomic(key, slurp(key2), 0600));
  REQUIRE(tls::writeFileAtomic(cert, slurp(cert2), 0644));
  io.run_for(std::chrono::seconds(5));  // returns as soon as the watch stops
  REQUIRE(reported.has_value());
  REQUIRE(reported->has_value());
  CHECK(reported->value());
}

TEST_CASE("tls server context: config errors are refused") {
  TempDir dir;
  auto [cert, key] = testing::makeSelfSigned(dir);
  auto c = configFor(cert, key);
  c.client_auth = tls::ClientAuth::RequireAndVerifyClientCert;
  auto no_ca = tls::ServerContext::create(c);
  REQUIRE_FALSE(no_ca);
  CHECK_THAT(no_ca.error().message, Catch::Contains("needs client_ca_file"));

  c = configFor(cert, key);
  c.client_ca_file = cert;
  auto ca_without_auth = tls::ServerContext::create(c);
  REQUIRE_FALSE(ca_without_auth);
  CHECK_THAT(ca_without_auth.error().message, Catch::Contains("NoClientCert"));

  c = configFor(cert, key);
  c.cipher_suites = {"NOT-A-CIPHER"};
  CHECK_FALSE(tls::ServerContext::create(c));

  c = configFor(cert, key);
  c.min_version = tls::Version::TLS13;
  c.max_version = tls::Version::TLS12;
  CHECK_FALSE(tls::ServerContext::create(c));
}
