// Asio's executor comparison trips g++ 12's -Wnull-dereference after
// inlining (a false positive inside Boost headers).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "agent/daemon.h"

#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>

#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>

#include "agent/control_server.h"
#include "agent/firewall_component.h"
#include "agent/fw_service.h"
#include "agent/log.h"
#include "agent/sd_notify.h"
#include "agent/web_component.h"

namespace rampart::agent {
namespace {

namespace asio = boost::asio;

uint64_t monotonicUsec() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<uint64_t>(ts.tv_sec) * 1'000'000u + static_cast<uint64_t>(ts.tv_nsec) / 1000u;
}

// A no-op outside systemd (NOTIFY_SOCKET unset).
void notify(const std::string& state) {
  if (!notifyServiceManager(state) && std::getenv("NOTIFY_SOCKET") != nullptr) log::debug("sd_notify failed");
}

Result<void> makeDirs(const std::string& path, mode_t mode) {
  for (size_t pos = 1; pos <= path.size(); ++pos) {
    if (pos != path.size() && path[pos] != '/') continue;
    const std::string part = path.substr(0, pos);
    if (::mkdir(part.c_str(), mode) != 0 && errno != EEXIST) {
      return std::unexpected(Error::fromErrno(fmt::format("mkdir {}", part)));
    }
  }
  return {};
}

int64_t unixSeconds(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}

}  // namespace

std::expected<Config, Diagnostics> readConfiguration(const std::string& path, bool explicit_path) {
  struct stat st {};
  if (!explicit_path && ::stat(path.c_str(), &st) != 0 && errno == ENOENT) return defaultConfig();
  return loadConfig(path);
}

struct Daemon::Runtime {
  explicit Runtime(asio::io_context& io) : signals(io), watchdog(io) {}
  asio::signal_set signals;
  asio::steady_timer watchdog;
  std::chrono::microseconds watchdog_interval{0};
};

Daemon::Daemon(DaemonOptions options)
    : options_(std::move(options)), rt_(std::make_unique<Runtime>(io_)) {}

Daemon::~Daemon() = default;

Result<std::shared_ptr<const Config>> Daemon::load() const {
  auto cfg = readConfiguration(options_.config_path, options_.config_explicit);
  if (!cfg) {
    for (const auto& d : cfg.error().items()) log::error("{}", d.str());
    return fail("{}: {} error(s) in the configuration", options_.config_path,
                cfg.error().items().size());
  }
  return std::make_shared<const Config>(std::move(*cfg));
}

void Daemon::makeComponents() {
  // The agent's jobs, in start order (stopped in reverse):
  //
  // Firewall engine: applies config rules + CLI rules + bans on start and
  // reload, repairs drift.
  auto firewall = std::make_unique<FirewallComponent>(io_);
  firewall_ = firewall.get();
  // The `fw` verbs and their state (CLI rules, bans, confirm windows under
  // Config::state_dir): starts before the firewall, whose applies it feeds.
  FwServiceHooks fw_hooks;
  fw_hooks.read_config = [this] {
    return readConfiguration(options_.config_path, options_.config_explicit);
  };
  fw_hooks.reload = [this]() -> Result<void> {
    const uint64_t failed = failed_reloads_;
    reload();
    if (failed_reloads_ != failed) return fail("{}", last_reload_error_);
    return {};
  };
  fw_hooks.config = [this]() -> const Config& { return *config_; };
  auto fw_cli = std::make_unique<FwService>(io_, *firewall_, std::move(fw_hooks));
  fw_cli->registerHandlers(*control_);
  components_.push_back(std::move(fw_cli));
  components_.push_back(std::move(firewall));
  //
  // TLS identity and reload, the metrics collectors, and the HTTPS endpoint
  // on Config::listen (agent/web_component.h).
  components_.push_back(std::make_unique<WebComponent>(io_, firewall_));
}

void Daemon::registerCommands() {
  control_->on("status", [this](const Request&, const Peer&) { return Answer::success(status()); });
  // INTEGRATION: the `fw` verbs register here (agent/cli_fw.cpp's handlers),
  // with access to the firewall component and the state store.
}

