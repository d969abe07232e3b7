// node_disk_*{device} from /proc/diskstats, as node_exporter's diskstats
// collector: counts, bytes (sectors × 512) and seconds (ms / 1000), with the
// discard fields (kernel 4.18+) and flush fields (5.5+) when the line has them.
// Partitions and pseudo devices are left out as node_exporter's default
// device-exclude does: ^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/collector.h"

namespace rampart::metrics {

struct DiskStats {
  std::string device;
  // The numbers after the device name, in /proc/diskstats order; `count` of
  // them are present (11, 15 or 17).
  std::array<uint64_t, 17> values{};
  size_t count = 0;
};

// True for the devices node_exporter's default device-exclude drops.
bool diskstatsExcluded(std::string_view device);

// Lines with fewer than eleven numbers after the name, or a non-number, are
// skipped, as are excluded devices; a device seen twice keeps its first line.
std::vector<DiskStats> parseDiskstats(std::string_view text);

class DiskstatsCollector final : public ProcFileCollector {
 public:
  explicit DiskstatsCollector(std::string proc_root);
  std::string_view name() const override { return "diskstats"; }

 protected:
  Result<void> collect(Families& out) const override;
};

}  // namespace rampart::metrics
