// Every /proc parser of metrics/collectors/ on arbitrary text; the first byte
// picks the parser. Parsers must not crash, and views they return must point
// into the text they were given.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "metrics/collectors/cpu.h"
#include "metrics/collectors/filesystem.h"
#include "metrics/collectors/loadavg.h"
#include "metrics/collectors/meminfo.h"
#include "metrics/collectors/netdev.h"
#include "metrics/collectors/netstat.h"
#include "metrics/collectors/process.h"

namespace {

void inside(std::string_view text, std::string_view part) {
  if (part.empty()) return;
  if (part.data() < text.data() || part.data() + part.size() > text.data() + text.size()) {
    __builtin_trap();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rampart::metrics;
  if (size == 0) return 0;
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  switch (data[0] % 10) {
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
    default:
      (void)parseMaxOpenFiles(text);
      break;
  }
  return 0;
}
