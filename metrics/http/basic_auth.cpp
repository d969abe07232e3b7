#include "metrics/http/basic_auth.h"

#include <crypt.h>

#include <array>
#include <cstring>
#include <memory>

#include "tls/digest.h"

namespace rampart::metrics::http {
namespace {

int base64Value(char c) {
  if (c >= 'A' && c <= 'Z') return c - 'A';
  if (c >= 'a' && c <= 'z') return c - 'a' + 26;
  if (c >= '0' && c <= '9') return c - '0' + 52;
  if (c == '+') return 62;
  if (c == '/') return 63;
  return -1;
}

// A well-formed bcrypt hash that matches no password, so an unknown user
// costs the same as a wrong password.
constexpr const char* kDummyHash = "$2b$10$CwTycUXWue0Thq9StjUM0uJ8.8lW6aQQ0RJCGsr0EDNUvgIYkcHJa";

}  // namespace

std::string decodeBase64(std::string_view in, bool& ok) {
  ok = false;
  while (!in.empty() && in.back() == '=') in.remove_suffix(1);
  if (in.size() % 4 == 1) return {};
  std::string out;
  out.reserve(in.size() * 3 / 4);
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v = base64Value(c);
    if (v < 0) return {};
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((acc >> bits) & 0xff));
    }
  }
  ok = true;
  return out;
}

bool constantTimeEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  volatile unsigned char diff = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    diff = diff | static_cast<unsigned char>(a[i] ^ b[i]);
  return diff == 0;
}

BasicAuth::BasicAuth(std::map<std::string, std::string> users) : users_(std::move(users)) {}

bool BasicAuth::check(std::string_view authorization) const {
  constexpr std::string_view kScheme = "Basic ";
  if (authorization.size() < kScheme.size() || authorization.size() > 4096) return false;
  for (std::size_t i = 0; i < kScheme.size() - 1; ++i)  // the scheme is case-insensitive (RFC 7617)
    if (std::tolower(static_cast<unsigned char>(authorization[i])) != std::tolower(kScheme[i])) return false;
  if (authorization[kScheme.size() - 1] != ' ') return false;
  bool ok = false;
  std::string decoded = decodeBase64(authorization.substr(kScheme.size()), ok);
  auto colon = decoded.find(':');
  if (!ok || colon == std::string::npos) return false;
  return verify(decoded.substr(0, colon), decoded.substr(colon + 1));
}

bool BasicAuth::verify(const std::string& user, const std::string& password) const {
  auto it = users_.find(user);
  const std::string& hash = it != users_.end() ? it->second : std::string(kDummyHash);
  std::string key = tls::sha256(user + '\0' + password + '\0' + hash);
  {
    std::lock_guard lock(mu_);
    if (it != users_.end() && verified_.contains(key)) return true;
  }
  auto data = std::make_unique<crypt_data>();  // ~32 KiB: not on the stack
  const char* out = crypt_rn(password.c_str(), hash.c_str(), data.get(), sizeof(crypt_data));
  bool match = out != nullptr && out[0] != '*' && constantTimeEquals(out, hash) && it != users_.end();
  if (match) {
    std::lock_guard lock(mu_);
    if (verified_.size() >= kMaxCached) verified_.clear();
    verified_.insert(std::move(key));
  }
  return match;
}

}  // namespace rampart::metrics::http
