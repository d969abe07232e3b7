#include "agent/fw_state.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <ctime>
#include <unordered_map>

#include <nlohmann/json.hpp>

#include "agent/unique_fd.h"

namespace rampart::agent {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

constexpr int kFormatVersion = 1;

int64_t toMs(WallTime t) {
  return std::chrono::duration_cast<milliseconds>(t.time_since_epoch()).count();
}
WallTime fromMs(int64_t ms) { return WallTime(milliseconds(ms)); }

// An instant as milliseconds since the epoch, appended without a format
// string (100,000 bans are written in one go).
void appendMs(std::string& out, WallTime t) {
  char digits[24];
  out.append(digits, std::to_chars(digits, digits + sizeof digits, toMs(t)).ptr);
}

std::string journalOf(const std::string& state_path) { return state_path + std::string(kBanJournalSuffix); }

// Parsing throws a ParseError with a message naming the field; parseState
// turns it into a value at its boundary.
struct ParseError {
  std::string what;
};

template <class T>
T get(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end()) throw ParseError{fmt::format("missing \"{}\"", key)};
  try {
    return it->get<T>();
  } catch (const json::exception&) {
    throw ParseError{fmt::format("\"{}\" has the wrong type", key)};
  }
}

const json& arrayAt(const json& j, const char* key) {
  auto it = j.find(key);
  if (it == j.end() || !it->is_array()) throw ParseError{fmt::format("\"{}\" is not a list", key)};
  return *it;
}

std::string_view actionStr(fw::Action a) { return fw::actionName(a); }
std::string_view hookStr(fw::Hook h) {
  switch (h) {
    case fw::Hook::Forward: return "forward";
    case fw::Hook::Output: return "output";
    case fw::Hook::Input: break;
  }
  return "input";
}
fw::Hook hookFrom(const std::string& s) {
  if (s == "input") return fw::Hook::Input;
  if (s == "forward") return fw::Hook::Forward;
  if (s == "output") return fw::Hook::Output;
  throw ParseError{fmt::format("unknown chain \"{}\"", s)};
}
fw::Action actionFrom(const std::string& s) {
  if (s == "allow") return fw::Action::Allow;
  if (s == "deny") return fw::Action::Deny;
  if (s == "reject") return fw::Action::Reject;
  throw ParseError{fmt::format("unknown action \"{}\"", s)};
}

fw::Cidr cidrFrom(const std::string& s) {
  auto c = fw::Cidr::parse(s);
  if (!c) throw ParseError{fmt::format("address \"{}\": {}", s, c.error())};
  return *c;
}

json cidrsJson(const std::vector<fw::Cidr>& v) {
  json a = json::array();
  for (const auto& c : v) a.push_back(c.str());
  return a;
}
std::vector<fw::Cidr> cidrsFrom(const json& j, const char* key) {
  std::vector<fw::Cidr> out;
  for (const auto& e : arrayAt(j, key)) {
    if (!e.is_string()) throw ParseError{fmt::format("\"{}\" holds a non-string", key)};
    out.push_back(cidrFrom(e.get<std::string>()));
  }
  return out;
}

json locJson(const SourceLoc& l) { return {{"file", l.file}, {"line", l.line}, {"col", l.col}}; }
SourceLoc locFrom(const json& j) {
  if (!j.is_object()) return {};
  return SourceLoc{j.value("file", std::string()), j.value("line", 0), j.value("col", 0)};
}

json ruleJson(const fw::Rule& r) {
  json ports = json::array();
  for (const auto& p : r.ports) ports.push_back(p.str());
  json j = {{"name", r.name},
            {"action", actionStr(r.action)},
            {"chain", hookStr(r.hook)},
            {"ports", std::move(ports)},
            {"from", cidrsJson(r.from)},
            {"from_groups", r.from_groups},
            {"origin", r.origin == fw::Origin::Cli ? "cli" : "config"},
            {"loc", locJson(r.loc)}};
  if (!r.to.empty()) j["to"] = cidrsJson(r.to);
  if (!r.interfaces.empty()) j["interfaces"] = r.interfaces;
  if (r.limit) j["limit"] = r.limit->str();
  if (r.expires) j["expires_ms"] = toMs(*r.expires);
  return j;
}

