// Ruleset values <-> libnftnl objects. Used to build batch messages, to read
// dumps back, and to render text with libnftnl's own printer.
#pragma once

#include <string>
#include <vector>

#include "firewall/nftnl_ptr.h"
#include "firewall/ruleset.h"

namespace rampart::fw::nl {

inline constexpr uint16_t kFamily = 1;  // NFPROTO_INET

TablePtr toNftnl(const std::string& table);
ChainPtr toNftnl(const std::string& table, const Chain& chain);
RulePtr toNftnl(const std::string& table, const KernelRule& rule);
// The set's definition; with `with_elems`, its elements too (interval
// elements expanded into start and end-of-interval elements).
SetPtr toNftnl(const std::string& table, const Set& set, bool with_elems);
// The set with only elements [first, last) of set.elems attached.
SetPtr elemsToNftnl(const std::string& table, const Set& set, size_t first, size_t last);

Chain fromNftnl(const nftnl_chain* c);
KernelRule fromNftnl(const nftnl_rule* r);
Set fromNftnl(const nftnl_set* s);  // definition and any elements it holds

// The rule's userdata: one nft comment TLV (libnftnl udata layout).
Bytes commentUserdata(const std::string& comment);
std::string commentFromUserdata(const void* data, uint32_t len);

}  // namespace rampart::fw::nl
