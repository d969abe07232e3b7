// node_filefd_allocated and node_filefd_maximum from /proc/sys/fs/file-nr
// ("allocated unused maximum"), as node_exporter's filefd collector.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "metrics/collector.h"

namespace rampart::metrics {

struct FileFd {
  uint64_t allocated = 0;
  uint64_t maximum = 0;
};

Result<FileFd> parseFileNr(std::string_view text);

class FileFdCollector final : public ProcFileCollector {
 public:
  explicit FileFdCollector(std::string proc_root);
  std::string_view name() const override { return "filefd"; }

 protected:
  Result<void> collect(Families& out) const override;
};

}  // namespace rampart::metrics
