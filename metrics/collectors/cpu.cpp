#include "metrics/collectors/cpu.h"

#include <algorithm>

#include <fmt/format.h>

#include "metrics/proc_file.h"
#include "metrics/text.h"

namespace rampart::metrics {
namespace {

constexpr std::array<const char*, 8> kModes = {"user", "nice",    "system", "idle",
                                               "iowait", "irq", "softirq", "steal"};

std::optional<CpuTicks> parseCpuLine(std::string_view label, Fields& fields) {
  CpuTicks cpu;
  auto index = parseU64(label.substr(3));
  if (!index || *index > UINT32_MAX) return std::nullopt;
  cpu.cpu = static_cast<uint32_t>(*index);
  std::string_view field;
  while (cpu.columns < cpu.ticks.size() && fields.next(field)) {
    auto value = parseU64(field);
    if (!value) return std::nullopt;
    cpu.ticks[cpu.columns++] = *value;
  }
  // user nice system idle are in every kernel since 2.4; fewer is a torn line.
  if (cpu.columns < 4) return std::nullopt;
  return cpu;
}

}  // namespace

Result<ProcStat> parseProcStat(std::string_view text) {
  ProcStat stat;
  Lines lines(text);
  std::string_view line;
  while (lines.next(line)) {
    Fields fields(line);
    std::string_view key;
    if (!fields.next(key)) continue;
    if (key.starts_with("cpu") && key.size() > 3) {
      if (auto cpu = parseCpuLine(key, fields)) stat.cpus.push_back(*cpu);
    } else if (key == "btime") {
      std::string_view value;
      if (fields.next(value)) stat.boot_time = parseU64(value);
    }
  }
  if (stat.cpus.empty() && !stat.boot_time) return fail("/proc/stat: no cpuN or btime line");
  // The kernel prints each CPU once, in order; a repeated one would be a
  // duplicate series, so only its first line counts.
  auto by_cpu = [](const CpuTicks& a, const CpuTicks& b) { return a.cpu < b.cpu; };
  if (!std::is_sorted(stat.cpus.begin(), stat.cpus.end(), by_cpu))
    std::stable_sort(stat.cpus.begin(), stat.cpus.end(), by_cpu);
  auto same = [](const CpuTicks& a, const CpuTicks& b) { return a.cpu == b.cpu; };
  stat.cpus.erase(std::unique(stat.cpus.begin(), stat.cpus.end(), same), stat.cpus.end());
  return stat;
}

CpuCollector::CpuCollector(std::string proc_root)
    : ProcFileCollector(std::move(proc_root) + "/stat", Rendering::kWhole) {}

Result<void> CpuCollector::collect(Families& out) const {
  auto text = read();
  if (!text) return std::unexpected(text.error());
  auto stat = parseProcStat(*text);
  if (!stat) return std::unexpected(stat.error());
  if (stat->cpus.empty()) return fail("{}: no cpuN line", path());

  auto& seconds = addFamily(out, "node_cpu_seconds_total", "Seconds the CPUs spent in each mode.",
                            prometheus::MetricType::Counter);
  seconds.metric.reserve(stat->cpus.size() * kModes.size());
  bool any_guest = false;
  for (const CpuTicks& cpu : stat->cpus) {
    std::string label = fmt::format_int(cpu.cpu).str();
    size_t modes = std::min<size_t>(cpu.columns, kModes.size());
    for (size_t m = 0; m < modes; ++m) {
      addSample(seconds, static_cast<double>(cpu.ticks[m]) / kUserHz,
                {{"cpu", label}, {"mode", kModes[m]}});
    }
    any_guest = any_guest || cpu.columns > 8;
  }
  if (any_guest) addGuest(out, stat->cpus);
  // node_exporter's stat collector exports it; /proc/stat is read here anyway.
  if (stat->boot_time)
    addSample(addFamily(out, "node_boot_time_seconds", "Node boot time, in unixtime.",
                        prometheus::MetricType::Gauge),
              static_cast<double>(*stat->boot_time));
  return {};
}

void CpuCollector::addGuest(Families& out, const std::vector<CpuTicks>& cpus) const {
  // guest and guest_nice are also counted in user and nice (kernel
  // account_guest_time); node_exporter exports them as modes user and nice.
  auto& guest = addFamily(out, "node_cpu_guest_seconds_total",
                          "Seconds the CPUs spent in guests (VMs) for each mode.",
                          prometheus::MetricType::Counter);
  guest.metric.reserve(cpus.size() * 2);
  for (const CpuTicks& cpu : cpus) {
    std::string label = fmt::format_int(cpu.cpu).str();
    if (cpu.columns > 8)
      addSample(guest, static_cast<double>(cpu.ticks[8]) / kUserHz,
                {{"cpu", label}, {"mode", "user"}});
    if (cpu.columns > 9)
      addSample(guest, static_cast<double>(cpu.ticks[9]) / kUserHz,
                {{"cpu", label}, {"mode", "nice"}});
  }
}

}  // namespace rampart::metrics
