// rampart: the daemon and the operator's CLI in one binary.
#include <cstdio>

#include <CLI/CLI.hpp>

#include "agent/cli.h"
#include "agent/config.h"

int main(int argc, char** argv) {
  using namespace rampart::agent;
  CliContext ctx;
  ctx.config_path = std::string(kDefaultConfigPath);

  CLI::App app{"rampart: one host agent for firewall, TLS and metrics"};
  app.require_subcommand(1);
  // Global options may also follow the verb: `rampart check --config FILE`.
  app.fallthrough();
  app.add_option("--config", ctx.config_path, "configuration file")
      ->each([&ctx](const std::string&) { ctx.config_explicit = true; });
  app.add_option("--socket", ctx.socket_path, "the agent's control socket")
      ->envname("RAMPART_SOCKET");

  addCoreCommands(app, ctx);
  addFwCommands(app, ctx);
  addTlsCommands(app, ctx);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = app.exit(e);
    // --help and --version are successes; every other parse error is a
    // usage error (SPEC.md: exit 2).
    return rc == 0 ? kExitOk : kExitUsage;
  }
  return ctx.exit_code;
}
