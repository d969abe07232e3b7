// `web.tls_server_config` of the configuration: the keys of Prometheus'
// exporter-toolkit web-config.yml, as typed values.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace rampart::tls {

enum class ClientAuth : uint8_t {
  NoClientCert,                // exporter-toolkit: NoClientCert (default)
  RequestClientCert,
  RequireAnyClientCert,
  VerifyClientCertIfGiven,
  RequireAndVerifyClientCert,
};

enum class Version : uint8_t { TLS10, TLS11, TLS12, TLS13 };

struct ServerConfig {
  std::string cert_file = "/var/lib/rampart/tls/cert.pem";
  std::string key_file = "/var/lib/rampart/tls/key.pem";
  std::optional<std::string> client_ca_file;
  ClientAuth client_auth = ClientAuth::NoClientCert;
  Version min_version = Version::TLS12;
  std::optional<Version> max_version;
  std::vector<std::string> cipher_suites;  // OpenSSL names; empty: Mozilla intermediate
  bool prefer_server_cipher_suites = true;
  bool operator==(const ServerConfig&) const = default;
};

}  // namespace rampart::tls
