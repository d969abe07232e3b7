// parsePolicy: the `firewall:` mapping of SPEC.md into a typed Policy. Every
// mistake becomes one diagnostic at the node that holds it, and parsing goes
// on, so `rampart check` lists them all (STYLE.md rule 5).
#include <algorithm>
#include <map>
#include <set>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "common/yaml_util.h"
#include "firewall/policy.h"

namespace rampart::fw {
namespace {

// Bounds on what one file may ask for. Far above any real policy; they exist
// so a generated or hostile file cannot make the agent build a ruleset the
// kernel would take minutes to commit.
constexpr size_t kMaxRules = 10'000;
constexpr size_t kMaxGroups = 1'000;
constexpr size_t kMaxForwardInterfaces = 64;
constexpr size_t kMaxGroupEntries = 65'536;
constexpr size_t kMaxListItems = 1'024;  // ports or sources of one rule

// User text as echoed in a message: at most 64 bytes (a 64 KiB name must
// not make a 64 KiB diagnostic) and control bytes as \xNN.
std::string shown(std::string_view text) {
  constexpr size_t kMax = 64;
  std::string out;
  for (char ch : text.substr(0, kMax)) {
    const auto c = static_cast<unsigned char>(ch);
    if (c < 0x20 || c == 0x7f) out += fmt::format("\\x{:02x}", c);
    else out += ch;
  }
  if (text.size() > kMax) out += "...";
  return out;
}

// Rate::parse, with over-long text refused here so that its message (which
// quotes the text) stays short.
std::expected<Rate, std::string> parseRate(std::string_view text) {
  if (text.size() > 32) {
    return std::unexpected(fmt::format("'{}' is too long to be a rate (expected COUNT/UNIT, "
                                       "e.g. 10/minute)",
                                       shown(text)));
  }
  return Rate::parse(text);
}

// Edit distance, for "did you mean": names here are at most 64 characters.
size_t editDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

// The candidate closest to a misspelt name, if it is close enough to be the
// likely intent (two edits, or one for very short names).
template <class Range>
std::optional<std::string> closest(std::string_view typed, const Range& candidates) {
  if (typed.size() > 64) return std::nullopt;
  std::optional<std::string> best;
  size_t best_d = typed.size() <= 3 ? 1 : 2;
  for (const auto& c : candidates) {
    const std::string_view name(c);
    if (name.size() > 64) continue;
    const size_t d = editDistance(typed, name);
    if (d <= best_d && (!best || d < best_d)) {
      best = std::string(name);
      best_d = d;
    }
  }
  return best;
}

struct Field {
  YAML::Node key;
  YAML::Node value;
};

// A key a mapping may have, and what its value should be (for the message
// when it has none).
struct Key {
  std::string_view name;
  std::string_view expected;
  bool may_be_empty = false;
};

// The entries of one mapping, read once: unknown keys, keys given twice and
// keys without a value are reported at the key. (yaml-cpp keeps both copies
// of a repeated key, where a lookup would silently see only the first; and
// it places an empty value at the next token, often on the next line.)
class Fields {
 public:
  Fields(YamlReader& r, const YAML::Node& map, std::string_view section,
         std::initializer_list<Key> allowed) {
    std::string names;
    for (const auto& a : allowed) names += fmt::format("{}{}", names.empty() ? "" : ", ", a.name);
    // Copies, not references: yaml-cpp's iterator hands out a temporary pair,
    // and `const Node& k = it->first` would dangle.
    for (const auto& kv : map) {
      const YAML::Node key = kv.first;
      if (!key.IsScalar()) {
        r.error(key, fmt::format("{}: keys must be plain names", section));
        continue;
      }
      const std::string& name = key.Scalar();
      const auto spec = std::find_if(allowed.begin(), allowed.end(),
                                     [&](const Key& a) { return a.name == name; });
      if (spec == allowed.end()) {
        std::vector<std::string_view> known;
        for (const auto& a : allowed) known.push_back(a.name);
        const auto guess = closest(name, known);
        r.error(key, fmt::format("{}: unknown key '{}' ({}expected one of: {})", section, shown(name),
                                 guess ? fmt::format("did you mean '{}'? ", *guess) : "",
                                 names));
        continue;
      }
      if (const Field* first = get(name)) {
        r.error(key, fmt::format("{}: key '{}' is given twice (first at line {})", section, name,
                                 first->key.Mark().line + 1));
        continue;
      }
      if (kv.second.IsNull() && !spec->may_be_empty) {
        r.error(key, fmt::format("{}: '{}' has no value (expected {})", section, name,
                                 spec->expected));
        found_.emplace_back(name, Field{key, YAML::Node(YAML::NodeType::Undefined)});
        continue;
      }
      found_.emplace_back(name, Field{key, kv.second});
    }
  }

