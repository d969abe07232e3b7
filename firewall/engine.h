// The firewall engine's face to the agent: desired state in, one atomic
// netlink transaction out, live state (with counters) back.
//
//   Policy + bans --compile--> Ruleset --diff(dump)--> Changes --batch--> kernel
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "firewall/policy.h"
#include "firewall/ruleset.h"

namespace rampart::fw {

struct EngineOptions {
  std::string table = "rampart";  // the one inet table rampart owns
  // How many times apply() recomputes and resends after the kernel refused
  // a batch because another process changed the ruleset meanwhile.
  int max_retries = 5;
  // Called by apply() after the diff and before the batch is sent. Tests use
  // it to make a concurrent change; leave empty otherwise.
  std::function<void()> before_commit;
  // Called by apply() right after the batch is sent (tests: another
  // process's commit in the moment events may be paused).
  std::function<void()> after_commit;
  // The netlink socket's first receive buffer in bytes (0: 4 MiB). A dump
  // whose replies the kernel dropped (ENOBUFS) doubles it and starts over.
  int initial_rcvbuf = 0;
  // Tests: that many dumps fail with an injected ENOBUFS first (netlink
  // dumps are flow-controlled, so a real kernel gives it only under memory
  // pressure, not on demand).
  int inject_dump_enobufs = 0;
};

// One policy rule as the kernel holds it now.
struct LiveRule {
  std::string name;     // from the rule's userdata
  Hook hook = Hook::Input;
  Action action = Action::Allow;
  Origin origin = Origin::Config;
  uint64_t packets = 0;
  uint64_t bytes = 0;
  uint64_t handle = 0;
};

struct LiveCounters {
  uint64_t packets = 0;
  uint64_t bytes = 0;
};

struct LiveState {
  bool table_present = false;
  std::vector<LiveRule> rules;               // policy rules, in evaluation order
  LiveCounters dropped[3];                   // default-policy drops, by Hook
  size_t bans = 0;                           // elements in the ban sets now (see dumpCounters)
  size_t kernel_rules = 0;                   // every rule in the table
  uint32_t generation = 0;                   // the ruleset generation id of the dump
};

struct ApplyReport {
  size_t messages = 0;       // netlink messages in the transaction (0: nothing to do)
  size_t rules_added = 0;
  size_t rules_deleted = 0;
  size_t elements_added = 0;
  size_t elements_deleted = 0;
  int retries = 0;           // times a concurrent change made the kernel refuse it
  // Policy rules that moved without changing (into or out of a rule table)
  // and kept their counts (diff.h carryCounters).
  size_t counters_carried = 0;
  uint32_t generation = 0;   // generation after the commit
  // A large commit is sent with the event socket paused (EventSocket::
  // pause); true when another process committed in that window, so its
  // events were not seen: the caller should check for drift (apply again).
  bool unseen_commit = false;
};

// What another process did to our table (from NFT_MSG_NEWGEN).
struct DriftEvent {
  uint32_t pid = 0;
  std::string process;  // comm of the committing process
};

class Engine {
 public:
  static Result<std::unique_ptr<Engine>> create(EngineOptions options = {});
  ~Engine();
  Engine(const Engine&) = delete;
  Engine& operator=(const Engine&) = delete;

  // Makes the table equal to policy + bans with the minimal transaction.
  // A kernel refusal leaves the table as it was and names the policy rule
  // (name and file:line) it was about.
  Result<ApplyReport> apply(const Policy& policy, const std::vector<Ban>& bans);
  // The policy of the last apply that went through, as the engine keeps it
  // (null when it keeps none). apply(*appliedPolicy(), bans) changes the
  // bans alone and compares no rules: what a `fw ban` needs.
  const Policy* appliedPolicy() const;
  // What apply() would change, as nft-like text ("+ rule ...", "- rule ...").
  // With kernel_check, the kernel validates the batch without committing it.
  Result<std::string> plan(const Policy& policy, const std::vector<Ban>& bans,
                           bool kernel_check);
  // Rules, counters and bans as the kernel holds them: every set element is
  // read (the ban count is the kernel's).
  Result<LiveState> dump();
  // The same for a scrape, without reading a set's elements unless they
  // carry rule counters (rule tables): `bans` is then the number of bans the
  // engine applied last that have not expired. A node with 100,000 bans is
  // not listed on every scrape.
  Result<LiveState> dumpCounters();
  // The whole table as values (nullopt: no table), for `fw status --kernel`
  // and tests: chains, sets with elements, rules with expressions.
  Result<std::optional<Ruleset>> dumpRuleset();
  // Deletes the table (package purge). Other tables are never touched.
  Result<void> removeTable();

  // The request socket's receive buffer now (grows on ENOBUFS).
  int receiveBuffer() const;

  // Netlink event socket (NFNLGRP_NFTABLES) for the agent's event loop.
  int eventFd() const;
  // Reads pending events; returns the commits by other processes that
  // touched our table since the last call.
  Result<std::vector<DriftEvent>> readEvents();

 private:
  struct Impl;
  explicit Engine(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace rampart::fw