fw::Rule ruleFrom(const json& j) {
  if (!j.is_object()) throw ParseError{"a rule is not an object"};
  fw::Rule r;
  r.name = get<std::string>(j, "name");
  if (!fw::isValidRuleName(r.name)) throw ParseError{"invalid rule name"};
  r.action = actionFrom(get<std::string>(j, "action"));
  r.hook = hookFrom(j.value("chain", std::string("input")));
  for (const auto& p : arrayAt(j, "ports")) {
    if (!p.is_string()) throw ParseError{"a port is not a string"};
    auto spec = fw::PortSpec::parse(p.get<std::string>());
    if (!spec) throw ParseError{fmt::format("rule {}: port: {}", r.name, spec.error())};
    r.ports.push_back(*spec);
  }
  r.from = cidrsFrom(j, "from");
  for (const auto& g : arrayAt(j, "from_groups")) {
    if (!g.is_string() || !fw::isValidGroupName(g.get<std::string>()))
      throw ParseError{fmt::format("rule {}: invalid group name", r.name)};
    r.from_groups.push_back(g.get<std::string>());
  }
  // Absent from rules without them, and from releases before them.
  if (j.contains("to")) r.to = cidrsFrom(j, "to");
  if (j.contains("interfaces")) {
    for (const auto& name : arrayAt(j, "interfaces")) {
      if (!name.is_string() || !fw::isValidInterfacePattern(name.get<std::string>()) ||
          r.interfaces.size() >= fw::kMaxRuleInterfaces)
        throw ParseError{fmt::format("rule {}: interfaces: not a list of interface names", r.name)};
      r.interfaces.push_back(name.get<std::string>());
    }
  }
  r.origin = j.value("origin", std::string("cli")) == "config" ? fw::Origin::Config : fw::Origin::Cli;
  if (j.contains("limit")) {
    auto rate = Rate::parse(get<std::string>(j, "limit"));
    if (!rate) throw ParseError{fmt::format("rule {}: limit: {}", r.name, rate.error())};
    r.limit = *rate;
  }
  if (j.contains("expires_ms")) r.expires = fromMs(get<int64_t>(j, "expires_ms"));
  if (j.contains("loc")) r.loc = locFrom(j["loc"]);
  return r;
}

json policyJson(const fw::Policy& p) {
  auto chain = [](fw::ChainPolicy c) { return c == fw::ChainPolicy::Drop ? "drop" : "accept"; };
  json groups = json::array();
  for (const auto& g : p.groups) {
    groups.push_back({{"name", g.name},
                      {"cidrs", cidrsJson(g.cidrs)},
                      {"dns_names", g.dns_names},
                      {"resolved", cidrsJson(g.resolved)},
                      {"loc", locJson(g.loc)}});
  }
  json rules = json::array();
  for (const auto& r : p.rules) rules.push_back(ruleJson(r));
  return {{"input_policy", chain(p.input_policy)},
          {"forward_policy", chain(p.forward_policy)},
          {"output_policy", chain(p.output_policy)},
          {"log_dropped", p.log_dropped ? json(p.log_dropped->str()) : json(nullptr)},
          {"builtins",
           {{"loopback", p.builtins.loopback},
            {"established", p.builtins.established},
            {"invalid", p.builtins.invalid},
            {"icmp", p.builtins.icmp},
            {"dhcp", p.builtins.dhcp},
            {"ping", p.builtins.ping}}},
          {"forward_interfaces", p.forward_interfaces},
          {"groups", std::move(groups)},
          {"rules", std::move(rules)}};
}

