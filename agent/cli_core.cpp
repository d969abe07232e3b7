// The verbs that need no firewall or TLS knowledge: version, check, status,
// agent, metrics; and the helpers every verb uses to reach the agent.
#include <sys/stat.h>

#include <cstdio>
#include <iostream>

#include <CLI/CLI.hpp>

#include "agent/cli.h"
#include "agent/config.h"
#include "agent/control_client.h"
#include "agent/daemon.h"
#include "agent/web_component.h"
#include "common/text.h"

namespace rampart::agent {
namespace {

// How much of a path a message shows.
constexpr size_t kShownPath = 200;

std::string humanDuration(int64_t seconds) {
  if (seconds < 60) return fmt::format("{}s", seconds);
  if (seconds < 3600) return fmt::format("{}m{}s", seconds / 60, seconds % 60);
  if (seconds < 86400) return fmt::format("{}h{}m", seconds / 3600, seconds % 3600 / 60);
  return fmt::format("{}d{}h", seconds / 86400, seconds % 86400 / 3600);
}

void runCheck(CliContext& ctx) {
  struct stat st {};
  if (!ctx.config_explicit && ::stat(ctx.config_path.c_str(), &st) != 0) {
    std::printf("%s: no such file; the embedded default applies and is valid\n",
                printableClip(ctx.config_path, kShownPath).c_str());
    return;
  }
  auto cfg = loadConfig(ctx.config_path);
  if (!cfg) {
    std::fputs(cfg.error().str().c_str(), stderr);
    ctx.exit_code = kExitError;
    return;
  }
  std::printf("%s: configuration is valid\n", printableClip(ctx.config_path, kShownPath).c_str());
}

void printStatus(const nlohmann::json& s) {
  const auto str = [&](const char* key) {
    auto it = s.find(key);
    return it != s.end() && it->is_string() ? it->get<std::string>() : std::string("?");
  };
  const auto num = [&](const char* key) {
    auto it = s.find(key);
    return it != s.end() && it->is_number() ? it->get<int64_t>() : int64_t{0};
  };
  const std::string role = str("role");
  std::printf("rampart agent is running (pid %lld, up %s, version %s)\n",
              static_cast<long long>(num("pid")), humanDuration(num("uptime_seconds")).c_str(),
              str("version").c_str());
  std::printf("node:        %s%s\n", str("node").c_str(),
              role.empty() ? "" : fmt::format(" (role {})", role).c_str());
  std::printf("config:      %s (generation %lld)\n", str("config").c_str(),
              static_cast<long long>(num("policy_generation")));
  if (auto it = s.find("last_reload_error"); it != s.end() && it->is_string()) {
    std::printf("last reload: failed: %s\n", it->get<std::string>().c_str());
  }
  std::printf("listen:      %s\n", str("listen").c_str());
  if (auto it = s.find("components"); it != s.end() && it->is_object()) {
    for (const auto& [name, value] : it->items()) {
      std::printf("%-12s %s\n", (name + ":").c_str(), value.dump().c_str());
    }
  }
}

// The subcommand chain a parse got to: `rampart fw frobnicate` stops at fw.
const CLI::App* deepestVerb(const CLI::App* app) {
  while (!app->get_subcommands().empty()) app = app->get_subcommands().front();
  return app;
}

// How a parse error is printed: one line, escaped and bounded (CLI11 quotes
// the arguments it could not use), then the --help hint. Where a verb is
// required, a word that is none is named as an unknown verb, and a missing
// verb is said so; both list the verbs there are.
std::string usageMessage(const CLI::App* app, const CLI::Error& e) {
  std::string line = e.what();
  const CLI::App* at = deepestVerb(app);
  const auto extras = app->remaining(true);
  const auto verbs = at->get_subcommands([](const CLI::App*) { return true; });
  if (!verbs.empty()) {
    std::string names;
    for (const auto* v : verbs) names += fmt::format("{}{}", names.empty() ? "" : ", ", v->get_name());
    std::string path;
    for (const auto* a = at; a->get_parent() != nullptr; a = a->get_parent()) path = " " + a->get_name() + path;
    if (!extras.empty() && !extras.front().starts_with('-')) {
      line = fmt::format("rampart{}: unknown verb '{}' (expected one of: {})", path, printableClip(extras.front()),
                         names);
    } else if (dynamic_cast<const CLI::RequiredError*>(&e) != nullptr) {
      line = fmt::format("rampart{}: a verb is required (one of: {})", path, names);
    }
  }
  std::string out = printableLine(line) + "\n";
  if (app->get_help_ptr() != nullptr) {
    out += fmt::format("Run with {} for more information.\n", app->get_help_ptr()->get_name());
  }
  return out;
}

}  // namespace

std::string controlSocketPath(const CliContext& ctx) {
  if (!ctx.socket_path.empty()) return ctx.socket_path;
  struct stat st {};
  if (::stat(ctx.config_path.c_str(), &st) == 0) {
    if (auto cfg = loadConfig(ctx.config_path)) return cfg->control_socket;
  }
  return std::string(kDefaultControlSocket);
}

std::optional<nlohmann::json> askAgent(CliContext& ctx, const std::string& cmd,
                                       nlohmann::json params, std::chrono::milliseconds timeout) {
  const std::string path = controlSocketPath(ctx);
  ControlClient client(path, timeout);
  // Errors of a grouped verb name it ("fw allow: ..."); top-level verbs don't.
  std::string what;
  if (auto dot = cmd.find('.'); dot != std::string::npos) {
    what = cmd.substr(0, dot) + " " + cmd.substr(dot + 1) + ": ";
  }
  auto answer = client.call(Request{cmd, std::move(params)});
  if (!answer) {
    if (answer.error().kind == ClientError::Kind::NotRunning) {
      std::fprintf(stderr,
                   "rampart agent is not running (no socket at %s); start it with "
                   "`systemctl start rampart` or `rampart agent`\n",
                   printableClip(path, kShownPath).c_str());
      ctx.exit_code = kExitNoAgent;
    } else {
      std::fprintf(stderr, "rampart: %s%s\n", what.c_str(), printableLine(answer.error().message).c_str());
      ctx.exit_code = kExitError;
    }
    return std::nullopt;
  }
  if (!answer->ok) {
    // The agent's answer may quote what was sent; print it as any message
    // that quotes user text.
    std::fprintf(stderr, "rampart: %s%s\n", what.c_str(), printableLine(answer->error).c_str());
    ctx.exit_code = answer->code == "usage" ? kExitUsage : kExitError;
    return std::nullopt;
  }
  return std::move(answer->result);
}

void addCoreCommands(CLI::App& app, CliContext& ctx) {
  app.failure_message(usageMessage);

  app.add_subcommand("version", "print the version")->callback([] {
    std::printf("rampart %s\n", RAMPART_VERSION);
  });

  app.add_subcommand("check", "validate the configuration and policy")->callback([&ctx] {
    runCheck(ctx);
  });

  auto* status = app.add_subcommand("status", "is the agent up; node, role, policy generation");
  auto json = std::make_shared<bool>(false);
  status->add_flag("--json", *json, "machine-readable output");
  status->callback([&ctx, json] {
    auto s = askAgent(ctx, "status");
    if (!s) return;
    if (*json) std::printf("%s\n", s->dump(2).c_str());
    else printStatus(*s);
  });

  app.add_subcommand("agent", "run the daemon (what systemd starts)")->callback([&ctx] {
    DaemonOptions o;
    o.config_path = ctx.config_path;
    o.config_explicit = ctx.config_explicit;
    Daemon daemon(std::move(o));
    ctx.exit_code = daemon.run();
  });

  app.add_subcommand("metrics", "print the metrics exposition once, without HTTP")
      ->callback([&ctx] {
        auto cfg = readConfiguration(ctx.config_path, ctx.config_explicit);
        if (!cfg) {
          std::fputs(cfg.error().str().c_str(), stderr);
          ctx.exit_code = kExitError;
          return;
        }
        // The same collectors as the agent's endpoint, minus the firewall's
        // live counters (those are the running agent's; scrape it for them).
        auto m = metrics::Metrics::create(metricsOptions(*cfg, nullptr, nullptr));
        if (!m) {
          std::fprintf(stderr, "rampart: metrics: %s\n", printableLine(m.error().message).c_str());
          ctx.exit_code = kExitError;
          return;
        }
        const std::string text = (*m)->scrape();
        std::fwrite(text.data(), 1, text.size(), stdout);
      });
}

}  // namespace rampart::agent
