// Command-line numbers for the bench programs (no atoi: a bad number is
// refused, not read as 0).
#pragma once

#include <charconv>
#include <cstdint>
#include <optional>
#include <string_view>

namespace rampart::bench {

inline std::optional<uint64_t> parseU64(std::string_view text) {
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc{} || end != text.data() + text.size()) return std::nullopt;
  return v;
}

}  // namespace rampart::bench
