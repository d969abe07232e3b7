// The one door to the kernel: a netfilter netlink socket that dumps our
// table into a Ruleset and sends Changes as one batch transaction.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/error.h"
#include "firewall/diff.h"
#include "firewall/ruleset.h"

namespace rampart::fw::nl {

struct BatchResult {
  size_t messages = 0;
  bool genid_refused = false;  // ERESTART: the ruleset changed since `genid`
  // The kernel's handle of each of changes.add_rules (echoed back on
  // commit); 0 where the echo was lost (receive buffer overflow).
  std::vector<uint64_t> added_handles;
};

class Socket {
 public:
  // `rcvbuf`: the socket's first receive buffer in bytes (0: 4 MiB); a dump
  // the kernel drops replies of (ENOBUFS) doubles it and dumps again.
  static Result<Socket> open(int rcvbuf = 0);
  Socket(Socket&&) noexcept;
  Socket& operator=(Socket&&) noexcept;
  ~Socket();

  // The ruleset generation id now.
  Result<uint32_t> generation();
  // Our table, or nullopt when it does not exist. Only `table` is asked for.
  // With `elements_of`, only the sets it accepts (by name) come with their
  // elements; the others are listed without them.
  using SetFilter = bool (*)(std::string_view set);
  Result<std::optional<Ruleset>> dump(const std::string& table, SetFilter elements_of = nullptr);
  // Sends the changes as one transaction (BATCH_BEGIN with genid ... END).
  // With commit == false the END is left out: the kernel checks every
  // message and discards the batch. A kernel refusal names the rule.
  Result<BatchResult> send(const std::string& table, const Changes& changes, uint32_t genid, bool commit);
  // Deletes the table; a missing table is not an error.
  Result<void> deleteTable(const std::string& table);
  int receiveBuffer() const;  // what it has grown to
  // Tests: the next `times` dumps fail as if the kernel had dropped their
  // replies (ENOBUFS), which a real kernel cannot be made to do on demand.
  void injectDumpOverflow(int times);

 private:
  struct State;
  explicit Socket(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

// Commits announced on NFNLGRP_NFTABLES.
struct Commit {
  uint32_t genid = 0;
  uint32_t pid = 0;
  std::string process;
  bool touched_table = false;  // some message of the commit named our table
};

class EventSocket {
 public:
  static Result<EventSocket> open(std::string table);
  EventSocket(EventSocket&&) noexcept;
  EventSocket& operator=(EventSocket&&) noexcept;
  ~EventSocket();
  int fd() const;
  // Reads what is pending without blocking. `lost` is set when the kernel
  // dropped events (ENOBUFS): the caller must assume drift.
  Result<std::vector<Commit>> read(bool& lost);
  // Leaves and rejoins the event group. While out, the kernel does not
  // build an event for each of the 100,000 elements our own big commit
  // adds (that is half the kernel's work for such a commit); events
  // already queued stay.
  void pause();
  void resume();

 private:
  struct State;
  explicit EventSocket(std::unique_ptr<State> state);
  std::unique_ptr<State> s_;
};

}  // namespace rampart::fw::nl
