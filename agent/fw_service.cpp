// Asio's executor comparison trips g++ 12's -Wnull-dereference after
// inlining (a false positive inside Boost headers).
#pragma GCC diagnostic ignored "-Wnull-dereference"

#include "agent/fw_service.h"

#include <algorithm>
#include <set>
#include <unordered_set>

#include "agent/firewall_component.h"
#include "agent/log.h"
#include "common/text.h"

namespace rampart::agent {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

// A request that cannot be carried out as asked: answered with code "usage"
// (the CLI exits 2) and nothing changes.
struct UsageError {
  std::string what;
};

constexpr size_t kMaxFrom = 256;
constexpr size_t kMaxStagedBatches = 4;
constexpr auto kStagedIdle = std::chrono::seconds(30);
// Longest wait a temporary rule, ban or confirm window may have.
constexpr auto kMaxFor = std::chrono::hours(24 * 365 * 10);

int64_t toMs(std::chrono::system_clock::time_point t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}

bool flag(const Request& req, const char* key) {
  auto it = req.params.find(key);
  return it != req.params.end() && it->is_boolean() && it->get<bool>();
}

std::optional<std::string> optString(const Request& req, const char* key, size_t max = 256) {
  auto it = req.params.find(key);
  if (it == req.params.end() || it->is_null()) return std::nullopt;
  if (!it->is_string()) throw UsageError{fmt::format("{}: expected a string", key)};
  std::string s = it->get<std::string>();
  if (s.size() > max) throw UsageError{fmt::format("{}: longer than {} characters", key, max)};
  return s;
}

std::vector<std::string> stringList(const Request& req, const char* key, size_t max_items) {
  std::vector<std::string> out;
  auto it = req.params.find(key);
  if (it == req.params.end() || it->is_null()) return out;
  if (!it->is_array()) throw UsageError{fmt::format("{}: expected a list", key)};
  if (it->size() > max_items) throw UsageError{fmt::format("{}: more than {} items", key, max_items)};
  for (const auto& e : *it) {
    if (!e.is_string() || e.get_ref<const std::string&>().size() > 256)
      throw UsageError{fmt::format("{}: expected strings of at most 256 characters", key)};
    out.push_back(e.get<std::string>());
  }
  return out;
}

std::optional<milliseconds> optDuration(const Request& req, const char* key, const char* arg) {
  auto s = optString(req, key, 64);
  if (!s) return std::nullopt;
  auto d = Duration::parse(*s);
  if (!d) throw UsageError{valueError(arg, *s, d.error())};
  if (d->value > kMaxFor) throw UsageError{fmt::format("{} '{}': at most 10 years", arg, *s)};
  return d->value;
}

std::string portsText(const fw::Rule& r) {
  if (r.ports.empty()) return "any";
  std::string s;
  for (const auto& p : r.ports) s += (s.empty() ? "" : ",") + p.str();
  return s;
}

std::vector<std::string> sourcesOf(const fw::Rule& r) {
  std::vector<std::string> out;
  for (const auto& c : r.from) out.push_back(c.str());
  for (const auto& g : r.from_groups) out.push_back(g);
  return out;
}

std::vector<std::string> destinationsOf(const fw::Rule& r) {
  std::vector<std::string> out;
  for (const auto& c : r.to) out.push_back(c.str());
  return out;
}

std::string describeRule(const fw::Rule& r) {
  auto src = sourcesOf(r);
  std::string from = src.empty() ? "any" : fmt::format("{}", fmt::join(src, ","));
  std::string on = r.interfaces.empty() ? "" : fmt::format(" on {}", fmt::join(r.interfaces, ","));
  std::string to = r.to.empty() ? "" : fmt::format(" to {}", fmt::join(destinationsOf(r), ","));
  return fmt::format("{} {} from {}{}{}", fw::actionName(r.action), portsText(r), from, to, on);
}

// Same action, chain, ports and sources: the same rule whatever its name.
bool sameMatch(const fw::Rule& a, const fw::Rule& b) {
  auto sorted = [](auto v) {
    std::ranges::sort(v);
    v.erase(std::unique(v.begin(), v.end()), v.end());
    return v;
  };
  return a.action == b.action && a.hook == b.hook && sorted(a.ports) == sorted(b.ports) &&
         sorted(a.from) == sorted(b.from) && sorted(a.from_groups) == sorted(b.from_groups) &&
         sorted(a.to) == sorted(b.to) && sorted(a.interfaces) == sorted(b.interfaces);
}

bool nameTaken(const std::vector<const fw::Rule*>& rules, std::string_view name) {
  return std::ranges::any_of(rules, [&](const fw::Rule* r) { return r->name == name; });
}

// "cli-443-tcp", "cli-deny-22-tcp", "cli-deny-any", then "-2", "-3"...
std::string generatedName(const fw::Rule& r, const std::vector<const fw::Rule*>& effective) {
  std::string base = r.action == fw::Action::Allow ? "cli-" : fmt::format("cli-{}-", fw::actionName(r.action));
  if (r.ports.empty()) base += "any";
  else
    for (char c : r.ports.front().str()) base += (c == '/' ? '-' : c);
  std::string name = base;
  for (int i = 2; nameTaken(effective, name) && i < 100000; ++i) name = fmt::format("{}-{}", base, i);
  return name;
}

json ruleJson(const fw::Rule& r, size_t number) {
  json ports = json::array();
  for (const auto& p : r.ports) ports.push_back(p.str());
  json j = {{"number", number},
            {"name", r.name},
            {"action", fw::actionName(r.action)},
            {"chain", r.hook == fw::Hook::Input ? "input" : r.hook == fw::Hook::Forward ? "forward" : "output"},
            {"ports", std::move(ports)},
            {"sources", sourcesOf(r)},
            {"interfaces", r.interfaces},
            {"to", destinationsOf(r)},
            {"origin", r.origin == fw::Origin::Cli ? "cli" : "config"},
            {"expires_ms", r.expires ? json(toMs(*r.expires)) : json(nullptr)},
            {"limit", r.limit ? json(r.limit->str()) : json(nullptr)}};
  if (r.origin == fw::Origin::Config && !r.loc.file.empty()) j["source"] = r.loc.str();
  return j;
}

// Rules in the order the kernel evaluates them (input, forward, output),
// which is the numbering of `fw status` and `fw delete NUMBER`.
std::vector<const fw::Rule*> numbered(const std::vector<const fw::Rule*>& rules) {
  std::vector<const fw::Rule*> out;
  out.reserve(rules.size());
  for (fw::Hook h : {fw::Hook::Input, fw::Hook::Forward, fw::Hook::Output})
    for (const fw::Rule* r : rules)
      if (r->hook == h) out.push_back(r);
  return out;
}

std::chrono::steady_clock::time_point steadyAt(std::chrono::system_clock::time_point wall) {
  auto left = wall - std::chrono::system_clock::now();
  if (left < std::chrono::system_clock::duration::zero()) left = {};
  return std::chrono::steady_clock::now() + std::chrono::duration_cast<std::chrono::steady_clock::duration>(left);
}

}  // namespace

