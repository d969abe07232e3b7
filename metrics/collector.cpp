#include "metrics/collector.h"

#include <cstdint>

namespace rampart::metrics {

Result<void> Collector::collectInto(Families& out) const {
  std::lock_guard lock(mutex_);
  spare_next_ = 0;
  size_t before = out.size();
  Result<void> result = collect(out);
  if (!result) out.resize(before);
  spare_.clear();  // what was not taken is stale; only recycle() refills it
  spare_next_ = 0;
  return result;
}

Families Collector::Collect() const {
  Families out;
  (void)collectInto(out);
  return out;
}

void Collector::recycle(std::span<prometheus::MetricFamily> used) const {
  std::lock_guard lock(mutex_);
  spare_.clear();
  spare_.reserve(used.size());
  for (prometheus::MetricFamily& family : used) spare_.push_back(std::move(family));
  spare_next_ = 0;
}

prometheus::MetricFamily& Collector::reuseFamily(Families& out) const {
  prometheus::MetricFamily& family = out.emplace_back(std::move(spare_.at(spare_next_++)));
  family.metric.clear();
  return family;
}

prometheus::MetricFamily& Collector::addFamily(Families& out, std::string_view name,
                                               std::string_view help,
                                               prometheus::MetricType type) const {
  if (spare_next_ >= spare_.size())
    return metrics::addFamily(out, std::string(name), std::string(help), type);
  prometheus::MetricFamily& family = out.emplace_back(std::move(spare_[spare_next_++]));
  family.name.assign(name);
  family.help.assign(help);
  family.type = type;
  family.metric.clear();
  return family;
}

void InputLayout::add(std::string_view part) {
  uint32_t size = static_cast<uint32_t>(part.size());
  keys_.append(reinterpret_cast<const char*>(&size), sizeof size).append(part);
}

void InputLayout::save(size_t families) {
  families_ = families;
  last_keys_.swap(keys_);
}

}  // namespace rampart::metrics
