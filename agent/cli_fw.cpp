// The `fw` verbs. Each adds a subcommand to `app` and talks to the agent
// with askAgent() (agent/cli.h).
#include <CLI/CLI.hpp>

#include "agent/cli.h"

namespace rampart::agent {

void addFwCommands(CLI::App& /*app*/, CliContext& /*ctx*/) {}

}  // namespace rampart::agent
