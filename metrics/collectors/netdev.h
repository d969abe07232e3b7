// node_network_{receive,transmit}_*_total{device} from /proc/net/dev, named
// as node_exporter names the sixteen /proc/net/dev columns.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/collector.h"

namespace rampart::metrics {

struct NetDevStats {
  std::string device;
  // receive: bytes packets errs drop fifo frame compressed multicast,
  // transmit: bytes packets errs drop fifo colls carrier compressed.
  std::array<uint64_t, 16> values{};
};

// The device name is everything before the line's last ':' (trimmed), so a
// name holding colons survives. Lines without sixteen numbers are skipped,
// and a device seen twice keeps its first line.
std::vector<NetDevStats> parseNetDev(std::string_view text);

class NetDevCollector final : public ProcFileCollector {
 public:
  explicit NetDevCollector(std::string proc_root);
  std::string_view name() const override { return "netdev"; }

 protected:
  Result<void> collect(Families& out) const override;
};

}  // namespace rampart::metrics
