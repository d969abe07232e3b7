// node_nf_conntrack_entries and node_nf_conntrack_entries_limit from
// /proc/sys/net/netfilter/nf_conntrack_{count,max}. Without the conntrack
// module the files are absent: no metric, and no failure.
#pragma once

#include <string>

#include "metrics/collector.h"

namespace rampart::metrics {

class ConntrackCollector final : public Collector {
 public:
  explicit ConntrackCollector(std::string proc_root);
  std::string_view name() const override { return "conntrack"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  std::string count_path_, max_path_;
  mutable std::string buffer_;
};

}  // namespace rampart::metrics
