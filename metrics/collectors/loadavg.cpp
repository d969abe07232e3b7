#include "metrics/collectors/loadavg.h"

#include "metrics/proc_file.h"
#include "metrics/text.h"

namespace rampart::metrics {

Result<std::array<double, 3>> parseLoadavg(std::string_view text) {
  std::array<double, 3> loads{};
  Fields fields(text);
  std::string_view field;
  for (double& load : loads) {
    if (!fields.next(field)) return fail("loadavg: fewer than three fields");
    auto value = parseNumber(field);
    if (!value) return fail("loadavg: '{}' is not a number", field);
    load = *value;
  }
  return loads;
}

LoadavgCollector::LoadavgCollector(std::string proc_root)
    : ProcFileCollector(std::move(proc_root) + "/loadavg", Rendering::kWhole) {}

Result<void> LoadavgCollector::collect(Families& out) const {
  auto text = read();
  if (!text) return std::unexpected(text.error());
  auto loads = parseLoadavg(*text);
  if (!loads) return std::unexpected(loads.error());
  constexpr const char* kNames[] = {"node_load1", "node_load5", "node_load15"};
  constexpr const char* kHelp[] = {"1m load average.", "5m load average.", "15m load average."};
  for (size_t i = 0; i < 3; ++i)
    addSample(addFamily(out, kNames[i], kHelp[i], prometheus::MetricType::Gauge), (*loads)[i]);
  return {};
}

}  // namespace rampart::metrics
