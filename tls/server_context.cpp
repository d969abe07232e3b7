#include "tls/server_context.h"

#include <openssl/err.h>

#include <boost/asio/ssl/context.hpp>

#include "tls/identity_data.h"
#include "tls/openssl_ptr.h"

namespace rampart::tls {
namespace {

int protoVersion(Version v) {
  switch (v) {
    case Version::TLS10: return TLS1_VERSION;
    case Version::TLS11: return TLS1_1_VERSION;
    case Version::TLS12: return TLS1_2_VERSION;
    case Version::TLS13: return TLS1_3_VERSION;
  }
  return TLS1_2_VERSION;
}

// RequestClientCert and RequireAnyClientCert take any certificate: the chain
// is not checked, as in Go's crypto/tls.
int acceptAnyPeer(int, X509_STORE_CTX*) { return 1; }

Result<void> setVersionsAndCiphers(SSL_CTX* ctx, const ServerConfig& config) {
  if (config.max_version && *config.max_version < config.min_version)
    return fail("max_version {} is below min_version {}", toString(*config.max_version), toString(config.min_version));
  SSL_CTX_set_min_proto_version(ctx, protoVersion(config.min_version));
  SSL_CTX_set_max_proto_version(ctx, config.max_version ? protoVersion(*config.max_version) : 0);
  std::string ciphers = kIntermediateCiphers;
  if (!config.cipher_suites.empty()) {
    ciphers.clear();
    for (const auto& c : config.cipher_suites) ciphers += (ciphers.empty() ? "" : ":") + c;
  }
  if (SSL_CTX_set_cipher_list(ctx, ciphers.c_str()) != 1)
    return fail("cipher_suites: none of '{}' is known: {}", ciphers, takeOpensslErrors());
  if (SSL_CTX_set1_groups_list(ctx, "X25519:P-256:P-384") != 1)
    return fail("setting key exchange groups: {}", takeOpensslErrors());
  uint64_t opts = SSL_OP_NO_COMPRESSION | SSL_OP_NO_RENEGOTIATION;
  if (config.prefer_server_cipher_suites) opts |= SSL_OP_CIPHER_SERVER_PREFERENCE;
  SSL_CTX_set_options(ctx, opts);
  return {};
}

Result<void> setIdentity(SSL_CTX* ctx, const Identity& identity) {
  const IdentityData& d = identity.data();
  if (SSL_CTX_use_certificate(ctx, sk_X509_value(d.chain.get(), 0)) != 1 ||
      SSL_CTX_clear_chain_certs(ctx) != 1)
    return fail("using certificate {}: {}", identity.certPath(), takeOpensslErrors());
  for (int i = 1; i < sk_X509_num(d.chain.get()); ++i)
    if (SSL_CTX_add1_chain_cert(ctx, sk_X509_value(d.chain.get(), i)) != 1)
      return fail("using certificate chain {}: {}", identity.certPath(), takeOpensslErrors());
  if (SSL_CTX_use_PrivateKey(ctx, d.key.get()) != 1 || SSL_CTX_check_private_key(ctx) != 1)
    return fail("using private key {}: {}", identity.keyPath(), takeOpensslErrors());
  return {};
}

Result<void> setClientAuth(SSL_CTX* ctx, const ServerConfig& config) {
  const bool verifies = config.client_auth == ClientAuth::VerifyClientCertIfGiven ||
                        config.client_auth == ClientAuth::RequireAndVerifyClientCert;
  if (config.client_ca_file) {
    if (config.client_auth == ClientAuth::NoClientCert)
      return fail("client_ca_file is set but client_auth_type is NoClientCert; set a client_auth_type");
    const char* file = config.client_ca_file->c_str();
    if (SSL_CTX_load_verify_locations(ctx, file, nullptr) != 1)
      return fail("failed to load client CA from {}: {}", *config.client_ca_file, takeOpensslErrors());
    STACK_OF(X509_NAME)* names = SSL_load_client_CA_file(file);
    if (!names) return fail("failed to load client CA names from {}: {}", *config.client_ca_file, takeOpensslErrors());
    SSL_CTX_set_client_CA_list(ctx, names);  // the context owns names
  } else if (verifies) {
    return fail("client_auth_type {} needs client_ca_file", toString(config.client_auth));
  }
  switch (config.client_auth) {
    case ClientAuth::NoClientCert: SSL_CTX_set_verify(ctx, SSL_VERIFY_NONE, nullptr); break;
    case ClientAuth::RequestClientCert: SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, acceptAnyPeer); break;
    case ClientAuth::RequireAnyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, acceptAnyPeer);
      break;
    case ClientAuth::VerifyClientCertIfGiven: SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, nullptr); break;
    case ClientAuth::RequireAndVerifyClientCert:
      SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, nullptr);
      break;
  }
  return {};
}

}  // namespace

