#include "metrics/collector.h"

#include "metrics/proc_file.h"

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

Result<std::string_view> ProcFileCollector::read() const { return readProcFile(path_, buffer_); }

}  // namespace rampart::metrics
