#include "metrics/collector.h"

namespace rampart::metrics {

Result<void> Collector::collectInto(Families& out) const {
  std::lock_guard lock(mutex_);
  size_t before = out.size();
  Result<void> result = collect(out);
  if (!result) out.resize(before);
  return result;
}

Families Collector::Collect() const {
  Families out;
  (void)collectInto(out);
  return out;
}

}  // namespace rampart::metrics
