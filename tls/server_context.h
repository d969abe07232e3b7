// The TLS server context built from `web.tls_server_config`: versions,
// ciphers, the node's identity, client certificates with exporter-toolkit's
// client_auth_type semantics. Immutable once built; a reload builds a new one
// (tls/reloader.h) and sessions keep the one they were accepted with.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>

#include "common/error.h"
#include "tls/identity.h"
#include "tls/server_config.h"
#include "tls/ticket_keys.h"

namespace boost::asio::ssl {
class context;
}
struct ssl_ctx_st;  // SSL_CTX

namespace rampart::tls {

// Handshakes by result, shared by every context of one endpoint so counts
// survive reloads (`rampart_tls_handshakes_total{result}`).
struct HandshakeCounters {
  std::atomic<uint64_t> success{0};
  std::atomic<uint64_t> failure{0};
};

// Mozilla's "intermediate" TLS 1.2 cipher list (TLS 1.3 suites are OpenSSL's
// defaults, all of which that profile allows).
inline constexpr const char* kIntermediateCiphers =
    "ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-RSA-AES128-GCM-SHA256:"
    "ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-RSA-AES256-GCM-SHA384:"
    "ECDHE-ECDSA-CHACHA20-POLY1305:ECDHE-RSA-CHACHA20-POLY1305:"
    "DHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES256-GCM-SHA384:DHE-RSA-CHACHA20-POLY1305";

class ServerContext {
 public:
  // Loads the identity from config.cert_file/key_file, then builds.
  // `tickets`: the session ticket keys to seal and open tickets with, shared
  // with the contexts before and after this one (tls/ticket_keys.h); none:
  // keys of its own.
  static Result<std::shared_ptr<ServerContext>> create(const ServerConfig& config,
                                                       std::shared_ptr<HandshakeCounters> counters = {},
                                                       std::shared_ptr<TicketKeys> tickets = {});
  // Builds around an identity already loaded and checked.
  static Result<std::shared_ptr<ServerContext>> create(const ServerConfig& config, Identity identity,
                                                       std::shared_ptr<HandshakeCounters> counters = {},
                                                       std::shared_ptr<TicketKeys> tickets = {});
  ~ServerContext();
  ServerContext(const ServerContext&) = delete;
  ServerContext& operator=(const ServerContext&) = delete;

  boost::asio::ssl::context& asio() { return *ctx_; }
  // The OpenSSL context, for a session of one's own (SSL_new).
  ssl_ctx_st* native() const;
  const Identity& identity() const { return identity_; }
  const ServerConfig& config() const { return config_; }

  void recordHandshake(bool ok) const { (ok ? counters_->success : counters_->failure).fetch_add(1); }
  const HandshakeCounters& counters() const { return *counters_; }
  const std::shared_ptr<HandshakeCounters>& sharedCounters() const { return counters_; }
  const std::shared_ptr<TicketKeys>& ticketKeys() const { return tickets_; }

 private:
  ServerContext(ServerConfig config, Identity identity, std::shared_ptr<HandshakeCounters> counters);
  ServerConfig config_;
  Identity identity_;
  std::shared_ptr<HandshakeCounters> counters_;
  std::shared_ptr<TicketKeys> tickets_;  // outlives ctx_, whose callback uses it
  std::unique_ptr<boost::asio::ssl::context> ctx_;
};

std::string_view toString(ClientAuth auth);
std::string_view toString(Version v);

}  // namespace rampart::tls
