// desired Ruleset vs live Ruleset -> the minimal Changes, as one
// transaction would carry them. Unchanged rules keep their handles (and so
// their counters); group changes are element changes; a changed rule is
// replaced where it stands. O(n log n) in the number of rules.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "firewall/ruleset.h"

namespace rampart::fw {

struct RuleAdd {
  KernelRule rule;
  // 0: append at the end of the chain. Otherwise the handle of a live rule
  // to insert after (after == true) or before (after == false).
  uint64_t position = 0;
  bool after = true;
  size_t desired_index = SIZE_MAX;  // index in the desired Ruleset's rules
};

struct Changes {
  bool delete_table = false;  // the whole table, before anything else
  bool create_table = false;
  std::vector<KernelRule> delete_rules;  // live rules (with handles)
  std::vector<std::string> delete_sets;  // after their rules are gone
  std::vector<std::string> delete_chains;
  std::vector<Chain> chains;             // to create, or to update (policy)
  std::vector<Set> add_sets;             // new sets, with their elements
  std::vector<Set> delete_elems;         // set shape + the elements to remove
  std::vector<Set> add_elems;            // set shape + the elements to add
  std::vector<RuleAdd> add_rules;        // in the order they must be sent
  // For each desired rule, the handle of the live rule kept for it (0 for
  // rules in add_rules): with the handles of the added rules, the live
  // table after the commit is the desired one with these handles.
  std::vector<uint64_t> kept_handles;

  bool empty() const;
  size_t elementsAdded() const;
  size_t elementsDeleted() const;
};

// `live_present`: whether the table exists at all.
Changes diff(const Ruleset& desired, const Ruleset& live, bool live_present);

// The element adds and deletes that turn `have`'s elements into `want`'s
// (same set shape), appended to `out`. Dynamic (meter) sets are skipped.
void diffSetElements(const Set& want, const Set& have, Changes& out);

// Makes `rs` what the kernel holds after committing `changes` to a table
// that held `rs`: `added_handles` are the kernel's handles of add_rules.
// Sets stay sorted by name. False when `rs` does not fit the changes (a
// position handle or set it does not have); `rs` is then unusable.
bool applyChanges(Ruleset& rs, const Changes& changes, std::span<const uint64_t> added_handles);

// The changes as nft-like text, one line per change ("+ rule input ...").
std::string describe(const Changes& changes);

// Counters of policy rules that move while meaning the same: a rule that
// joins or leaves a rule table (its neighbours came or went), or whose
// table is renumbered, is kernel rules and set elements out and others in.
// movedTags: the tags ("rule:NAME", "cli:NAME") of policy rules with pieces
// going and pieces coming (`live` has the sets deleted whole). The caller
// keeps those of rules that mean the same before and after (a changed rule
// starts again from zero). carryCounters: for each of `tags`, the first
// piece coming starts from the sum of the counters of the pieces going, as
// `fresh` (a dump of the live table taken just now) holds them, so the
// rule's count goes on. Returns the number of rules carried.
std::vector<std::string> movedTags(const Changes& changes, const Ruleset& live);
size_t carryCounters(Changes& changes, const Ruleset& fresh, const std::vector<std::string>& tags);

}  // namespace rampart::fw
