// Asio's executor comparison trips g++ 12's -Wnull-dereference after
// inlining (a false positive inside Boost headers).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "agent/firewall_component.h"

#include <boost/asio/post.hpp>

#include <algorithm>

#include "agent/log.h"

namespace rampart::agent {

namespace asio = boost::asio;

namespace {
constexpr auto kResolveEvery = std::chrono::seconds(60);
}  // namespace

FirewallComponent::FirewallComponent(asio::io_context& io) : io_(io), resolve_timer_(io) {}

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
  resolveNames();
  return {};
}

Result<void> FirewallComponent::reload(const Config& config) {
  config_ = &config;
  if (!engine_) return start(config);
  if (auto r = apply(); !r) return std::unexpected(r.error());
  resolveNames();  // the names may be new
  return {};
}

void FirewallComponent::fillResolved(fw::Policy& policy) const {
  for (fw::Group& g : policy.groups) {
    g.resolved.clear();
    for (const std::string& name : g.dns_names)
      if (auto it = resolved_.find(name); it != resolved_.end())
        g.resolved.insert(g.resolved.end(), it->second.begin(), it->second.end());
    std::ranges::sort(g.resolved);
    g.resolved.erase(std::unique(g.resolved.begin(), g.resolved.end()), g.resolved.end());
  }
}

void FirewallComponent::resolveNames() {
  if (config_ == nullptr || resolving_) return;
  std::vector<std::string> names;
  for (const fw::Group& g : config_->firewall.groups) names.insert(names.end(), g.dns_names.begin(), g.dns_names.end());
  std::ranges::sort(names);
  names.erase(std::unique(names.begin(), names.end()), names.end());
  resolve_timer_.cancel();
  if (names.empty()) return;
  if (resolver_.joinable()) resolver_.join();
  resolving_ = true;
  // getaddrinfo blocks for as long as DNS takes: never on the event loop.
  resolver_ = std::thread([this, names = std::move(names), alive = std::weak_ptr<bool>(alive_)] {
    std::map<std::string, std::expected<std::vector<fw::Cidr>, std::string>> answers;
    for (const std::string& name : names) {
      if (alive.expired()) return;
      answers.emplace(name, fw::resolveHost(name));
    }
    asio::post(io_, [this, alive, answers = std::move(answers)]() mutable {
      if (alive.expired()) return;
      onResolved(std::move(answers));
    });
  });
}

void FirewallComponent::onResolved(std::map<std::string, std::expected<std::vector<fw::Cidr>, std::string>> answers) {
  resolving_ = false;
  if (!engine_ || config_ == nullptr) return;
  const fw::ResolvedNames before = resolved_;
  fw::Policy groups;
  groups.groups = config_->firewall.groups;
  auto outcome = fw::resolveGroups(groups, resolved_, [&](const std::string& name) {
    auto it = answers.find(name);
    if (it == answers.end()) return std::expected<std::vector<fw::Cidr>, std::string>(std::unexpected("not looked up"));
    return it->second;
  });
  for (const auto& f : outcome.failures)
    log::warning("firewall: group {} ({}): {} does not resolve ({}); {}", f.group, f.loc.str(), f.name, f.error,
                 f.kept > 0 ? fmt::format("keeping its {} last addresses", f.kept) : std::string("no addresses yet"));
  if (resolved_ != before) {
    if (auto r = apply(); r) log::info("firewall: {} DNS names looked up; groups updated", outcome.names);
  }
  resolve_timer_.expires_after(kResolveEvery);
  resolve_timer_.async_wait([this](boost::system::error_code ec) {
    if (!ec) resolveNames();
  });
}

Result<fw::ApplyReport> FirewallComponent::apply() {
  if (!engine_ || config_ == nullptr) return fail("the firewall engine is not running");
  // Assigned into the same buffer each time: the rules' strings and vectors
  // keep their storage, so a 10,000-rule policy costs no allocation here.
  fw::Policy& policy = scratch_;
  policy = config_->firewall;
  fillResolved(policy);
  std::vector<fw::Ban> bans;
  if (overlay_) overlay_(policy, bans);
  return applied(engine_->apply(policy, bans), policy.rules.size());
}

Result<fw::ApplyReport> FirewallComponent::applyBans(const std::vector<fw::Ban>& bans) {
  if (!engine_ || config_ == nullptr) return fail("the firewall engine is not running");
  // Every change of configuration, CLI rules or resolved names applies the
  // whole policy, so the one applied last is the one in force; after a
  // failed apply it may not be.
  const fw::Policy* last = engine_->appliedPolicy();
  if (last == nullptr || !last_error_.empty()) return apply();
  const size_t rules = last->rules.size();
  return applied(engine_->apply(*last, bans), rules);
}

Result<fw::ApplyReport> FirewallComponent::applied(Result<fw::ApplyReport> report, size_t rules) {
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
              rules, report->rules_added, report->rules_deleted,
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
  resolve_timer_.cancel();
  alive_ = std::make_shared<bool>(true);  // answers of a round in flight are dropped
  if (resolver_.joinable()) resolver_.join();
  resolving_ = false;
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
