#include "metrics/collectors/meminfo.h"

#include <unordered_set>

#include "metrics/proc_file.h"
#include "metrics/text.h"

namespace rampart::metrics {
namespace {

// "Active(anon)" -> "Active_anon": a parenthesised part becomes "_part".
std::string meminfoName(std::string_view key) {
  std::string name;
  name.reserve(key.size() + 6);
  for (char c : key) {
    if (c == '(') name += '_';
    else if (c != ')') name += c;
  }
  return sanitizeMetricName(name);
}

}  // namespace

std::vector<MeminfoValue> parseMeminfo(std::string_view text) {
  std::vector<MeminfoValue> values;
  std::unordered_set<std::string> seen;
  Lines lines(text);
  std::string_view line;
  while (lines.next(line)) {
    size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) continue;
    Fields fields(line.substr(colon + 1));
    std::string_view number, unit, extra;
    if (!fields.next(number)) continue;
    bool has_unit = fields.next(unit);
    if (fields.next(extra) || (has_unit && unit != "kB")) continue;
    auto value = parseU64(number);
    if (!value) continue;
    MeminfoValue v{meminfoName(line.substr(0, colon)), static_cast<double>(*value)};
    if (has_unit) {
      v.name += "_bytes";
      v.value *= 1024;
    }
    if (!seen.insert(v.name).second) continue;
    values.push_back(std::move(v));
  }
  return values;
}

MeminfoCollector::MeminfoCollector(std::string proc_root)
    : ProcFileCollector(std::move(proc_root) + "/meminfo") {}

Result<void> MeminfoCollector::collect(Families& out) const {
  auto text = read();
  if (!text) return std::unexpected(text.error());
  std::vector<MeminfoValue> values = parseMeminfo(*text);
  if (values.empty()) return fail("{}: no fields", path());
  for (MeminfoValue& v : values) {
    // node_exporter types a name ending in "_total" as a counter; no
    // meminfo field does today ("HugePages_Total" is a gauge).
    auto type = v.name.ends_with("_total") ? prometheus::MetricType::Counter
                                           : prometheus::MetricType::Gauge;
    auto& family = addFamily(out, "node_memory_" + v.name,
                             "Memory information field " + v.name + ".", type);
    addSample(family, v.value);
  }
  return {};
}

}  // namespace rampart::metrics
