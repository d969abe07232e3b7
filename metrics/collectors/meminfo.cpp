#include "metrics/collectors/meminfo.h"

#include <algorithm>

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
  // Reserved for every line, so the names never move while `seen` views them.
  const size_t lines_max = static_cast<size_t>(std::count(text.begin(), text.end(), '\n')) + 1;
  std::vector<MeminfoValue> values;
  values.reserve(lines_max);
  std::vector<std::string_view> seen;  // sorted names, to drop a repeated field
  seen.reserve(lines_max);
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
    MeminfoValue& v = values.emplace_back(meminfoName(line.substr(0, colon)), static_cast<double>(*value));
    if (has_unit) {
      v.name += "_bytes";
      v.value *= 1024;
    }
    auto at = std::lower_bound(seen.begin(), seen.end(), std::string_view(v.name));
    if (at != seen.end() && *at == v.name) {
      values.pop_back();
      continue;
    }
    seen.insert(at, v.name);
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
    name_.assign("node_memory_").append(v.name);
    help_.assign("Memory information field ").append(v.name).append(".");
    addSample(addFamily(out, name_, help_, type), v.value);
  }
  return {};
}

}  // namespace rampart::metrics
