#include "metrics/metrics.h"

#include <array>
#include <chrono>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "metrics/collectors/conntrack.h"
#include "metrics/collectors/cpu.h"
#include "metrics/collectors/diskstats.h"
#include "metrics/collectors/filefd.h"
#include "metrics/collectors/firewall.h"
#include "metrics/collectors/loadavg.h"
#include "metrics/collectors/netclass.h"
#include "metrics/collectors/meminfo.h"
#include "metrics/collectors/netdev.h"
#include "metrics/collectors/netstat.h"
#include "metrics/collectors/node_info.h"
#include "metrics/collectors/pressure.h"
#include "metrics/collectors/process.h"
#include "metrics/collectors/time.h"
#include "metrics/collectors/tls.h"
#include "metrics/collectors/udp_queues.h"
#include "metrics/exposition.h"

namespace rampart::metrics {
namespace {

using Make = std::unique_ptr<Collector> (*)(const Options&);
struct Entry {
  std::string_view name;
  Make make;
};

// The list of collectors: written out here, in scrape order.
const std::array<Entry, 18> kCollectors = {{
    {"cpu", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<CpuCollector>(o.proc_root);
     }},
    {"netdev", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<NetDevCollector>(o.proc_root);
     }},
    {"netclass", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<NetClassCollector>(o.sys_root);
     }},
    {"netstat", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<NetstatCollector>(o.proc_root);
     }},
    {"udp_queues", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<UdpQueuesCollector>(o.proc_root);
     }},
    {"conntrack", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<ConntrackCollector>(o.proc_root);
     }},
    {"loadavg", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<LoadavgCollector>(o.proc_root);
     }},
    {"meminfo", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<MeminfoCollector>(o.proc_root);
     }},
    {"filesystem", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<FilesystemCollector>(o.proc_root, o.filesystem_timeout, o.statfs);
     }},
    {"diskstats", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<DiskstatsCollector>(o.proc_root, o.udev_data);
     }},
    {"filefd", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<FileFdCollector>(o.proc_root);
     }},
    {"pressure", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<PressureCollector>(o.proc_root);
     }},
    {"time", [](const Options&) -> std::unique_ptr<Collector> {
       return std::make_unique<TimeCollector>();
     }},
    {"uname", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<UnameCollector>(o.uname);
     }},
    {"process", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<ProcessCollector>(o.proc_root);
     }},
    {"node_info", [](const Options& o) -> std::unique_ptr<Collector> {
       return std::make_unique<NodeInfoCollector>(o.node_name, o.node_role, o.version);
     }},
    {"firewall", [](const Options& o) -> std::unique_ptr<Collector> {
       if (!o.firewall_state) return nullptr;
       return std::make_unique<FirewallCollector>(o.firewall_state, o.firewall_counters);
     }},
    {"tls", [](const Options& o) -> std::unique_ptr<Collector> {
       if (!o.tls_certificates && !o.tls_handshakes && !o.tls_reloads) return nullptr;
       return std::make_unique<TlsCollector>(o.tls_certificates, o.tls_handshakes, o.tls_reloads);
     }},
}};

const std::array<std::string_view, kCollectors.size()> kNames = [] {
  std::array<std::string_view, kCollectors.size()> names;
  for (size_t i = 0; i < names.size(); ++i) names[i] = kCollectors[i].name;
  return names;
}();

}  // namespace

std::span<const std::string_view> collectorNames() { return kNames; }

Result<std::unique_ptr<Metrics>> Metrics::create(Options options) {
  for (const std::string& name : options.disabled) {
    bool known = false;
    for (std::string_view n : kNames) known = known || n == name;
    if (!known)
      return fail("metrics: unknown collector '{}' (known: {})", name, fmt::join(kNames, ", "));
  }
  std::unique_ptr<Metrics> metrics(new Metrics(std::move(options)));
  for (const Entry& entry : kCollectors) {
    if (metrics->options_.disabled.contains(std::string(entry.name))) continue;
    if (auto collector = entry.make(metrics->options_))
      metrics->collectors_.push_back(std::move(collector));
  }
  return metrics;
}

std::vector<std::string_view> Metrics::enabled() const {
  std::vector<std::string_view> names;
  for (const auto& c : collectors_) names.push_back(c->name());
  return names;
}

void Metrics::collectLocked(Families& out) {
  out.reserve(last_families_ + 2);
  ends_.clear();
  if (duration_.metric.size() != collectors_.size()) {
    duration_ = makeFamily("node_scrape_collector_duration_seconds",
                           "Duration of a collector scrape.", prometheus::MetricType::Gauge);
    success_ = makeFamily("node_scrape_collector_success", "Whether a collector succeeded.",
                          prometheus::MetricType::Gauge);
    for (const auto& collector : collectors_) {
      addSample(duration_, 0, {{"collector", std::string(collector->name())}});
      addSample(success_, 0, {{"collector", std::string(collector->name())}});
    }
  }
  for (size_t i = 0; i < collectors_.size(); ++i) {
    auto start = std::chrono::steady_clock::now();
    bool ok = collectors_[i]->collectInto(out).has_value();
    std::chrono::duration<double> took = std::chrono::steady_clock::now() - start;
    duration_.metric[i].gauge.value = took.count();
    success_.metric[i].gauge.value = ok ? 1 : 0;
    ends_.push_back(out.size());
  }
  for (const auto& extra : options_.extra) {
    Families more = extra->Collect();
    std::move(more.begin(), more.end(), std::back_inserter(out));
  }
  last_families_ = out.size();
}

Families Metrics::collect() {
  std::lock_guard lock(mutex_);
  Families out;
  collectLocked(out);
  out.push_back(duration_);
  out.push_back(success_);
  return out;
}

std::string Metrics::scrape() {
  std::lock_guard lock(mutex_);
  scratch_.clear();
  collectLocked(scratch_);
  std::string text;
  text.reserve(last_text_size_ + last_text_size_ / 8);
  serializeText(scratch_, text);
  serializeText(std::span(&duration_, 1), text);
  serializeText(std::span(&success_, 1), text);
  last_text_size_ = text.size();
  // The families go back to their collectors, to be refilled next scrape.
  size_t begin = 0;
  for (size_t i = 0; i < collectors_.size(); ++i) {
    collectors_[i]->recycle(std::span(scratch_).subspan(begin, ends_[i] - begin));
    begin = ends_[i];
  }
  return text;
}

}  // namespace rampart::metrics
