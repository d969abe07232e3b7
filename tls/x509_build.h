// Building and signing X509 certificates (tls/ internal): shared by the
// self-signed path and the fleet CA.
#pragma once

#include "common/error.h"
#include "tls/generate.h"
#include "tls/openssl_ptr.h"

namespace rampart::tls {

Result<EvpPkeyPtr> generateP256Key();

enum class CertKind { Leaf, Ca };

struct Issuer {
  X509* cert = nullptr;     // null: self-signed
  EVP_PKEY* key = nullptr;  // signs the certificate
};

// A certificate for `subject_key` (its public half), valid from an hour ago
// (clock skew) for spec.days, with a random 128-bit serial. `sans` may be
// null (then spec.hosts become the subjectAltNames).
Result<X509Ptr> buildCertificate(const CertSpec& spec, CertKind kind, EVP_PKEY* subject_key,
                                 const Issuer& issuer, const GENERAL_NAMES* sans = nullptr);

// Writes the key (0600) and then the certificate (0644), each atomically.
Result<void> writeKeyAndCert(const std::string& cert_path, const std::string& key_path, X509* cert,
                             EVP_PKEY* key);

}  // namespace rampart::tls
