// The CLI's shared plumbing: each group of verbs lives in its own file and
// adds its subcommands to the one CLI11 app built in main.cpp.
#pragma once

#include <string>

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
};

void addTlsCommands(CLI::App& app, CliContext& ctx);  // agent/cli_tls.cpp
void addFwCommands(CLI::App& app, CliContext& ctx);   // agent/cli_fw.cpp

}  // namespace rampart::agent
