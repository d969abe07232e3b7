// The CLI's shared plumbing: each group of verbs lives in its own file and
// adds its subcommands to the one CLI11 app built in main.cpp.
#pragma once

#include <chrono>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

namespace CLI {
class App;
}

namespace rampart::agent {

// Exit codes of SPEC.md.
enum ExitCode : int { kExitOk = 0, kExitError = 1, kExitUsage = 2, kExitNoAgent = 3 };

struct CliContext {
  std::string config_path;     // --config (default /etc/rampart/rampart.yaml)
  std::string socket_path;     // --socket or $RAMPART_SOCKET (default /run/rampart/control.sock)
  int exit_code = kExitOk;     // set by the verb that ran
  bool config_explicit = false;  // --config was given (a missing file is then an error)
};

// The control socket the CLI talks to: --socket / $RAMPART_SOCKET, else the
// configuration's control_socket (when the file reads), else the default.
std::string controlSocketPath(const CliContext& ctx);

// Asks the running agent `cmd` with `params` (agent/control_protocol.h) and
// returns the answer's result. On failure it has already printed why to
// stderr and set ctx.exit_code: 3 when no agent runs (with how to start
// one), 2 for an answer with code "usage" (a bad argument only the agent
// can see), 1 for any other failure or error answer; messages of a grouped
// verb name it ("rampart: fw allow: ..."). Used by every verb
// that talks to the agent:
//
//   auto r = askAgent(ctx, "fw.status", {{"json", true}});
//   if (!r) return;   // exit code already set
std::optional<nlohmann::json> askAgent(CliContext& ctx, const std::string& cmd,
                                       nlohmann::json params = nlohmann::json::object(),
                                       std::chrono::milliseconds timeout = std::chrono::seconds(10));

// `version`, `check`, `status`, `agent`, `metrics` (agent/cli_core.cpp); and
// how `app` prints a parse error: one escaped, bounded line (an unknown verb
// named, with the verbs there are), then the --help hint.
void addCoreCommands(CLI::App& app, CliContext& ctx);

void addTlsCommands(CLI::App& app, CliContext& ctx);  // agent/cli_tls.cpp
void addFwCommands(CLI::App& app, CliContext& ctx);   // agent/cli_fw.cpp

}  // namespace rampart::agent
