#include "metrics/collectors/diskstats.h"

#include <unordered_set>

#include <fmt/format.h>

#include "metrics/proc_file.h"
#include "metrics/text.h"

namespace rampart::metrics {
namespace {

struct Column {
  const char* name;
  const char* help;
  prometheus::MetricType type;
  double scale;  // raw value × scale = exported value
};

// A udev database entry is a few hundred bytes; a bound against a huge one.
constexpr size_t kMaxUdevEntrySize = 64 * 1024;
constexpr double kSector = 512;
constexpr double kMs = 0.001;
constexpr auto kCounter = prometheus::MetricType::Counter;

constexpr std::array<Column, 17> kColumns = {{
    {"node_disk_reads_completed_total", "Reads completed.", kCounter, 1},
    {"node_disk_reads_merged_total", "Adjacent reads merged.", kCounter, 1},
    {"node_disk_read_bytes_total", "Bytes read.", kCounter, kSector},
    {"node_disk_read_time_seconds_total", "Seconds spent on reads.", kCounter, kMs},
    {"node_disk_writes_completed_total", "Writes completed.", kCounter, 1},
    {"node_disk_writes_merged_total", "Adjacent writes merged.", kCounter, 1},
    {"node_disk_written_bytes_total", "Bytes written.", kCounter, kSector},
    {"node_disk_write_time_seconds_total", "Seconds spent on writes.", kCounter, kMs},
    {"node_disk_io_now", "I/Os in progress.", prometheus::MetricType::Gauge, 1},
    {"node_disk_io_time_seconds_total", "Seconds the device had I/O in progress.", kCounter, kMs},
    {"node_disk_io_time_weighted_seconds_total",
     "Seconds spent on I/O, weighted by the number of I/Os in progress.", kCounter, kMs},
    {"node_disk_discards_completed_total", "Discards completed.", kCounter, 1},
    {"node_disk_discards_merged_total", "Adjacent discards merged.", kCounter, 1},
    {"node_disk_discarded_sectors_total", "Sectors discarded.", kCounter, 1},
    {"node_disk_discard_time_seconds_total", "Seconds spent on discards.", kCounter, kMs},
    {"node_disk_flush_requests_total", "Flush requests completed.", kCounter, 1},
    {"node_disk_flush_requests_time_seconds_total", "Seconds spent on flush requests.", kCounter,
     kMs},
}};

constexpr size_t kMinColumns = 11;

bool isDigit(char c) { return c >= '0' && c <= '9'; }
bool isLower(char c) { return c >= 'a' && c <= 'z'; }

// nvme\d+n\d+p
bool isNvmePartitionPrefix(std::string_view s) {
  if (!s.starts_with("nvme") || !s.ends_with('p')) return false;
  s = s.substr(4, s.size() - 5);
  size_t n = s.find('n');
  if (n == 0 || n == std::string_view::npos || n + 1 == s.size()) return false;
  for (size_t i = 0; i < s.size(); ++i)
    if (i != n && !isDigit(s[i])) return false;
  return true;
}

}  // namespace

bool diskstatsExcluded(std::string_view device) {
  // No alternative of the prefix ends in a digit, so the prefix is the name
  // without its trailing digits, and there must be at least one.
  size_t end = device.size();
  while (end > 0 && isDigit(device[end - 1])) --end;
  if (end == device.size()) return false;
  std::string_view prefix = device.substr(0, end);
  if (prefix == "ram" || prefix == "loop" || prefix == "fd") return true;
  if (prefix.size() == 3 && (prefix[0] == 'h' || prefix[0] == 's' || prefix[0] == 'v') &&
      prefix[1] == 'd' && isLower(prefix[2]))
    return true;
  if (prefix.size() == 4 && prefix.starts_with("xvd") && isLower(prefix[3])) return true;
  return isNvmePartitionPrefix(prefix);
}

std::vector<DiskStats> parseDiskstats(std::string_view text) {
  std::vector<DiskStats> disks;
  std::unordered_set<std::string_view> seen;
  Lines lines(text);
  std::string_view line;
  while (lines.next(line)) {
    Fields fields(line);
    std::string_view major, minor, name, field;
    if (!fields.next(major) || !fields.next(minor) || !fields.next(name)) continue;
    auto major_number = parseU64(major), minor_number = parseU64(minor);
    if (!major_number || !minor_number) continue;
    DiskStats disk;
    disk.major = *major_number;
    disk.minor = *minor_number;
    bool ok = true;
    while (ok && fields.next(field)) {
      auto value = parseU64(field);
      ok = value.has_value();
      if (ok && disk.count < disk.values.size()) disk.values[disk.count++] = *value;
    }
    if (!ok || disk.count < kMinColumns) continue;
    if (diskstatsExcluded(name) || !seen.insert(name).second) continue;
    disk.device = sanitizeLabelValue(name);
    disks.push_back(std::move(disk));
  }
  return disks;
}

DiskUdevInfo parseUdevData(std::string_view text) {
  DiskUdevInfo info;
  std::string scsi_serial;
  Lines lines(text);
  std::string_view line;
  while (lines.next(line)) {
    if (!line.starts_with("E:")) continue;
    line.remove_prefix(2);
    size_t eq = line.find('=');
    if (eq == std::string_view::npos) continue;
    std::string_view key = line.substr(0, eq), value = line.substr(eq + 1);
    std::string* field = key == "ID_PATH"             ? &info.path
                         : key == "ID_WWN"            ? &info.wwn
                         : key == "ID_MODEL"          ? &info.model
                         : key == "ID_SERIAL_SHORT"   ? &info.serial
                         : key == "SCSI_IDENT_SERIAL" ? &scsi_serial
                         : key == "ID_REVISION"       ? &info.revision
                                                      : nullptr;
    if (field) *field = sanitizeLabelValue(value);
  }
  if (info.serial.empty()) info.serial = std::move(scsi_serial);
  return info;
}

DiskstatsCollector::DiskstatsCollector(std::string proc_root, std::string udev_data)
    : ProcFileCollector(std::move(proc_root) + "/diskstats"), udev_data_(std::move(udev_data)) {}

Result<void> DiskstatsCollector::collect(Families& out) const {
  auto text = read();
  if (!text) return std::unexpected(text.error());
  std::vector<DiskStats> disks = parseDiskstats(*text);
  auto& info = addFamily(out, "node_disk_info", "Info of /sys/block/<block_device>.",
                         prometheus::MetricType::Gauge);
  for (const DiskStats& disk : disks) {
    std::string major = std::to_string(disk.major), minor = std::to_string(disk.minor);
    auto entry = readProcFile(fmt::format("{}/b{}:{}", udev_data_, major, minor), udev_buffer_,
                              kMaxUdevEntrySize);
    DiskUdevInfo udev = entry ? parseUdevData(*entry) : DiskUdevInfo{};
    addSample(info, 1,
              {{"device", disk.device},
               {"major", std::move(major)},
               {"minor", std::move(minor)},
               {"model", std::move(udev.model)},
               {"path", std::move(udev.path)},
               {"revision", std::move(udev.revision)},
               {"serial", std::move(udev.serial)},
               {"wwn", std::move(udev.wwn)}});
  }
  for (size_t i = 0; i < kColumns.size(); ++i) {
    const Column& column = kColumns[i];
    bool any = false;
    for (const DiskStats& disk : disks) any = any || i < disk.count;
    if (!any) continue;
    auto& family = addFamily(out, column.name, column.help, column.type);
    for (const DiskStats& disk : disks)
      if (i < disk.count)
        addSample(family, static_cast<double>(disk.values[i]) * column.scale,
                  {{"device", disk.device}});
  }
  return {};
}

}  // namespace rampart::metrics
