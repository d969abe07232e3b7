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

// True when the file does not exist (ENOENT/ENOTDIR): optional files such as
// nf_conntrack_count are "absent", not an error.
bool isMissing(const Error& error);

}  // namespace rampart::metrics
