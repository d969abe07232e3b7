#include <catch2/catch.hpp>

#include <openssl/pem.h>
#include <openssl/x509v3.h>
#include <sys/stat.h>

#include <fstream>

#include "tests/unit/http/test_support.h"
#include "tls/ca.h"
#include "tls/generate.h"
#include "tls/identity.h"

using namespace rampart;
using rampart::testing::TempDir;

namespace {

X509* readX509(const std::string& path) {
  FILE* f = std::fopen(path.c_str(), "r");
  REQUIRE(f);
  X509* cert = PEM_read_X509(f, nullptr, nullptr, nullptr);
  std::fclose(f);
  REQUIRE(cert);
  return cert;
}

mode_t modeOf(const std::string& path) {
  struct stat st {};
  REQUIRE(::stat(path.c_str(), &st) == 0);
  return st.st_mode & 07777;
}

}  // namespace

TEST_CASE("tls generate: self-signed cert has the SANs, key usage, a 0600 key and 0644 cert") {
  TempDir dir;
  tls::CertSpec spec;
  spec.hosts = {"web-01.example.com", "10.0.0.7", "2001:db8::7"};
  auto info = tls::generateSelfSigned(spec, dir / "cert.pem", dir / "key.pem");
  REQUIRE(info);
  CHECK(info->subject == "CN=web-01.example.com");
  CHECK(info->dns_names == std::vector<std::string>{"web-01.example.com"});
  CHECK(info->ip_addresses == std::vector<std::string>{"10.0.0.7", "2001:db8::7"});
  CHECK_FALSE(info->is_ca);
  CHECK(modeOf(dir / "key.pem") == 0600);
  CHECK(modeOf(dir / "cert.pem") == 0644);
  auto days = std::chrono::duration_cast<std::chrono::hours>(info->not_after - tls::Clock::now()).count() / 24;
  CHECK((days == 396 || days == 397));

  X509* cert = readX509(dir / "cert.pem");
  CHECK((X509_get_key_usage(cert) & KU_DIGITAL_SIGNATURE));
  CHECK_FALSE((X509_get_key_usage(cert) & KU_KEY_CERT_SIGN));
  CHECK(X509_get_extended_key_usage(cert) == XKU_SSL_SERVER);
  CHECK(X509_check_ca(cert) == 0);
  CHECK(EVP_PKEY_get_bits(X509_get0_pubkey(cert)) == 256);
  CHECK(EVP_PKEY_is_a(X509_get0_pubkey(cert), "EC"));
  // 128 random bits with the top bit clear: 16 bytes.
  CHECK(ASN1_STRING_length(X509_get0_serialNumber(cert)) == 16);
  X509_free(cert);

  auto id = tls::Identity::load(dir / "cert.pem", dir / "key.pem");
  REQUIRE(id);
  CHECK(id->fingerprint() == info->sha256_fingerprint);
  CHECK(id->fingerprint().size() == 32 * 3 - 1);
}

TEST_CASE("tls generate: two certificates get different serials") {
  TempDir dir;
  tls::CertSpec spec;
  spec.hosts = {"a"};
  auto a = tls::generateSelfSigned(spec, dir / "a.pem", dir / "a-key.pem");
  auto b = tls::generateSelfSigned(spec, dir / "b.pem", dir / "b-key.pem");
  REQUIRE(a);
  REQUIRE(b);
  CHECK(a->serial != b->serial);
}

TEST_CASE("tls generate: existing files are not overwritten and bad hosts are refused") {
  TempDir dir;
  tls::CertSpec spec;
  spec.hosts = {"node"};
  REQUIRE(tls::generateSelfSigned(spec, dir / "c.pem", dir / "k.pem"));
  auto again = tls::generateSelfSigned(spec, dir / "c.pem", dir / "k.pem");
  REQUIRE_FALSE(again);
  CHECK_THAT(again.error().message, Catch::Contains("already exists"));
  spec.hosts = {"bad host,name"};
  auto bad = tls::generateSelfSigned(spec, dir / "x.pem", dir / "y.pem");
  REQUIRE_FALSE(bad);
  CHECK_THAT(bad.error().message, Catch::Contains("not a DNS name or IP address: 'bad host,name'"));
}

TEST_CASE("tls generate: the default hosts include the loopback address") {
  auto hosts = tls::defaultHosts();
  CHECK(std::find(hosts.begin(), hosts.end(), "127.0.0.1") != hosts.end());
  CHECK(tls::validateHosts(hosts));
}

