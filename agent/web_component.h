// The HTTPS endpoint (/metrics, /healthz, /) as one of the agent's
// components: the node's TLS identity (generated on first start when the
// files are absent), its reload without a restart, the metrics collectors,
// and the Beast server on Config::listen.
#pragma once

#include <memory>

#include <boost/asio/io_context.hpp>

#include "agent/daemon.h"
#include "metrics/http/server.h"
#include "metrics/metrics.h"
#include "tls/reloader.h"

namespace rampart::agent {

class FirewallComponent;

// The metrics options the agent and `rampart metrics` share: node labels,
// disabled collectors, watched certificates; `firewall` may be null.
metrics::Options metricsOptions(const Config& config, FirewallComponent* firewall,
                                std::shared_ptr<tls::Reloader> reloader);

class WebComponent : public Component {
 public:
  WebComponent(boost::asio::io_context& io, FirewallComponent* firewall);
  ~WebComponent() override;

  std::string_view name() const override { return "https"; }
  Result<void> start(const Config& config) override;
  Result<void> reload(const Config& config) override;
  void stop() override;
  nlohmann::json status() const override;

 private:
  boost::asio::io_context& io_;
  FirewallComponent* firewall_;
  std::shared_ptr<tls::Reloader> reloader_;
  std::unique_ptr<metrics::Metrics> metrics_;
  std::unique_ptr<metrics::http::Server> server_;
  std::string listen_;
};

}  // namespace rampart::agent
