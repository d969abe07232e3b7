// node_filesystem_{size,free,avail}_bytes, node_filesystem_files{,_free},
// node_filesystem_readonly and node_filesystem_device_error
// {device,fstype,mountpoint} for the local filesystems in /proc/1/mounts
// (falling back to /proc/mounts), with node_exporter's default exclusions.
//
// A scrape must never hang on a dead network mount: network and pseudo
// filesystem types are skipped, and statfs runs on a worker thread with a
// deadline. A mount that misses it is reported with device_error 1 and left
// alone until its stuck call returns.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/collector.h"

namespace rampart::metrics {

struct Mount {
  std::string device, mountpoint, fstype;
  bool readonly = false;
};

// /proc/mounts lines; octal escapes (\040 for a space) are decoded. Lines
// with fewer than four fields are skipped.
std::vector<Mount> parseMounts(std::string_view text);
// False for node_exporter's default excluded types and mount points, and for
// network filesystems.
bool filesystemWanted(const Mount& mount);

struct FsStats {
  uint64_t size = 0, free = 0, avail = 0;  // bytes
  uint64_t files = 0, files_free = 0;
};
using StatfsFn = std::function<Result<FsStats>(const std::string& mountpoint)>;
Result<FsStats> systemStatfs(const std::string& mountpoint);

class FilesystemCollector final : public Collector {
 public:
  FilesystemCollector(std::string proc_root, std::chrono::milliseconds timeout,
                      StatfsFn statfs = systemStatfs);
  ~FilesystemCollector() override;
  std::string_view name() const override { return "filesystem"; }

  struct Worker;  // a statfs thread; abandoned (left to finish) when stuck
  struct Stuck;   // mount points whose statfs has not returned yet

 protected:
  Result<void> collect(Families& out) const override;

 private:
  Result<FsStats> statWithDeadline(const std::string& mountpoint) const;

  std::string mounts_path_, fallback_path_;
  std::chrono::milliseconds timeout_;
  StatfsFn statfs_;
  std::shared_ptr<Stuck> stuck_;
  mutable std::shared_ptr<Worker> worker_;
  mutable std::string buffer_;
};

}  // namespace rampart::metrics
