#include "tls/x509_build.h"

#include <arpa/inet.h>
#include <openssl/ec.h>
#include <openssl/err.h>
#include <openssl/rand.h>

#include <array>

#include "tls/cert_info.h"
#include "tls/files.h"

namespace rampart::tls {
namespace {

Result<void> addExt(X509* cert, X509V3_CTX* ctx, int nid, const char* value) {
  X509ExtensionPtr ext(X509V3_EXT_conf_nid(nullptr, ctx, nid, value));
  if (!ext || X509_add_ext(cert, ext.get(), -1) != 1)
    return fail("adding extension {}: {}", OBJ_nid2sn(nid), takeOpensslErrors());
  return {};
}

Result<GeneralNamesPtr> sansFromHosts(const std::vector<std::string>& hosts) {
  GeneralNamesPtr names(GENERAL_NAMES_new());
  for (const auto& host : hosts) {
    GENERAL_NAME* gn = GENERAL_NAME_new();
    std::array<unsigned char, 16> addr{};
    int len = 0;
    if (inet_pton(AF_INET, host.c_str(), addr.data()) == 1) len = 4;
    else if (inet_pton(AF_INET6, host.c_str(), addr.data()) == 1) len = 16;
    if (len) {
      ASN1_OCTET_STRING* ip = ASN1_OCTET_STRING_new();
      ASN1_OCTET_STRING_set(ip, addr.data(), len);
      GENERAL_NAME_set0_value(gn, GEN_IPADD, ip);  // gn owns ip
    } else {
      ASN1_IA5STRING* dns = ASN1_IA5STRING_new();
      ASN1_STRING_set(dns, host.data(), static_cast<int>(host.size()));
      GENERAL_NAME_set0_value(gn, GEN_DNS, dns);  // gn owns dns
    }
    sk_GENERAL_NAME_push(names.get(), gn);  // names owns gn
  }
  return names;
}

Result<void> setRandomSerial(X509* cert) {
  std::array<unsigned char, 16> bytes{};
  if (RAND_bytes(bytes.data(), bytes.size()) != 1) return fail("RAND_bytes: {}", takeOpensslErrors());
  bytes[0] &= 0x7f;  // positive
  bytes[0] |= 0x40;  // and a full 127 bits, never zero
  BignumPtr bn(BN_bin2bn(bytes.data(), bytes.size(), nullptr));
  Asn1IntegerPtr serial(BN_to_ASN1_INTEGER(bn.get(), nullptr));
  if (!serial || X509_set_serialNumber(cert, serial.get()) != 1)
    return fail("setting serial: {}", takeOpensslErrors());
  return {};
}

}  // namespace

Result<EvpPkeyPtr> generateP256Key() {
  EvpPkeyPtr key(EVP_EC_gen("P-256"));
  if (!key) return fail("generating an ECDSA P-256 key: {}", takeOpensslErrors());
  return key;
}

Result<X509Ptr> buildCertificate(const CertSpec& spec, CertKind kind, EVP_PKEY* subject_key,
                                 const Issuer& issuer, const GENERAL_NAMES* sans) {
  if (spec.days <= 0 || spec.days > 36500) return fail("validity of {} days is out of range (1..36500)", spec.days);
  std::string cn = spec.common_name.empty() && !spec.hosts.empty() ? spec.hosts.front() : spec.common_name;
  if (cn.empty()) return fail("a certificate needs a common name or at least one host");
  if (cn.size() > 64) return fail("common name longer than 64 characters: {}", cn);

  X509Ptr cert(X509_new());
  X509_set_version(cert.get(), X509_VERSION_3);
  if (auto s = setRandomSerial(cert.get()); !s) return std::unexpected(s.error());
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_time_adj_ex(X509_getm_notAfter(cert.get()), spec.days, 0, nullptr);
  X509_set_pubkey(cert.get(), subject_key);

  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, reinterpret_cast<const unsigned char*>(cn.c_str()), -1,
                             -1, 0);
  X509* issuer_cert = issuer.cert ? issuer.cert : cert.get();
  X509_set_issuer_name(cert.get(), X509_get_subject_name(issuer_cert));

  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, issuer_cert, cert.get(), nullptr, nullptr, 0);
  Result<void> r;
  if (kind == CertKind::Ca) {
    r = addExt(cert.get(), &ctx, NID_basic_constraints, "critical,CA:TRUE,pathlen:0");
    if (r) r = addExt(cert.get(), &ctx, NID_key_usage, "critical,keyCertSign,cRLSign");
  } else {
    r = addExt(cert.get(), &ctx, NID_basic_constraints, "critical,CA:FALSE");
    if (r) r = addExt(cert.get(), &ctx, NID_key_usage, "critical,digitalSignature");
    if (r) r = addExt(cert.get(), &ctx, NID_ext_key_usage, spec.client_auth ? "serverAuth,clientAuth" : "serverAuth");
  }
  if (r) r = addExt(cert.get(), &ctx, NID_subject_key_identifier, "hash");
  if (r && issuer.cert) r = addExt(cert.get(), &ctx, NID_authority_key_identifier, "keyid:always");
  if (!r) return std::unexpected(r.error());

  GeneralNamesPtr own_sans;
  if (!sans && !spec.hosts.empty()) {
    auto made = sansFromHosts(spec.hosts);
    if (!made) return std::unexpected(made.error());
    own_sans = std::move(*made);
    sans = own_sans.get();
  }
  if (sans && sk_GENERAL_NAME_num(sans) > 0 &&
      X509_add1_ext_i2d(cert.get(), NID_subject_alt_name, const_cast<GENERAL_NAMES*>(sans), 0,
                        X509V3_ADD_DEFAULT) != 1)
    return fail("adding subjectAltName: {}", takeOpensslErrors());

  if (X509_sign(cert.get(), issuer.key ? issuer.key : subject_key, EVP_sha256()) == 0)
    return fail("signing the certificate: {}", takeOpensslErrors());
  return cert;
}

Result<void> writeKeyAndCert(const std::string& cert_path, const std::string& key_path, X509* cert,
                             EVP_PKEY* key) {
  if (key) {
    if (auto w = writeFileAtomic(key_path, toPem(key), 0600); !w) return w;
  }
  return writeFileAtomic(cert_path, toPem(cert), 0644);
}

}  // namespace rampart::tls