FwService::FwService(boost::asio::io_context& io, FirewallComponent& firewall, FwServiceHooks hooks)
    : io_(io), firewall_(firewall), hooks_(std::move(hooks)), expiry_timer_(io), confirm_timer_(io) {
  firewall_.setOverlay([this](fw::Policy& policy, std::vector<fw::Ban>& bans) {
    if (state_.rollback && serializePolicy(policy) != serializePolicy(state_.rollback->rejected)) {
      // The file changed since the rollback: the operator has moved on.
      log::notice("firewall: the configuration changed; the rollback of {} ends",
                  Clock::to_time_t(state_.rollback->at));
      FwState next = state_;
      next.rollback.reset();
      if (save(next)) state_ = std::move(next);
    }
    if (state_.rollback && serializePolicy(policy) == serializePolicy(state_.rollback->rejected))
      policy = state_.rollback->policy;
    addCliRules(policy, state_);
    bans = state_.bans;
  });
}

FwService::~FwService() { stop(); }

const fw::Policy& FwService::configPolicy() const { return hooks_.config().firewall; }

namespace {

// The CLI rules of `state` still in force, in order: not expired, and not
// shadowed by a config rule that took the name since (the CLI rule waits).
// Few CLI rules are looked up one by one, many through a hash of the names.
std::vector<const fw::Rule*> cliRulesInForce(const fw::Policy& base, const FwState& state) {
  std::vector<const fw::Rule*> out;
  if (state.rules.empty()) return out;
  const auto now = std::chrono::system_clock::now();
  std::unordered_set<std::string_view> config_names;
  const bool hashed = state.rules.size() > 8;
  if (hashed)
    for (const auto& r : base.rules) config_names.insert(r.name);
  for (const auto& cr : state.rules) {
    if (cr.rule.expires && *cr.rule.expires <= now) continue;
    bool in_config = hashed ? config_names.contains(cr.rule.name)
                            : std::ranges::any_of(base.rules, [&](const fw::Rule& r) { return r.name == cr.rule.name; });
    if (!in_config) out.push_back(&cr.rule);
  }
  return out;
}

}  // namespace

fw::Policy FwService::effectivePolicy(const fw::Policy& config_policy, const FwState& state) const {
  fw::Policy p = basePolicy(config_policy, state);
  addCliRules(p, state);
  return p;
}

const fw::Policy& FwService::basePolicy(const fw::Policy& config_policy, const FwState& state) const {
  if (state.rollback && serializePolicy(config_policy) == serializePolicy(state.rollback->rejected))
    return state.rollback->policy;
  return config_policy;
}

