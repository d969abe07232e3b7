#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <fstream>

#include "tests/unit/http/test_support.h"
#include "tls/ca.h"
#include "tls/identity.h"

using namespace rampart;
using rampart::testing::TempDir;
using rampart::testing::slurp;

namespace {

}  // namespace

TEST_CASE("tls identity: a key readable by group or others is refused") {
  TempDir dir;
  auto [cert, key] = testing::makeSelfSigned(dir);
  for (mode_t mode : {0640, 0604, 0644, 0660}) {
    ::chmod(key.c_str(), mode);
    auto id = tls::Identity::load(cert, key);
    REQUIRE_FALSE(id);
    CHECK_THAT(id.error().message, Catch::Contains("refusing private key " + key));
    CHECK_THAT(id.error().message, Catch::Contains("chmod 600"));
  }
  ::chmod(key.c_str(), 0600);
  CHECK(tls::Identity::load(cert, key));
  ::chmod(key.c_str(), 0400);
  CHECK(tls::Identity::load(cert, key));
}

TEST_CASE("tls identity: errors name the file") {
  TempDir dir;
  auto [cert, key] = testing::makeSelfSigned(dir);
  auto missing = tls::Identity::load(dir / "nope.pem", key);
  REQUIRE_FALSE(missing);
  CHECK_THAT(missing.error().message,
             Catch::StartsWith("failed to load certificate chain from " + (dir / "nope.pem") + ": open"));

  std::ofstream(dir / "garbage.pem") << "hello, not a certificate\n";
  auto garbage = tls::Identity::load(dir / "garbage.pem", key);
  REQUIRE_FALSE(garbage);
  CHECK_THAT(garbage.error().message, Catch::StartsWith("failed to load certificate chain from " + (dir / "garbage.pem")));

  // Half of the PEM block: a file caught while it is being written.
  std::string pem = slurp(cert);
  std::ofstream(dir / "half.pem") << pem.substr(0, pem.size() / 2);
  auto half = tls::Identity::load(dir / "half.pem", key);
  REQUIRE_FALSE(half);
  CHECK_THAT(half.error().message, Catch::StartsWith("failed to load certificate chain from " + (dir / "half.pem")));

  // A complete certificate followed by half of another is not a shorter chain.
  std::ofstream(dir / "tail.pem") << pem << pem.substr(0, pem.size() / 2);
  CHECK_FALSE(tls::Identity::load(dir / "tail.pem", key));
}

TEST_CASE("tls identity: a key that does not match the certificate is refused") {
  TempDir dir;
  auto [cert_a, key_a] = testing::makeSelfSigned(dir, "a");
  auto [cert_b, key_b] = testing::makeSelfSigned(dir, "b");
  auto id = tls::Identity::load(cert_a, key_b);
  REQUIRE_FALSE(id);
  CHECK_THAT(id.error().message, Catch::Contains("does not match"));
}

TEST_CASE("tls identity: expiry and not-yet-valid are checked against the given time") {
  TempDir dir;
  auto [cert, key] = testing::makeSelfSigned(dir);
  auto now = tls::Clock::now();
  CHECK(tls::Identity::load(cert, key, now));
  auto late = tls::Identity::load(cert, key, now + std::chrono::days(400));
  REQUIRE_FALSE(late);
  CHECK_THAT(late.error().message, Catch::Contains("expired"));
  auto early = tls::Identity::load(cert, key, now - std::chrono::days(1));
  REQUIRE_FALSE(early);
  CHECK_THAT(early.error().message, Catch::Contains("not valid yet"));
}

TEST_CASE("tls identity: the chain must be leaf first, each signed by the next") {
  TempDir dir;
  REQUIRE(tls::initCa(dir / "ca"));
  tls::CertSpec spec;
  spec.hosts = {"node"};
  auto node = tls::signNode(dir / "ca", spec, dir / "node");
  REQUIRE(node);
  std::string leaf = slurp(node->cert_path), ca = slurp(dir / "ca/ca.pem");
  std::ofstream(dir / "good.pem") << leaf << ca;
  auto good = tls::Identity::load(dir / "good.pem", node->key_path);
  REQUIRE(good);
  CHECK(good->chain().size() == 2);
  CHECK(good->chain()[1].is_ca);

  REQUIRE(tls::initCa(dir / "other"));
  std::ofstream(dir / "wrong.pem") << leaf << slurp(dir / "other/ca.pem");
  auto wrong = tls::Identity::load(dir / "wrong.pem", node->key_path);
  REQUIRE_FALSE(wrong);
  CHECK_THAT(wrong.error().message, Catch::Contains("not signed by certificate 2"));
}