  // The key's entry if it has a usable value.
  const Field* operator[](std::string_view name) const {
    const Field* f = get(name);
    return f != nullptr && f->value.IsDefined() ? f : nullptr;
  }

  // The key's entry, even one without a value.
  const Field* get(std::string_view name) const {
    for (const auto& [n, f] : found_) {
      if (n == name) return &f;
    }
    return nullptr;
  }

 private:
  std::vector<std::pair<std::string, Field>> found_;
};

int lineOf(const YAML::Node& n) { return n.Mark().is_null() ? 0 : n.Mark().line + 1; }

// The items of a value that may be one scalar or a list of scalars
// (`allow: 22/tcp` or `allow: [80/tcp, 443/tcp]`). Non-scalar items are
// reported and left out.
std::vector<YAML::Node> scalarItems(YamlReader& r, const YAML::Node& value,
                                    std::string_view what) {
  std::vector<YAML::Node> out;
  if (value.IsScalar()) {
    out.push_back(value);
    return out;
  }
  if (!value.IsSequence()) {
    r.error(value, fmt::format("{}: expected one value or a list, found {}", what,
                               value.IsMap() ? "a mapping" : "nothing"));
    return out;
  }
  if (value.size() == 0) {
    r.error(value, fmt::format("{}: the list is empty", what));
    return out;
  }
  if (value.size() > kMaxListItems) {
    r.error(value, fmt::format("{}: {} items, more than the limit of {}", what, value.size(),
                               kMaxListItems));
    return out;
  }
  for (const auto& item : value) {
    if (item.IsScalar()) out.push_back(item);
    else if (item.IsNull()) r.error(item, fmt::format("{}: an item of the list is empty", what));
    else r.error(item, fmt::format("{}: each item must be a single value, not {}", what,
                                   item.IsMap() ? "a mapping" : "a list"));
  }
  return out;
}

// A string that was meant as an address: Cidr::parse's message is the one
// to show for it, rather than "not a host name" or "unknown group".
bool looksLikeAddress(std::string_view s) {
  return (!s.empty() && s[0] >= '0' && s[0] <= '9') ||
         s.find_first_of(":/") != std::string_view::npos;
}

class PolicyParser {
 public:
  explicit PolicyParser(YamlReader& r) : r_(r) {}

