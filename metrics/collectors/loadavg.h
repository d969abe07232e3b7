// node_load1, node_load5, node_load15 from /proc/loadavg.
#pragma once

#include <array>
#include <string>
#include <string_view>

#include "metrics/collector.h"

namespace rampart::metrics {

Result<std::array<double, 3>> parseLoadavg(std::string_view text);

class LoadavgCollector final : public ProcFileCollector {
 public:
  explicit LoadavgCollector(std::string proc_root);
  std::string_view name() const override { return "loadavg"; }

 protected:
  Result<void> collect(Families& out) const override;
};

}  // namespace rampart::metrics
