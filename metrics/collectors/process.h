// process_* for the agent itself, from /proc/self, as Prometheus client
// libraries export them: CPU, resident and virtual memory, file descriptors
// (open and the soft limit) and start time.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "metrics/collector.h"

namespace rampart::metrics {

struct ProcSelfStat {
  uint64_t utime = 0, stime = 0;  // ticks (USER_HZ)
  uint64_t starttime = 0;         // ticks after boot
  uint64_t vsize = 0;             // bytes
  uint64_t rss = 0;               // pages
};

// /proc/<pid>/stat; the command name may hold spaces and ')', so fields are
// counted from the last ')'.
Result<ProcSelfStat> parseProcSelfStat(std::string_view text);
// "Max open files" soft limit from /proc/<pid>/limits; nullopt if unlimited.
Result<std::optional<uint64_t>> parseMaxOpenFiles(std::string_view text);

class ProcessCollector final : public Collector {
 public:
  explicit ProcessCollector(std::string proc_root);
  std::string_view name() const override { return "process"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  std::string stat_path_, self_stat_path_, limits_path_, fd_path_;
  mutable std::string buffer_;
  mutable std::optional<uint64_t> boot_time_;  // btime does not change
};

}  // namespace rampart::metrics
