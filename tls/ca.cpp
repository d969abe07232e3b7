#include "tls/ca.h"

#include <openssl/pem.h>

#include <filesystem>

#include "tls/cert_info.h"
#include "tls/files.h"
#include "tls/identity_data.h"
#include "tls/x509_build.h"

namespace rampart::tls {
namespace {

bool exists(const std::string& path) {
  std::error_code ec;
  return std::filesystem::exists(path, ec);
}

Result<Identity> loadCa(const std::string& ca_dir) {
  auto paths = CaPaths::in(ca_dir);
  auto ca = Identity::load(paths.cert, paths.key);
  if (!ca) return fail("loading the CA of {}: {}", ca_dir, ca.error().message);
  if (!ca->leaf().is_ca) return fail("{} is not a CA certificate", paths.cert);
  return ca;
}

Issuer issuerOf(const Identity& ca) {
  return Issuer{sk_X509_value(ca.data().chain.get(), 0), ca.data().key.get()};
}

Result<X509ReqPtr> readCsr(const std::string& path) {
  auto file = readSmallFile(path);
  if (!file) return fail("failed to load CSR from {}: {}", path, file.error().message);
  BioPtr bio(BIO_new_mem_buf(file->bytes.data(), static_cast<int>(file->bytes.size())));
  X509ReqPtr req(PEM_read_bio_X509_REQ(bio.get(), nullptr, nullptr, nullptr));
  if (!req) return fail("failed to load CSR from {}: {}", path, takeOpensslErrors("no certificate request found"));
  EVP_PKEY* pub = X509_REQ_get0_pubkey(req.get());
  if (!pub || X509_REQ_verify(req.get(), pub) != 1)
    return fail("CSR {} is not signed by its own key: {}", path, takeOpensslErrors("bad signature"));
  return req;
}

std::string csrCommonName(X509_REQ* req) {
  X509_NAME* name = X509_REQ_get_subject_name(req);
  int i = X509_NAME_get_index_by_NID(name, NID_commonName, -1);
  if (i < 0) return {};
  const ASN1_STRING* s = X509_NAME_ENTRY_get_data(X509_NAME_get_entry(name, i));
  return std::string(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                     static_cast<std::size_t>(ASN1_STRING_length(s)));
}

GeneralNamesPtr csrSans(X509_REQ* req) {
  STACK_OF(X509_EXTENSION)* exts = X509_REQ_get_extensions(req);
  if (!exts) return nullptr;
  GeneralNamesPtr names(
      static_cast<GENERAL_NAMES*>(X509V3_get_d2i(exts, NID_subject_alt_name, nullptr, nullptr)));
  sk_X509_EXTENSION_pop_free(exts, X509_EXTENSION_free);
  return names;
}

}  // namespace

CaPaths CaPaths::in(const std::string& dir) { return {dir + "/ca.pem", dir + "/ca-key.pem"}; }

Result<CertInfo> initCa(const std::string& dir, const std::string& common_name, int days) {
  auto paths = CaPaths::in(dir);
  if (exists(paths.cert) || exists(paths.key)) return fail("{} already holds a CA; not overwriting it", dir);
  if (auto d = makeDirs(dir, 0700); !d) return std::unexpected(d.error());
  auto key = generateP256Key();
  if (!key) return std::unexpected(key.error());
  CertSpec spec;
  spec.common_name = common_name;
  spec.days = days;
  auto cert = buildCertificate(spec, CertKind::Ca, key->get(), Issuer{});
  if (!cert) return std::unexpected(cert.error());
  if (auto w = writeKeyAndCert(paths.cert, paths.key, cert->get(), key->get()); !w) return std::unexpected(w.error());
  return certInfoOf(cert->get());
}

Result<SignedCert> signNode(const std::string& ca_dir, const CertSpec& spec, const std::string& out_prefix) {
  if (auto v = validateHosts(spec.hosts); !v) return std::unexpected(v.error());
  SignedCert out{out_prefix + ".pem", out_prefix + "-key.pem", {}};
  for (const auto& p : {out.cert_path, out.key_path})
    if (exists(p)) return fail("{} already exists; not overwriting it", p);
  auto ca = loadCa(ca_dir);
  if (!ca) return std::unexpected(ca.error());
  auto key = generateP256Key();
  if (!key) return std::unexpected(key.error());
  auto cert = buildCertificate(spec, CertKind::Leaf, key->get(), issuerOf(*ca));
  if (!cert) return std::unexpected(cert.error());
  if (auto w = writeKeyAndCert(out.cert_path, out.key_path, cert->get(), key->get()); !w)
    return std::unexpected(w.error());
  out.info = certInfoOf(cert->get());
  return out;
}

Result<SignedCert> signCsr(const std::string& ca_dir, const std::string& csr_path, const CertSpec& spec,
                           const std::string& out_prefix) {
  SignedCert out{out_prefix + ".pem", "", {}};
  if (exists(out.cert_path)) return fail("{} already exists; not overwriting it", out.cert_path);
  auto req = readCsr(csr_path);
  if (!req) return std::unexpected(req.error());
  CertSpec effective = spec;
  GeneralNamesPtr sans;
  if (effective.hosts.empty()) {
    sans = csrSans(req->get());
    if (!sans || sk_GENERAL_NAME_num(sans.get()) == 0)
      return fail("CSR {} names no subjectAltNames; give --hosts", csr_path);
  } else if (auto v = validateHosts(effective.hosts); !v) {
    return std::unexpected(v.error());
  }
  if (effective.common_name.empty()) effective.common_name = csrCommonName(req->get());
  auto ca = loadCa(ca_dir);
  if (!ca) return std::unexpected(ca.error());
  auto cert = buildCertificate(effective, CertKind::Leaf, X509_REQ_get0_pubkey(req->get()), issuerOf(*ca),
                               sans.get());
  if (!cert) return std::unexpected(cert.error());
  if (auto w = writeKeyAndCert(out.cert_path, "", cert->get(), nullptr); !w) return std::unexpected(w.error());
  out.info = certInfoOf(cert->get());
  return out;
}

}  // namespace rampart::tls
