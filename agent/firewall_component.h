// The firewall engine as one of the agent's components: applies the desired
// state (configuration rules + CLI rules + bans) on start and on every
// reload, and repairs drift — a commit by another process that touched our
// table, seen on the engine's netlink event socket — by applying again.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "agent/daemon.h"
#include "firewall/engine.h"
#include "firewall/resolver.h"
#include "metrics/sources.h"

namespace rampart::agent {

class FirewallComponent : public Component {
 public:
  // Adds what the agent keeps besides the configuration file to the policy
  // about to be applied: rules added from the CLI and bans (the state store
  // in /var/lib/rampart). Called on every apply.
  using Overlay = std::function<void(fw::Policy& policy, std::vector<fw::Ban>& bans)>;

  explicit FirewallComponent(boost::asio::io_context& io);
  ~FirewallComponent() override;

  std::string_view name() const override { return "firewall"; }
  Result<void> start(const Config& config) override;
  Result<void> reload(const Config& config) override;
  void stop() override;
  nlohmann::json status() const override;

  // INTEGRATION: the CLI-rule/ban state store sets this before start().
  void setOverlay(Overlay overlay) { overlay_ = std::move(overlay); }
  // Applies the current configuration + overlay again (after a CLI change).
  Result<fw::ApplyReport> apply();
  // After a change of bans alone (`bans`, as the overlay would give them):
  // the policy the engine applied last with these bans, without building or
  // comparing 10,000 rules again. apply() when the last apply failed or the
  // engine keeps no policy.
  Result<fw::ApplyReport> applyBans(const std::vector<fw::Ban>& bans);

  // For metrics and the `fw` verbs; null until start() succeeded.
  fw::Engine* engine() { return engine_.get(); }
  metrics::FirewallCounters counters() const { return counters_; }
  uint32_t generation() const { return generation_; }

 private:
  // Counts and logs an apply's outcome (`rules`: the policy's rules).
  Result<fw::ApplyReport> applied(Result<fw::ApplyReport> report, size_t rules);
  void watchEvents();
  void onEvents();
  // DNS names in groups: looked up off the event loop (a thread per round),
  // at start, after a reload and every kResolveEvery; a name that stops
  // resolving keeps its last addresses and is logged.
  void resolveNames();
  void onResolved(std::map<std::string, std::expected<std::vector<fw::Cidr>, std::string>> answers);
  void fillResolved(fw::Policy& policy) const;

  boost::asio::io_context& io_;
  std::unique_ptr<fw::Engine> engine_;
  std::optional<boost::asio::posix::stream_descriptor> events_;
  const Config* config_ = nullptr;
  Overlay overlay_;
  fw::Policy scratch_;  // the policy apply() hands the engine, reused (see apply())
  metrics::FirewallCounters counters_;
  uint32_t generation_ = 0;
  std::string last_error_;
  fw::ResolvedNames resolved_;            // last good addresses per DNS name
  boost::asio::steady_timer resolve_timer_;
  std::thread resolver_;                  // the round in flight, if any
  bool resolving_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);  // guards posted answers
};

}  // namespace rampart::agent
