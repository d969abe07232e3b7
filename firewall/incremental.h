// A policy change turned into kernel changes from the policy rules that
// differ, instead of compiling and comparing every rule: a one-rule change
// to a 10,000-rule policy costs one pass comparing the two policies plus
// the work for that one rule, not a compile and a diff of 10,000 rules.
//
// It must give what diff(compile(policy, bans), live) gives, up to which
// of several equal rules is kept; tests/unit/firewall checks that on many
// policy pairs.
#pragma once

#include <optional>
#include <vector>

#include "firewall/compile.h"
#include "firewall/diff.h"
#include "firewall/policy.h"
#include "firewall/ruleset.h"

namespace rampart::fw {

// `live` is the table exactly as compile(old_policy, old_bans) made it,
// with the kernel's handles. Returns the changes that make it
// compile(policy, bans, options), keeping every policy rule that did not
// change where it is (handle and counters), or nullopt when the change is
// not one this path takes (chain policies, builtins, forward_interfaces,
// drop logging or whether the output chain filters changed; rules reordered; a shared set
// changing shape): then compile() and diff().
// `old_policy` and `policy` being the same object says the policy did not
// change: only the bans are compared (a `fw ban` on a node with 10,000
// rules compares no rules).
std::optional<Changes> diffIncremental(const Policy& old_policy, const std::vector<Ban>& old_bans,
                                       const Policy& policy, const std::vector<Ban>& bans, const Ruleset& live,
                                       const CompileOptions& options);

// Whether two rules compile to the same kernel rules and sets: everything
// but where they were written and when a temporary rule expires.
bool sameCompiledRule(const Rule& a, const Rule& b);

}  // namespace rampart::fw
