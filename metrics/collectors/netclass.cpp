#include "metrics/collectors/netclass.h"

#include <algorithm>
#include <filesystem>
#include <system_error>

#include "metrics/proc_file.h"
#include "metrics/text.h"

namespace rampart::metrics {
namespace {

// sysfs attributes are one short line; anything longer is refused.
constexpr size_t kMaxAttributeSize = 4096;
// A bound on the devices listed per scrape.
constexpr size_t kMaxDevices = 65536;

std::optional<int64_t> parseI64(std::string_view text) {
  bool negative = text.starts_with('-');
  auto magnitude = parseU64(negative ? text.substr(1) : text);
  if (!magnitude || *magnitude > static_cast<uint64_t>(INT64_MAX)) return std::nullopt;
  return negative ? -static_cast<int64_t>(*magnitude) : static_cast<int64_t>(*magnitude);
}

std::string text(const std::optional<std::string>& file) {
  return file ? sanitizeLabelValue(trim(*file)) : std::string();
}

std::optional<int64_t> integer(const std::optional<std::string>& file) {
  if (!file) return std::nullopt;
  return parseI64(trim(*file));
}

}  // namespace

NetClass parseNetClass(std::string_view device, const NetClassFiles& files) {
  NetClass net;
  net.device = sanitizeLabelValue(device);
  net.address = text(files.address);
  net.broadcast = text(files.broadcast);
  net.duplex = text(files.duplex);
  net.operstate = text(files.operstate);
  net.ifalias = text(files.ifalias);
  net.carrier = integer(files.carrier);
  net.mtu = integer(files.mtu);
  // value_or keeps every branch on defined data: comparing through a
  // disengaged optional at -O2 makes memcheck report a jump on its payload.
  constexpr int64_t kNoSpeed = INT64_MIN;
  const int64_t mbits = integer(files.speed).value_or(kNoSpeed);
  if (mbits != kNoSpeed && mbits >= INT64_MIN / 125000 && mbits <= INT64_MAX / 125000)
    net.speed_bytes = mbits * 125000;
  if (files.rx_nohandler) net.rx_nohandler = parseU64(trim(*files.rx_nohandler));
  if (files.carrier_changes) net.carrier_changes = parseU64(trim(*files.carrier_changes));
  net.up = net.operstate == "up";
  return net;
}

NetClassCollector::NetClassCollector(std::string sys_root)
    : dir_(std::move(sys_root) + "/class/net") {}

Result<void> NetClassCollector::collect(Families& out) const {
  namespace fs = std::filesystem;
  std::error_code ec;
  std::vector<std::string> names;
  for (fs::directory_iterator it(dir_, ec), end; !ec && it != end; it.increment(ec)) {
    // Devices are symlinks to directories; bonding_masters is a plain file.
    if (!fs::is_directory(it->path(), ec)) {
      ec.clear();
      continue;
    }
    if (names.size() == kMaxDevices) return fail("{}: more than {} devices", dir_, kMaxDevices);
    names.push_back(it->path().filename().string());
  }
  if (ec) return fail("list {}: {}", dir_, ec.message());
  std::sort(names.begin(), names.end());

  std::vector<NetClass> devices;
  devices.reserve(names.size());
  for (const std::string& name : names) {
    auto read = [&](const char* attribute) -> std::optional<std::string> {
      auto content = readProcFile(dir_ + "/" + name + "/" + attribute, buffer_, kMaxAttributeSize);
      if (!content) return std::nullopt;
      return std::string(*content);
    };
    NetClassFiles files{read("address"), read("broadcast"),   read("duplex"),
                        read("operstate"), read("ifalias"),   read("carrier"),
                        read("mtu"),       read("speed"),     read("statistics/rx_nohandler"),
                        read("carrier_changes")};
    devices.push_back(parseNetClass(name, files));
  }

  auto gauge = prometheus::MetricType::Gauge;
  auto each = [&](const char* metric, const char* help, prometheus::MetricType type,
                  auto value) {
    auto& family = addFamily(out, metric, help, type);
    for (const NetClass& net : devices)
      if (auto v = value(net)) addSample(family, static_cast<double>(*v), {{"device", net.device}});
  };
  each("node_network_carrier", "Whether the device has carrier (sysfs carrier).", gauge,
       [](const NetClass& n) { return n.carrier; });
  each("node_network_carrier_changes_total",
       "Times the device's carrier went up or down (sysfs carrier_changes).",
       prometheus::MetricType::Counter, [](const NetClass& n) { return n.carrier_changes; });
  each("node_network_mtu_bytes", "The device's MTU in bytes.", gauge,
       [](const NetClass& n) { return n.mtu; });
  each("node_network_speed_bytes", "The link speed in bytes per second.", gauge,
       [](const NetClass& n) { return n.speed_bytes; });
  each("node_network_up", "1 when the device's operstate is 'up', else 0.", gauge,
       [](const NetClass& n) { return std::optional<int>(n.up ? 1 : 0); });
  each("node_network_receive_nohandler_total",
       "Packets received and dropped for want of a protocol handler.",
       prometheus::MetricType::Counter, [](const NetClass& n) { return n.rx_nohandler; });
  auto& info = addFamily(out, "node_network_info",
                         "Text properties of the device from /sys/class/net; always 1.", gauge);
  for (const NetClass& net : devices)
    addSample(info, 1,
              {{"address", net.address},
               {"broadcast", net.broadcast},
               {"device", net.device},
               {"duplex", net.duplex},
               {"ifalias", net.ifalias},
               {"operstate", net.operstate}});
  return {};
}

}  // namespace rampart::metrics
