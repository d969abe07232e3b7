// The base of every collector: a prometheus::Collectable that can also say
// whether it succeeded, so a scrape reports node_scrape_collector_success.
#pragma once

#include <mutex>
#include <span>
#include <string>
#include <string_view>
#include <vector>

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

  // Hands back families this collector appended (once serialised), so the
  // next collection reuses their strings and sample storage.
  void recycle(std::span<prometheus::MetricFamily> used) const;

 protected:
  virtual Result<void> collect(Families& out) const = 0;

  // addFamily (family.h) for collectors: the family is the next recycled one
  // when there is one (name and help assigned into its strings, samples
  // cleared but their storage kept), so a scrape like the last allocates
  // nothing for it. Inside a collector it hides the free function.
  prometheus::MetricFamily& addFamily(Families& out, std::string_view name, std::string_view help,
                                      prometheus::MetricType type) const;
  // Families handed back by the last scrape and not yet taken again.
  size_t spareFamilies() const { return spare_.size() - spare_next_; }
  // Appends the next recycled family as it was (name, help, type kept;
  // samples cleared). Only when spareFamilies() > 0 and the caller knows
  // the family is the one it would build (same input layout as last time).
  prometheus::MetricFamily& reuseFamily(Families& out) const;

 private:
  mutable std::mutex mutex_;
  mutable Families spare_;       // recycled families, taken in order
  mutable size_t spare_next_ = 0;
};

// What a collector's input listed last scrape (its field names, say), to see
// whether this scrape lists the same: then the families come back from the
// last scrape in the same order (Collector::reuseFamily) and only the values
// are new. Per scrape: clear(), add() every key part, then either
// unchanged() and kept(i) for the i-th entry, or rebuild and save().
class InputLayout {
 public:
  void clear() { keys_.clear(); }
  // Each part is stored after its length, so different lists never match.
  void add(std::string_view part);
  bool unchanged(size_t spare_families) const {
    return keys_ == last_keys_ && spare_families == families_ && !keys_.empty();
  }
  // Whether the i-th entry became a family (false: it repeated one before).
  bool kept(size_t i) const { return kept_[i]; }
  std::vector<bool>& keptFlags() { return kept_; }
  // Remembers this scrape's keys and the number of families they made.
  void save(size_t families);

 private:
  std::string keys_, last_keys_;
  std::vector<bool> kept_;
  size_t families_ = 0;
};

// A collector of one procfs file, read on every scrape into a buffer it keeps.
class ProcFileCollector : public Collector {
 protected:
  explicit ProcFileCollector(std::string path, Rendering rendering = Rendering::kRecords)
      : file_(std::move(path), rendering) {}
  Result<std::string_view> read() const { return file_.read(); }
  const std::string& path() const { return file_.path(); }

 private:
  mutable ProcFile file_;
};

}  // namespace rampart::metrics