std::vector<const fw::Rule*> FwService::effectiveRules(const fw::Policy& base, const FwState& state) const {
  std::vector<const fw::Rule*> out = cliRulesInForce(base, state);
  out.reserve(out.size() + base.rules.size());
  for (const fw::Rule& r : base.rules) out.push_back(&r);
  return out;
}

void FwService::addCliRules(fw::Policy& p, const FwState& state) const {
  std::vector<fw::Rule> rules;
  for (const fw::Rule* r : cliRulesInForce(p, state)) rules.push_back(*r);
  // CLI rules go first; the config's rules move (no copy) behind them.
  p.rules.insert(p.rules.begin(), std::make_move_iterator(rules.begin()), std::make_move_iterator(rules.end()));
}

Result<void> FwService::start(const Config& config) {
  path_ = config.state_dir + "/" + std::string(kFwStateFile);
  const auto now = Clock::now();
  auto loaded = loadState(path_, now);
  if (!loaded) {
    writable_ = false;
    load_problem_ = loaded.error().message;
    state_ = {};
    return fail("{}; the configuration's policy runs without CLI rules and bans, and the file is left alone",
                loaded.error().message);
  }
  writable_ = true;
  state_ = std::move(loaded->state);
  if (loaded->set_aside) {
    load_problem_ = *loaded->set_aside;
    log::error("firewall state: {}", *loaded->set_aside);
  }
  FwState next = state_;
  // A journal that was replayed goes into a whole new file now, so it
  // starts afresh (without a line a crash may have cut short).
  bool changed = next.prune(now) || loaded->journal_used;
  if (next.pending && next.pending->deadline <= now) {
    log::warning("firewall: the confirm window ended while the agent was down; rolling back");
    next.rollback = RollbackInForce{next.pending->previous, config.firewall, now};
    next.pending.reset();
    changed = true;
  }
  if (changed) {
    if (auto r = save(next); !r) log::error("firewall state: {}", r.error().message);
    else state_ = std::move(next);
  }
  log::info("firewall state {}: {} CLI rules, {} bans{}", path_, state_.rules.size(), state_.bans.size(),
            state_.pending ? ", a confirm window open" : "");
  armTimers();
  return {};
}

Result<void> FwService::reload(const Config&) { return {}; }

void FwService::stop() {
  expiry_timer_.cancel();
  confirm_timer_.cancel();
}

nlohmann::json FwService::status() const {
  json j = {{"state_file", path_}, {"cli_rules", state_.rules.size()}, {"bans", state_.bans.size()}};
  if (state_.pending) j["confirm_deadline_ms"] = toMs(state_.pending->deadline);
  if (state_.rollback) j["rolled_back_at_ms"] = toMs(state_.rollback->at);
  if (!load_problem_.empty()) j["state_problem"] = load_problem_;
  return j;
}

Result<void> FwService::save(const FwState& state) {
  if (!writable_) return fail("{} could not be read at start, so it is not overwritten: {}", path_, load_problem_);
  auto r = saveState(path_, state);
  if (r) journal_lines_ = 0;
  return r;
}

Result<void> FwService::saveBans(const FwState& state, const std::vector<BanChange>& changes) {
  // The journal stays within half the bans (at least 1,024 lines): replaying
  // it at start costs no more than reading the file, and the whole save it
  // defers is paid once per that many changes.
  const size_t limit = std::max<size_t>(1024, state.bans.size() / 2);
  if (!writable_ || journal_lines_ > limit || changes.size() > limit - journal_lines_) return save(state);
  auto r = appendBanJournal(path_, changes);
  if (!r) {
    journal_lines_ = SIZE_MAX;  // a line may be cut short: the next save is a whole one
    return r;
  }
  journal_lines_ += changes.size();
  return {};
}

namespace {

// Whether a rule can decide a connection to one of `ports` (a rule for
// every port can).
bool coversAny(const fw::Rule& r, const std::vector<uint16_t>& ports) {
  if (r.ports.empty()) return true;
  return std::ranges::any_of(r.ports, [&](const fw::PortSpec& spec) {
    return std::ranges::any_of(ports, [&](uint16_t p) { return spec.range.first <= p && p <= spec.range.last; });
  });
}

// True when going from `before` to `after` (the same configuration) cannot
// change what happens to a connection to `ports`: no new ban, and every
// CLI rule that came or went is for other ports. Then there is no need to
// look at the connections (a walk of the kernel's whole TCP table).
bool cannotCut(const FwState& before, const FwState& after, const std::vector<uint16_t>& ports) {
  // Bans beyond the common head of both lists (`fw ban` appends) are looked
  // up among the rest of `before`, sorted once.
  size_t head = 0;
  while (head < before.bans.size() && head < after.bans.size() && before.bans[head].cidr == after.bans[head].cidr)
    ++head;
  if (head < after.bans.size()) {
    std::vector<fw::Cidr> had;
    had.reserve(before.bans.size() - head);
    for (size_t i = head; i < before.bans.size(); ++i) had.push_back(before.bans[i].cidr);
    std::ranges::sort(had);
    for (size_t i = head; i < after.bans.size(); ++i)
      if (!std::ranges::binary_search(had, after.bans[i].cidr)) return false;
  }
  auto changed = [&](const std::vector<CliRule>& from, const std::vector<CliRule>& to) {
    for (const auto& r : from) {
      bool kept = std::ranges::any_of(to, [&](const CliRule& o) { return o.rule == r.rule; });
      if (!kept && coversAny(r.rule, ports)) return true;
    }
    return false;
  };
  return !changed(before.rules, after.rules) && !changed(after.rules, before.rules);
}

}  // namespace

