#include "tls/identity.h"

#include <openssl/err.h>

#include <fmt/chrono.h>

#include "tls/cert_info.h"
#include "tls/files.h"
#include "tls/identity_data.h"

namespace rampart::tls {
namespace {

// Each certificate must be issued and signed by the next one.
Result<void> checkChainOrder(STACK_OF(X509) * chain) {
  for (int i = 0; i + 1 < sk_X509_num(chain); ++i) {
    X509* cert = sk_X509_value(chain, i);
    X509* issuer = sk_X509_value(chain, i + 1);
    if (X509_check_issued(issuer, cert) != X509_V_OK ||
        X509_verify(cert, X509_get0_pubkey(issuer)) != 1) {
      ERR_clear_error();
      return fail("certificate {} is not signed by certificate {} (chain must be leaf first, then its issuers)",
                  i + 1, i + 2);
    }
  }
  return {};
}

Result<void> checkValidity(const CertInfo& leaf, Clock::time_point now) {
  if (now < leaf.not_before) return fail("certificate is not valid yet (not before {:%FT%TZ})",
                                         std::chrono::floor<std::chrono::seconds>(leaf.not_before));
  if (now > leaf.not_after) return fail("certificate has expired (not after {:%FT%TZ})",
                                        std::chrono::floor<std::chrono::seconds>(leaf.not_after));
  return {};
}

}  // namespace

Result<std::vector<CertInfo>> parseCertificates(std::string_view pem, const std::string& name) {
  auto chain = parsePemChain(pem);
  if (!chain) return fail("failed to load certificates from {}: {}", name, chain.error().message);
  std::vector<CertInfo> out;
  for (int i = 0; i < sk_X509_num(chain->get()); ++i) out.push_back(certInfoOf(sk_X509_value(chain->get(), i)));
  return out;
}

Result<std::vector<CertInfo>> readCertificates(const std::string& path) {
  auto file = readSmallFile(path);
  if (!file) return fail("failed to load certificates from {}: {}", path, file.error().message);
  return parseCertificates(file->bytes, path);
}

std::vector<std::string> Identity::sans() const {
  std::vector<std::string> out = leaf().dns_names;
  out.insert(out.end(), leaf().ip_addresses.begin(), leaf().ip_addresses.end());
  return out;
}

Result<Identity> Identity::load(const std::string& cert_path, const std::string& key_path,
                                Clock::time_point now) {
  auto cert_file = readSmallFile(cert_path);
  if (!cert_file)
    return fail("failed to load certificate chain from {}: {}", cert_path, cert_file.error().message);
  auto chain = parsePemChain(cert_file->bytes);
  if (!chain) return fail("failed to load certificate chain from {}: {}", cert_path, chain.error().message);

  auto key_file = readSmallFile(key_path);
  if (!key_file) return fail("failed to load private key from {}: {}", key_path, key_file.error().message);
  if ((key_file->st.st_mode & 077) != 0)
    return fail("refusing private key {}: it is accessible to group or others (mode {:04o}); run chmod 600 {}",
                key_path, key_file->st.st_mode & 07777, key_path);
  auto key = parsePemKey(key_file->bytes);
  if (!key) return fail("failed to load private key from {}: {}", key_path, key.error().message);

  X509* leaf = sk_X509_value(chain->get(), 0);
  if (X509_check_private_key(leaf, key->get()) != 1) {
    ERR_clear_error();
    return fail("private key {} does not match the certificate in {}", key_path, cert_path);
  }
  if (auto order = checkChainOrder(chain->get()); !order)
    return fail("failed to load certificate chain from {}: {}", cert_path, order.error().message);

  Identity id;
  for (int i = 0; i < sk_X509_num(chain->get()); ++i) id.chain_.push_back(certInfoOf(sk_X509_value(chain->get(), i)));
  if (auto valid = checkValidity(id.leaf(), now); !valid)
    return fail("{}: {}", cert_path, valid.error().message);
  auto data = std::make_shared<IdentityData>();
  data->chain = std::move(*chain);
  data->key = std::move(*key);
  id.data_ = std::move(data);
  id.cert_path_ = cert_path;
  id.key_path_ = key_path;
  return id;
}

}  // namespace rampart::tls
