// The base of every collector: a prometheus::Collectable that can also say
// whether it succeeded, so a scrape reports node_scrape_collector_success.
#pragma once

#include <mutex>
#include <string>
#include <string_view>

#include <prometheus/collectable.h>

#include "common/error.h"
#include "metrics/family.h"
#include "metrics/proc_file.h"

namespace rampart::metrics {

class Collector : public prometheus::Collectable {
 public:
  // The name users switch it off by (`metrics: {disable: [name]}`) and the
  // `collector` label of node_scrape_collector_*.
  virtual std::string_view name() const = 0;

  // Appends this collector's families to `out`. On error, nothing it appended
  // is kept. Serialised per collector: readers reuse their buffers.
  Result<void> collectInto(Families& out) const;

  // prometheus::Collectable: the families, or none when collection failed.
  Families Collect() const override;

 protected:
  virtual Result<void> collect(Families& out) const = 0;

 private:
  mutable std::mutex mutex_;
};

// A collector of one procfs file, read on every scrape into a buffer it keeps.
class ProcFileCollector : public Collector {
 protected:
  explicit ProcFileCollector(std::string path) : file_(std::move(path)) {}
  Result<std::string_view> read() const { return file_.read(); }
  const std::string& path() const { return file_.path(); }

 private:
  mutable ProcFile file_;
};

}  // namespace rampart::metrics
