#include "metrics/collectors/time.h"

#include <chrono>

namespace rampart::metrics {

double systemTime() {
  using namespace std::chrono;
  return duration<double>(system_clock::now().time_since_epoch()).count();
}

Result<void> TimeCollector::collect(Families& out) const {
  addSample(addFamily(out, "node_time_seconds", "System time in seconds since epoch (1970).",
                      prometheus::MetricType::Gauge),
            clock_());
  return {};
}

}  // namespace rampart::metrics