std::string_view toString(ClientAuth auth) {
  switch (auth) {
    case ClientAuth::NoClientCert: return "NoClientCert";
    case ClientAuth::RequestClientCert: return "RequestClientCert";
    case ClientAuth::RequireAnyClientCert: return "RequireAnyClientCert";
    case ClientAuth::VerifyClientCertIfGiven: return "VerifyClientCertIfGiven";
    case ClientAuth::RequireAndVerifyClientCert: return "RequireAndVerifyClientCert";
  }
  return "?";
}

std::string_view toString(Version v) {
  switch (v) {
    case Version::TLS10: return "TLS10";
    case Version::TLS11: return "TLS11";
    case Version::TLS12: return "TLS12";
    case Version::TLS13: return "TLS13";
  }
  return "?";
}

ServerContext::ServerContext(ServerConfig config, Identity identity, std::shared_ptr<HandshakeCounters> counters)
    : config_(std::move(config)),
      identity_(std::move(identity)),
      counters_(counters ? std::move(counters) : std::make_shared<HandshakeCounters>()),
      ctx_(std::make_unique<boost::asio::ssl::context>(boost::asio::ssl::context::tls_server)) {}

ServerContext::~ServerContext() = default;

SSL_CTX* ServerContext::native() const { return ctx_->native_handle(); }

Result<std::shared_ptr<ServerContext>> ServerContext::create(const ServerConfig& config,
                                                             std::shared_ptr<HandshakeCounters> counters,
                                                             std::shared_ptr<TicketKeys> tickets) {
  auto identity = Identity::load(config.cert_file, config.key_file);
  if (!identity) return std::unexpected(identity.error());
  return create(config, std::move(*identity), std::move(counters), std::move(tickets));
}

Result<std::shared_ptr<ServerContext>> ServerContext::create(const ServerConfig& config, Identity identity,
                                                             std::shared_ptr<HandshakeCounters> counters,
                                                             std::shared_ptr<TicketKeys> tickets) {
  if (!tickets) {
    auto own = TicketKeys::create();
    if (!own) return std::unexpected(own.error());
    tickets = std::move(*own);
  }
  std::shared_ptr<ServerContext> sc(new ServerContext(config, std::move(identity), std::move(counters)));
  sc->tickets_ = std::move(tickets);
  SSL_CTX* ctx = sc->ctx_->native_handle();
  ERR_clear_error();
  if (auto r = setVersionsAndCiphers(ctx, config); !r) return std::unexpected(r.error());
  if (auto r = setIdentity(ctx, sc->identity_); !r) return std::unexpected(r.error());
  if (auto r = setClientAuth(ctx, config); !r) return std::unexpected(r.error());
  // Resumption: a server-side session cache and tickets (OpenSSL's default),
  // with a session id context, which OpenSSL requires once peers are verified.
  static constexpr unsigned char kSessionContext[] = "rampart";
  SSL_CTX_set_session_id_context(ctx, kSessionContext, sizeof kSessionContext - 1);
  SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_SERVER);
  SSL_CTX_sess_set_cache_size(ctx, 1024);
  // Tickets are sealed with keys shared across reloads. A ticket lives no
  // longer than its key is still accepted (at least one rotation period).
  if (auto r = sc->tickets_->install(ctx); !r) return std::unexpected(r.error());
  const long rotation = static_cast<long>(sc->tickets_->rotateEvery().count());
  if (SSL_CTX_get_timeout(ctx) > rotation) SSL_CTX_set_timeout(ctx, rotation);
  return sc;
}

}  // namespace rampart::tls
