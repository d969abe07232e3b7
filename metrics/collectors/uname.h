// node_uname_info{sysname,release,version,machine,nodename,domainname} 1,
// from uname(2) (node_exporter's labels; Node Exporter Full lists hosts by it).
#pragma once

#include <functional>
#include <string>

#include "metrics/collector.h"

namespace rampart::metrics {

struct UnameInfo {
  std::string sysname, release, version, machine, nodename, domainname;
};

Result<UnameInfo> systemUname();

class UnameCollector final : public Collector {
 public:
  using Source = std::function<Result<UnameInfo>()>;
  explicit UnameCollector(Source source = systemUname);
  std::string_view name() const override { return "uname"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  Source source_;
};

}  // namespace rampart::metrics