std::vector<std::string> FwService::guard(const fw::Policy& before_cfg, const FwState& before,
                                          const fw::Policy& after_cfg, const FwState& after,
                                          const Request& req) const {
  if (flag(req, "force")) return {};
  const fw::Policy& base = basePolicy(before_cfg, before);
  // The ports sshd listens on as the rules in force say (read through
  // pointers: 10,000 rules are not copied for it), and the port of the
  // session the CLI was typed in.
  std::vector<uint16_t> ports = sshPorts(effectiveRules(base, before));
  std::optional<GuardConnection> session;
  if (auto s = optString(req, "ssh_connection", 200)) session = parseSshConnection(*s);
  if (session && std::ranges::find(ports, session->local_port) == ports.end()) ports.push_back(session->local_port);
  const bool same_base = &before_cfg == &after_cfg && before.pending == after.pending && before.rollback == after.rollback;
  if (same_base && cannotCut(before, after, ports)) return {};
  GuardInput in;
  // Only bans changed (a `fw ban`) and established connections are accepted
  // before any rule: only a new ban can cut one, and the policies are not
  // needed (GuardInput). Otherwise both, copied.
  const bool same_policy = same_base && before.rules == after.rules;
  std::optional<fw::Policy> b, a;
  if (!same_policy || !base.builtins.established) {
    b = effectivePolicy(before_cfg, before);
    if (!same_policy) a = effectivePolicy(after_cfg, after);
    in.before = &*b;
    in.after = a ? &*a : &*b;
  }
  in.bans_before = &before.bans;
  in.bans_after = &after.bans;
  in.now = Clock::now();
  if (session) in.connections.push_back(*session);
  for (auto& c : establishedTo(ports, hooks_.proc_root)) {
    bool same = std::ranges::any_of(in.connections, [&](const GuardConnection& o) {
      return o.peer == c.peer && o.peer_port == c.peer_port && o.local_port == c.local_port;
    });
    if (!same) in.connections.push_back(c);
  }
  nameInterfaces(in.connections);
  return lockoutReasons(in);
}

Answer FwService::commit(FwState next, const Request& req, json result,
                         std::optional<std::vector<BanChange>> bans) {
  const fw::Policy& cfg = configPolicy();
  if (auto reasons = guard(cfg, state_, cfg, next, req); !reasons.empty()) {
    return Answer::failure("lockout", fmt::format("refused, it would lock you out: {}. Nothing was changed; "
                                                  "add --force to do it anyway",
                                                  fmt::join(reasons, "; ")));
  }
  if (auto r = bans ? saveBans(next, *bans) : save(next); !r) return Answer::failure("state", r.error().message);
  FwState old = std::exchange(state_, std::move(next));
  if (auto r = bans ? firewall_.applyBans(state_.bans) : firewall_.apply(); !r) {
    state_ = std::move(old);
    if (auto s = save(state_); !s) log::error("firewall state: restoring {}: {}", path_, s.error().message);
    return Answer::failure("apply", fmt::format("the kernel refused the change, nothing was changed: {}",
                                                r.error().message));
  }
  armTimers();
  return Answer::success(std::move(result));
}

Answer FwService::status(const Request&) {
  const fw::Policy& base = basePolicy(configPolicy(), state_);
  const std::vector<const fw::Rule*> effective = effectiveRules(base, state_);
  std::map<std::string, fw::LiveRule> live;
  json result = json::object();
  if (fw::Engine* e = firewall_.engine()) {
    if (auto d = e->dump(); d) {
      for (auto& r : d->rules) live.emplace(r.name, r);
      result["kernel_bans"] = d->bans;
      result["kernel_rules"] = d->kernel_rules;
      result["generation"] = d->generation;
    } else {
      result["kernel_error"] = d.error().message;
    }
  } else {
    result["kernel_error"] = "the firewall engine is not running";
  }
  json rules = json::array();
  size_t n = 0;
  for (const fw::Rule* r : numbered(effective)) {
    json j = ruleJson(*r, ++n);
    auto it = live.find(r->name);
    j["in_kernel"] = it != live.end();
    j["packets"] = it != live.end() ? it->second.packets : 0;
    j["bytes"] = it != live.end() ? it->second.bytes : 0;
    rules.push_back(std::move(j));
  }
  result["rules"] = std::move(rules);
  result["bans"] = state_.bans.size();
  if (state_.pending) result["confirm_deadline_ms"] = toMs(state_.pending->deadline);
  if (state_.rollback) result["rolled_back_at_ms"] = toMs(state_.rollback->at);
  if (!load_problem_.empty()) result["state_problem"] = load_problem_;
  return Answer::success(std::move(result));
}

