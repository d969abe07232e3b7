#include "firewall/render.h"

#include <vector>

#include <fmt/format.h>

#include <libnftnl/common.h>

#include "firewall/netlink_objects.h"

namespace rampart::fw {
namespace {

// Prints with a growing buffer: snprintf-style functions return the length
// they wanted.
template <class F>
std::string print(F&& f) {
  std::vector<char> buf(4096);
  for (int i = 0; i < 8; ++i) {
    int n = f(buf.data(), buf.size());
    if (n < 0) return "<unprintable>";
    if (static_cast<size_t>(n) < buf.size()) return std::string(buf.data(), static_cast<size_t>(n));
    buf.resize(static_cast<size_t>(n) + 1);
  }
  return "<too long>";
}

}  // namespace

std::string render(const Ruleset& rs) {
  std::string out = print([&](char* b, size_t n) {
    return nftnl_table_snprintf(b, n, nl::toNftnl(rs.table).get(), NFTNL_OUTPUT_DEFAULT, 0);
  });
  out += '\n';
  for (const Chain& c : rs.chains) {
    auto x = nl::toNftnl(rs.table, c);
    out += print([&](char* b, size_t n) { return nftnl_chain_snprintf(b, n, x.get(), NFTNL_OUTPUT_DEFAULT, 0); });
    out += '\n';
  }
  for (const Set& s : rs.sets) {
    auto x = nl::toNftnl(rs.table, s, true);
    out += print([&](char* b, size_t n) { return nftnl_set_snprintf(b, n, x.get(), NFTNL_OUTPUT_DEFAULT, 0); });
    out += '\n';
  }
  for (const Chain& c : rs.chains) {
    for (const KernelRule* r : rs.chainRules(c.name)) {
      auto x = nl::toNftnl(rs.table, *r);
      out += print([&](char* b, size_t n) { return nftnl_rule_snprintf(b, n, x.get(), NFTNL_OUTPUT_DEFAULT, 0); });
      out += fmt::format("  # {}\n", r->tag.comment());
    }
  }
  return out;
}

}  // namespace rampart::fw
