// The `tls` verbs.
#include <CLI/CLI.hpp>

#include "agent/cli.h"

namespace rampart::agent {

void addTlsCommands(CLI::App& /*app*/, CliContext& /*ctx*/) {}

}  // namespace rampart::agent