Answer FwService::addRule(const Request& req, fw::Action action) {
  const auto now = Clock::now();
  const fw::Policy& base = basePolicy(configPolicy(), state_);
  const std::vector<const fw::Rule*> effective = effectiveRules(base, state_);
  fw::Rule rule;
  rule.action = action;
  rule.origin = fw::Origin::Cli;
  rule.loc = SourceLoc{"<cli>", 0, 0};
  auto ports = stringList(req, "ports", 1);
  for (const auto& text : ports) {
    auto specs = fw::parsePorts(text);
    if (!specs) throw UsageError{valueError("PORT", text, specs.error())};
    rule.ports.insert(rule.ports.end(), specs->begin(), specs->end());
  }
  if (rule.ports.empty() && action == fw::Action::Allow) throw UsageError{"PORT: expected a port such as 443/tcp"};
  for (const auto& src : stringList(req, "from", kMaxFrom)) {
    if (auto c = fw::Cidr::parse(src)) {
      rule.from.push_back(*c);
      continue;
    } else if (!fw::isValidGroupName(src)) {
      throw UsageError{valueError("--from", src, c.error())};
    }
    if (base.findGroup(src) == nullptr) {
      std::vector<std::string> names;
      for (const auto& g : base.groups) names.push_back(g.name);
      throw UsageError{fmt::format("--from '{}': no such group in the policy (groups: {})", src,
                                   names.empty() ? std::string("none") : fmt::format("{}", fmt::join(names, ", ")))};
    }
    rule.from_groups.push_back(src);
  }
  for (const auto& dst : stringList(req, "to", kMaxFrom)) {
    auto c = fw::Cidr::parse(dst);
    if (!c) throw UsageError{valueError("--to", dst, c.error())};
    if (std::ranges::find(rule.to, *c) == rule.to.end()) rule.to.push_back(*c);
  }
  if (!fw::familiesMeet(rule))
    throw UsageError{"--from and --to: the sources are all of one address family and the destinations of the other"};
  for (const auto& name : stringList(req, "interfaces", fw::kMaxRuleInterfaces)) {
    if (!fw::isValidInterfacePattern(name))
      throw UsageError{valueError("--interface", name, fw::kInterfaceNameRule)};
    if (std::ranges::find(rule.interfaces, name) == rule.interfaces.end()) rule.interfaces.push_back(name);
  }
  if (auto limit = optString(req, "limit", 64)) {
    if (action != fw::Action::Allow) throw UsageError{"--limit: only an allow rule takes a limit"};
    auto rate = Rate::parse(*limit);
    if (!rate) throw UsageError{valueError("--limit", *limit, rate.error())};
    rule.limit = *rate;
  }
  if (auto d = optDuration(req, "for", "--for")) rule.expires = now + *d;
  for (const fw::Rule* r : effective) {
    if (sameMatch(*r, rule)) {
      return Answer::success({{"duplicate", r->name}, {"added", false}, {"description", describeRule(*r)}});
    }
  }
  if (auto name = optString(req, "name", 64)) {
    if (!fw::isValidRuleName(*name))
      throw UsageError{fmt::format("--name '{}': expected 1 to 64 of A-Z a-z 0-9 _ . -", *name)};
    if (nameTaken(effective, *name)) throw UsageError{fmt::format("--name '{}': a rule of that name exists", *name)};
    rule.name = *name;
  } else {
    rule.name = generatedName(rule, effective);
  }
  if (state_.rules.size() >= kMaxCliRules)
    return Answer::failure("limit", fmt::format("at most {} CLI rules; delete some first", kMaxCliRules));
  FwState next = state_;
  next.rules.push_back(CliRule{rule, now});
  json result = {{"added", true}, {"name", rule.name}, {"description", describeRule(rule)}};
  if (rule.expires) result["expires_ms"] = toMs(*rule.expires);
  return commit(std::move(next), req, std::move(result));
}

