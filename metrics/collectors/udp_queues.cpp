#include "metrics/collectors/udp_queues.h"

#include <charconv>
#include <optional>

#include "metrics/text.h"

namespace rampart::metrics {
namespace {

std::optional<uint64_t> parseHex(std::string_view text) {
  uint64_t value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value, 16);
  if (text.empty() || ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  return value;
}

uint64_t saturatingAdd(uint64_t a, uint64_t b) { return a > UINT64_MAX - b ? UINT64_MAX : a + b; }

}  // namespace

UdpQueues parseUdpQueues(std::string_view text) {
  UdpQueues sums;
  Lines lines(text);
  std::string_view line;
  lines.next(line);  // "  sl  local_address rem_address   st tx_queue rx_queue ..."
  while (lines.next(line)) {
    Fields fields(line);
    std::string_view field;
    int n = 0;
    while (n < 5 && fields.next(field)) ++n;
    if (n < 5) continue;
    size_t colon = field.find(':');
    if (colon == std::string_view::npos) continue;
    auto tx = parseHex(field.substr(0, colon));
    auto rx = parseHex(field.substr(colon + 1));
    if (!tx || !rx) continue;
    sums.tx = saturatingAdd(sums.tx, *tx);
    sums.rx = saturatingAdd(sums.rx, *rx);
  }
  return sums;
}

UdpQueuesCollector::UdpQueuesCollector(const std::string& proc_root)
    : udp_(proc_root + "/net/udp"), udp6_(proc_root + "/net/udp6") {}

Result<void> UdpQueuesCollector::collect(Families& out) const {
  auto udp = udp_.read();
  if (!udp && !isMissing(udp.error())) return std::unexpected(udp.error());
  std::optional<UdpQueues> v4, v6;
  if (udp) v4 = parseUdpQueues(*udp);
  auto udp6 = udp6_.read();
  if (!udp6 && !isMissing(udp6.error())) return std::unexpected(udp6.error());
  if (udp6) v6 = parseUdpQueues(*udp6);
  if (!v4 && !v6) return fail("{} and {}: neither exists", udp_.path(), udp6_.path());
  auto& family =
      addFamily(out, "node_udp_queues",
                "Number of allocated memory in the kernel for UDP datagrams in bytes.",
                prometheus::MetricType::Gauge);
  for (const auto& [ip, sums] : {std::pair{"v4", v4}, std::pair{"v6", v6}}) {
    if (!sums) continue;
    addSample(family, static_cast<double>(sums->rx), {{"ip", ip}, {"queue", "rx"}});
    addSample(family, static_cast<double>(sums->tx), {{"ip", ip}, {"queue", "tx"}});
  }
  return {};
}

}  // namespace rampart::metrics