fw::Policy policyFrom(const json& j) {
  if (!j.is_object()) throw ParseError{"a policy is not an object"};
  auto chain = [&](const char* key) {
    std::string s = get<std::string>(j, key);
    if (s == "drop") return fw::ChainPolicy::Drop;
    if (s == "accept") return fw::ChainPolicy::Accept;
    throw ParseError{fmt::format("\"{}\" is neither drop nor accept", key)};
  };
  fw::Policy p;
  p.input_policy = chain("input_policy");
  p.forward_policy = chain("forward_policy");
  p.output_policy = chain("output_policy");
  if (j.contains("log_dropped") && !j["log_dropped"].is_null()) {
    auto rate = Rate::parse(get<std::string>(j, "log_dropped"));
    if (!rate) throw ParseError{fmt::format("log_dropped: {}", rate.error())};
    p.log_dropped = *rate;
  } else {
    p.log_dropped.reset();
  }
  const json& b = j.at("builtins");
  p.builtins = fw::Builtins{get<bool>(b, "loopback"), get<bool>(b, "established"),
                            get<bool>(b, "invalid"), get<bool>(b, "icmp"),
                            // absent from the files of releases before it
                            !b.contains("dhcp") || get<bool>(b, "dhcp"), !b.contains("ping") || get<bool>(b, "ping")};
  if (j.contains("forward_interfaces")) {  // else the default, as releases before it had no such list
    p.forward_interfaces.clear();
    for (const auto& name : arrayAt(j, "forward_interfaces")) {
      if (!name.is_string() || !fw::isValidInterfacePattern(name.get<std::string>()))
        throw ParseError{"forward_interfaces: not a list of interface names"};
      p.forward_interfaces.push_back(name.get<std::string>());
    }
  }
  for (const auto& g : arrayAt(j, "groups")) {
    fw::Group group;
    group.name = get<std::string>(g, "name");
    group.cidrs = cidrsFrom(g, "cidrs");
    group.dns_names = get<std::vector<std::string>>(g, "dns_names");
    group.resolved = cidrsFrom(g, "resolved");
    if (g.contains("loc")) group.loc = locFrom(g["loc"]);
    p.groups.push_back(std::move(group));
  }
  for (const auto& r : arrayAt(j, "rules")) p.rules.push_back(ruleFrom(r));
  return p;
}

FwState stateFrom(const json& j) {
  if (!j.is_object()) throw ParseError{"not a JSON object"};
  if (get<int>(j, "version") != kFormatVersion)
    throw ParseError{fmt::format("unknown format version (this agent reads {})", kFormatVersion)};
  FwState s;
  const json& rules = arrayAt(j, "rules");
  if (rules.size() > kMaxCliRules) throw ParseError{"too many rules"};
  for (const auto& r : rules) {
    CliRule cr{ruleFrom(r), fromMs(r.value("created_ms", int64_t{0}))};
    cr.rule.origin = fw::Origin::Cli;
    s.rules.push_back(std::move(cr));
  }
  const json& bans = arrayAt(j, "bans");
  if (bans.size() > kMaxBans) throw ParseError{"too many bans"};
  s.bans.reserve(bans.size());
  for (const auto& b : bans) {
    if (!b.is_object()) throw ParseError{"a ban is not an object"};
    fw::Ban ban{cidrFrom(get<std::string>(b, "cidr")), std::nullopt};
    if (b.contains("expires_ms")) ban.expires = fromMs(get<int64_t>(b, "expires_ms"));
    s.bans.push_back(ban);
  }
  if (j.contains("pending_confirm")) {
    const json& p = j["pending_confirm"];
    s.pending = PendingConfirm{policyFrom(p.at("previous")), fromMs(get<int64_t>(p, "deadline_ms"))};
  }
  if (j.contains("rollback")) {
    const json& r = j["rollback"];
    s.rollback = RollbackInForce{policyFrom(r.at("policy")), policyFrom(r.at("rejected")),
                                 fromMs(get<int64_t>(r, "at_ms"))};
  }
  return s;
}

