// Asio's executor comparison trips g++ 12's -Wnull-dereference after
// inlining (a false positive inside Boost headers).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "agent/firewall_component.h"

#include <boost/asio/post.hpp>

#include "agent/log.h"

namespace rampart::agent {

namespace asio = boost::asio;

FirewallComponent::FirewallComponent(asio::io_context& io) : io_(io) {}

FirewallComponent::~FirewallComponent() { stop(); }

Result<void> FirewallComponent::start(const Config& config) {
  config_ = &config;
  auto engine = fw::Engine::create();
  if (!engine) {
    last_error_ = engine.error().message;
    return fail("the firewall engine cannot start: {}", engine.error().message);
  }
  engine_ = std::move(*engine);
  events_.emplace(io_, engine_->eventFd());
  watchEvents();
  if (auto r = apply(); !r) return std::unexpected(r.error());
  return {};
}

Result<void> FirewallComponent::reload(const Config& config) {
  config_ = &config;
  if (!engine_) return start(config);
  if (auto r = apply(); !r) return std::unexpected(r.error());
  return {};
}

Result<fw::ApplyReport> FirewallComponent::apply() {
  if (!engine_ || config_ == nullptr) return fail("the firewall engine is not running");
  // Assigned into the same buffer each time: the rules' strings and vectors
  // keep their storage, so a 10,000-rule policy costs no allocation here.
  fw::Policy& policy = scratch_;
  policy = config_->firewall;
  std::vector<fw::Ban> bans;
  if (overlay_) overlay_(policy, bans);
  auto report = engine_->apply(policy, bans);
  counters_.last_apply_seconds =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
  if (!report) {
    ++counters_.applies_error;
    last_error_ = report.error().message;
    log::error("firewall: apply failed, the kernel's rules stay as they were: {}",
               report.error().message);
    return std::unexpected(report.error());
  }
  ++counters_.applies_success;
  last_error_.clear();
  generation_ = report->generation;
  if (report->unseen_commit) {
    // Someone committed while events were paused for our large commit:
    // look at the table again, as for drift.
    log::warning("firewall: another commit happened during a large apply; checking the table");
    asio::post(io_, [this] {
      if (auto again = apply(); again && again->messages > 0) ++counters_.drift;
    });
  }
  if (report->messages > 0) {
    log::info("firewall: applied {} rules (+{} -{}), {} set elements (+{} -{}), generation {}",
              policy.rules.size(), report->rules_added, report->rules_deleted,
              report->elements_added + report->elements_deleted, report->elements_added,
              report->elements_deleted, report->generation);
  }
  return report;
}

void FirewallComponent::watchEvents() {
  if (!events_) return;
  events_->async_wait(asio::posix::stream_descriptor::wait_read,
                      [this](boost::system::error_code ec) {
                        if (ec) return;  // cancelled by stop()
                        onEvents();
                        watchEvents();
                      });
}

void FirewallComponent::onEvents() {
  auto drift = engine_->readEvents();
  if (!drift) {
    log::warning("firewall: reading netlink events: {}", drift.error().message);
    return;
  }
  if (drift->empty()) return;
  for (const auto& d : *drift) {
    log::warning("firewall: table changed behind the agent's back by pid {} ({}); restoring",
                 d.pid, d.process);
  }
  if (apply()) ++counters_.drift;
}

void FirewallComponent::stop() {
  if (events_) {
    boost::system::error_code ignored;
    events_->cancel(ignored);
    events_->release();  // the engine owns the descriptor
    events_.reset();
  }
  // The rules stay in the kernel when the agent stops (fail closed).
  engine_.reset();
}

nlohmann::json FirewallComponent::status() const {
  nlohmann::json j = {
      {"running", engine_ != nullptr},
      {"generation", generation_},
      {"applies_success", counters_.applies_success},
      {"applies_error", counters_.applies_error},
      {"drift", counters_.drift},
  };
  if (config_ != nullptr) j["policy_rules"] = config_->firewall.rules.size();
  if (!last_error_.empty()) j["last_error"] = last_error_;
  return j;
}

}  // namespace rampart::agent
