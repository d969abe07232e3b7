// The agent's configuration (/etc/rampart/rampart.yaml, SPEC.md), parsed once
// into typed values. With no file, the embedded default applies.
#pragma once

#include <cstdint>
#include <expected>
#include <map>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "common/diag.h"
#include "firewall/policy.h"
#include "tls/server_config.h"

namespace rampart::agent {

inline constexpr std::string_view kDefaultConfigPath = "/etc/rampart/rampart.yaml";
inline constexpr std::string_view kDefaultStateDir = "/var/lib/rampart";
inline constexpr std::string_view kDefaultControlSocket = "/run/rampart/control.sock";
inline constexpr uint16_t kDefaultPort = 9643;

struct Listen {
  std::string host = "0.0.0.0";  // IPv4 or IPv6 literal ("::" for both)
  uint16_t port = kDefaultPort;
  bool operator==(const Listen&) const = default;

  std::string str() const;  // "0.0.0.0:9643", "[::]:9643"
};

// "HOST:PORT" with an IPv4 literal, "[IPv6]:PORT", or ":PORT" (all IPv4).
// Port 0 asks the kernel for a free port (tests).
std::expected<Listen, std::string> parseListen(std::string_view text);

struct Config {
  std::string path;  // the file it came from, or "<embedded default>"
  struct {
    std::string name;  // default: the host name
    std::string role;  // free label; default empty
  } node;
  Listen listen;
  struct {
    tls::ServerConfig tls;
    std::map<std::string, std::string> basic_auth_users;  // user -> bcrypt hash
  } web;
  std::vector<std::string> watch_certificates;
  fw::Policy firewall;
  // `metrics: {disable: [filesystem, ...]}`: collectors switched off.
  std::set<std::string> disabled_collectors;
  // Where the agent keeps its state and its control socket. Configurable so
  // tests and the demo run side by side with an installed agent.
  std::string state_dir{kDefaultStateDir};
  std::string control_socket{kDefaultControlSocket};
};

// Parses configuration text; `file` names it in diagnostics. On any error the
// diagnostics list all of them.
std::expected<Config, Diagnostics> parseConfig(std::string_view text, const std::string& file);
// Reads and parses a file (a missing or unreadable file is one diagnostic).
std::expected<Config, Diagnostics> loadConfig(const std::string& path);
// The embedded default of SPEC.md.
Config defaultConfig();

}  // namespace rampart::agent
