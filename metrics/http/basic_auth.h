// HTTP basic auth against bcrypt hashes (exporter-toolkit's
// basic_auth_users), checked with libcrypt.
#pragma once

#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>

namespace rampart::metrics::http {

class BasicAuth {
 public:
  explicit BasicAuth(std::map<std::string, std::string> users);

  bool enabled() const { return !users_.empty(); }
  // `authorization` is the Authorization header's value ("Basic dXNlcjpwYXNz").
  bool check(std::string_view authorization) const;

 private:
  bool verify(const std::string& user, const std::string& password) const;
  std::map<std::string, std::string> users_;
  // bcrypt costs tens of milliseconds by design; a scraper sends the same
  // credentials every time, so pairs that verified are remembered.
  mutable std::mutex mu_;
  mutable std::set<std::string> verified_;
  static constexpr std::size_t kMaxCached = 64;
};

// RFC 4648 base64 (padding optional); nullopt-like empty result on bad input
// is signalled by `ok`.
std::string decodeBase64(std::string_view in, bool& ok);

// Equal length and bytes, in time independent of where they differ.
bool constantTimeEquals(std::string_view a, std::string_view b);

}  // namespace rampart::metrics::http
