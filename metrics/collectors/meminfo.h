// node_memory_* from /proc/meminfo, named as node_exporter names them:
// "Active(anon):  123 kB" -> node_memory_Active_anon_bytes 125952, and
// unitless counts ("HugePages_Total:  0") keep their name without _bytes.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "metrics/collector.h"

namespace rampart::metrics {

struct MeminfoValue {
  std::string name;  // "Active_anon_bytes", "HugePages_Total"
  double value = 0;
};

// Malformed lines are skipped; a name seen twice keeps its first value.
// With `kept`, one flag per well-formed line: whether its value was returned
// (false for a repeated name).
std::vector<MeminfoValue> parseMeminfo(std::string_view text, std::vector<bool>* kept = nullptr);

class MeminfoCollector final : public ProcFileCollector {
 public:
  explicit MeminfoCollector(std::string proc_root);
  std::string_view name() const override { return "meminfo"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  mutable std::string name_, help_;  // the family being added, built in place
  mutable InputLayout layout_;        // key and unit of every well-formed line
  mutable std::vector<double> values_;  // their values, this scrape
};

}  // namespace rampart::metrics
