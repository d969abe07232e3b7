// node_disk_*{device} from /proc/diskstats, as node_exporter's diskstats
// collector: counts, bytes (sectors × 512) and seconds (ms / 1000), with the
// discard fields (kernel 4.18+) and flush fields (5.5+) when the line has them.
// Partitions and pseudo devices are left out as node_exporter's default
// device-exclude does: ^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$.
// node_disk_info{device,major,minor,model,path,revision,serial,wwn} is 1 per
// device, the text labels from udev's database (<udev_data>/b<major>:<minor>,
// ID_PATH, ID_WWN, ID_MODEL, ID_SERIAL_SHORT or SCSI_IDENT_SERIAL,
// ID_REVISION), empty without it.
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
  uint64_t major = 0, minor = 0;
};

// The labels node_disk_info takes from a udev database entry ("E:KEY=value"
// lines); a key it lacks gives "".
struct DiskUdevInfo {
  std::string path, wwn, model, serial, revision;
};
DiskUdevInfo parseUdevData(std::string_view text);

// True for the devices node_exporter's default device-exclude drops.
bool diskstatsExcluded(std::string_view device);

// Lines with fewer than eleven numbers after the name, or a non-number, are
// skipped, as are excluded devices; a device seen twice keeps its first line.
std::vector<DiskStats> parseDiskstats(std::string_view text);

class DiskstatsCollector final : public ProcFileCollector {
 public:
  explicit DiskstatsCollector(std::string proc_root, std::string udev_data = "/run/udev/data");
  std::string_view name() const override { return "diskstats"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  std::string udev_data_;
  mutable std::string udev_buffer_;
};

}  // namespace rampart::metrics
