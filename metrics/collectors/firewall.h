// rampart_firewall_*: per-rule and default-policy counters from the kernel
// (through the agent's dump callback) and the agent's own apply counters.
#pragma once

#include "metrics/collector.h"
#include "metrics/sources.h"

namespace rampart::metrics {

class FirewallCollector final : public Collector {
 public:
  // `counters` may be empty (no apply counters exported).
  FirewallCollector(FirewallStateFn state, FirewallCountersFn counters);
  std::string_view name() const override { return "firewall"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  FirewallStateFn state_;
  FirewallCountersFn counters_;
};

}  // namespace rampart::metrics