TEST_CASE("tls ensureSelfSigned: first call creates, second call loads the same identity") {
  TempDir dir;
  auto first = tls::ensureSelfSigned(dir / "tls/cert.pem", dir / "tls/key.pem", {"node-1", "127.0.0.1"});
  REQUIRE(first);
  auto second = tls::ensureSelfSigned(dir / "tls/cert.pem", dir / "tls/key.pem", {"other"});
  REQUIRE(second);
  CHECK(first->fingerprint() == second->fingerprint());
  CHECK(second->sans() == std::vector<std::string>{"node-1", "127.0.0.1"});

  std::filesystem::remove(dir / "tls/key.pem");
  auto half = tls::ensureSelfSigned(dir / "tls/cert.pem", dir / "tls/key.pem", {"node-1"});
  REQUIRE_FALSE(half);
  CHECK_THAT(half.error().message, Catch::Contains("does not"));
}

TEST_CASE("tls ca: a CA-signed node certificate verifies against the CA, with clientAuth when asked") {
  TempDir dir;
  auto ca = tls::initCa(dir / "ca");
  REQUIRE(ca);
  CHECK(ca->is_ca);
  CHECK(modeOf(dir / "ca/ca-key.pem") == 0600);
  auto ca_days = std::chrono::duration_cast<std::chrono::hours>(ca->not_after - tls::Clock::now()).count() / 24;
  CHECK(ca_days >= 3649);

  tls::CertSpec spec;
  spec.hosts = {"db-01", "10.1.2.3"};
  spec.client_auth = true;
  auto node = tls::signNode(dir / "ca", spec, dir / "db-01");
  REQUIRE(node);
  CHECK(node->info.issuer == ca->subject);
  CHECK(node->info.dns_names == std::vector<std::string>{"db-01"});

  X509* ca_cert = readX509(dir / "ca/ca.pem");
  X509* cert = readX509(node->cert_path);
  CHECK((X509_get_key_usage(ca_cert) & KU_KEY_CERT_SIGN));
  CHECK((X509_get_key_usage(ca_cert) & KU_CRL_SIGN));
  CHECK(X509_get_extended_key_usage(cert) == (XKU_SSL_SERVER | XKU_SSL_CLIENT));
  X509_STORE* store = X509_STORE_new();
  X509_STORE_add_cert(store, ca_cert);
  X509_STORE_CTX* vctx = X509_STORE_CTX_new();
  X509_STORE_CTX_init(vctx, store, cert, nullptr);
  CHECK(X509_verify_cert(vctx) == 1);
  X509_STORE_CTX_free(vctx);
  X509_STORE_free(store);
  X509_free(cert);
  X509_free(ca_cert);

  // A node key signed by one CA does not verify against another.
  REQUIRE(tls::initCa(dir / "other"));
  X509* other = readX509(dir / "other/ca.pem");
  X509* cert2 = readX509(node->cert_path);
  X509_STORE* store2 = X509_STORE_new();
  X509_STORE_add_cert(store2, other);
  X509_STORE_CTX* vctx2 = X509_STORE_CTX_new();
  X509_STORE_CTX_init(vctx2, store2, cert2, nullptr);
  CHECK(X509_verify_cert(vctx2) != 1);
  X509_STORE_CTX_free(vctx2);
  X509_STORE_free(store2);
  X509_free(cert2);
  X509_free(other);
}

TEST_CASE("tls ca: signing a CSR keeps its key and takes its SANs") {
  TempDir dir;
  REQUIRE(tls::initCa(dir / "ca"));
  // A CSR made by the openssl binary, as an operator would.
  std::string cmd = fmt::format(
      "openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout {} -out {} "
      "-subj /CN=app-07 -addext subjectAltName=DNS:app-07,IP:10.9.9.9 2>/dev/null",
      dir / "app-key.pem", dir / "app.csr");
  REQUIRE(std::system(cmd.c_str()) == 0);
  ::chmod((dir / "app-key.pem").c_str(), 0600);
  auto signed_cert = tls::signCsr(dir / "ca", dir / "app.csr", {}, dir / "app");
  REQUIRE(signed_cert);
  CHECK(signed_cert->info.subject == "CN=app-07");
  CHECK(signed_cert->info.dns_names == std::vector<std::string>{"app-07"});
  CHECK(signed_cert->info.ip_addresses == std::vector<std::string>{"10.9.9.9"});
  CHECK(tls::Identity::load(dir / "app.pem", dir / "app-key.pem"));

  // A CSR whose signature does not match is refused.
  std::string pem = testing::slurp(dir / "app.csr");
  auto pos = pem.find("\n", pem.find("BEGIN")) + 40;
  pem[pos] = pem[pos] == 'A' ? 'B' : 'A';
  std::ofstream(dir / "bad.csr") << pem;
  CHECK_FALSE(tls::signCsr(dir / "ca", dir / "bad.csr", {}, dir / "bad"));
}
