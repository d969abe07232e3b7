// rampart_node_info{node,role,version} 1.
#pragma once

#include <string>

#include "metrics/collector.h"

namespace rampart::metrics {

class NodeInfoCollector final : public Collector {
 public:
  NodeInfoCollector(std::string node, std::string role, std::string version);
  std::string_view name() const override { return "node_info"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  std::string node_, role_, version_;
};

}  // namespace rampart::metrics
