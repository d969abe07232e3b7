// Small file helpers for key material: bounded reads with O_CLOEXEC, and
// atomic writes (temp file, fsync, rename, fsync directory) so a reader never
// sees half a key or half a certificate.
#pragma once

#include <sys/stat.h>
#include <sys/types.h>

#include <cstddef>
#include <string>

#include "common/error.h"

namespace rampart::tls {

inline constexpr std::size_t kMaxPemBytes = 1 << 20;  // a PEM file larger than 1 MiB is refused

struct FileContents {
  std::string bytes;
  struct stat st {};
};

// Reads a whole regular file of at most `limit` bytes.
Result<FileContents> readSmallFile(const std::string& path, std::size_t limit = kMaxPemBytes);

// Writes `bytes` to `path` atomically with permissions `mode`.
Result<void> writeFileAtomic(const std::string& path, std::string_view bytes, mode_t mode);

// mkdir -p with `mode` for the directories it creates.
Result<void> makeDirs(const std::string& path, mode_t mode);

}  // namespace rampart::tls