Answer FwService::deleteRule(const Request& req) {
  auto target = optString(req, "target", 64);
  if (!target || target->empty()) throw UsageError{"NAME|NUMBER: expected a rule name or number"};
  const std::vector<const fw::Rule*> effective = effectiveRules(basePolicy(configPolicy(), state_), state_);
  auto order = numbered(effective);
  const fw::Rule* found = nullptr;
  if (std::ranges::all_of(*target, [](char c) { return c >= '0' && c <= '9'; })) {
    size_t n = 0;
    for (char c : *target) n = std::min<size_t>(n * 10 + static_cast<size_t>(c - '0'), 1u << 30);
    if (n == 0 || n > order.size())
      throw UsageError{fmt::format("NUMBER '{}': expected 1 to {} (see `rampart fw status`)", *target, order.size())};
    found = order[n - 1];
  } else {
    for (const fw::Rule* r : order)
      if (r->name == *target) found = r;
    if (found == nullptr) return Answer::failure("not_found", fmt::format("no rule named '{}'", *target));
  }
  if (found->origin == fw::Origin::Config) {
    return Answer::failure("config_rule", fmt::format("rule '{}' comes from the configuration file ({}); "
                                                      "edit it there and run `rampart fw apply`",
                                                      found->name, found->loc.str()));
  }
  FwState next = state_;
  std::erase_if(next.rules, [&](const CliRule& r) { return r.rule.name == found->name; });
  json result = {{"deleted", found->name}, {"description", describeRule(*found)}};
  return commit(std::move(next), req, std::move(result));
}