  Policy run(const YAML::Node& fw) {
    if (!fw.IsDefined()) return policy_;
    if (fw.IsNull()) {
      // Most likely everything below `firewall:` is commented out. Taken
      // literally that is "drop all input, allow nothing", which would cut
      // the operator off; ask instead. (No line: yaml-cpp places an empty
      // value at the next token, which would point at the wrong line.)
      r_.error(SourceLoc{r_.file(), 0, 0},
               "firewall: the section is empty; remove the 'firewall:' line to use the default "
               "policy (SSH, HTTP and HTTPS, the agent's port), or write its rules (use "
               "'firewall: {rules: []}' to allow nothing)");
      return policy_;
    }
    if (!r_.expectMap(fw, "firewall")) return policy_;
    Fields f(r_, fw, "firewall",
             {{"input_policy", "drop or accept"},
              {"forward_policy", "drop or accept"},
              {"output_policy", "drop or accept"},
              {"log_dropped", "a rate like 5/second, or false"},
              {"builtins", "a mapping of loopback, established, invalid, icmp, ping, dhcp to true or false"},
              {"forward_interfaces", "a list of interface names"},
              {"groups", "", true},
              {"rules", "", true}});
    chainPolicy(f["input_policy"], "input_policy", policy_.input_policy);
    chainPolicy(f["forward_policy"], "forward_policy", policy_.forward_policy);
    chainPolicy(f["output_policy"], "output_policy", policy_.output_policy);
    if (const Field* x = f["log_dropped"]) logDropped(x->value);
    if (const Field* x = f["builtins"]) builtins(x->value);
    if (const Field* x = f["forward_interfaces"]) forwardInterfaces(x->value);
    // Groups first, wherever they are in the file: rules refer to them.
    if (const Field* x = f["groups"]) groups(x->value);
    if (const Field* x = f["rules"]) rules(x->value);
    return policy_;
  }

 private:
  void chainPolicy(const Field* field, std::string_view what, ChainPolicy& out) {
    if (field == nullptr) return;
    const YAML::Node& v = field->value;
    if (v.IsScalar() && v.Scalar() == "drop") out = ChainPolicy::Drop;
    else if (v.IsScalar() && v.Scalar() == "accept") out = ChainPolicy::Accept;
    else r_.error(v, fmt::format("firewall.{}: expected drop or accept, found {}", what,
                                 describe(v)));
  }

  void logDropped(const YAML::Node& v) {
    if (v.IsScalar()) {
      const std::string& s = v.Scalar();
      if (s == "false" || s == "no" || s == "off") {
        policy_.log_dropped.reset();
        return;
      }
      if (s == "true" || s == "yes" || s == "on") return;  // keep the default rate
      if (auto rate = parseRate(s)) {
        policy_.log_dropped = *rate;
        return;
      } else if (s.find('/') != std::string::npos) {
        r_.error(v, fmt::format("firewall.log_dropped: {}", rate.error()));
        return;
      }
    }
    r_.error(v, fmt::format("firewall.log_dropped: expected a rate like 5/second, or false; "
                            "found {}",
                            describe(v)));
  }

  void builtins(const YAML::Node& v) {
    if (!r_.expectMap(v, "firewall.builtins")) return;
    Fields f(r_, v, "firewall.builtins",
             {{"loopback", "true or false"},
              {"established", "true or false"},
              {"invalid", "true or false"},
              {"icmp", "true or false"},
              {"ping", "true or false"},
              {"dhcp", "true or false"}});
    const auto flag = [&](std::string_view key, bool& out) {
      if (const Field* x = f[key]) {
        if (auto b = r_.boolean(x->value, fmt::format("firewall.builtins.{}", key))) out = *b;
      }
    };
    flag("loopback", policy_.builtins.loopback);
    flag("established", policy_.builtins.established);
    flag("invalid", policy_.builtins.invalid);
    flag("icmp", policy_.builtins.icmp);
    flag("ping", policy_.builtins.ping);
    flag("dhcp", policy_.builtins.dhcp);
  }

  // A list of interface names, maybe empty ([] accepts no forwarded
  // traffic for others).
  void forwardInterfaces(const YAML::Node& v) {
    constexpr std::string_view what = "firewall.forward_interfaces";
    if (!v.IsSequence()) {
      r_.error(v, fmt::format("{}: expected a list of interface names (e.g. [docker0, \"br-*\"]), found {}", what,
                              describe(v)));
      return;
    }
    if (v.size() > kMaxForwardInterfaces) {
      r_.error(v, fmt::format("{}: {} names, more than the limit of {}", what, v.size(), kMaxForwardInterfaces));
      return;
    }
    std::vector<std::string> names;
    for (const auto& item : v) {
      if (!item.IsScalar() || !isValidInterfacePattern(item.Scalar())) {
        r_.error(item, fmt::format("{}: {} is {}", what, describe(item), kInterfaceNameRule));
        continue;
      }
      if (std::ranges::find(names, item.Scalar()) == names.end()) names.push_back(item.Scalar());
    }
    policy_.forward_interfaces = std::move(names);
  }

