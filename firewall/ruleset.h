// The nftables table rampart owns, as a plain value: what compile() produces
// and what a dump of the kernel reads back. Comparing the two is how apply()
// finds the minimal change, so equality ignores what only the kernel knows
// (handles, counter values, remaining timeouts).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/diag.h"
#include "firewall/policy.h"

namespace rampart::fw {

using Bytes = std::vector<uint8_t>;

// One attribute of an expression, by its libnftnl attribute number
// (NFTNL_EXPR_CMP_DATA, ...) with the bytes libnftnl holds for it.
struct ExprAttr {
  uint16_t type = 0;
  Bytes data;
  bool operator==(const ExprAttr&) const = default;
};

// One nftables expression ("payload", "cmp", "lookup", "counter", ...).
// Kept generic so a dump reads back exactly what the kernel holds; the
// builders in expr.h give each expression its meaning.
struct Expr {
  std::string name;
  std::vector<ExprAttr> attrs;  // sorted by type
  std::vector<Expr> children;   // dynset: the expressions kept per element

  const ExprAttr* find(uint16_t type) const;
  // A 32- or 64-bit attribute as libnftnl holds it (host order); nullopt
  // when absent or of another width.
  std::optional<uint32_t> u32(uint16_t type) const;
  std::optional<uint64_t> u64(uint16_t type) const;
  // Equal ignoring counter values.
  bool sameAs(const Expr& other) const;
};

// What a kernel rule is for, kept in the rule's userdata as an nft comment
// "<kind>:<name>" so `nft list` shows it and a dump maps it back.
enum class RuleKind : uint8_t {
  Policy,     // "rule:<name>" a policy rule (config)
  Cli,        // "cli:<name>" a policy rule added from the CLI
  Meter,      // "limit:<name>" the per-source rate limit of a policy rule
  Builtin,    // "builtin:<which>"
  Ban,        // "ban:v4" / "ban:v6"
  LogDrop,    // "log:<chain>"
  PolicyDrop, // "policy:<chain>" counts what the chain policy drops
  Run,        // "run:<set>" many policy rules of one shape as one lookup in
              // a set whose elements are those rules (compile.h)
  Unknown,    // a rule rampart did not write (drift)
};

struct RuleTag {
  RuleKind kind = RuleKind::Unknown;
  std::string name;
  std::string comment() const;
  static RuleTag parse(std::string_view comment);
  bool operator==(const RuleTag&) const = default;
};

struct KernelRule {
  std::string chain;
  std::vector<Expr> exprs;
  RuleTag tag;
  // Not part of the rule's identity:
  uint64_t handle = 0;  // from a dump
  SourceLoc loc;        // the policy rule it came from, for error messages

  bool sameAs(const KernelRule& other) const;  // chain, exprs, tag
  struct Counter {
    uint64_t packets = 0;
    uint64_t bytes = 0;
  };
  Counter counter() const;  // the rule's counter expression, zero without one
  // A text key of the rule's identity (for hashing in diff()).
  std::string key() const;
};

struct Chain {
  std::string name;
  Hook hook = Hook::Input;
  int32_t priority = 0;  // filter
  ChainPolicy policy = ChainPolicy::Accept;
  uint64_t handle = 0;
  bool sameAs(const Chain& o) const {
    return name == o.name && hook == o.hook && priority == o.priority && policy == o.policy;
  }
};

// One element. In interval sets an element is a half-open range
// [key, key_end); an empty key_end means "to the top of the key space".
struct SetElem {
  Bytes key;
  Bytes key_end;
  std::optional<uint64_t> timeout_ms;     // desired: the element's lifetime
  std::optional<uint64_t> expiration_ms;  // dump: time left
  // When the element times out, in ms since the epoch (system clock), for
  // desired and dumped elements alike; nullopt: never. Elements of a
  // timeout set whose expiries differ are replaced (diff.h).
  std::optional<int64_t> expires_at_ms;
  // In a rule table (RuleKind::Run) the element stands for a policy rule:
  // its comment is that rule's tag ("rule:<name>"), and its counter counts
  // the packets that rule matched.
  std::string comment;
  uint64_t packets = 0;  // dump only, like a rule's counter values
  uint64_t bytes = 0;
  static SetElem of(Bytes key, std::string comment = {}) {
    SetElem e;
    e.key = std::move(key);
    e.comment = std::move(comment);
    return e;
  }
  bool operator==(const SetElem& o) const { return key == o.key && key_end == o.key_end && comment == o.comment; }
  auto operator<=>(const SetElem& o) const {
    if (auto c = key <=> o.key; c != 0) return c;
    if (auto c = key_end <=> o.key_end; c != 0) return c;
    return comment <=> o.comment;
  }
};

struct Set {
  std::string name;
  uint32_t key_type = 0;  // nft datatype id (display only)
  uint32_t key_len = 0;
  uint32_t flags = 0;     // NFT_SET_INTERVAL, NFT_SET_TIMEOUT, NFT_SET_EVAL
  std::optional<uint64_t> timeout_ms;
  uint32_t size = 0;      // most elements (and the kernel's sizing hint); 0: no limit
  bool counters = false;  // every element has its own counter (`counter` in nft)
  std::vector<SetElem> elems;  // sorted, unique
  uint64_t handle = 0;
  bool interval() const;
  // The same set without its elements (to carry element changes; copying
  // a 100,000-element set only to clear it would cost a copy per apply).
  Set withoutElements() const;
  // Same definition (elements aside).
  bool sameShape(const Set& o) const {
    return name == o.name && key_type == o.key_type && key_len == o.key_len && flags == o.flags &&
           timeout_ms == o.timeout_ms && size == o.size && counters == o.counters;
  }
};

struct Ruleset {
  std::string table = "rampart";  // family inet
  std::vector<Chain> chains;
  std::vector<Set> sets;
  std::vector<KernelRule> rules;  // by chain, in evaluation order within a chain

  const Set* findSet(std::string_view name) const;
  const Chain* findChain(std::string_view name) const;
  std::vector<const KernelRule*> chainRules(std::string_view chain) const;
};

std::string_view chainName(Hook hook);

}  // namespace rampart::fw
