// string_view tokenising and number parsing for procfs text: no allocation,
// no locale, no regex.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace rampart::metrics {

// Iterates lines ('\n'-separated; a last line without '\n' still counts).
// Defined here so the parsers' loops inline them: every scrape tokenises
// about 10 KB of procfs text.
class Lines {
 public:
  explicit Lines(std::string_view text) : rest_(text) {}
  bool next(std::string_view& line) {
    if (rest_.empty()) return false;
    size_t end = rest_.find('\n');
    if (end == std::string_view::npos) {
      line = rest_;
      rest_ = {};
    } else {
      line = rest_.substr(0, end);
      rest_.remove_prefix(end + 1);
    }
    return true;
  }

 private:
  std::string_view rest_;
};

// What separates fields: spaces, tabs (and a stray '\r').
inline bool isFieldBlank(char c) { return c == ' ' || c == '\t' || c == '\r'; }

// Iterates fields separated by runs of spaces and tabs.
class Fields {
 public:
  explicit Fields(std::string_view text) : rest_(text) {}
  bool next(std::string_view& field) {
    const char* p = rest_.data();
    const char* end = p + rest_.size();
    while (p != end && isFieldBlank(*p)) ++p;
    if (p == end) {
      rest_ = {};
      return false;
    }
    const char* start = p;
    while (p != end && !isFieldBlank(*p)) ++p;
    field = std::string_view(start, static_cast<size_t>(p - start));
    rest_ = std::string_view(p, static_cast<size_t>(end - p));
    return true;
  }
  std::string_view rest() const { return rest_; }

 private:
  std::string_view rest_;
};

std::string_view trim(std::string_view text);

std::optional<uint64_t> parseU64(std::string_view text);
// Integers (signed or not) and decimals ("0.61"), as procfs prints them.
std::optional<double> parseNumber(std::string_view text);

// Metric-name characters: [a-zA-Z0-9_:], anything else becomes '_'.
std::string sanitizeMetricName(std::string_view name);
void sanitizeMetricNameInPlace(std::string& name);
// Label values must be UTF-8: bytes that are not become U+FFFD.
std::string sanitizeLabelValue(std::string_view value);

}  // namespace rampart::metrics
