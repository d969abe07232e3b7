#include "metrics/collectors/uname.h"

#include <sys/utsname.h>

#include "metrics/text.h"

namespace rampart::metrics {

Result<UnameInfo> systemUname() {
  struct utsname u {};
  if (::uname(&u) != 0) return std::unexpected(Error::fromErrno("uname"));
  return UnameInfo{u.sysname, u.release, u.version, u.machine, u.nodename, u.domainname};
}

UnameCollector::UnameCollector(Source source) : source_(std::move(source)) {}

Result<void> UnameCollector::collect(Families& out) const {
  auto info = source_();
  if (!info) return std::unexpected(info.error());
  auto& family = addFamily(out, "node_uname_info",
                           "Labeled system information as provided by the uname system call.",
                           prometheus::MetricType::Gauge);
  addSample(family, 1,
            {{"domainname", sanitizeLabelValue(info->domainname)},
             {"machine", sanitizeLabelValue(info->machine)},
             {"nodename", sanitizeLabelValue(info->nodename)},
             {"release", sanitizeLabelValue(info->release)},
             {"sysname", sanitizeLabelValue(info->sysname)},
             {"version", sanitizeLabelValue(info->version)}});
  return {};
}

}  // namespace rampart::metrics