  void groups(const YAML::Node& v) {
    if (v.IsNull()) return;
    if (!r_.expectMap(v, "firewall.groups")) return;
    if (v.size() > kMaxGroups) {
      r_.error(v, fmt::format("firewall.groups: {} groups, more than the limit of {}", v.size(),
                              kMaxGroups));
      return;
    }
    for (const auto& kv : v) group(kv.first, kv.second);
  }

  void group(const YAML::Node& key, const YAML::Node& value) {
    if (!key.IsScalar()) {
      r_.error(key, "firewall.groups: a group name must be a plain name");
      return;
    }
    const std::string& name = key.Scalar();
    if (group_lines_.contains(name)) {
      r_.error(key, fmt::format("firewall.groups: group '{}' is defined twice (first at line {})",
                                shown(name), group_lines_[name]));
      return;
    }
    group_lines_.emplace(name, lineOf(key));
    group_names_.push_back(name);
    const size_t errors_before = r_.diags().items().size();
    if (!isValidGroupName(name)) {
      r_.error(key, fmt::format("firewall.groups: '{}' is not a valid group name (expected 1 to "
                                "64 letters, digits, '_', '.' or '-', starting with a letter "
                                "or '_')",
                                shown(name)));
    }
    Group g;
    g.name = name;
    g.loc = r_.loc(key);
    const std::string what = fmt::format("group '{}'", shown(name));
    if (value.IsSequence() && value.size() > kMaxGroupEntries) {
      r_.error(value, fmt::format("{}: {} entries, more than the limit of {}", what,
                                  value.size(), kMaxGroupEntries));
    } else if (value.IsSequence() || value.IsScalar()) {
      // A scalar is a one-entry group; an empty list is allowed until used.
      std::vector<YAML::Node> items;
      if (value.IsScalar()) items.push_back(value);
      for (const auto& item : value) items.push_back(item);
      std::map<std::string, int> seen;
      for (const auto& item : items) groupEntry(g, item, what, seen);
    } else if (!value.IsNull()) {
      r_.error(value, fmt::format("{}: expected a list of addresses, networks and host names, "
                                  "found a mapping",
                                  what));
    }
    if (r_.diags().items().size() != errors_before) {
      broken_groups_.insert(name);
      return;
    }
    policy_.groups.push_back(std::move(g));
  }

