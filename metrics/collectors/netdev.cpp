#include "metrics/collectors/netdev.h"

#include <unordered_set>

#include "metrics/proc_file.h"
#include "metrics/text.h"

namespace rampart::metrics {
namespace {

constexpr std::array<const char*, 16> kNames = {
    "node_network_receive_bytes_total",       "node_network_receive_packets_total",
    "node_network_receive_errs_total",        "node_network_receive_drop_total",
    "node_network_receive_fifo_total",        "node_network_receive_frame_total",
    "node_network_receive_compressed_total",  "node_network_receive_multicast_total",
    "node_network_transmit_bytes_total",      "node_network_transmit_packets_total",
    "node_network_transmit_errs_total",       "node_network_transmit_drop_total",
    "node_network_transmit_fifo_total",       "node_network_transmit_colls_total",
    "node_network_transmit_carrier_total",    "node_network_transmit_compressed_total"};

constexpr std::array<const char*, 16> kStats = {
    "receive_bytes",  "receive_packets",  "receive_errs",       "receive_drop",
    "receive_fifo",   "receive_frame",    "receive_compressed", "receive_multicast",
    "transmit_bytes", "transmit_packets", "transmit_errs",      "transmit_drop",
    "transmit_fifo",  "transmit_colls",   "transmit_carrier",   "transmit_compressed"};

}  // namespace

std::vector<NetDevStats> parseNetDev(std::string_view text) {
  std::vector<NetDevStats> devices;
  std::unordered_set<std::string_view> seen;
  Lines lines(text);
  std::string_view line;
  while (lines.next(line)) {
    size_t colon = line.rfind(':');
    if (colon == std::string_view::npos) continue;  // the two header lines
    std::string_view name = trim(line.substr(0, colon));
    if (name.empty()) continue;
    NetDevStats stats;
    Fields fields(line.substr(colon + 1));
    std::string_view field;
    size_t n = 0;
    bool ok = true;
    while (ok && fields.next(field)) {
      auto value = parseU64(field);
      ok = value && n < stats.values.size();
      if (ok) stats.values[n++] = *value;
    }
    if (!ok || n != stats.values.size()) continue;
    if (!seen.insert(name).second) continue;
    stats.device = sanitizeLabelValue(name);
    devices.push_back(std::move(stats));
  }
  return devices;
}

NetDevCollector::NetDevCollector(std::string proc_root)
    : ProcFileCollector(std::move(proc_root) + "/net/dev") {}

Result<void> NetDevCollector::collect(Families& out) const {
  auto text = read();
  if (!text) return std::unexpected(text.error());
  std::vector<NetDevStats> devices = parseNetDev(*text);
  for (size_t i = 0; i < kNames.size(); ++i) {
    auto& family = addFamily(out, kNames[i],
                             std::string("Network device statistic ") + kStats[i] + ".",
                             prometheus::MetricType::Counter);
    family.metric.reserve(devices.size());
    for (const NetDevStats& device : devices)
      addSample(family, static_cast<double>(device.values[i]), {{"device", device.device}});
  }
  return {};
}

}  // namespace rampart::metrics
