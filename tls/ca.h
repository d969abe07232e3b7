// A small fleet CA: one directory holding ca.pem and ca-key.pem, which signs
// node certificates (`rampart tls ca init|sign`).
#pragma once

#include <string>

#include "common/error.h"
#include "tls/generate.h"
#include "tls/identity.h"

namespace rampart::tls {

struct CaPaths {
  std::string cert;  // DIR/ca.pem
  std::string key;   // DIR/ca-key.pem
  static CaPaths in(const std::string& dir);
};

// Creates DIR (0700) with a CA key and a self-signed CA certificate
// (CA:TRUE, keyCertSign + cRLSign, `days`). Refuses an existing CA.
Result<CertInfo> initCa(const std::string& dir, const std::string& common_name = "rampart fleet CA",
                        int days = kDefaultCaDays);

struct SignedCert {
  std::string cert_path;
  std::string key_path;  // empty when a CSR was signed (the key stays with its owner)
  CertInfo info;
};

// A new key and a certificate for `spec` signed by the CA in `ca_dir`, written
// to PREFIX.pem and PREFIX-key.pem.
Result<SignedCert> signNode(const std::string& ca_dir, const CertSpec& spec, const std::string& out_prefix);

// Signs the public key of the CSR in `csr_path` (its signature is checked)
// and writes PREFIX.pem. The subjectAltNames are spec.hosts, or the CSR's own
// when spec.hosts is empty; the common name likewise.
Result<SignedCert> signCsr(const std::string& ca_dir, const std::string& csr_path, const CertSpec& spec,
                           const std::string& out_prefix);

}  // namespace rampart::tls
