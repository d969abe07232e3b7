// Reading procfs/sysfs files cheaply: one open, read() until EOF into a
// buffer that the caller keeps between scrapes, no iostreams.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/error.h"

namespace rampart::metrics {

// A procfs file larger than this is refused (/proc/stat of 4,096 CPUs is
// about 500 KiB; nothing we read comes close to the limit).
inline constexpr size_t kMaxProcFileSize = 16 * 1024 * 1024;

// Reads the whole file at `path` into `buffer` (reusing its capacity) and
// returns a view of the bytes read. The view lives until the next call with
// the same buffer.
Result<std::string_view> readProcFile(const std::string& path, std::string& buffer,
                                      size_t limit = kMaxProcFileSize);

// One procfs file read on every scrape. On procfs the file stays open and
// each read starts again at offset 0 (the kernel renders it afresh), which
// spares the path walk, open and close of every scrape. Anything else (the
// fixtures tests point at, a file that cannot be re-read in place) is opened
// anew for every read, so a replaced file is always seen.
// How the kernel hands out a file's text. Most procfs files that hold one
// table (/proc/stat, meminfo, net/snmp, net/netstat) are rendered whole by
// one show() call and a read returns all of it that fits, so a read shorter
// than the buffer is the end (as for a regular file). Files of many records
// (net/dev, diskstats, net/udp) come a page at a time: a short read is not
// the end, and only a read of 0 bytes is.
enum class Rendering { kRecords, kWhole };

class ProcFile {
 public:
  explicit ProcFile(std::string path, size_t limit = kMaxProcFileSize)
      : path_(std::move(path)), limit_(limit) {}
  // kWhole spares the second read() that would only return 0.
  ProcFile(std::string path, Rendering rendering, size_t limit = kMaxProcFileSize)
      : path_(std::move(path)), limit_(limit), rendering_(rendering) {}
  ~ProcFile();
  ProcFile(const ProcFile&) = delete;
  ProcFile& operator=(const ProcFile&) = delete;

  // The whole file; the view lives until the next read().
  Result<std::string_view> read();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
  size_t limit_;
  Rendering rendering_ = Rendering::kRecords;
  std::string buffer_;
  int fd_ = -1;  // kept open: a procfs file that reads again at offset 0
};

// True when the file does not exist (ENOENT/ENOTDIR): optional files such as
// nf_conntrack_count are "absent", not an error.
bool isMissing(const Error& error);

}  // namespace rampart::metrics
