// Helpers for the policy tests: parse a YAML document's `firewall:` mapping.
#pragma once

#include <string>

#include <yaml-cpp/yaml.h>

#include "common/diag.h"
#include "common/yaml_util.h"
#include "firewall/policy.h"

namespace rampart::fw::test {

struct Parsed {
  Policy policy;
  Diagnostics diags;
  std::string errors() const { return diags.str(); }
};

inline Parsed parseText(const std::string& yaml, const std::string& file = "t.yaml") {
  Parsed p;
  auto doc = loadYaml(yaml, file, p.diags);
  if (!doc) return p;
  const YAML::Node& root = *doc;
  p.policy = parsePolicy(root["firewall"], file, p.diags);
  return p;
}

}  // namespace rampart::fw::test
