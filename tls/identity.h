// A certificate chain and its private key, loaded from PEM files and checked
// as a pair (ARCHITECTURE.md, TLS). The OpenSSL objects stay inside tls/:
// this header names only rampart types.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"

namespace rampart::tls {

using Clock = std::chrono::system_clock;

// What a certificate says about itself, as plain values.
struct CertInfo {
  std::string subject;                    // RFC 2253 ("CN=web-01")
  std::string issuer;
  std::vector<std::string> dns_names;     // subjectAltName DNS entries
  std::vector<std::string> ip_addresses;  // subjectAltName IP entries, as text
  Clock::time_point not_before;
  Clock::time_point not_after;
  std::string serial;                     // hex
  std::string sha256_fingerprint;         // "AB:CD:..." (as `openssl x509 -fingerprint`)
  bool is_ca = false;
};

// Reads every certificate of a PEM file (for `tls show` and expiry watches).
// A truncated or garbled block is an error, not a shorter list.
Result<std::vector<CertInfo>> readCertificates(const std::string& path);
Result<std::vector<CertInfo>> parseCertificates(std::string_view pem, const std::string& name);

struct IdentityData;  // the OpenSSL objects; tls/identity_data.h

class Identity {
 public:
  // Loads the chain (leaf first, each certificate signed by the next) and the
  // key, and checks: the key matches the leaf, the chain is in order, the leaf
  // is valid at `now`, and the key file is not readable by group or others.
  static Result<Identity> load(const std::string& cert_path, const std::string& key_path,
                               Clock::time_point now = Clock::now());

  const CertInfo& leaf() const { return chain_.front(); }
  const std::vector<CertInfo>& chain() const { return chain_; }
  const std::string& subject() const { return leaf().subject; }
  Clock::time_point notAfter() const { return leaf().not_after; }
  const std::string& fingerprint() const { return leaf().sha256_fingerprint; }
  // DNS names then IP addresses.
  std::vector<std::string> sans() const;
  const std::string& certPath() const { return cert_path_; }
  const std::string& keyPath() const { return key_path_; }

  // For tls/ only.
  const IdentityData& data() const { return *data_; }

 private:
  Identity() = default;
  std::shared_ptr<const IdentityData> data_;
  std::vector<CertInfo> chain_;
  std::string cert_path_;
  std::string key_path_;
};

}  // namespace rampart::tls
