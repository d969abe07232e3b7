#include "metrics/family.h"

namespace rampart::metrics {

prometheus::MetricFamily makeFamily(std::string name, std::string help,
                                    prometheus::MetricType type) {
  prometheus::MetricFamily family;
  family.name = std::move(name);
  family.help = std::move(help);
  family.type = type;
  return family;
}

prometheus::MetricFamily& addFamily(Families& out, std::string name, std::string help,
                                    prometheus::MetricType type) {
  return out.emplace_back(makeFamily(std::move(name), std::move(help), type));
}

void addSample(prometheus::MetricFamily& family, double value, std::vector<Label> labels) {
  prometheus::ClientMetric& metric = family.metric.emplace_back();
  metric.label = std::move(labels);
  switch (family.type) {
    case prometheus::MetricType::Counter:
      metric.counter.value = value;
      break;
    case prometheus::MetricType::Gauge:
      metric.gauge.value = value;
      break;
    default:
      metric.untyped.value = value;
      break;
  }
}

}  // namespace rampart::metrics
