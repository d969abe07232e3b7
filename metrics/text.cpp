#include "metrics/text.h"

#include <charconv>

namespace rampart::metrics {
namespace {

// Length of the valid UTF-8 sequence at the start of `s`, or 0.
size_t utf8Length(std::string_view s) {
  auto b = [&](size_t i) { return static_cast<unsigned char>(s[i]); };
  auto cont = [&](size_t i) { return i < s.size() && (b(i) & 0xC0) == 0x80; };
  unsigned char c = b(0);
  if (c < 0x80) return 1;
  if (c >= 0xC2 && c <= 0xDF) return cont(1) ? 2 : 0;
  if (c >= 0xE0 && c <= 0xEF) {
    if (!cont(1) || !cont(2)) return 0;
    if (c == 0xE0 && b(1) < 0xA0) return 0;  // overlong
    if (c == 0xED && b(1) >= 0xA0) return 0;  // surrogate
    return 3;
  }
  if (c >= 0xF0 && c <= 0xF4) {
    if (!cont(1) || !cont(2) || !cont(3)) return 0;
    if (c == 0xF0 && b(1) < 0x90) return 0;
    if (c == 0xF4 && b(1) >= 0x90) return 0;
    return 4;
  }
  return 0;
}

}  // namespace

std::string_view trim(std::string_view text) {
  while (!text.empty() && (isFieldBlank(text.front()) || text.front() == '\n')) text.remove_prefix(1);
  while (!text.empty() && (isFieldBlank(text.back()) || text.back() == '\n')) text.remove_suffix(1);
  return text;
}

std::optional<uint64_t> parseU64(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty()) return std::nullopt;
  return value;
}

std::optional<double> parseNumber(std::string_view text) {
  if (text.empty()) return std::nullopt;
  const char* first = text.data();
  const char* last = first + text.size();
  // Integers first: exact, and several times cheaper than the float parser.
  if (text.front() == '-') {
    int64_t value = 0;
    auto [end, ec] = std::from_chars(first, last, value);
    if (ec == std::errc() && end == last) return static_cast<double>(value);
  } else {
    uint64_t value = 0;
    auto [end, ec] = std::from_chars(first, last, value);
    if (ec == std::errc() && end == last) return static_cast<double>(value);
  }
  double value = 0;
  auto [end, ec] = std::from_chars(first, last, value);
  if (ec != std::errc() || end != last) return std::nullopt;
  return value;
}

std::string sanitizeMetricName(std::string_view name) {
  std::string out(name);
  sanitizeMetricNameInPlace(out);
  return out;
}

void sanitizeMetricNameInPlace(std::string& name) {
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (c >= '0' && c <= '9' && i > 0);
    if (!ok) name[i] = '_';
  }
}

std::string sanitizeLabelValue(std::string_view value) {
  bool ascii = true;
  for (char c : value) ascii = ascii && static_cast<unsigned char>(c) < 0x80;
  if (ascii) return std::string(value);
  std::string out;
  out.reserve(value.size());
  while (!value.empty()) {
    size_t n = utf8Length(value);
    if (n == 0) {
      out += "\xEF\xBF\xBD";
      n = 1;
    } else {
      out.append(value.substr(0, n));
    }
    value.remove_prefix(n);
  }
  return out;
}

}  // namespace rampart::metrics
