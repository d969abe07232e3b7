#include "firewall/resolver.h"

#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <set>

#include <fmt/format.h>

namespace rampart::fw {
namespace {

void sortUnique(std::vector<Cidr>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

using AddrInfoPtr = std::unique_ptr<addrinfo, decltype(&freeaddrinfo)>;

std::optional<Cidr> toCidr(const sockaddr* sa) {
  Cidr c;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    std::memcpy(c.addr.data(), &in->sin_addr, 4);
    c.family = Family::V4;
    c.prefix = 32;
    return c;
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    if (IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr)) {
      std::memcpy(c.addr.data(), in6->sin6_addr.s6_addr + 12, 4);
      c.family = Family::V4;
      c.prefix = 32;
      return c;
    }
    std::memcpy(c.addr.data(), &in6->sin6_addr, 16);
    c.family = Family::V6;
    c.prefix = 128;
    return c;
  }
  return std::nullopt;
}

}  // namespace

ResolveOutcome resolveGroups(Policy& policy, ResolvedNames& last_good, const ResolveFn& resolve) {
  ResolveOutcome out;
  std::set<std::string> looked_up;
  for (const auto& g : policy.groups) {
    for (const auto& name : g.dns_names) {
      if (!looked_up.insert(name).second) continue;
      ++out.names;
      auto answer = resolve(name);
      if (answer && !answer->empty()) {
        sortUnique(*answer);
        last_good[name] = std::move(*answer);
        continue;
      }
      const auto prev = last_good.find(name);
      out.failures.push_back(ResolveFailure{
          g.name, name, answer ? std::string("no addresses") : answer.error(),
          prev == last_good.end() ? 0 : prev->second.size(), g.loc});
    }
  }
  std::erase_if(last_good, [&](const auto& kv) { return !looked_up.contains(kv.first); });
  for (auto& g : policy.groups) {
    std::vector<Cidr> merged;
    for (const auto& name : g.dns_names) {
      if (auto it = last_good.find(name); it != last_good.end()) {
        merged.insert(merged.end(), it->second.begin(), it->second.end());
      }
    }
    sortUnique(merged);
    if (merged != g.resolved) {
      g.resolved = std::move(merged);
      out.changed = true;
    }
  }
  return out;
}

std::expected<std::vector<Cidr>, std::string> resolveHost(const std::string& name,
                                                          size_t max_addresses) {
  if (!isValidHostName(name)) {
    return std::unexpected(fmt::format("'{}' is not a valid host name", name));
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;  // one entry per address, not one per socket type
  addrinfo* raw = nullptr;
  const int rc = getaddrinfo(name.c_str(), nullptr, &hints, &raw);
  if (rc != 0) {
    return std::unexpected(fmt::format("resolving {}: {}", name,
                                       rc == EAI_SYSTEM ? std::strerror(errno) : gai_strerror(rc)));
  }
  AddrInfoPtr list(raw, &freeaddrinfo);
  std::vector<Cidr> out;
  for (const addrinfo* ai = list.get(); ai != nullptr; ai = ai->ai_next) {
    if (ai->ai_addr == nullptr) continue;
    if (auto c = toCidr(ai->ai_addr)) {
      if (std::find(out.begin(), out.end(), *c) != out.end()) continue;
      if (out.size() == max_addresses) {
        return std::unexpected(fmt::format("{} resolves to more than {} addresses", name,
                                           max_addresses));
      }
      out.push_back(*c);
    }
  }
  if (out.empty()) return std::unexpected(fmt::format("{} has no IPv4 or IPv6 address", name));
  sortUnique(out);
  return out;
}

}  // namespace rampart::fw
