// `rampart agent`: the daemon. One boost::asio::io_context runs everything:
// the control socket, signals (SIGTERM/SIGINT stop, SIGHUP reloads), the
// systemd watchdog, and the components below.
//
// Components are the agent's jobs (firewall engine, HTTPS endpoint,
// metrics, TLS reload). Each implements `Component`; the daemon starts them
// in order with the loaded configuration, hands them every new valid
// configuration on SIGHUP, asks them for their part of `status`, and stops
// them in reverse order. Where each one is created is marked in
// Daemon::makeComponents (agent/daemon.cpp).
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <nlohmann/json.hpp>

#include "agent/config.h"
#include "common/error.h"

namespace rampart::agent {

class ControlServer;
class FirewallComponent;

class Component {
 public:
  virtual ~Component() = default;
  virtual std::string_view name() const = 0;
  // Before READY=1. An error is logged and the agent runs on without this
  // component's job done (the status shows it): a firewall that could not
  // be applied must not also take away the control socket that can fix it.
  virtual Result<void> start(const Config& config) = 0;
  // SIGHUP with a new configuration that parsed. `config` stays valid until
  // the next reload or stop.
  virtual Result<void> reload(const Config& config) = 0;
  virtual void stop() = 0;
  // This component's part of `rampart status --json` (under its name).
  virtual nlohmann::json status() const { return nlohmann::json::object(); }
};

struct DaemonOptions {
  // The configuration file. When `config_explicit` is false and the file
  // does not exist, the embedded default runs.
  std::string config_path{kDefaultConfigPath};
  bool config_explicit = false;
  // How long a control connection may stay silent (tests make it short).
  std::chrono::milliseconds control_idle_timeout{std::chrono::seconds(5)};
};

class Daemon {
 public:
  explicit Daemon(DaemonOptions options);
  ~Daemon();
  Daemon(const Daemon&) = delete;
  Daemon& operator=(const Daemon&) = delete;

  // Runs until SIGTERM/SIGINT or stop(); returns the process exit code.
  int run();
  // Ends run() cleanly (from the io_context's thread).
  void stop();

  boost::asio::io_context& io() { return io_; }
  const Config& config() const { return *config_; }
  nlohmann::json status() const;

 private:
  Result<std::shared_ptr<const Config>> load() const;
  void makeComponents();
  void registerCommands();
  void reload();
  void watchSignals();
  void startWatchdog();

  DaemonOptions options_;
  boost::asio::io_context io_;
  std::shared_ptr<const Config> config_;
  std::unique_ptr<ControlServer> control_;
  std::vector<std::unique_ptr<Component>> components_;
  FirewallComponent* firewall_ = nullptr;  // in components_
  std::chrono::steady_clock::time_point started_;
  std::chrono::system_clock::time_point loaded_at_;
  uint64_t config_generation_ = 0;
  uint64_t reloads_ = 0;
  uint64_t failed_reloads_ = 0;
  std::string last_reload_error_;
  bool stopping_ = false;
  struct Runtime;
  std::unique_ptr<Runtime> rt_;
};

// Reads the configuration as the agent and `check` do: the file at `path`;
// when it does not exist and `explicit_path` is false, the embedded default.
std::expected<Config, Diagnostics> readConfiguration(const std::string& path, bool explicit_path);

}  // namespace rampart::agent