Answer FwService::ban(const Request& req) {
  // Addresses come as text, one per line, so 100,000 fit in a few requests.
  auto text = optString(req, "cidrs", kMaxRequestBytes);
  std::vector<fw::Cidr> cidrs;
  if (text) {
    std::string_view rest = *text;
    size_t line = 0;
    while (!rest.empty()) {
      size_t nl = rest.find('\n');
      std::string_view item = rest.substr(0, nl);
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      ++line;
      if (item.empty()) continue;
      auto c = fw::Cidr::parse(item);
      if (!c) throw UsageError{valueError("ADDR", item, c.error())};
      cidrs.push_back(*c);
    }
  }
  auto duration = optDuration(req, "for", "--for");
  const auto steady_now = std::chrono::steady_clock::now();
  std::erase_if(staged_, [&](const auto& kv) { return steady_now - kv.second.touched > kStagedIdle; });
  auto batch = optString(req, "batch", 64);
  if (batch) {
    auto it = staged_.find(*batch);
    if (it == staged_.end()) {
      if (staged_.size() >= kMaxStagedBatches) return Answer::failure("busy", "too many ban uploads at once; retry");
      it = staged_.emplace(*batch, Staged{}).first;
    }
    Staged& s = it->second;
    if (s.cidrs.size() + cidrs.size() > kMaxBans)
      throw UsageError{fmt::format("ADDR: at most {} bans at once", kMaxBans)};
    s.cidrs.insert(s.cidrs.end(), cidrs.begin(), cidrs.end());
    s.touched = steady_now;
    if (flag(req, "more")) return Answer::success({{"staged", s.cidrs.size()}});
    cidrs = std::move(s.cidrs);
    duration = duration ? duration : s.duration;
    staged_.erase(it);
  }
  if (cidrs.empty()) throw UsageError{"ADDR: expected at least one address or network"};
  const auto now = Clock::now();
  std::optional<Clock::time_point> expires;
  if (duration) expires = now + *duration;
  FwState next = state_;
  // Where each address already has a ban: a sorted index for many at once,
  // a scan of the list for a few (no index of 100,000 bans for one).
  std::vector<std::pair<fw::Cidr, size_t>> index;
  const bool indexed = cidrs.size() > 16;
  if (indexed) {
    index.reserve(next.bans.size());
    for (size_t i = 0; i < next.bans.size(); ++i) index.emplace_back(next.bans[i].cidr, i);
    std::ranges::sort(index);
  }
  auto findBan = [&](const fw::Cidr& c) -> std::optional<size_t> {
    if (!indexed) {
      auto it = std::ranges::find(next.bans, c, &fw::Ban::cidr);
      return it == next.bans.end() ? std::nullopt : std::optional<size_t>(it - next.bans.begin());
    }
    auto it = std::ranges::lower_bound(index, c, {}, &std::pair<fw::Cidr, size_t>::first);
    if (it != index.end() && it->first == c) return it->second;
    return std::nullopt;
  };
  // An address named twice in this request is banned once: every mention
  // after its first is marked.
  std::vector<bool> repeated(cidrs.size(), false);
  std::vector<size_t> order(cidrs.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::ranges::stable_sort(order, {}, [&](size_t i) -> const fw::Cidr& { return cidrs[i]; });
  for (size_t k = 1; k < order.size(); ++k) repeated[order[k]] = cidrs[order[k]] == cidrs[order[k - 1]];
  size_t added = 0, updated = 0;
  std::vector<BanChange> changes;
  changes.reserve(cidrs.size());
  for (size_t i = 0; i < cidrs.size(); ++i) {
    const fw::Cidr& c = cidrs[i];
    if (repeated[i]) {
      ++updated;  // as before: the second mention renews the first
      continue;
    }
    changes.push_back(BanChange{c, false, expires});
    std::optional<size_t> at = findBan(c);
    if (!at) {
      next.bans.push_back(fw::Ban{c, expires});
      ++added;
    } else {
      next.bans[*at].expires = expires;
      ++updated;
    }
  }
  if (next.bans.size() > kMaxBans)
    return Answer::failure("limit", fmt::format("at most {} bans; unban some first", kMaxBans));
  json result = {{"added", added}, {"updated", updated}, {"bans", next.bans.size()}};
  if (expires) result["expires_ms"] = toMs(*expires);
  return commit(std::move(next), req, std::move(result), std::move(changes));
}

Answer FwService::unban(const Request& req) {
  auto list = stringList(req, "cidrs", 4096);
  if (list.empty()) throw UsageError{"ADDR: expected at least one address or network"};
  std::set<fw::Cidr> wanted;
  for (const auto& s : list) {
    auto c = fw::Cidr::parse(s);
    if (!c) throw UsageError{valueError("ADDR", s, c.error())};
    wanted.insert(*c);
  }
  FwState next = state_;
  std::set<fw::Cidr> found;
  std::erase_if(next.bans, [&](const fw::Ban& b) {
    if (!wanted.contains(b.cidr)) return false;
    found.insert(b.cidr);
    return true;
  });
  for (const auto& c : wanted) {
    if (found.contains(c)) continue;
    for (const auto& b : state_.bans)
      if (b.cidr.contains(c))
        return Answer::failure("not_found", fmt::format("{} is not banned itself; it is inside the ban of {}; "
                                                        "unban {} instead",
                                                        c.str(), b.cidr.str(), b.cidr.str()));
    return Answer::failure("not_found", fmt::format("{} is not banned", c.str()));
  }
  json result = {{"unbanned", found.size()}, {"bans", next.bans.size()}};
  std::vector<BanChange> changes;
  for (const auto& c : found) changes.push_back(BanChange{c, true, std::nullopt});
  return commit(std::move(next), req, std::move(result), std::move(changes));
}

Answer FwService::bans(const Request&) {
  const auto now = Clock::now();
  json list = json::array();
  for (const auto& b : state_.bans) {
    if (b.expires && *b.expires <= now) continue;
    list.push_back({{"cidr", b.cidr.str()}, {"expires_ms", b.expires ? json(toMs(*b.expires)) : json(nullptr)}});
  }
  return Answer::success({{"bans", std::move(list)}, {"now_ms", toMs(now)}});
}

Answer FwService::plan(const Request& req) {
  auto cfg = hooks_.read_config();
  if (!cfg) {
    std::string lines;
    for (const auto& d : cfg.error().items()) lines += "\n  " + d.str();
    return Answer::failure("config", fmt::format("the configuration has errors; nothing would be applied:{}", lines));
  }
  fw::Engine* e = firewall_.engine();
  if (e == nullptr) return Answer::failure("engine", "the firewall engine is not running");
  FwState s = state_;
  s.rollback.reset();  // `fw apply` ends a rollback
  auto text = e->plan(effectivePolicy(cfg->firewall, s), s.bans, flag(req, "check"));
  if (!text) return Answer::failure("apply", fmt::format("the kernel would refuse it: {}", text.error().message));
  return Answer::success({{"changes", *text}, {"empty", text->empty()}});
}

Answer FwService::apply(const Request& req) {
  if (state_.pending) {
    return Answer::failure("pending", "a confirm window is open: `rampart fw confirm` keeps the running rules, "
                                      "`rampart fw rollback` restores the previous ones");
  }
  auto confirm = optDuration(req, "confirm", "--confirm");
  auto cfg = hooks_.read_config();
  if (!cfg) {
    std::string lines;
    for (const auto& d : cfg.error().items()) lines += "\n  " + d.str();
    return Answer::failure("config", fmt::format("the configuration has errors; nothing was applied:{}", lines));
  }
  const auto now = Clock::now();
  FwState next = state_;
  const fw::Policy running = effectivePolicy(configPolicy(), FwState{{}, {}, {}, state_.rollback});
  next.rollback.reset();
  if (confirm) next.pending = PendingConfirm{running, now + *confirm};
  auto reasons = guard(configPolicy(), state_, cfg->firewall, next, req);
  // With a confirm window the rollback is the safety net (as with
  // `commit confirmed`): the change goes in, and the answer says what it
  // cuts, so the operator knows not to confirm if the session died.
  if (!reasons.empty() && !confirm) {
    return Answer::failure("lockout", fmt::format("refused, it would lock you out: {}. Nothing was changed; "
                                                  "add --force to do it anyway, or --confirm to try it with "
                                                  "an automatic rollback",
                                                  fmt::join(reasons, "; ")));
  }
  if (auto r = save(next); !r) return Answer::failure("state", r.error().message);
  FwState old = std::exchange(state_, std::move(next));
  const uint64_t errors_before = firewall_.counters().applies_error;
  auto r = hooks_.reload();
  if (!r || firewall_.counters().applies_error != errors_before) {
    state_ = std::move(old);
    if (auto s = save(state_); !s) log::error("firewall state: restoring {}: {}", path_, s.error().message);
    std::string why = r ? "the kernel refused it" : r.error().message;
    return Answer::failure("apply", fmt::format("not applied: {}", why));
  }
  armTimers();
  json result = {{"applied", true}, {"rules", configPolicy().rules.size()}};
  if (state_.pending) result["confirm_deadline_ms"] = toMs(state_.pending->deadline);
  if (!reasons.empty()) result["warnings"] = reasons;
  return Answer::success(std::move(result));
}

Answer FwService::confirm(const Request&) {
  if (!state_.pending) return Answer::failure("not_pending", "nothing to confirm: no `fw apply --confirm` is waiting");
  FwState next = state_;
  next.pending.reset();
  if (auto r = save(next); !r) return Answer::failure("state", r.error().message);
  state_ = std::move(next);
  confirm_timer_.cancel();
  return Answer::success({{"confirmed", true}});
}

Answer FwService::rollback(const Request& req) {
  if (!state_.pending) {
    return Answer::failure("not_pending", "nothing to roll back: no `fw apply --confirm` is waiting "
                                          "(edit the configuration and `rampart fw apply` instead)");
  }
  FwState next = state_;
  next.rollback = RollbackInForce{state_.pending->previous, configPolicy(), Clock::now()};
  next.pending.reset();
  json result = {{"rolled_back", true}};
  return commit(std::move(next), req, std::move(result));
}

void FwService::rollBackNow(const std::string& why) {
  if (!state_.pending) return;
  log::warning("firewall: {}; rolling back to the previous rules", why);
  FwState next = state_;
  next.rollback = RollbackInForce{state_.pending->previous, configPolicy(), Clock::now()};
  next.pending.reset();
  if (auto r = save(next); !r) {
    log::error("firewall state: {}; rolling back without saving", r.error().message);
  }
  state_ = std::move(next);
  if (auto r = firewall_.apply(); !r) log::error("firewall: the rollback failed: {}", r.error().message);
  armTimers();
}

void FwService::armTimers() {
  std::optional<Clock::time_point> next;
  for (const auto& r : state_.rules)
    if (r.rule.expires && (!next || *r.rule.expires < *next)) next = *r.rule.expires;
  for (const auto& b : state_.bans)
    if (b.expires && (!next || *b.expires < *next)) next = *b.expires;
  expiry_timer_.cancel();
  if (next) {
    expiry_timer_.expires_at(steadyAt(*next));
    expiry_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) onExpiry();
    });
  }
  confirm_timer_.cancel();
  if (state_.pending) {
    confirm_timer_.expires_at(steadyAt(state_.pending->deadline));
    confirm_timer_.async_wait([this](boost::system::error_code ec) {
      if (!ec) rollBackNow("the confirm window ended without `rampart fw confirm`");
    });
  }
}

