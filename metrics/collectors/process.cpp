#include "metrics/collectors/process.h"

#include <dirent.h>
#include <unistd.h>

#include "metrics/collectors/cpu.h"
#include "metrics/proc_file.h"
#include "metrics/text.h"

namespace rampart::metrics {
namespace {

Result<size_t> countEntries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());  // glibc opens it O_CLOEXEC
  if (!d) return std::unexpected(Error::fromErrno(fmt::format("opendir {}", dir)));
  size_t n = 0;
  while (const dirent* e = ::readdir(d)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") ++n;
  }
  ::closedir(d);
  return n;
}

}  // namespace

Result<ProcSelfStat> parseProcSelfStat(std::string_view text) {
  size_t paren = text.rfind(')');
  if (paren == std::string_view::npos) return fail("stat: no ')' after the command name");
  Fields fields(text.substr(paren + 1));
  // Field numbers of proc(5): state is 3; we want 14, 15, 22, 23, 24.
  ProcSelfStat stat;
  std::string_view field;
  for (int number = 3; number <= 24; ++number) {
    if (!fields.next(field)) return fail("stat: only {} fields", number - 1);
    uint64_t* target = number == 14   ? &stat.utime
                       : number == 15 ? &stat.stime
                       : number == 22 ? &stat.starttime
                       : number == 23 ? &stat.vsize
                       : number == 24 ? &stat.rss
                                      : nullptr;
    if (!target) continue;
    auto value = parseU64(field);
    if (!value) return fail("stat: field {} '{}' is not a number", number, field);
    *target = *value;
  }
  return stat;
}

Result<std::optional<uint64_t>> parseMaxOpenFiles(std::string_view text) {
  Lines lines(text);
  std::string_view line;
  constexpr std::string_view kKey = "Max open files";
  while (lines.next(line)) {
    if (!line.starts_with(kKey)) continue;
    Fields fields(line.substr(kKey.size()));
    std::string_view soft;
    if (!fields.next(soft)) break;
    if (soft == "unlimited") return std::optional<uint64_t>();
    auto value = parseU64(soft);
    if (!value) break;
    return std::optional<uint64_t>(*value);
  }
  return fail("limits: no 'Max open files' line");
}

ProcessCollector::ProcessCollector(std::string proc_root)
    : stat_path_(proc_root + "/stat"),
      self_stat_path_(proc_root + "/self/stat"),
      limits_path_(proc_root + "/self/limits"),
      fd_path_(proc_root + "/self/fd") {}

Result<void> ProcessCollector::collect(Families& out) const {
  if (!boot_time_) {
    auto text = readProcFile(stat_path_, buffer_);
    if (!text) return std::unexpected(text.error());
    auto stat = parseProcStat(*text);
    if (!stat) return std::unexpected(stat.error());
    if (!stat->boot_time) return fail("{}: no btime line", stat_path_);
    boot_time_ = stat->boot_time;
  }
  auto text = readProcFile(self_stat_path_, buffer_);
  if (!text) return std::unexpected(text.error());
  auto self = parseProcSelfStat(*text);
  if (!self) return std::unexpected(self.error());
  auto limits_text = readProcFile(limits_path_, buffer_);
  if (!limits_text) return std::unexpected(limits_text.error());
  auto max_fds = parseMaxOpenFiles(*limits_text);
  if (!max_fds) return std::unexpected(max_fds.error());
  auto open_fds = countEntries(fd_path_);
  if (!open_fds) return std::unexpected(open_fds.error());

  using prometheus::MetricType;
  static const double page_size = static_cast<double>(::sysconf(_SC_PAGESIZE));
  addSample(addFamily(out, "process_cpu_seconds_total",
                      "Total user and system CPU time spent in seconds.", MetricType::Counter),
            static_cast<double>(self->utime + self->stime) / kUserHz);
  addSample(addFamily(out, "process_resident_memory_bytes", "Resident memory size in bytes.",
                      MetricType::Gauge),
            static_cast<double>(self->rss) * page_size);
  addSample(addFamily(out, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                      MetricType::Gauge),
            static_cast<double>(self->vsize));
  addSample(addFamily(out, "process_open_fds", "Number of open file descriptors.",
                      MetricType::Gauge),
            static_cast<double>(*open_fds));
  if (*max_fds)
    addSample(addFamily(out, "process_max_fds", "Maximum number of open file descriptors.",
                        MetricType::Gauge),
              static_cast<double>(**max_fds));
  addSample(addFamily(out, "process_start_time_seconds",
                      "Start time of the process since unix epoch in seconds.",
                      MetricType::Gauge),
            static_cast<double>(*boot_time_) + static_cast<double>(self->starttime) / kUserHz);
  return {};
}

}  // namespace rampart::metrics
