// The metrics the agent exposes: every collector, in one list, and the
// exposition text a scrape returns. The HTTPS endpoint (metrics/http/) serves
// Metrics::scrape(); `rampart metrics` prints it.
//
//   metrics::Options options;
//   options.node_name = config.node.name;  options.node_role = config.node.role;
//   options.disabled = config.disabled_collectors;
//   options.firewall_state = [&] { return engine.dumpCounters(); };
//   auto metrics = metrics::Metrics::create(std::move(options));  // Result<unique_ptr>
//   std::string text = (*metrics)->scrape();
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include <prometheus/collectable.h>

#include "common/error.h"
#include "metrics/collector.h"
#include "metrics/collectors/filesystem.h"
#include "metrics/collectors/uname.h"
#include "metrics/sources.h"

namespace rampart::metrics {

struct Options {
  std::string proc_root = "/proc";
  std::string sys_root = "/sys";
  std::string udev_data = "/run/udev/data";  // udev's database (node_disk_info)
  std::string node_name;
  std::string node_role;
  std::string version = RAMPART_VERSION;
  // Collector names to leave out (Config::disabled_collectors); an unknown
  // name makes create() fail.
  std::set<std::string> disabled;
  // How long one statfs may take before its mount counts as stuck.
  std::chrono::milliseconds filesystem_timeout{1000};

  // The agent's own state. The firewall collector exists when
  // firewall_state is set, the tls collector when either tls callback is.
  FirewallStateFn firewall_state;
  FirewallCountersFn firewall_counters;
  TlsCertificatesFn tls_certificates;
  TlsHandshakesFn tls_handshakes;
  TlsReloadsFn tls_reloads;

  // Further collectables appended to every scrape (e.g. a prometheus::Registry
  // with the endpoint's own request counters).
  std::vector<std::shared_ptr<prometheus::Collectable>> extra;

  // Seams for tests.
  UnameCollector::Source uname = systemUname;
  StatfsFn statfs = systemStatfs;
};

// Every collector's name, in scrape order.
std::span<const std::string_view> collectorNames();

class Metrics {
 public:
  static Result<std::unique_ptr<Metrics>> create(Options options);

  // The exposition (text format 0.0.4) of every enabled collector plus
  // node_scrape_collector_{duration_seconds,success}{collector}. A failing
  // collector shows success 0 and never fails the scrape. Thread-safe;
  // concurrent scrapes run one after the other.
  std::string scrape();
  // The same, as metric families.
  Families collect();

  // The enabled collectors' names, in scrape order.
  std::vector<std::string_view> enabled() const;

 private:
  explicit Metrics(Options options) : options_(std::move(options)) {}

  // Collects every collector and extra into `out`; fills duration_,
  // success_ and ends_. Under mutex_.
  void collectLocked(Families& out);

  Options options_;
  std::vector<std::unique_ptr<Collector>> collectors_;
  std::mutex mutex_;
  // Kept between scrapes, so a scrape reuses their storage.
  Families scratch_;
  std::vector<size_t> ends_;  // where each collector's families end in scratch_
  prometheus::MetricFamily duration_, success_;  // one sample per collector
  size_t last_families_ = 0;
  size_t last_text_size_ = 0;  // sizes the next buffer
};

}  // namespace rampart::metrics
