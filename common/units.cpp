#include "common/units.h"

#include <charconv>
#include <cstdint>

#include <fmt/format.h>

#include "common/text.h"

namespace rampart {
namespace {

constexpr int64_t kMaxMs = int64_t{100} * 365 * 24 * 3600 * 1000;

struct UnitMs {
  std::string_view name;
  int64_t ms;
};
// Longest suffix first so "ms" is not read as "m".
constexpr UnitMs kUnits[] = {{"ms", 1}, {"s", 1000}, {"m", 60'000}, {"h", 3'600'000},
                             {"d", 86'400'000}, {"w", 7 * 86'400'000LL}};

// User text echoed in an error, cut so a huge argument gives a short message.
std::string quoted(std::string_view text) { return printableClip(text, 32); }

}  // namespace

std::expected<Duration, std::string> Duration::parse(std::string_view text) {
  const auto bad = [&] {
    return std::unexpected(fmt::format(
        "'{}' is not a duration (expected a number and a unit: 500ms, 30s, 10m, 2h, 7d, 1h30m)",
        quoted(text)));
  };
  if (text.empty() || text.size() > 32) return bad();
  int64_t total = 0;
  int64_t previous_unit = INT64_MAX;  // units must go from larger to smaller, once each
  std::string_view rest = text;
  while (!rest.empty()) {
    uint64_t n = 0;
    auto [p, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), n);
    if (ec != std::errc() || p == rest.data()) return bad();
    rest.remove_prefix(static_cast<size_t>(p - rest.data()));
    const UnitMs* unit = nullptr;
    for (const auto& u : kUnits) {
      if (rest.starts_with(u.name)) {
        unit = &u;
        break;
      }
    }
    if (unit == nullptr || unit->ms >= previous_unit) return bad();
    previous_unit = unit->ms;
    rest.remove_prefix(unit->name.size());
    if (n > static_cast<uint64_t>(kMaxMs / unit->ms)) {
      return std::unexpected(fmt::format("duration '{}' is longer than 100 years", quoted(text)));
    }
    total += static_cast<int64_t>(n) * unit->ms;
    if (total > kMaxMs) {
      return std::unexpected(fmt::format("duration '{}' is longer than 100 years", quoted(text)));
    }
  }
  if (total <= 0) return std::unexpected(fmt::format("duration '{}' must be positive", quoted(text)));
  return Duration{std::chrono::milliseconds(total)};
}

std::string Duration::str() const {
  int64_t ms = value.count();
  if (ms == 0) return "0s";
  std::string out;
  for (auto u : {kUnits[4], kUnits[3], kUnits[2], kUnits[1], kUnits[0]}) {
    if (ms >= u.ms) {
      out += fmt::format("{}{}", ms / u.ms, u.name);
      ms %= u.ms;
    }
  }
  return out;
}

std::expected<Rate, std::string> Rate::parse(std::string_view text) {
  const auto bad = [&] {
    return std::unexpected(fmt::format(
        "'{}' is not a rate (expected COUNT/UNIT with UNIT second, minute, hour or day, "
        "e.g. 10/minute)",
        quoted(text)));
  };
  const auto slash = text.find('/');
  if (slash == std::string_view::npos || text.size() > 32) return bad();
  std::string_view num = text.substr(0, slash);
  std::string_view unit = text.substr(slash + 1);
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(num.data(), num.data() + num.size(), n);
  if (ec != std::errc() || p != num.data() + num.size() || num.empty()) return bad();
  if (n == 0 || n > 0x7fffffff) {
    return std::unexpected(fmt::format("rate '{}': count must be 1..2147483647", quoted(text)));
  }
  Rate r{n, RateUnit::Second};
  if (unit == "second" || unit == "s" || unit == "sec") r.unit = RateUnit::Second;
  else if (unit == "minute" || unit == "m" || unit == "min") r.unit = RateUnit::Minute;
  else if (unit == "hour" || unit == "h") r.unit = RateUnit::Hour;
  else if (unit == "day" || unit == "d") r.unit = RateUnit::Day;
  else return bad();
  return r;
}

std::string Rate::str() const {
  static constexpr std::string_view names[] = {"second", "minute", "hour", "day"};
  return fmt::format("{}/{}", count, names[static_cast<int>(unit)]);
}

std::chrono::seconds Rate::period() const {
  static constexpr int64_t secs[] = {1, 60, 3600, 86400};
  return std::chrono::seconds(secs[static_cast<int>(unit)]);
}

}  // namespace rampart
