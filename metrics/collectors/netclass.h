// Per-device properties from /sys/class/net/<device>/, as node_exporter's
// netclass collector: node_network_{carrier,mtu_bytes,speed_bytes,up,info}
// gauges and the counters node_network_carrier_changes_total (carrier_changes)
// and node_network_receive_nohandler_total (statistics/rx_nohandler, which
// /proc/net/dev does not carry).
// An attribute the kernel refuses to read (EINVAL for the speed of a virtual
// device, for instance) gives no sample; info shows it as "".
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/collector.h"

namespace rampart::metrics {

// The raw contents of one device's attribute files; nullopt = unreadable.
struct NetClassFiles {
  std::optional<std::string> address, broadcast, duplex, operstate, ifalias;
  std::optional<std::string> carrier, mtu, speed, rx_nohandler;
  std::optional<std::string> carrier_changes;
};

struct NetClass {
  std::string device;
  std::string address, broadcast, duplex, operstate, ifalias;
  std::optional<int64_t> carrier;
  std::optional<int64_t> mtu;
  std::optional<int64_t> speed_bytes;  // Mbit/s × 125000; -1 Mbit/s is kept
  std::optional<uint64_t> rx_nohandler;
  std::optional<uint64_t> carrier_changes;  // link up and down events since boot
  bool up = false;  // operstate == "up"
};

// Trims the trailing newline of every file; numbers that do not parse give
// no sample.
NetClass parseNetClass(std::string_view device, const NetClassFiles& files);

class NetClassCollector final : public Collector {
 public:
  explicit NetClassCollector(std::string sys_root);
  std::string_view name() const override { return "netclass"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  std::string dir_;  // <sys_root>/class/net
  mutable std::string buffer_;
};

}  // namespace rampart::metrics