nlohmann::json Daemon::status() const {
  using namespace std::chrono;
  const auto up = duration_cast<seconds>(steady_clock::now() - started_).count();
  nlohmann::json j = {
      {"up", true},
      {"pid", static_cast<int64_t>(::getpid())},
      {"version", RAMPART_VERSION},
      {"node", config_->node.name},
      {"role", config_->node.role},
      {"uptime_seconds", up},
      {"config", config_->path},
      {"config_loaded_at", unixSeconds(loaded_at_)},
      {"policy_generation", config_generation_},
      {"reloads", reloads_},
      {"failed_reloads", failed_reloads_},
      {"listen", config_->listen.str()},
      {"state_dir", config_->state_dir},
      {"control_socket", config_->control_socket},
  };
  if (!last_reload_error_.empty()) j["last_reload_error"] = last_reload_error_;
  nlohmann::json comps = nlohmann::json::object();
  for (const auto& c : components_) comps[std::string(c->name())] = c->status();
  j["components"] = std::move(comps);
  return j;
}

void Daemon::watchSignals() {
  rt_->signals.async_wait([this](boost::system::error_code ec, int sig) {
    if (ec) return;
    if (sig == SIGHUP) {
      reload();
      watchSignals();
      return;
    }
    log::notice("received {}, stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    stop();
  });
}

void Daemon::startWatchdog() {
  if (rt_->watchdog_interval.count() <= 0 || stopping_) return;
  rt_->watchdog.expires_after(rt_->watchdog_interval);
  rt_->watchdog.async_wait([this](boost::system::error_code ec) {
    if (ec) return;
    notify("WATCHDOG=1");
    startWatchdog();
  });
}

void Daemon::reload() {
  // systemd ≥ 253 (Type=notify-reload) wants RELOADING=1 with the time.
  notify(fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS=reloading {}", monotonicUsec(),
                     options_.config_path));
  log::info("reloading the configuration from {}", options_.config_path);
  auto next = load();
  if (!next) {
    ++failed_reloads_;
    last_reload_error_ = next.error().message;
    log::error("reload refused: {}; the running configuration stays", next.error().message);
    notify(fmt::format("READY=1\nSTATUS=running; last reload failed: {}", next.error().message));
    return;
  }
  const Config& cfg = **next;
  if (cfg.control_socket != config_->control_socket || cfg.state_dir != config_->state_dir) {
    log::warning("control_socket and state_dir changes take effect at the next start");
  }
  config_ = *next;
  loaded_at_ = std::chrono::system_clock::now();
  ++config_generation_;
  ++reloads_;
  last_reload_error_.clear();
  for (const auto& c : components_) {
    if (auto r = c->reload(*config_); !r) {
      log::error("{}: reload failed: {}", c->name(), r.error().message);
    }
  }
  log::info("configuration reloaded (generation {})", config_generation_);
  notify(fmt::format("READY=1\nSTATUS=running, configuration generation {}", config_generation_));
}

void Daemon::stop() {
  if (stopping_) return;
  stopping_ = true;
  notify("STOPPING=1");
  boost::system::error_code ignored;
  rt_->signals.cancel(ignored);
  rt_->watchdog.cancel();
  for (auto it = components_.rbegin(); it != components_.rend(); ++it) (*it)->stop();
  if (control_) control_->stop();
  io_.stop();
}

int Daemon::run() {
  started_ = std::chrono::steady_clock::now();
  // Signals are taken before anything can fail, so a SIGTERM during start-up
  // still ends us cleanly.
  rt_->signals.add(SIGTERM);
  rt_->signals.add(SIGINT);
  rt_->signals.add(SIGHUP);
  std::signal(SIGPIPE, SIG_IGN);

  auto cfg = load();
  if (!cfg) {
    log::error("{}", cfg.error().message);
    return 1;
  }
  config_ = *cfg;
  loaded_at_ = std::chrono::system_clock::now();
  config_generation_ = 1;
  log::info("rampart {} starting: node {}, configuration {}", RAMPART_VERSION,
            config_->node.name, config_->path);

  if (auto r = makeDirs(config_->state_dir, 0750); !r) {
    log::error("state directory: {}", r.error().message);
    return 1;
  }
  ControlServerOptions copts;
  copts.path = config_->control_socket;
  copts.idle_timeout = options_.control_idle_timeout;
  auto server = ControlServer::create(io_, copts);
  if (!server) {
    log::error("control socket: {}", server.error().message);
    return 1;
  }
  control_ = std::move(*server);
  registerCommands();

  makeComponents();
  for (const auto& c : components_) {
    if (auto r = c->start(*config_); !r) log::error("{}: {}", c->name(), r.error().message);
  }

  watchSignals();
  if (auto interval = serviceWatchdog()) {
    rt_->watchdog_interval = *interval / 2;
    startWatchdog();
  }
  notify(fmt::format("READY=1\nMAINPID={}\nSTATUS=running, control socket {}", ::getpid(),
                     config_->control_socket));
  log::info("ready; control socket {}", config_->control_socket);

  io_.run();
  log::info("stopped");
  return 0;
}

}  // namespace rampart::agent
