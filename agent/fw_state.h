// What the agent keeps besides the configuration file
// (<state_dir>/firewall.json): rules added from the CLI, bans, an
// `fw apply --confirm` waiting for its confirmation, and a rollback in force.
//
// Times are absolute wall-clock instants (milliseconds since the epoch), so a
// restart resumes a temporary rule, a ban or a confirm window with the time
// it has left, and drops what expired meanwhile.
//
// The file is written to a temporary file, fsync'd, renamed over the old one
// and the directory fsync'd: after a crash at any point it holds either the
// old or the new state, never a mix. A file that does not parse is renamed
// aside (firewall.json.corrupt-<time>) and reported with its path; it is
// never silently replaced by an empty state.
//
// Bans change far more often than the rest, and one more ban on a node with
// 100,000 would rewrite a file of megabytes. So a change of bans alone may
// go to a journal beside the file (firewall.json.bans): one line per ban set
// or lifted, appended and fsync'd. loadState replays it over the file, in
// order. Each line sets or lifts one ban outright, so replaying lines the
// file already holds (a crash inside saveState) changes nothing. saveState
// writes the whole state and then removes the journal. A last line cut short
// by a crash is ignored: its change was never acknowledged.
#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/error.h"
#include "firewall/policy.h"

namespace rampart::agent {

using WallTime = std::chrono::system_clock::time_point;

inline constexpr std::string_view kFwStateFile = "firewall.json";
// Bounds on what the file (and so the CLI) may hold.
inline constexpr size_t kMaxCliRules = 10'000;
inline constexpr size_t kMaxBans = 1'000'000;
inline constexpr size_t kMaxStateBytes = 256u * 1024 * 1024;

struct CliRule {
  fw::Rule rule;  // origin Cli; `expires` for `--for`
  WallTime created{};
  bool operator==(const CliRule&) const = default;
};

// `fw apply --confirm`: the policy that ran before, and when it comes back
// unless confirmed.
struct PendingConfirm {
  fw::Policy previous;
  WallTime deadline{};
  bool operator==(const PendingConfirm&) const = default;
};

// After a rollback the configuration file still holds the policy that was
// rolled back. `policy` runs instead as long as the file's policy is
// `rejected`; a changed file (SIGHUP) or an explicit `fw apply` ends it.
struct RollbackInForce {
  fw::Policy policy;
  fw::Policy rejected;
  WallTime at{};
  bool operator==(const RollbackInForce&) const = default;
};

struct FwState {
  std::vector<CliRule> rules;  // in the order they were added
  std::vector<fw::Ban> bans;
  std::optional<PendingConfirm> pending;
  std::optional<RollbackInForce> rollback;
  bool operator==(const FwState&) const = default;

  // Drops temporary rules and bans whose time has come; true when any went.
  bool prune(WallTime now);
};

// Pure: state <-> file text.
std::string serializeState(const FwState& state);
std::expected<FwState, std::string> parseState(std::string_view text);

// A policy as JSON text and back (for the confirm/rollback snapshots; also
// used to compare policies exactly as the file would hold them).
std::string serializePolicy(const fw::Policy& policy);

// One line of the ban journal.
struct BanChange {
  fw::Cidr cidr;
  bool lifted = false;              // `fw unban`; else set with `expires`
  std::optional<WallTime> expires;  // nullopt: permanent
  bool operator==(const BanChange&) const = default;
};

inline constexpr std::string_view kBanJournalSuffix = ".bans";

// "ban 192.0.2.7 1900000000000\n", "ban 2001:db8::/48 never\n",
// "unban 192.0.2.7\n".
std::string serializeBanChanges(std::span<const BanChange> changes);
// Applies the complete lines of a journal to `bans` in order (a ban already
// there keeps its place; a new one goes at the end). Text after the last
// newline is ignored. Returns the number of lines applied; an error names
// the line.
std::expected<size_t, std::string> replayBanJournal(std::string_view text, std::vector<fw::Ban>& bans);
// Appends `changes` to <state_path>.bans and fsyncs it (and the directory
// when the journal is new).
Result<void> appendBanJournal(const std::string& state_path, std::span<const BanChange> changes);

struct LoadedState {
  FwState state;
  // Set when the file or its journal did not parse: what was wrong and
  // where it went.
  std::optional<std::string> set_aside;
  // The journal had something in it (lines, or a line cut short): the next
  // save should be a whole one, which starts it afresh.
  bool journal_used = false;
};

// Reads `path`, then replays its journal. A missing file is an empty state.
// A file that does not parse (or is over kMaxStateBytes) is renamed to
// `<path>.corrupt-<UTC time>` and an empty state returned with `set_aside`
// saying so; its journal goes aside with it. A journal that does not parse
// is set aside the same way, and the file's state is used without it. An
// error (a file exists but cannot be read or set aside) means nothing may be
// written.
Result<LoadedState> loadState(const std::string& path, WallTime now);

// Atomically replaces `path` (temp file, fsync, rename, fsync of the
// directory), then removes the journal the new file holds.
Result<void> saveState(const std::string& path, const FwState& state);

}  // namespace rampart::agent
