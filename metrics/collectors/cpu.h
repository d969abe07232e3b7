// node_cpu_seconds_total{cpu,mode} and node_cpu_guest_seconds_total{cpu,mode}
// from /proc/stat, as node_exporter's cpu collector exports them, and
// node_boot_time_seconds (btime) as its stat collector does.
#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/collector.h"

namespace rampart::metrics {

// /proc/stat counts in USER_HZ, which the kernel fixes at 100 for userspace
// whatever CONFIG_HZ is (include/asm-generic/param.h).
inline constexpr double kUserHz = 100.0;

// One "cpuN" line: user nice system idle iowait irq softirq steal guest
// guest_nice, in ticks. Older kernels print fewer columns: `columns` says how
// many were present.
struct CpuTicks {
  uint32_t cpu = 0;
  std::array<uint64_t, 10> ticks{};
  uint8_t columns = 0;
};

struct ProcStat {
  std::vector<CpuTicks> cpus;
  std::optional<uint64_t> boot_time;  // btime, seconds since the epoch
};

// Malformed cpuN lines are skipped; text with neither a cpuN line nor btime
// is an error.
Result<ProcStat> parseProcStat(std::string_view text);

class CpuCollector final : public ProcFileCollector {
 public:
  explicit CpuCollector(std::string proc_root);
  std::string_view name() const override { return "cpu"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  void addGuest(Families& out, const std::vector<CpuTicks>& cpus) const;
};

}  // namespace rampart::metrics
