#include "metrics/collectors/node_info.h"

#include "metrics/text.h"

namespace rampart::metrics {

NodeInfoCollector::NodeInfoCollector(std::string node, std::string role, std::string version)
    : node_(sanitizeLabelValue(node)),
      role_(sanitizeLabelValue(role)),
      version_(sanitizeLabelValue(version)) {}

Result<void> NodeInfoCollector::collect(Families& out) const {
  auto& family = addFamily(out, "rampart_node_info",
                           "The node's name and role from the configuration, and the agent's "
                           "version; always 1.",
                           prometheus::MetricType::Gauge);
  addSample(family, 1, {{"node", node_}, {"role", role_}, {"version", version_}});
  return {};
}

}  // namespace rampart::metrics
