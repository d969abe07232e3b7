#include "metrics/collectors/pressure.h"

#include "metrics/proc_file.h"
#include "metrics/text.h"

namespace rampart::metrics {
namespace {

// One pressure file and the families its lines feed (nullptr: not exported).
struct Resource {
  const char* file;
  const char* waiting_name;
  const char* waiting_help;
  const char* stalled_name;
  const char* stalled_help;
};

constexpr Resource kResources[] = {
    {"cpu", "node_pressure_cpu_waiting_seconds_total",
     "Total time in seconds that processes have waited for CPU time", nullptr, nullptr},
    {"io", "node_pressure_io_waiting_seconds_total",
     "Total time in seconds that processes have waited due to IO congestion",
     "node_pressure_io_stalled_seconds_total",
     "Total time in seconds no process could make progress due to IO congestion"},
    {"memory", "node_pressure_memory_waiting_seconds_total",
     "Total time in seconds that processes have waited for memory",
     "node_pressure_memory_stalled_seconds_total",
     "Total time in seconds no process could make progress due to memory congestion"},
};

void addCounter(Families& out, const char* name, const char* help, uint64_t us) {
  addSample(addFamily(out, name, help, prometheus::MetricType::Counter),
            static_cast<double>(us) / 1e6);
}

}  // namespace

Result<PressureTotals> parsePressure(std::string_view text) {
  PressureTotals totals;
  while (!text.empty()) {
    auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view{} : text.substr(eol + 1);
    Fields fields(trim(line));
    std::string_view kind, field;
    if (!fields.next(kind)) continue;
    std::optional<uint64_t>* slot = kind == "some"   ? &totals.some_us
                                    : kind == "full" ? &totals.full_us
                                                     : nullptr;
    if (!slot) return fail("pressure: unknown line kind '{}'", kind);
    while (fields.next(field)) {
      if (!field.starts_with("total=")) continue;
      auto us = parseU64(field.substr(6));
      if (!us) return fail("pressure: '{}' is not a number", field);
      *slot = *us;
    }
    if (!*slot) return fail("pressure: '{}' line without total=", kind);
  }
  if (!totals.some_us) return fail("pressure: no 'some' line");
  return totals;
}

PressureCollector::PressureCollector(std::string proc_root)
    : dir_(std::move(proc_root) + "/pressure/") {}

Result<void> PressureCollector::collect(Families& out) const {
  for (const Resource& r : kResources) {
    const std::string path = dir_ + r.file;
    auto text = readProcFile(path, buffer_, 4096);
    if (!text) {
      if (isMissing(text.error())) continue;
      return std::unexpected(text.error());
    }
    auto totals = parsePressure(*text);
    if (!totals) return fail("{}: {}", path, totals.error().message);
    addCounter(out, r.waiting_name, r.waiting_help, *totals->some_us);
    if (r.stalled_name && totals->full_us)
      addCounter(out, r.stalled_name, r.stalled_help, *totals->full_us);
  }
  return {};
}

}  // namespace rampart::metrics
