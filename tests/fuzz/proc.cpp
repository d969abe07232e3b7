// Every /proc (and /sys) parser of metrics/collectors/ on arbitrary text;
// the first byte picks the parser. Parsers must not crash, and views they
// return must point into the text they were given.
#include <array>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "metrics/collectors/cpu.h"
#include "metrics/collectors/diskstats.h"
#include "metrics/collectors/filefd.h"
#include "metrics/collectors/filesystem.h"
#include "metrics/collectors/loadavg.h"
#include "metrics/collectors/meminfo.h"
#include "metrics/collectors/netclass.h"
#include "metrics/collectors/netdev.h"
#include "metrics/collectors/netstat.h"
#include "metrics/collectors/pressure.h"
#include "metrics/collectors/process.h"
#include "metrics/collectors/udp_queues.h"

namespace {

void inside(std::string_view text, std::string_view part) {
  if (part.empty()) return;
  if (part.data() < text.data() || part.data() + part.size() > text.data() + text.size()) {
    __builtin_trap();
  }
}

// /sys/class/net/<device>/ as one input: the device name, then the ten
// attribute files in NetClassFiles order, separated by NUL bytes (which no
// sysfs attribute holds). Files past the last separator are unreadable.
rampart::metrics::NetClassFiles splitNetClass(std::string_view text, std::string_view& device) {
  rampart::metrics::NetClassFiles f;
  std::array<std::optional<std::string>*, 10> slots{&f.address, &f.broadcast,   &f.duplex,
                                                    &f.operstate, &f.ifalias,   &f.carrier,
                                                    &f.mtu,       &f.speed,     &f.rx_nohandler,
                                                    &f.carrier_changes};
  size_t nul = text.find('\0');
  device = text.substr(0, nul);
  for (auto* slot : slots) {
    if (nul == std::string_view::npos) break;
    text.remove_prefix(nul + 1);
    nul = text.find('\0');
    *slot = std::string(text.substr(0, nul));
  }
  return f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rampart::metrics;
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 15) {
    case 0:
      (void)parseProcStat(text);
      break;
    case 1:
      (void)parseMounts(text);
      break;
    case 2:
      (void)parseLoadavg(text);
      break;
    case 3:
      (void)parseMeminfo(text);
      break;
    case 4:
      (void)parseNetDev(text);
      break;
    case 5:
      for (const auto& v : parseNetstat(text)) {
        inside(text, v.protocol);
        inside(text, v.field);
      }
      break;
    case 6:
      for (const auto& v : parseNetstat(text, netstatFieldWanted)) {
        inside(text, v.protocol);
        inside(text, v.field);
      }
      break;
    case 7:
      for (const auto& v : parseSnmp6(text)) {
        inside(text, v.protocol);
        inside(text, v.field);
      }
      break;
    case 8:
      (void)parseProcSelfStat(text);
      break;
    case 9:
      (void)parseMaxOpenFiles(text);
      break;
    case 10:
      (void)parsePressure(text);
      break;
    case 11:
      (void)parseFileNr(text);
      break;
    case 12:
      for (const auto& d : parseDiskstats(text)) {
        // A kept line has at least 11 numbers, and no more than the array holds.
        if (d.count < 11 || d.count > d.values.size()) __builtin_trap();
      }
      break;
    case 13: {
      std::string_view device;
      auto files = splitNetClass(text, device);
      auto net = parseNetClass(device, files);
      if (net.up != (net.operstate == "up")) __builtin_trap();
      break;
    }
    default:
      (void)parseUdpQueues(text);
      break;
  }
  return 0;
}
