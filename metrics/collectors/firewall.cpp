#include "metrics/collectors/firewall.h"

#include <map>
#include <utility>

#include "metrics/text.h"

namespace rampart::metrics {
namespace {

constexpr const char* kChains[] = {"input", "forward", "output"};

}  // namespace

FirewallCollector::FirewallCollector(FirewallStateFn state, FirewallCountersFn counters)
    : state_(std::move(state)), counters_(std::move(counters)) {}

Result<void> FirewallCollector::collect(Families& out) const {
  using prometheus::MetricType;
  auto state = state_();
  if (!state) return std::unexpected(state.error());

  // One series per policy rule; should the dump hold a name twice (a rule
  // spread over several kernel rules), its counters add up.
  std::map<std::pair<std::string, std::string_view>, fw::LiveCounters> rules;
  for (const fw::LiveRule& rule : state->rules) {
    auto& sum = rules[{rule.name, fw::actionName(rule.action)}];
    sum.packets += rule.packets;
    sum.bytes += rule.bytes;
  }
  auto packets = makeFamily( "rampart_firewall_rule_packets_total",
                            "Packets matched by each policy rule, from the kernel's counters.",
                            MetricType::Counter);
  auto bytes = makeFamily("rampart_firewall_rule_bytes_total",
                          "Bytes matched by each policy rule, from the kernel's counters.",
                          MetricType::Counter);
  for (const auto& [key, counters] : rules) {
    std::vector<Label> labels = {{"rule", sanitizeLabelValue(key.first)}, {"action", std::string(key.second)}};
    addSample(packets, static_cast<double>(counters.packets), labels);
    addSample(bytes, static_cast<double>(counters.bytes), std::move(labels));
  }
  out.push_back(std::move(packets));
  out.push_back(std::move(bytes));

  auto dropped_packets =
      makeFamily("rampart_firewall_dropped_packets_total",
                "Packets dropped by each chain's default policy.", MetricType::Counter);
  auto dropped_bytes =
      makeFamily("rampart_firewall_dropped_bytes_total",
                "Bytes dropped by each chain's default policy.", MetricType::Counter);
  for (size_t hook = 0; hook < std::size(kChains); ++hook) {
    addSample(dropped_packets, static_cast<double>(state->dropped[hook].packets),
              {{"chain", kChains[hook]}});
    addSample(dropped_bytes, static_cast<double>(state->dropped[hook].bytes),
              {{"chain", kChains[hook]}});
  }
  out.push_back(std::move(dropped_packets));
  out.push_back(std::move(dropped_bytes));
  addSample(addFamily(out, "rampart_firewall_rules", "Rules in rampart's table in the kernel.",
                      MetricType::Gauge),
            static_cast<double>(state->kernel_rules));
  addSample(addFamily(out, "rampart_firewall_bans", "Addresses and networks banned now.",
                      MetricType::Gauge),
            static_cast<double>(state->bans));

  if (!counters_) return {};
  FirewallCounters c = counters_();
  auto& applies = addFamily(out, "rampart_firewall_applies_total",
                            "Policy applies by result.", MetricType::Counter);
  addSample(applies, static_cast<double>(c.applies_success), {{"result", "success"}});
  addSample(applies, static_cast<double>(c.applies_error), {{"result", "error"}});
  if (c.last_apply_seconds)
    addSample(addFamily(out, "rampart_firewall_last_apply_timestamp_seconds",
                        "Unix time of the last policy apply.", MetricType::Gauge),
              *c.last_apply_seconds);
  addSample(addFamily(out, "rampart_firewall_drift_total",
                      "Times rampart's table was changed by another process and restored.",
                      MetricType::Counter),
            static_cast<double>(c.drift));
  return {};
}

}  // namespace rampart::metrics