void FwService::onExpiry() {
  const auto now = Clock::now();
  FwState next = state_;
  const size_t rules_before = next.rules.size();
  if (next.prune(now)) {
    const bool rules_went = next.rules.size() != rules_before;
    // Bans that ended need not be written: loading drops what has expired.
    // A file of 100,000 bans is not rewritten each time some of them end.
    if (rules_went) {
      if (auto r = save(next); !r) log::error("firewall state: {}", r.error().message);
    }
    state_ = std::move(next);
    // The kernel drops a ban's element by its own timeout; the apply
    // removes an ended rule, and makes sure nothing that ended stays.
    log::info("firewall: temporary {} ended", rules_went ? "rules" : "bans");
    if (auto r = rules_went ? firewall_.apply() : firewall_.applyBans(state_.bans); !r)
      log::error("firewall: removing expired entries: {}", r.error().message);
  }
  armTimers();
}

void FwService::registerHandlers(ControlServer& server) {
  using Method = Answer (FwService::*)(const Request&);
  auto add = [&](const char* cmd, Method m) {
    server.on(cmd, [this, m](const Request& req, const Peer&) {
      try {
        return (this->*m)(req);
      } catch (const UsageError& e) {
        return Answer::failure("usage", e.what);
      }
    });
  };
  add("fw.status", &FwService::status);
  add("fw.delete", &FwService::deleteRule);
  add("fw.ban", &FwService::ban);
  add("fw.unban", &FwService::unban);
  add("fw.bans", &FwService::bans);
  add("fw.plan", &FwService::plan);
  add("fw.apply", &FwService::apply);
  add("fw.confirm", &FwService::confirm);
  add("fw.rollback", &FwService::rollback);
  for (fw::Action action : {fw::Action::Allow, fw::Action::Deny, fw::Action::Reject}) {
    server.on(fmt::format("fw.{}", fw::actionName(action)), [this, action](const Request& req, const Peer&) {
      try {
        return addRule(req, action);
      } catch (const UsageError& e) {
        return Answer::failure("usage", e.what);
      }
    });
  }
}

}  // namespace rampart::agent
