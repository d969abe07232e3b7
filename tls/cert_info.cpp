#include "tls/cert_info.h"

#include <arpa/inet.h>
#include <openssl/err.h>
#include <openssl/pem.h>

#include <ctime>

#include <fmt/format.h>

namespace rampart::tls {
namespace {

std::string nameToString(const X509_NAME* name) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  X509_NAME_print_ex(bio.get(), name, 0, XN_FLAG_RFC2253 & ~ASN1_STRFLGS_ESC_MSB);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string hexColon(const unsigned char* p, unsigned n) {
  std::string out;
  for (unsigned i = 0; i < n; ++i) {
    if (i) out += ':';
    out += fmt::format("{:02X}", p[i]);
  }
  return out;
}

void readSans(X509* cert, CertInfo& info) {
  GeneralNamesPtr names(static_cast<GENERAL_NAMES*>(
      X509_get_ext_d2i(cert, NID_subject_alt_name, nullptr, nullptr)));
  if (!names) return;
  for (int i = 0; i < sk_GENERAL_NAME_num(names.get()); ++i) {
    const GENERAL_NAME* gn = sk_GENERAL_NAME_value(names.get(), i);
    if (gn->type == GEN_DNS) {
      const ASN1_IA5STRING* s = gn->d.dNSName;
      info.dns_names.emplace_back(reinterpret_cast<const char*>(ASN1_STRING_get0_data(s)),
                                  static_cast<std::size_t>(ASN1_STRING_length(s)));
    } else if (gn->type == GEN_IPADD) {
      const ASN1_OCTET_STRING* s = gn->d.iPAddress;
      const unsigned char* bytes = ASN1_STRING_get0_data(s);
      int len = ASN1_STRING_length(s);
      char buf[INET6_ADDRSTRLEN] = {};
      if (len == 4) inet_ntop(AF_INET, bytes, buf, sizeof buf);
      else if (len == 16) inet_ntop(AF_INET6, bytes, buf, sizeof buf);
      else continue;
      info.ip_addresses.emplace_back(buf);
    }
  }
}

}  // namespace

Clock::time_point toTimePoint(const ASN1_TIME* t) {
  std::tm tm{};
  if (!t || ASN1_TIME_to_tm(t, &tm) != 1) return {};
  return Clock::from_time_t(timegm(&tm));
}

CertInfo certInfoOf(X509* cert) {
  CertInfo info;
  info.subject = nameToString(X509_get_subject_name(cert));
  info.issuer = nameToString(X509_get_issuer_name(cert));
  readSans(cert, info);
  info.not_before = toTimePoint(X509_get0_notBefore(cert));
  info.not_after = toTimePoint(X509_get0_notAfter(cert));
  BignumPtr serial(ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), nullptr));
  if (serial) {
    char* hex = BN_bn2hex(serial.get());
    info.serial = hex ? hex : "";
    OPENSSL_free(hex);
  }
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned md_len = 0;
  if (X509_digest(cert, EVP_sha256(), md, &md_len) == 1) info.sha256_fingerprint = hexColon(md, md_len);
  info.is_ca = X509_check_ca(cert) != 0;
  return info;
}

Result<X509StackPtr> parsePemChain(std::string_view pem) {
  X509StackPtr chain(sk_X509_new_null());
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ERR_clear_error();
  while (true) {
    X509Ptr cert(PEM_read_bio_X509(bio.get(), nullptr, nullptr, nullptr));
    if (!cert) {
      unsigned long err = ERR_peek_last_error();
      bool clean_end = ERR_GET_LIB(err) == ERR_LIB_PEM && ERR_GET_REASON(err) == PEM_R_NO_START_LINE;
      if (clean_end && sk_X509_num(chain.get()) > 0) {
        ERR_clear_error();
        break;
      }
      if (clean_end) {
        ERR_clear_error();
        return fail("no certificate found");
      }
      return fail("{}", takeOpensslErrors("malformed PEM"));
    }
    sk_X509_push(chain.get(), cert.release());  // the stack owns it now
  }
  return chain;
}

Result<EvpPkeyPtr> parsePemKey(std::string_view pem) {
  BioPtr bio(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())));
  ERR_clear_error();
  EvpPkeyPtr key(PEM_read_bio_PrivateKey(bio.get(), nullptr, nullptr, nullptr));
  if (!key) return fail("{}", takeOpensslErrors("no private key found"));
  return key;
}

std::string toPem(X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_X509(bio.get(), cert);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

std::string toPem(EVP_PKEY* key) {
  BioPtr bio(BIO_new(BIO_s_mem()));
  PEM_write_bio_PrivateKey(bio.get(), key, nullptr, nullptr, 0, nullptr, nullptr);
  char* data = nullptr;
  long len = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, static_cast<std::size_t>(len));
}

}  // namespace rampart::tls
