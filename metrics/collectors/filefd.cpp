#include "metrics/collectors/filefd.h"

#include "metrics/text.h"

namespace rampart::metrics {

Result<FileFd> parseFileNr(std::string_view text) {
  Fields fields(trim(text));
  std::string_view allocated, unused, maximum;
  if (!fields.next(allocated) || !fields.next(unused) || !fields.next(maximum))
    return fail("file-nr: fewer than three fields");
  auto a = parseU64(allocated);
  auto m = parseU64(maximum);
  if (!a || !m || !parseU64(unused)) return fail("file-nr: not three numbers");
  return FileFd{*a, *m};
}

FileFdCollector::FileFdCollector(std::string proc_root)
    : ProcFileCollector(std::move(proc_root) + "/sys/fs/file-nr", Rendering::kWhole) {}

Result<void> FileFdCollector::collect(Families& out) const {
  auto text = read();
  if (!text) return std::unexpected(text.error());
  auto fd = parseFileNr(*text);
  if (!fd) return std::unexpected(fd.error());
  addSample(addFamily(out, "node_filefd_allocated", "File descriptor statistics: allocated.",
                      prometheus::MetricType::Gauge),
            static_cast<double>(fd->allocated));
  addSample(addFamily(out, "node_filefd_maximum", "File descriptor statistics: maximum.",
                      prometheus::MetricType::Gauge),
            static_cast<double>(fd->maximum));
  return {};
}

}  // namespace rampart::metrics
