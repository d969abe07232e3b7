// Policy + bans -> the Ruleset the kernel should hold. Pure and
// deterministic: no kernel, no privileges, same input -> same output.
#pragma once

#include <chrono>
#include <vector>

#include "firewall/policy.h"
#include "firewall/ruleset.h"

namespace rampart::fw {

struct CompileOptions {
  std::string table = "rampart";
  // Ban expiry becomes a kernel element timeout relative to this instant;
  // bans already expired at `now` are left out.
  std::chrono::system_clock::time_point now{};
};

// Input chain order: bans, builtins, policy rules in order, log of drops,
// the policy-drop counter. Group sources become sets g_<group>_v4/_v6,
// multi-port lists p_<rule>_tcp/_udp, several literal sources
// s_<rule>_v4/_v6, per-source limits meter_<rule>_v4/_v6.
Ruleset compile(const Policy& policy, const std::vector<Ban>& bans, const CompileOptions& options = {});

// The elements of an interval set holding these networks: sorted half-open
// ranges, overlapping and adjacent ones merged.
std::vector<SetElem> cidrElements(const std::vector<Cidr>& cidrs, Family family);

}  // namespace rampart::fw
