#include "metrics/exposition.h"

#include <charconv>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <string_view>

#include <fmt/format.h>
#include <prometheus/text_serializer.h>

namespace rampart::metrics {
namespace {

using Out = std::back_insert_iterator<std::string>;

// Whether any of the 8 bytes in `w` is '\\', '\n' or (with `quote`) '"':
// the usual test for a zero byte, on w XOR each of them.
bool maybeSpecial(uint64_t w, bool quote) {
  constexpr uint64_t kOnes = 0x0101010101010101ull, kHighs = 0x8080808080808080ull;
  auto hasZero = [](uint64_t v) { return ((v - kOnes) & ~v & kHighs) != 0; };
  return hasZero(w ^ (kOnes * '\\')) || hasZero(w ^ (kOnes * '\n')) || (quote && hasZero(w ^ (kOnes * '"')));
}

// Label values escape \ " and newline; HELP text escapes \ and newline.
// Runs without such characters are appended in one copy. They almost never
// occur: the text is first skipped 8 bytes at a time, up to the first word
// that may hold one.
void appendEscaped(std::string& out, std::string_view text, bool quote) {
  size_t i = 0;
  for (; i + 8 <= text.size(); i += 8) {
    uint64_t w;
    std::memcpy(&w, text.data() + i, 8);
    if (maybeSpecial(w, quote)) break;
  }
  size_t run = 0;
  for (; i < text.size(); ++i) {
    char c = text[i];
    if (c != '\\' && c != '\n' && (c != '"' || !quote)) continue;
    out.append(text.data() + run, i - run);
    out += c == '\n' ? "\\n" : c == '"' ? "\\\"" : "\\\\";
    run = i + 1;
  }
  out.append(text.data() + run, text.size() - run);
}

void appendValue(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "Nan";
  } else if (std::isinf(value)) {
    out += value < 0 ? "-Inf" : "+Inf";
  } else if (value == std::trunc(value) && std::fabs(value) < 1e16 && !(value == 0 && std::signbit(value))) {
    // Most samples are counters: whole numbers below 10^16 have at most 16
    // digits, which %.16g prints as the plain integer. Integer formatting is
    // several times cheaper than the float path.
    char digits[24];
    char* end = std::to_chars(digits, digits + sizeof digits, static_cast<int64_t>(value)).ptr;
    out.append(digits, end);
  } else {
    // TextSerializer: classic locale, precision max_digits10 - 1, %g style.
    // to_chars with a precision prints as printf("%.16g") does, without
    // parsing a format string for every sample.
    char digits[32];
    char* end = std::to_chars(digits, digits + sizeof digits, value, std::chars_format::general, 16).ptr;
    out.append(digits, end);
  }
}

double valueOf(const prometheus::MetricFamily& family, const prometheus::ClientMetric& metric) {
  switch (family.type) {
    case prometheus::MetricType::Counter:
      return metric.counter.value;
    case prometheus::MetricType::Gauge:
      return metric.gauge.value;
    default:
      return metric.untyped.value;
  }
}

const char* typeName(prometheus::MetricType type) {
  switch (type) {
    case prometheus::MetricType::Counter:
      return "counter";
    case prometheus::MetricType::Gauge:
      return "gauge";
    default:
      return "untyped";
  }
}

}  // namespace

void serializeText(std::span<const prometheus::MetricFamily> families, std::string& out) {
  for (const prometheus::MetricFamily& family : families) {
    if (family.type == prometheus::MetricType::Summary ||
        family.type == prometheus::MetricType::Histogram) {
      // Not produced by our collectors; an extra collectable may have them.
      out += prometheus::TextSerializer().Serialize({family});
      continue;
    }
    if (!family.help.empty()) {  // as TextSerializer: no HELP line for no help
      out += "# HELP ";
      out += family.name;
      out += ' ';
      appendEscaped(out, family.help, false);
      out += '\n';
    }
    out += "# TYPE ";
    out += family.name;
    out += ' ';
    out += typeName(family.type);
    out += '\n';
    for (const prometheus::ClientMetric& metric : family.metric) {
      out += family.name;
      if (!metric.label.empty()) {
        char sep = '{';
        for (const auto& label : metric.label) {
          out += sep;
          out += label.name;
          out += "=\"";
          appendEscaped(out, label.value, true);
          out += '"';
          sep = ',';
        }
        out += '}';
      }
      out += ' ';
      appendValue(out, valueOf(family, metric));
      if (metric.timestamp_ms != 0) fmt::format_to(Out(out), " {}", metric.timestamp_ms);
      out += '\n';
    }
  }
}

}  // namespace rampart::metrics
