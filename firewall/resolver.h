// DNS names in policy groups. The agent resolves them at start and again on
// a timer; each round's answers are merged into the groups by
// resolveGroups(), which never empties a name because one lookup failed.
#pragma once

#include <cstddef>
#include <expected>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "common/diag.h"
#include "firewall/policy.h"

namespace rampart::fw {

// Looks one host name up: its addresses as host CIDRs, or why not.
using ResolveFn =
    std::function<std::expected<std::vector<Cidr>, std::string>(const std::string& name)>;

// The last good answer for each name. The agent keeps one across rounds and
// across configuration reloads (a reloaded Policy starts with empty
// `resolved`), so a name that fails right after a reload keeps its addresses.
using ResolvedNames = std::map<std::string, std::vector<Cidr>>;

struct ResolveFailure {
  std::string group;   // the first group that lists the name
  std::string name;
  std::string error;
  size_t kept = 0;     // previous addresses still in use for it (0: never resolved)
  SourceLoc loc;       // the group's definition
};

struct ResolveOutcome {
  std::vector<ResolveFailure> failures;
  size_t names = 0;     // distinct names looked up this round
  bool changed = false; // some Group::resolved differs from before the call
};

// Looks every DNS name of every group up once (a name in several groups is
// looked up once), stores good answers in `last_good`, and sets each group's
// `resolved` to the sorted, de-duplicated union of its names' last good
// addresses. A failed lookup, or one with no addresses, keeps the name's
// previous addresses and is reported. Names no longer in the policy are
// dropped from `last_good`, so it stays as small as the policy.
ResolveOutcome resolveGroups(Policy& policy, ResolvedNames& last_good, const ResolveFn& resolve);

// The system resolver (getaddrinfo: /etc/hosts, then DNS as nsswitch says).
// Blocks for as long as the resolver does: call it off the event loop.
// IPv4-mapped answers become IPv4. More than `max_addresses` distinct
// addresses is an error rather than a silently cut list.
inline constexpr size_t kMaxAddressesPerName = 256;
std::expected<std::vector<Cidr>, std::string> resolveHost(
    const std::string& name, size_t max_addresses = kMaxAddressesPerName);

}  // namespace rampart::fw
