#include "metrics/collectors/conntrack.h"

#include "metrics/proc_file.h"
#include "metrics/text.h"

namespace rampart::metrics {
namespace {

struct Gauge {
  const std::string& path;
  const char* name;
  const char* help;
};

}  // namespace

ConntrackCollector::ConntrackCollector(std::string proc_root)
    : count_path_(proc_root + "/sys/net/netfilter/nf_conntrack_count"),
      max_path_(proc_root + "/sys/net/netfilter/nf_conntrack_max") {}

Result<void> ConntrackCollector::collect(Families& out) const {
  const Gauge gauges[] = {
      {count_path_, "node_nf_conntrack_entries",
       "Number of currently allocated flow entries for connection tracking."},
      {max_path_, "node_nf_conntrack_entries_limit", "Maximum size of connection tracking table."}};
  for (const Gauge& g : gauges) {
    auto text = readProcFile(g.path, buffer_, 4096);
    if (!text) {
      if (isMissing(text.error())) continue;
      return std::unexpected(text.error());
    }
    auto value = parseU64(trim(*text));
    if (!value) return fail("{}: not a number", g.path);
    addSample(addFamily(out, g.name, g.help, prometheus::MetricType::Gauge),
              static_cast<double>(*value));
  }
  return {};
}

}  // namespace rampart::metrics
