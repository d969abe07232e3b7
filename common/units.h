// Value types shared by the configuration and the CLI: durations and rates.
#pragma once

#include <chrono>
#include <cstdint>
#include <expected>
#include <string>
#include <string_view>

namespace rampart {

// "500ms", "30s", "10m", "2h", "7d", "1h30m". Positive, at most 100 years.
struct Duration {
  std::chrono::milliseconds value{0};

  static std::expected<Duration, std::string> parse(std::string_view text);
  std::string str() const;  // shortest exact form: "90s" -> "1m30s"
  bool operator==(const Duration&) const = default;
  auto operator<=>(const Duration&) const = default;
};

enum class RateUnit : uint8_t { Second, Minute, Hour, Day };

// "10/minute", "5/second", "100/hour", "1000/day"; count 1..2^31-1.
struct Rate {
  uint64_t count = 0;
  RateUnit unit = RateUnit::Second;

  static std::expected<Rate, std::string> parse(std::string_view text);
  std::string str() const;                 // "10/minute"
  std::chrono::seconds period() const;     // 1s, 60s, 3600s, 86400s
  bool operator==(const Rate&) const = default;
};

}  // namespace rampart
