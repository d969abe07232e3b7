// node_udp_queues{ip,queue} from /proc/net/udp and /proc/net/udp6, as
// node_exporter's udp_queues collector: the bytes queued in the kernel for
// UDP sockets, summed over every socket, for receive (rx) and send (tx).
// Without IPv6 there is no udp6 and no v6 sample; that is not a failure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/collector.h"
#include "metrics/proc_file.h"

namespace rampart::metrics {

struct UdpQueues {
  uint64_t tx = 0;  // tx_queue summed, bytes
  uint64_t rx = 0;  // rx_queue summed, bytes
};

// The socket table: a header line, then one line per socket whose fifth
// field is "tx_queue:rx_queue" in hex. A line without that is skipped; sums
// saturate at 2^64-1.
UdpQueues parseUdpQueues(std::string_view text);

class UdpQueuesCollector final : public Collector {
 public:
  explicit UdpQueuesCollector(const std::string& proc_root);
  std::string_view name() const override { return "udp_queues"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  mutable ProcFile udp_, udp6_;
};

}  // namespace rampart::metrics