  void groupEntry(Group& g, const YAML::Node& item, std::string_view what,
                  std::map<std::string, int>& seen) {
    auto s = r_.string(item, what);
    if (!s) return;
    std::string canonical;
    auto cidr = Cidr::parse(*s);
    if (cidr) {
      canonical = cidr->str();
    } else if (isValidHostName(*s)) {
      canonical = *s;
      std::transform(canonical.begin(), canonical.end(), canonical.begin(),
                     [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    } else if (looksLikeAddress(*s)) {
      r_.error(item, fmt::format("{}: {}", what, cidr.error()));
      return;
    } else {
      r_.error(item, fmt::format("{}: '{}' is neither an address, a network (CIDR) nor a valid "
                                 "host name (letters, digits and '-' in dot-separated labels)",
                                 what, shown(*s)));
      return;
    }
    if (auto [it, fresh] = seen.emplace(canonical, lineOf(item)); !fresh) {
      r_.error(item, fmt::format("{}: {} is listed twice (first at line {})", what, canonical,
                                 it->second));
      return;
    }
    if (cidr) g.cidrs.push_back(*cidr);
    else g.dns_names.push_back(canonical);
  }

  void rules(const YAML::Node& v) {
    if (v.IsNull()) return;
    if (!r_.expectSequence(v, "firewall.rules")) return;
    if (v.size() > kMaxRules) {
      r_.error(v, fmt::format("firewall.rules: {} rules, more than the limit of {}", v.size(),
                              kMaxRules));
      return;
    }
    size_t index = 0;
    for (const auto& item : v) {
      ++index;
      if (auto rule = this->rule(item, index)) policy_.rules.push_back(std::move(*rule));
    }
  }

  std::optional<Rule> rule(const YAML::Node& node, size_t index) {
    const size_t errors_before = r_.diags().items().size();
    std::string what = fmt::format("firewall.rules[{}]", index);
    if (!r_.expectMap(node, what)) return std::nullopt;
    Fields f(r_, node, what,
             {{"name", "a rule name"},
              {"allow", "a port like 22/tcp, or a list of them"},
              {"deny", "a port like 22/tcp, a list of them, or any"},
              {"reject", "a port like 22/tcp, a list of them, or any"},
              {"from", "an address, a network, a group name, or a list of them"},
              {"to", "an address or network of the node, or a list of them"},
              {"interface", "an interface name like eth1, or a list of them"},
              {"limit", "a rate like 10/minute"},
              {"chain", "input, forward or output"}});
    Rule rule;
    rule.loc = r_.loc(node);
    if (const Field* n = f["name"]) {
      ruleName(rule, n->value, what);
      if (!rule.name.empty()) what = fmt::format("rule '{}'", rule.name);
    } else if (f.get("name") == nullptr) {
      r_.error(node, fmt::format("{}: missing key 'name' (every rule has a unique name; it "
                                 "labels the rule's counters)",
                                 what));
    }
    // Exactly one of allow, deny and reject: a second is reported where it is.
    const Field* verdict = nullptr;
    for (Action action : {Action::Allow, Action::Deny, Action::Reject}) {
      const Field* x = f.get(std::string(actionName(action)));
      if (x == nullptr) continue;
      if (verdict != nullptr) {
        const Field* second = lineOf(x->key) > lineOf(verdict->key) ? x : verdict;
        r_.error(second->key, fmt::format("{}: a rule has one of allow, deny or reject, not two", what));
        continue;
      }
      verdict = x;
      rule.action = action;
    }
    if (verdict == nullptr) {
      r_.error(node, fmt::format("{}: expected 'allow: PORTS', 'deny: PORTS|any' or 'reject: PORTS|any'", what));
    } else if (verdict->value.IsDefined()) {
      ports(rule, verdict->value, fmt::format("{}: {}", what, actionName(rule.action)));
    }
    if (const Field* x = f["from"]) sources(rule, x->value, what + ": from");
    if (const Field* x = f["to"]) destinations(rule, x->value, what + ": to");
    if (const Field* x = f["interface"]) interfaces(rule, x->value, what + ": interface");
    if (const Field* x = f["limit"]) limit(rule, *x, what);
    if (const Field* x = f["chain"]) chain(rule, x->value, what);
    if (r_.diags().items().size() != errors_before) return std::nullopt;
    return rule;
  }

  void ruleName(Rule& rule, const YAML::Node& v, std::string_view what) {
    auto s = r_.string(v, fmt::format("{}: name", what));
    if (!s) return;
    if (!isValidRuleName(*s)) {
      r_.error(v, fmt::format("{}: '{}' is not a valid rule name (expected 1 to 64 letters, "
                              "digits, '_', '.' or '-')",
                              what, shown(*s)));
      return;
    }
    if (auto [it, fresh] = rule_lines_.emplace(*s, lineOf(v)); !fresh) {
      r_.error(v, fmt::format("{}: rule name '{}' is already used (first at line {})", what, *s,
                              it->second));
      return;
    }
    rule.name = *s;
  }

  void ports(Rule& rule, const YAML::Node& v, const std::string& what) {
    const bool deny = rule.action != Action::Allow;
    const auto items = scalarItems(r_, v, what);
    bool any = false;
    std::map<std::string, bool> seen;  // port -> brought by a service
    for (const auto& item : items) {
      const std::string& s = item.Scalar();
      if (s == "any") {
        if (!deny) {
          r_.error(item, fmt::format("{}: 'any' is only for deny and reject; an allow rule names the ports "
                                     "it opens (like 22/tcp or 8000-8100/udp) or protocols (vrrp, esp)",
                                     what));
        } else if (items.size() > 1) {
          r_.error(item, fmt::format("{}: 'any' already means every port and protocol; it "
                                     "cannot be listed with other ports",
                                     what));
        }
        any = true;
        continue;
      }
      auto specs = parsePorts(s);
      if (!specs) {
        r_.error(item, fmt::format("{}: {}", what, specs.error()));
        continue;
      }
      // A port a service brings and one written are taken once, in
      // silence ([https, 443/tcp]); a port written twice is reported.
      const bool service = specs->size() != 1 || specs->front().str() != s;
      for (const PortSpec& spec : *specs) {
        if (auto [it, fresh] = seen.emplace(spec.str(), service); !fresh) {
          if (!service && !it->second) r_.error(item, fmt::format("{}: {} is listed twice", what, spec.str()));
          continue;
        }
        rule.ports.push_back(spec);
      }
    }
    if (any) rule.ports.clear();
  }

  void sources(Rule& rule, const YAML::Node& v, const std::string& what) {
    std::set<std::string> seen;
    for (const auto& item : scalarItems(r_, v, what)) {
      const std::string& s = item.Scalar();
      if (!seen.insert(s).second) {
        r_.error(item, fmt::format("{}: {} is listed twice", what, shown(s)));
        continue;
      }
      if (auto cidr = Cidr::parse(s)) {
        rule.from.push_back(*cidr);
      } else if (isValidGroupName(s)) {
        groupRef(rule, item, what);
      } else if (looksLikeAddress(s)) {
        r_.error(item, fmt::format("{}: {}", what, cidr.error()));
      } else {
        r_.error(item, fmt::format("{}: '{}' is neither an address, a network (CIDR) nor a "
                                   "group name",
                                   what, shown(s)));
      }
    }
  }

  void destinations(Rule& rule, const YAML::Node& v, const std::string& what) {
    std::set<std::string> seen;
    for (const auto& item : scalarItems(r_, v, what)) {
      const std::string& s = item.Scalar();
      auto cidr = Cidr::parse(s);
      if (!cidr) {
        r_.error(item, fmt::format("{}: {}", what,
                                   looksLikeAddress(s) ? cidr.error()
                                                       : fmt::format("'{}' is not an address or network (to: takes the "
                                                                     "node's addresses, not group or host names)",
                                                                     shown(s))));
      } else if (!seen.insert(cidr->str()).second) {
        r_.error(item, fmt::format("{}: {} is listed twice", what, cidr->str()));
      } else {
        rule.to.push_back(*cidr);
      }
    }
    if (familiesMeet(rule)) return;
    r_.error(v, fmt::format("{}: the sources are all of one address family and the destinations of the other, so "
                            "the rule would match nothing",
                            what));
  }

  void interfaces(Rule& rule, const YAML::Node& v, const std::string& what) {
    const auto items = scalarItems(r_, v, what);
    if (items.size() > kMaxRuleInterfaces) {
      r_.error(v, fmt::format("{}: {} interfaces, more than the limit of {}", what, items.size(), kMaxRuleInterfaces));
      return;
    }
    for (const auto& item : items) {
      const std::string& s = item.Scalar();
      if (!isValidInterfacePattern(s)) {
        r_.error(item, fmt::format("{}: '{}' is {}", what, shown(s), kInterfaceNameRule));
      } else if (std::ranges::find(rule.interfaces, s) != rule.interfaces.end()) {
        r_.error(item, fmt::format("{}: {} is listed twice", what, s));
      } else {
        rule.interfaces.push_back(s);
      }
    }
  }

  void groupRef(Rule& rule, const YAML::Node& item, const std::string& what) {
    const std::string& name = item.Scalar();
    if (broken_groups_.contains(name)) return;  // its definition's errors are reported
    const Group* g = policy_.findGroup(name);
    if (g == nullptr) {
      std::string known;
      for (const auto& k : group_names_) known += fmt::format("{}{}", known.empty() ? "" : ", ", k);
      std::string hint = known.empty() ? "no groups are defined under firewall.groups"
                                       : fmt::format("known groups: {}", known);
      if (auto guess = closest(name, group_names_)) {
        hint = fmt::format("did you mean '{}'? {}", *guess, hint);
      }
      if (isValidHostName(name) && name.find('.') != std::string::npos) {
        hint += "; to allow a host name, list it in a group";
      }
      r_.error(item, fmt::format("{}: unknown group '{}' ({})", what, name, hint));
      return;
    }
    if (g->cidrs.empty() && g->dns_names.empty()) {
      r_.error(item, fmt::format("{}: group '{}' (line {}) is empty, so this rule would match "
                                 "nothing; add addresses to it or remove it from the rule",
                                 what, name, g->loc.line));
      return;
    }
    rule.from_groups.push_back(name);
  }

  void limit(Rule& rule, const Field& f, std::string_view what) {
    if (rule.action != Action::Allow) {
      r_.error(f.key, fmt::format("{}: limit is only for allow rules (a {} rule {} every "
                                  "packet it matches)",
                                  what, actionName(rule.action),
                                  rule.action == Action::Deny ? "drops" : "refuses"));
      return;
    }
    auto s = r_.string(f.value, fmt::format("{}: limit", what));
    if (!s) return;
    if (auto rate = parseRate(*s)) rule.limit = *rate;
    else r_.error(f.value, fmt::format("{}: limit: {}", what, rate.error()));
  }

  void chain(Rule& rule, const YAML::Node& v, std::string_view what) {
    if (v.IsScalar() && v.Scalar() == "input") rule.hook = Hook::Input;
    else if (v.IsScalar() && v.Scalar() == "forward") rule.hook = Hook::Forward;
    else if (v.IsScalar() && v.Scalar() == "output") rule.hook = Hook::Output;
    else r_.error(v, fmt::format("{}: chain: expected input, forward or output, found {}", what,
                                 describe(v)));
  }

  static std::string describe(const YAML::Node& v) {
    if (v.IsScalar()) return fmt::format("'{}'", shown(v.Scalar()));
    if (v.IsSequence()) return "a list";
    if (v.IsMap()) return "a mapping";
    return "nothing";
  }

  YamlReader& r_;
  Policy policy_;
  std::map<std::string, int> group_lines_;
  std::vector<std::string> group_names_;  // every group defined, valid or not, in file order
  std::set<std::string> broken_groups_;
  std::map<std::string, int> rule_lines_;
};

}  // namespace

Policy parsePolicy(const YAML::Node& firewall, const std::string& file, Diagnostics& diags) {
  // Collected apart and sorted, so the user reads them in file order even
  // though groups are parsed before the rules that use them.
  Diagnostics mine;
  YamlReader reader(file, mine);
  Policy policy = PolicyParser(reader).run(firewall);
  std::vector<Diagnostic> items = mine.items();
  std::stable_sort(items.begin(), items.end(), [](const Diagnostic& a, const Diagnostic& b) {
    return std::pair(a.loc.line, a.loc.col) < std::pair(b.loc.line, b.loc.col);
  });
  for (auto& d : items) diags.error(std::move(d.loc), std::move(d.message));
  return policy;
}

}  // namespace rampart::fw
