// Building prometheus::MetricFamily values tersely.
#pragma once

#include <initializer_list>
#include <string>
#include <utility>
#include <vector>

#include <prometheus/metric_family.h>

namespace rampart::metrics {

using Families = std::vector<prometheus::MetricFamily>;
using Label = prometheus::ClientMetric::Label;

prometheus::MetricFamily makeFamily(std::string name, std::string help,
                                    prometheus::MetricType type);
// Appends a family and returns it. The reference dies with the next append to
// `out`: finish one family before adding the next, or use makeFamily.
prometheus::MetricFamily& addFamily(Families& out, std::string name, std::string help,
                                    prometheus::MetricType type);

// Appends one sample; the value lands in the field the family's type reads.
void addSample(prometheus::MetricFamily& family, double value, std::vector<Label> labels = {});

}  // namespace rampart::metrics