std::string utcStamp(WallTime t) {
  std::time_t tt = std::chrono::system_clock::to_time_t(t);
  std::tm tm{};
  gmtime_r(&tt, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

Result<void> writeAll(int fd, std::string_view data, const std::string& path) {
  while (!data.empty()) {
    ssize_t n = ::write(fd, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::fromErrno(fmt::format("write {}", path)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return {};
}

std::string dirOf(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

bool FwState::prune(WallTime now) {
  size_t before = rules.size() + bans.size();
  std::erase_if(rules, [&](const CliRule& r) { return r.rule.expires && *r.rule.expires <= now; });
  std::erase_if(bans, [&](const fw::Ban& b) { return b.expires && *b.expires <= now; });
  return rules.size() + bans.size() != before;
}

std::string serializePolicy(const fw::Policy& policy) { return policyJson(policy).dump(); }

std::string serializeState(const FwState& state) {
  json rules = json::array();
  for (const auto& r : state.rules) {
    json j = ruleJson(r.rule);
    j["created_ms"] = toMs(r.created);
    rules.push_back(std::move(j));
  }
  // Bans are written one per line: a file of 100,000 stays readable and diffable.
  std::string out = fmt::format("{{\n\"version\": {},\n\"rules\": {},\n", kFormatVersion, rules.dump());
  if (state.pending) {
    json p = {{"deadline_ms", toMs(state.pending->deadline)}, {"previous", policyJson(state.pending->previous)}};
    out += fmt::format("\"pending_confirm\": {},\n", p.dump());
  }
  if (state.rollback) {
    json r = {{"at_ms", toMs(state.rollback->at)},
              {"policy", policyJson(state.rollback->policy)},
              {"rejected", policyJson(state.rollback->rejected)}};
    out += fmt::format("\"rollback\": {},\n", r.dump());
  }
  out += "\"bans\": [";
  // Appended piece by piece: a format string parsed per ban was most of
  // the time of a `fw ban` on a node with 100,000 of them.
  out.reserve(out.size() + state.bans.size() * 48 + 8);
  bool first = true;
  for (const auto& b : state.bans) {
    out += first ? "\n{\"cidr\":\"" : ",\n{\"cidr\":\"";
    first = false;
    out += b.cidr.str();
    if (b.expires) {
      out += "\",\"expires_ms\":";
      appendMs(out, *b.expires);
      out += '}';
    } else {
      out += "\"}";
    }
  }
  out += "\n]\n}\n";
  return out;
}

std::expected<FwState, std::string> parseState(std::string_view text) {
  if (text.size() > kMaxStateBytes) return std::unexpected("larger than the state file limit");
  json j = json::parse(text, nullptr, false);
  if (j.is_discarded()) return std::unexpected("not valid JSON (truncated or damaged)");
  try {
    return stateFrom(j);
  } catch (const ParseError& e) {
    return std::unexpected(e.what);
  } catch (const json::exception& e) {
    return std::unexpected(std::string(e.what()));
  }
}

namespace {

// The whole of `path`, at most kMaxStateBytes of it; nullopt when it does
// not exist. `too_big` is set (and the text cut) when it holds more.
Result<std::optional<std::string>> readBounded(const std::string& path, bool& too_big) {
  too_big = false;
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd) {
    if (errno == ENOENT) return std::optional<std::string>{};
    return std::unexpected(Error::fromErrno(fmt::format("open {}", path)));
  }
  std::string text;
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd.get(), buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return std::unexpected(Error::fromErrno(fmt::format("read {}", path)));
    }
    if (n == 0) break;
    if (text.size() + static_cast<size_t>(n) > kMaxStateBytes) {
      too_big = true;
      break;
    }
    text.append(buf, static_cast<size_t>(n));
  }
  return std::optional<std::string>{std::move(text)};
}

// Renames `path` to <path>.corrupt-<UTC time>; returns the new name.
Result<std::string> setAside(const std::string& path, const std::string& problem, WallTime now) {
  const std::string aside = fmt::format("{}.corrupt-{}", path, utcStamp(now));
  if (::rename(path.c_str(), aside.c_str()) != 0) {
    return fail("{}: {}; and it cannot be set aside: rename to {}: {}", path, problem, aside,
                std::strerror(errno));
  }
  return aside;
}

Result<void> fsyncDir(const std::string& path) {
  const std::string dir = dirOf(path);
  UniqueFd dfd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!dfd) return std::unexpected(Error::fromErrno(fmt::format("open {}", dir)));
  if (::fsync(dfd.get()) != 0) return std::unexpected(Error::fromErrno(fmt::format("fsync {}", dir)));
  return {};
}

}  // namespace

Result<LoadedState> loadState(const std::string& path, WallTime now) {
  const std::string journal_path = journalOf(path);
  bool too_big = false;
  auto text = readBounded(path, too_big);
  if (!text) return std::unexpected(text.error());
  LoadedState loaded;
  if (*text) {
    auto parsed = too_big ? std::unexpected(std::string("larger than the state file limit")) : parseState(**text);
    if (!parsed) {
      auto aside = setAside(path, parsed.error(), now);
      if (!aside) return std::unexpected(aside.error());
      std::string journal_note;
      if (::access(journal_path.c_str(), F_OK) == 0) {
        auto j = setAside(journal_path, "its state file is damaged", now);
        if (!j) return std::unexpected(j.error());
        journal_note = fmt::format(" (its ban journal too, as {})", *j);
      }
      loaded.set_aside = fmt::format("{}: {}; set aside as {}{}; starting without CLI rules and bans", path,
                                     parsed.error(), *aside, journal_note);
      return loaded;
    }
    loaded.state = std::move(*parsed);
  }
  auto journal = readBounded(journal_path, too_big);
  if (!journal) return std::unexpected(journal.error());
  if (!*journal || (*journal)->empty()) return loaded;
  loaded.journal_used = true;
  std::vector<fw::Ban> bans = loaded.state.bans;
  auto replayed = too_big ? std::unexpected(std::string("larger than the state file limit"))
                          : replayBanJournal(**journal, bans);
  if (replayed) {
    loaded.state.bans = std::move(bans);
    return loaded;
  }
  auto aside = setAside(journal_path, replayed.error(), now);
  if (!aside) return std::unexpected(aside.error());
  loaded.set_aside = fmt::format("{}: {}; set aside as {}; the bans changed since {} was last written are not restored",
                                 journal_path, replayed.error(), *aside, path);
  return loaded;
}

Result<void> saveState(const std::string& path, const FwState& state) {
  const std::string tmp = path + ".tmp";
  const std::string text = serializeState(state);
  {
    UniqueFd fd(::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0640));
    if (!fd) return std::unexpected(Error::fromErrno(fmt::format("open {}", tmp)));
    if (auto r = writeAll(fd.get(), text, tmp); !r) return r;
    if (::fsync(fd.get()) != 0) return std::unexpected(Error::fromErrno(fmt::format("fsync {}", tmp)));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    return std::unexpected(Error::fromErrno(fmt::format("rename {} to {}", tmp, path)));
  }
  if (auto r = fsyncDir(path); !r) return r;
  // The file now holds what the journal said. Its removal is made durable
  // too, so an old journal cannot come back after a crash and be replayed
  // over later changes.
  const std::string journal = journalOf(path);
  if (::unlink(journal.c_str()) != 0) {
    if (errno == ENOENT) return {};
    return std::unexpected(Error::fromErrno(fmt::format("remove {}", journal)));
  }
  return fsyncDir(path);
}

std::string serializeBanChanges(std::span<const BanChange> changes) {
  std::string out;
  out.reserve(changes.size() * 40);
  for (const auto& c : changes) {
    out += c.lifted ? "unban " : "ban ";
    out += c.cidr.str();
    if (!c.lifted) {
      if (c.expires) {
        out += ' ';
        appendMs(out, *c.expires);
      } else {
        out += " never";
      }
    }
    out += '\n';
  }
  return out;
}

namespace {

struct CidrHash {
  size_t operator()(const fw::Cidr& c) const noexcept {
    uint64_t h = 1469598103934665603ull;  // FNV-1a
    auto mix = [&](uint8_t b) { h = (h ^ b) * 1099511628211ull; };
    for (uint8_t b : c.addr) mix(b);
    mix(c.prefix);
    mix(static_cast<uint8_t>(c.family));
    return static_cast<size_t>(h);
  }
};

std::expected<BanChange, std::string> banChangeFrom(std::string_view line) {
  auto word = [&]() {
    size_t sp = line.find(' ');
    std::string_view w = line.substr(0, sp);
    line = sp == std::string_view::npos ? std::string_view{} : line.substr(sp + 1);
    return w;
  };
  const std::string_view verb = word();
  if (verb != "ban" && verb != "unban") return std::unexpected("expected \"ban\" or \"unban\"");
  auto cidr = fw::Cidr::parse(word());
  if (!cidr) return std::unexpected(cidr.error());
  BanChange change{*cidr, verb == "unban", std::nullopt};
  if (change.lifted) {
    if (!line.empty()) return std::unexpected("unexpected text after the address");
    return change;
  }
  const std::string_view until = word();
  if (!line.empty()) return std::unexpected("unexpected text after the expiry");
  if (until == "never") return change;
  int64_t ms = 0;
  auto [end, ec] = std::from_chars(until.data(), until.data() + until.size(), ms);
  if (ec != std::errc{} || end != until.data() + until.size() || until.empty())
    return std::unexpected(fmt::format("expiry \"{}\" is not milliseconds since the epoch or \"never\"", until));
  change.expires = fromMs(ms);
  return change;
}

}  // namespace

std::expected<size_t, std::string> replayBanJournal(std::string_view text, std::vector<fw::Ban>& bans) {
  std::unordered_map<fw::Cidr, size_t, CidrHash> where;
  where.reserve(bans.size());
  for (size_t i = 0; i < bans.size(); ++i) where.emplace(bans[i].cidr, i);
  std::vector<bool> lifted(bans.size(), false);
  size_t lines = 0;
  for (size_t nl; (nl = text.find('\n')) != std::string_view::npos; text.remove_prefix(nl + 1)) {
    ++lines;
    auto change = banChangeFrom(text.substr(0, nl));
    if (!change) return std::unexpected(fmt::format("line {}: {}", lines, change.error()));
    auto it = where.find(change->cidr);
    if (change->lifted) {
      if (it == where.end()) continue;
      lifted[it->second] = true;
      where.erase(it);
    } else if (it != where.end()) {
      bans[it->second].expires = change->expires;
    } else {
      if (where.size() >= kMaxBans) return std::unexpected(fmt::format("line {}: more than {} bans", lines, kMaxBans));
      where.emplace(change->cidr, bans.size());
      bans.push_back(fw::Ban{change->cidr, change->expires});
      lifted.push_back(false);
    }
  }
  size_t i = 0;
  std::erase_if(bans, [&](const fw::Ban&) { return lifted[i++]; });
  return lines;
}

Result<void> appendBanJournal(const std::string& state_path, std::span<const BanChange> changes) {
  const std::string path = journalOf(state_path);
  bool created = false;
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC));
  if (!fd && errno == ENOENT) {
    fd = UniqueFd(::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_EXCL | O_CLOEXEC, 0640));
    created = true;
  }
  if (!fd) return std::unexpected(Error::fromErrno(fmt::format("open {}", path)));
  struct stat st{};
  if (::fstat(fd.get(), &st) != 0) return std::unexpected(Error::fromErrno(fmt::format("stat {}", path)));
  Result<void> r = writeAll(fd.get(), serializeBanChanges(changes), path);
  if (r && ::fdatasync(fd.get()) != 0) r = std::unexpected(Error::fromErrno(fmt::format("fsync {}", path)));
  if (r && created) r = fsyncDir(path);
  // A refused change leaves no line of itself behind (a full disk may take
  // half of one), so a restart cannot bring back what was refused.
  if (!r && ::ftruncate(fd.get(), st.st_size) != 0)
    r.error().message += fmt::format("; and {} could not be cut back: {}", path, std::strerror(errno));
  return r;
}

}  // namespace rampart::agent
