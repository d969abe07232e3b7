// Pressure stall information from /proc/pressure/{cpu,io,memory}, as
// node_exporter's pressure collector: node_pressure_cpu_waiting_seconds_total,
// node_pressure_{io,memory}_{waiting,stalled}_seconds_total ("some" and
// "full" totals, microseconds converted to seconds). A kernel without PSI
// has no /proc/pressure: no metric, and no failure.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "metrics/collector.h"

namespace rampart::metrics {

// The "total=" microseconds of a pressure file's "some" and "full" lines
// (the cpu file of older kernels has no "full" line).
struct PressureTotals {
  std::optional<uint64_t> some_us;
  std::optional<uint64_t> full_us;
};

Result<PressureTotals> parsePressure(std::string_view text);

class PressureCollector final : public Collector {
 public:
  explicit PressureCollector(std::string proc_root);
  std::string_view name() const override { return "pressure"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  std::string dir_;
  mutable std::string buffer_;
};

}  // namespace rampart::metrics
