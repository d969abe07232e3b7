// Rules and set elements as nft prints them (`nft list table`), for
// `rampart fw plan`: what a change adds or takes away reads the way the
// operator would write it, without the libnftnl register dump.
#pragma once

#include <cstddef>
#include <string>

#include "firewall/ruleset.h"

namespace rampart::fw {

// The rule's statement: `ip saddr 10.0.0.0/8 tcp dport 22 counter accept
// comment "rule:ssh"`. Counters print as `counter` (no values); implicit
// protocol matches are left out where nft leaves them out (`meta nfproto
// ipv4` before `ip saddr`, `meta l4proto tcp` before `tcp dport`). An
// expression it does not know prints as `[NAME]`.
std::string nftText(const KernelRule& rule);

// Up to `most` elements of a set, nft style (`10.0.0.1, 2001:db8::/48 ...`),
// then "… (N more)"; a key type it cannot show gives only the count.
std::string nftElements(const Set& set, size_t most);

}  // namespace rampart::fw
