// Small builders for firewall tests: policies and rules as values.
#pragma once

#include <string>
#include <vector>

#include "firewall/policy.h"
#include "firewall/ruleset.h"

namespace rampart::fw::test {

inline Cidr cidr(std::string_view s) { return *Cidr::parse(s); }
inline PortSpec port(std::string_view s) { return *PortSpec::parse(s); }

inline Rule allow(std::string name, std::vector<std::string_view> ports, std::vector<std::string_view> from = {}) {
  Rule r;
  r.name = std::move(name);
  for (auto p : ports) r.ports.push_back(port(p));
  for (auto f : from) r.from.push_back(cidr(f));
  return r;
}

inline Group group(std::string name, std::vector<std::string_view> cidrs) {
  Group g;
  g.name = std::move(name);
  for (auto c : cidrs) g.cidrs.push_back(cidr(c));
  return g;
}

// What a dump of `rs` would hold: every rule with a distinct handle.
inline Ruleset withHandles(Ruleset rs, uint64_t first = 100) {
  for (auto& r : rs.rules) r.handle = first++;
  return rs;
}

}  // namespace rampart::fw::test
