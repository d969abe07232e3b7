// The `fw` verbs. Each checks its arguments here first (a bad one is a
// one-line error naming it, exit 2, and nothing is sent), then asks the
// agent, which checks again, changes the firewall and answers.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <iostream>
#include <memory>
#include <random>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "agent/cli.h"
#include "agent/control_client.h"
#include "agent/fw_format.h"
#include "agent/fw_state.h"
#include "common/text.h"
#include "common/units.h"
#include "firewall/policy.h"

namespace rampart::agent {
namespace {

using nlohmann::json;

constexpr size_t kMaxArg = 256;
// Addresses per request are bounded by the control socket's line limit:
// leave room for the JSON around them and the escaped newlines.
constexpr size_t kBanChunkBytes = kMaxRequestBytes - 4096;

struct Usage {
  std::string what;
};

[[noreturn]] void usage(std::string what) { throw Usage{std::move(what)}; }

void checkLength(std::string_view arg, const std::string& value) {
  if (value.size() > kMaxArg) usage(fmt::format("{}: longer than {} characters", arg, kMaxArg));
}

std::optional<json> ask(CliContext& ctx, const std::string& verb, json params) {
  if (const char* ssh = std::getenv("SSH_CONNECTION"); ssh != nullptr && std::strlen(ssh) < 200) {
    params["ssh_connection"] = ssh;
  }
  return askAgent(ctx, "fw." + verb, std::move(params), std::chrono::seconds(120));
}

int64_t nowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

// Whether the option was on the command line (perhaps with an empty value).
bool given(const CLI::Option* opt) { return opt != nullptr && opt->count() > 0; }

void checkDuration(std::string_view arg, const std::string& text) {
  checkLength(arg, text);
  auto d = Duration::parse(text);
  if (!d) usage(valueError(arg, text, d.error()));
}

void checkFrom(const std::vector<std::string>& from) {
  for (const auto& f : from) {
    checkLength("--from", f);
    auto c = fw::Cidr::parse(f);
    if (!c && !fw::isValidGroupName(f)) usage(valueError("--from", f, c.error()));
  }
}

// `fw delete NAME|NUMBER`: a number of `fw status` (1 or more) or a rule
// name as firewall/policy.h allows it; anything else is refused here, before
// it is sent.
void checkDeleteTarget(const std::string& target) {
  if (target.empty()) usage("NAME|NUMBER '': expected a rule name or its number in `rampart fw status`");
  checkLength("NAME|NUMBER", target);
  const bool number = std::all_of(target.begin(), target.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (number) {
    if (target.find_first_not_of('0') == std::string::npos)
      usage("NUMBER '0': rules are numbered from 1 (see `rampart fw status`)");
    return;
  }
  if (!fw::isValidRuleName(target))
    usage(fmt::format("NAME '{}': not a rule name (expected 1 to 64 of A-Z a-z 0-9 _ . -) "
                      "nor a number from `rampart fw status`",
                      printableClip(target)));
}

// Runs a verb: a Usage thrown while checking arguments is exit 2.
template <class F>
auto verb(CliContext& ctx, std::string name, F f) {
  return [&ctx, name = std::move(name), f = std::move(f)] {
    try {
      f();
    } catch (const Usage& u) {
      // The reason may quote a library's message about the argument: it
      // is escaped and bounded as the argument itself is.
      std::fprintf(stderr, "rampart: fw %s: %s\n", name.c_str(), printableLine(u.what).c_str());
      ctx.exit_code = kExitUsage;
    }
  };
}

struct RuleArgs {
  std::string port;
  std::vector<std::string> from;
  std::vector<std::string> to;
  std::vector<std::string> interfaces;
  std::string name;
  std::string for_;
  std::string limit;
  bool force = false;
  bool json = false;
};

void addRuleVerb(CLI::App& fw, CliContext& ctx, fw::Action action) {
  const bool allow = action == fw::Action::Allow;
  const std::string verb_name(fw::actionName(action));
  auto a = std::make_shared<RuleArgs>();
  auto* cmd = fw.add_subcommand(verb_name, allow                          ? "allow new connections to a port"
                                      : action == fw::Action::Deny ? "drop traffic to a port (or any)"
                                                                   : "refuse traffic to a port (or any): a TCP reset, "
                                                                     "ICMP port unreachable for the rest");
  cmd->add_option("PORT", a->port,
                  allow ? "PORT[/tcp|udp], a service (ssh, https, dns, postgresql...), or a protocol without ports "
                          "(vrrp, esp, ah, gre, ospf, igmp, sctp)"
                        : "PORT[/tcp|udp], a service (ssh, https...), a protocol without ports (vrrp, esp...), or any")
      ->required();
  cmd->add_option("--from", a->from, "address, network or group (repeatable)");
  cmd->add_option("--to", a->to, "only traffic to this address or network of the node (repeatable)");
  cmd->add_option("--interface", a->interfaces,
                  "only traffic coming in on this interface; eth1, or vlan* for a prefix (repeatable)");
  // An option given with an empty value is an error, not the option left
  // out: `--name "$NAME"` with NAME unset must not add an unnamed rule.
  auto* name_opt = cmd->add_option("--name", a->name, "the rule's name (generated if absent)");
  auto* for_opt = cmd->add_option("--for", a->for_, "temporary: removes itself after this long (30m, 2h, 7d)");
  CLI::Option* limit_opt = nullptr;
  if (allow) limit_opt = cmd->add_option("--limit", a->limit, "new connections per source address (10/minute)");
  cmd->add_flag("--force", a->force, "even if it would cut an SSH session");
  cmd->add_flag("--json", a->json, "machine-readable output");
  cmd->callback(verb(ctx, verb_name, [&ctx, a, allow, verb_name, name_opt, for_opt, limit_opt] {
    json p = json::object();
    checkLength("PORT", a->port);
    if (allow || a->port != "any") {
      auto spec = fw::parsePorts(a->port);
      if (!spec) usage(valueError("PORT", a->port, spec.error()));
      p["ports"] = json::array({a->port});
    }
    checkFrom(a->from);
    if (a->from.size() > 256) usage("--from: at most 256 sources");
    p["from"] = a->from;
    if (a->to.size() > 256) usage("--to: at most 256 destinations");
    for (const auto& dst : a->to) {
      checkLength("--to", dst);
      if (auto c = fw::Cidr::parse(dst); !c) usage(valueError("--to", dst, c.error()));
    }
    p["to"] = a->to;
    if (a->interfaces.size() > fw::kMaxRuleInterfaces)
      usage(fmt::format("--interface: at most {} interfaces", fw::kMaxRuleInterfaces));
    for (const auto& name : a->interfaces) {
      checkLength("--interface", name);
      if (!fw::isValidInterfacePattern(name)) usage(valueError("--interface", name, fw::kInterfaceNameRule));
    }
    p["interfaces"] = a->interfaces;
    if (given(name_opt)) {
      if (!fw::isValidRuleName(a->name))
        usage(fmt::format("--name '{}': expected 1 to 64 of A-Z a-z 0-9 _ . -", printableClip(a->name)));
      p["name"] = a->name;
    }
    if (given(for_opt)) {
      checkDuration("--for", a->for_);
      p["for"] = a->for_;
    }
    if (given(limit_opt)) {
      checkLength("--limit", a->limit);
      auto rate = Rate::parse(a->limit);
      if (!rate) usage(valueError("--limit", a->limit, rate.error()));
      p["limit"] = a->limit;
    }
    p["force"] = a->force;
    auto r = ask(ctx, verb_name, std::move(p));
    if (!r) return;
    if (a->json) {
      std::printf("%s\n", r->dump(2).c_str());
    } else if (!r->value("added", false)) {
      std::printf("skipped: the same rule exists as '%s' (%s)\n", r->value("duplicate", "").c_str(),
                  r->value("description", "").c_str());
    } else {
      std::string expiry = r->contains("expires_ms") ? ", " + remaining(nowMs(), (*r)["expires_ms"].get<int64_t>()) : "";
      std::printf("added rule '%s': %s%s\n", r->value("name", "").c_str(), r->value("description", "").c_str(),
                  expiry.c_str());
    }
  }));
}

// Reads addresses, one a line ('#' comments and blank lines skipped), from
// FILE or stdin, checking each; fills chunks of at most kBanChunkBytes.
std::vector<std::string> readBanFile(const std::string& file) {
  std::ifstream in;
  std::istream* src = &std::cin;
  if (file != "-") {
    in.open(file);
    if (!in) usage(fmt::format("--file '{}': cannot be read: {}", printableClip(file), std::strerror(errno)));
    src = &in;
  }
  std::vector<std::string> chunks(1);
  std::string line;
  size_t n = 0, count = 0, escaped = 0;  // escaped: the chunk's size inside JSON
  while (std::getline(*src, line)) {
    ++n;
    if (line.size() > kMaxArg) usage(fmt::format("--file {} line {}: longer than {} characters", printableClip(file), n, kMaxArg));
    auto hash = line.find('#');
    if (hash != std::string::npos) line.resize(hash);
    auto first = line.find_first_not_of(" \t\r");
    if (first == std::string::npos) continue;
    line = line.substr(first, line.find_last_not_of(" \t\r") - first + 1);
    auto c = fw::Cidr::parse(line);
    if (!c) usage(valueError(fmt::format("--file {} line {}:", printableClip(file), n), line, c.error()));
    if (++count > kMaxBans) usage(fmt::format("--file {}: more than {} addresses", printableClip(file), kMaxBans));
    // Each newline is two bytes once escaped in JSON.
    if (escaped + line.size() + 2 > kBanChunkBytes) {
      chunks.emplace_back();
      escaped = 0;
    }
    escaped += line.size() + 2;
    chunks.back() += line;
    chunks.back() += '\n';
  }
  if (src->bad()) usage(fmt::format("--file {}: read error", printableClip(file)));
  return chunks;
}

std::string batchId() {
  std::random_device rd;
  return fmt::format("{:08x}{:08x}", rd(), rd());
}

void addBanVerbs(CLI::App& fw, CliContext& ctx) {
  struct BanArgs {
    std::vector<std::string> addrs;
    std::string file;
    std::string for_;
    bool force = false;
    bool json = false;
  };
  auto a = std::make_shared<BanArgs>();
  auto* ban = fw.add_subcommand("ban", "drop all traffic from addresses or networks");
  ban->add_option("ADDR", a->addrs, "address or network (repeatable)");
  auto* file_opt = ban->add_option("--file", a->file, "one address or network a line; - for stdin");
  auto* for_opt = ban->add_option("--for", a->for_, "the ban ends by itself after this long");
  ban->add_flag("--force", a->force, "even if it would cut an SSH session");
  ban->add_flag("--json", a->json, "machine-readable output");
  ban->callback(verb(ctx, "ban", [&ctx, a, file_opt, for_opt] {
    std::vector<std::string> chunks(1);
    for (const auto& s : a->addrs) {
      checkLength("ADDR", s);
      auto c = fw::Cidr::parse(s);
      if (!c) usage(valueError("ADDR", s, c.error()));
      chunks.back() += s + "\n";
      if (2 * chunks.back().size() > kBanChunkBytes) usage("ADDR: too many on the command line; use --file");
    }
    if (given(file_opt)) {
      if (a->file.empty()) usage("--file '': expected a file name, or - for stdin");
      auto more = readBanFile(a->file);
      if (2 * (chunks.back().size() + more.front().size()) <= kBanChunkBytes) {
        chunks.back() += more.front();
        more.erase(more.begin());
      }
      for (auto& m : more) chunks.push_back(std::move(m));
    }
    if (chunks.size() == 1 && chunks.front().empty()) usage("ADDR: expected addresses or --file");
    if (given(for_opt)) checkDuration("--for", a->for_);
    const std::string id = batchId();
    std::optional<json> r;
    for (size_t i = 0; i < chunks.size(); ++i) {
      json p = {{"cidrs", std::move(chunks[i])}, {"force", a->force}};
      if (!a->for_.empty()) p["for"] = a->for_;
      if (chunks.size() > 1) {
        p["batch"] = id;
        p["more"] = i + 1 < chunks.size();
      }
      r = ask(ctx, "ban", std::move(p));
      if (!r) return;
    }
    if (a->json) std::printf("%s\n", r->dump(2).c_str());
    else
      std::printf("banned %llu new, %llu renewed; %llu bans in all\n",
                  static_cast<unsigned long long>(r->value("added", uint64_t{0})),
                  static_cast<unsigned long long>(r->value("updated", uint64_t{0})),
                  static_cast<unsigned long long>(r->value("bans", uint64_t{0})));
  }));

  auto unban_addrs = std::make_shared<std::vector<std::string>>();
  auto unban_json = std::make_shared<bool>(false);
  auto* unban = fw.add_subcommand("unban", "lift bans");
  unban->add_option("ADDR", *unban_addrs, "address or network as it was banned")->required();
  unban->add_flag("--json", *unban_json, "machine-readable output");
  unban->callback(verb(ctx, "unban", [&ctx, unban_addrs, unban_json] {
    if (unban_addrs->size() > 4096) usage("ADDR: at most 4096 at once");
    for (const auto& s : *unban_addrs) {
      checkLength("ADDR", s);
      auto c = fw::Cidr::parse(s);
      if (!c) usage(valueError("ADDR", s, c.error()));
    }
    auto r = ask(ctx, "unban", {{"cidrs", *unban_addrs}});
    if (!r) return;
    if (*unban_json) std::printf("%s\n", r->dump(2).c_str());
    else std::printf("unbanned %llu; %llu bans left\n", static_cast<unsigned long long>(r->value("unbanned", uint64_t{0})),
                     static_cast<unsigned long long>(r->value("bans", uint64_t{0})));
  }));

  auto bans_json = std::make_shared<bool>(false);
  auto* bans = fw.add_subcommand("bans", "list the bans");
  bans->add_flag("--json", *bans_json, "machine-readable output");
  bans->callback(verb(ctx, "bans", [&ctx, bans_json] {
    auto r = ask(ctx, "bans", json::object());
    if (!r) return;
    if (*bans_json) std::printf("%s\n", r->dump(2).c_str());
    else std::fputs(renderFwBans(*r).c_str(), stdout);
  }));
}

void addPolicyVerbs(CLI::App& fw, CliContext& ctx) {
  auto check = std::make_shared<bool>(false);
  auto* plan = fw.add_subcommand("plan", "what `fw apply` would change, as a diff against the kernel");
  plan->add_flag("--check", *check, "have the kernel validate the change without committing it");
  plan->callback(verb(ctx, "plan", [&ctx, check] {
    auto r = ask(ctx, "plan", {{"check", *check}});
    if (!r) return;
    if (r->value("empty", true)) std::printf("no changes\n");
    else std::fputs(r->value("changes", "").c_str(), stdout);
  }));

  struct ApplyArgs {
    std::string confirm;
    bool force = false;
  };
  auto a = std::make_shared<ApplyArgs>();
  auto* apply = fw.add_subcommand("apply", "re-read the configuration and apply it");
  auto* confirm_opt =
      apply->add_option("--confirm", a->confirm, "roll back by itself unless `rampart fw confirm` within this long");
  apply->add_flag("--force", a->force, "even if it would cut an SSH session");
  apply->callback(verb(ctx, "apply", [&ctx, a, confirm_opt] {
    json p = {{"force", a->force}};
    if (given(confirm_opt)) {
      checkDuration("--confirm", a->confirm);
      p["confirm"] = a->confirm;
    }
    auto r = ask(ctx, "apply", std::move(p));
    if (!r) return;
    if (r->contains("warnings"))
      for (const auto& w : (*r)["warnings"])
        std::fprintf(stderr, "warning: %s\n", printableLine(w.get<std::string>()).c_str());
    if (r->contains("confirm_deadline_ms")) {
      std::printf("applied; rolls back %s unless `rampart fw confirm`\n",
                  remaining(nowMs(), (*r)["confirm_deadline_ms"].get<int64_t>()).c_str());
    } else {
      std::printf("applied\n");
    }
  }));

  fw.add_subcommand("confirm", "keep the rules of `fw apply --confirm`")->callback(verb(ctx, "confirm", [&ctx] {
    if (ask(ctx, "confirm", json::object())) std::printf("confirmed\n");
  }));
  auto rb_force = std::make_shared<bool>(false);
  auto* rollback = fw.add_subcommand("rollback", "restore the rules from before `fw apply --confirm` now");
  rollback->add_flag("--force", *rb_force, "even if it would cut an SSH session");
  rollback->callback(verb(ctx, "rollback", [&ctx, rb_force] {
    if (ask(ctx, "rollback", {{"force", *rb_force}})) std::printf("rolled back to the previous rules\n");
  }));
}

}  // namespace

void addFwCommands(CLI::App& app, CliContext& ctx) {
  auto* fw = app.add_subcommand("fw", "the running agent's firewall");
  fw->require_subcommand(1);

  auto status_json = std::make_shared<bool>(false);
  auto* status = fw->add_subcommand("status", "live rules, numbered, with packets and bytes");
  status->add_flag("--json", *status_json, "machine-readable output");
  status->callback(verb(ctx, "status", [&ctx, status_json] {
    auto r = ask(ctx, "status", json::object());
    if (!r) return;
    if (*status_json) std::printf("%s\n", r->dump(2).c_str());
    else std::fputs(renderFwStatus(*r, nowMs()).c_str(), stdout);
  }));

  addRuleVerb(*fw, ctx, fw::Action::Allow);
  addRuleVerb(*fw, ctx, fw::Action::Deny);
  addRuleVerb(*fw, ctx, fw::Action::Reject);

  struct DeleteArgs {
    std::string target;
    bool force = false;
  };
  auto d = std::make_shared<DeleteArgs>();
  auto* del = fw->add_subcommand("delete", "remove a rule added from the CLI");
  del->add_option("NAME|NUMBER", d->target, "the rule's name or its number in `fw status`")->required();
  del->add_flag("--force", d->force, "even if it would cut an SSH session");
  del->callback(verb(ctx, "delete", [&ctx, d] {
    checkDeleteTarget(d->target);
    auto r = ask(ctx, "delete", {{"target", d->target}, {"force", d->force}});
    if (r) std::printf("deleted rule '%s' (%s)\n", r->value("deleted", "").c_str(), r->value("description", "").c_str());
  }));

  addBanVerbs(*fw, ctx);
  addPolicyVerbs(*fw, ctx);
}

}  // namespace rampart::agent
