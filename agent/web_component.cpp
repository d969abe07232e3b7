// Asio's executor comparison trips g++ 12's -Wnull-dereference after
// inlining (a false positive inside Boost headers).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "agent/web_component.h"

#include "agent/firewall_component.h"
#include "agent/log.h"
#include "tls/generate.h"
#include "tls/identity.h"

namespace rampart::agent {
namespace {

int64_t unixSeconds(tls::Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

metrics::Options metricsOptions(const Config& config, FirewallComponent* firewall,
                                std::shared_ptr<tls::Reloader> reloader) {
  metrics::Options o;
  o.node_name = config.node.name;
  o.node_role = config.node.role;
  o.disabled = config.disabled_collectors;
  if (firewall != nullptr) {
    o.firewall_state = [firewall]() -> Result<fw::LiveState> {
      if (firewall->engine() == nullptr) return fail("the firewall engine is not running");
      return firewall->engine()->dumpCounters();  // no listing of 100,000 bans per scrape
    };
    o.firewall_counters = [firewall] { return firewall->counters(); };
  }
  std::vector<std::string> files = config.watch_certificates;
  files.insert(files.begin(), config.web.tls.cert_file);
  o.tls_certificates = [files] {
    std::vector<metrics::TlsCertificate> out;
    for (const auto& path : files) {
      auto certs = tls::readCertificates(path);
      if (!certs || certs->empty()) continue;  // a missing file is no metric, not a failure
      const auto& leaf = certs->front();
      out.push_back({path, leaf.subject, unixSeconds(leaf.not_after)});
    }
    return out;
  };
  if (reloader) {
    o.tls_handshakes = [reloader] {
      return metrics::TlsHandshakes{reloader->handshakes().success.load(),
                                    reloader->handshakes().failure.load()};
    };
    o.tls_reloads = [reloader] { return metrics::TlsReloads{reloader->reloads(), reloader->failures()}; };
  }
  return o;
}

WebComponent::WebComponent(boost::asio::io_context& io, FirewallComponent* firewall)
    : io_(io), firewall_(firewall) {}

WebComponent::~WebComponent() { stop(); }

Result<void> WebComponent::start(const Config& config) {
  const auto& t = config.web.tls;
  // The first start makes the node's own certificate (SPEC.md).
  if (auto id = tls::ensureSelfSigned(t.cert_file, t.key_file, tls::defaultHosts()); !id) {
    return fail("TLS identity: {}", id.error().message);
  }
  auto reloader = tls::Reloader::create(t);
  if (!reloader) return fail("TLS: {}", reloader.error().message);
  reloader_ = *reloader;
  reloader_->watch(io_, std::chrono::seconds(30), [](const Result<bool>& r) {
    if (!r) log::error("TLS: the new certificate is not used: {}", r.error().message);
    else if (*r) log::info("TLS: certificate reloaded");
  });

  auto m = metrics::Metrics::create(metricsOptions(config, firewall_, reloader_));
  if (!m) return fail("metrics: {}", m.error().message);
  metrics_ = std::move(*m);

  metrics::http::ServerOptions so;
  so.host = config.listen.host;
  so.port = config.listen.port;
  so.handler.node_name = config.node.name;
  so.handler.basic_auth_users = config.web.basic_auth_users;
  metrics::http::Handlers handlers;
  // Scrapes run on the io_context's thread, so swapping metrics_ on reload
  // (same thread) never races a scrape.
  handlers.metrics = [this] { return metrics::http::MetricsBody{metrics_->scrape()}; };
  handlers.healthy = [] { return true; };
  auto reloader_ptr = reloader_;
  auto server = metrics::http::Server::create(
      io_, so, [reloader_ptr] { return reloader_ptr->current(); }, handlers);
  if (!server) return fail("HTTPS endpoint on {}: {}", config.listen.str(), server.error().message);
  server_ = std::move(*server);
  listen_ = fmt::format("{}", config.listen.host.find(':') != std::string::npos
                                  ? fmt::format("[{}]:{}", config.listen.host, server_->port())
                                  : fmt::format("{}:{}", config.listen.host, server_->port()));
  log::info("HTTPS endpoint on {}", listen_);
  return {};
}

Result<void> WebComponent::reload(const Config& config) {
  if (!server_) return start(config);
  if (config.listen.str() != listen_ && config.listen.port != 0) {
    log::warning("listen changes take effect at the next start (serving {})", listen_);
  }
  auto m = metrics::Metrics::create(metricsOptions(config, firewall_, reloader_));
  if (!m) return fail("metrics: {}", m.error().message);
  metrics_ = std::move(*m);
  if (auto r = reloader_->reload(); !r) return fail("TLS: {}", r.error().message);
  return {};
}

void WebComponent::stop() {
  if (server_) server_->stop();
  if (reloader_) reloader_->stop();
  server_.reset();
}

nlohmann::json WebComponent::status() const {
  nlohmann::json j = {{"running", server_ != nullptr}};
  if (server_) {
    const auto s = server_->stats();
    j["listen"] = listen_;
    j["accepted"] = s.accepted;
    j["active"] = s.active;
  }
  if (reloader_) {
    j["tls_reloads"] = reloader_->reloads();
    j["tls_reload_failures"] = reloader_->failures();
  }
  return j;
}

}  // namespace rampart::agent
