// node_time_seconds, the system's wall clock at scrape, as node_exporter's
// time collector (Node Exporter Full's uptime is node_time_seconds minus
// node_boot_time_seconds).
#pragma once

#include <string_view>

#include "metrics/collector.h"

namespace rampart::metrics {

// Seconds since the epoch, with the fraction.
double systemTime();

class TimeCollector final : public Collector {
 public:
  using Clock = double (*)();
  explicit TimeCollector(Clock clock = systemTime) : clock_(clock) {}
  std::string_view name() const override { return "time"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  Clock clock_;
};

}  // namespace rampart::metrics
