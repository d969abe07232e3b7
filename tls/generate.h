// Keys and certificates made in-process with OpenSSL's EVP and X509 APIs
// (`rampart tls init`, and the self-signed certificate of the first start).
#pragma once

#include <string>
#include <vector>

#include "common/error.h"
#include "tls/identity.h"

namespace rampart::tls {

inline constexpr int kDefaultNodeDays = 397;  // the CA/Browser Forum's maximum for server certificates
inline constexpr int kDefaultCaDays = 3650;

// What a new certificate says.
struct CertSpec {
  std::vector<std::string> hosts;  // DNS names and IP literals: the subjectAltNames
  std::string common_name;         // empty: the first host
  int days = kDefaultNodeDays;
  bool client_auth = false;        // extKeyUsage clientAuth besides serverAuth
};

// Every host must be an IP literal or a DNS name (letters, digits, '-', '.',
// a leading "*." wildcard).
Result<void> validateHosts(const std::vector<std::string>& hosts);

// The host name and every address of the node's interfaces (getifaddrs).
std::vector<std::string> defaultHosts();

// An ECDSA P-256 key and a self-signed certificate for `spec`, written as
// key 0600 and certificate 0644, each atomically. Refuses to overwrite
// existing files unless `overwrite`.
Result<CertInfo> generateSelfSigned(const CertSpec& spec, const std::string& cert_path,
                                    const std::string& key_path, bool overwrite = false);

// The agent's first start: loads the identity if both files exist, makes a
// self-signed one for `hosts` if neither does (creating the directory), and
// refuses when only one of them exists.
Result<Identity> ensureSelfSigned(const std::string& cert_path, const std::string& key_path,
                                  const std::vector<std::string>& hosts);

}  // namespace rampart::tls
