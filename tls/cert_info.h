// CertInfo from an X509 (tls/ internal), and the PEM readers behind
// Identity::load and readCertificates.
#pragma once

#include <string>
#include <string_view>

#include "common/error.h"
#include "tls/identity.h"
#include "tls/openssl_ptr.h"

namespace rampart::tls {

CertInfo certInfoOf(X509* cert);

// Every certificate of a PEM text, in order. Any block that does not parse
// (a half-written file) is an error.
Result<X509StackPtr> parsePemChain(std::string_view pem);
Result<EvpPkeyPtr> parsePemKey(std::string_view pem);

Clock::time_point toTimePoint(const ASN1_TIME* t);
std::string toPem(X509* cert);
std::string toPem(EVP_PKEY* key);

}  // namespace rampart::tls
