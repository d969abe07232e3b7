#include "metrics/collectors/netstat.h"

#include <array>
#include <algorithm>

#include "metrics/proc_file.h"
#include "metrics/text.h"

namespace rampart::metrics {
namespace {

bool oneOf(std::string_view s, std::initializer_list<std::string_view> options) {
  for (std::string_view o : options)
    if (s == o) return true;
  return false;
}

}  // namespace

bool netstatFieldWanted(std::string_view protocol, std::string_view field) {
  // .*_(InErrors|InErrs): the key "Protocol_Field" ends with it. A field
  // holding '_' could make the suffix start inside the field itself.
  for (std::string_view suffix : {std::string_view("_InErrors"), std::string_view("_InErrs")}) {
    std::string_view bare = suffix.substr(1);
    if (field == bare) return true;
    if (field.ends_with(suffix)) return true;
  }
  if (protocol == "Ip" && field == "Forwarding") return true;
  if ((protocol == "Ip6" || protocol == "IpExt") && oneOf(field, {"InOctets", "OutOctets"}))
    return true;
  if ((protocol == "Icmp" || protocol == "Icmp6") && oneOf(field, {"InMsgs", "OutMsgs"}))
    return true;
  if (protocol == "TcpExt")
    return field.starts_with("Listen") || field.starts_with("Syncookies") ||
           oneOf(field, {"TCPSynRetrans", "TCPTimeouts", "TCPOFOQueue", "TCPRcvQDrop"});
  if (protocol == "Tcp")
    return oneOf(field, {"ActiveOpens", "InSegs", "OutSegs", "OutRsts", "PassiveOpens",
                         "RetransSegs", "CurrEstab"});
  if (protocol == "Udp" || protocol == "Udp6")
    return oneOf(field,
                 {"InDatagrams", "OutDatagrams", "NoPorts", "RcvbufErrors", "SndbufErrors"});
  return false;
}

std::vector<NetstatValue> parseNetstat(std::string_view text, NetstatFilter wanted) {
  std::vector<NetstatValue> values;
  Lines lines(text);
  std::string_view names_line, values_line;
  while (lines.next(names_line)) {
    if (!lines.next(values_line)) break;
    size_t colon = names_line.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        values_line.substr(0, colon + 1) != names_line.substr(0, colon + 1))
      continue;
    std::string_view protocol = names_line.substr(0, colon);
    Fields names(names_line.substr(colon + 1)), numbers(values_line.substr(colon + 1));
    size_t first = values.size();
    std::string_view name, number;
    bool ok = true;
    for (;;) {
      bool has_name = names.next(name), has_number = numbers.next(number);
      if (!has_name || !has_number) {
        ok = has_name == has_number;
        break;
      }
      if (wanted && !wanted(protocol, name)) continue;
      auto value = parseNumber(number);
      if (!value) {
        ok = false;
        break;
      }
      values.push_back({protocol, name, *value});
    }
    if (!ok) values.resize(first);
  }
  return values;
}

std::vector<NetstatValue> parseSnmp6(std::string_view text, NetstatFilter wanted) {
  std::vector<NetstatValue> values;
  Lines lines(text);
  std::string_view line;
  while (lines.next(line)) {
    Fields fields(line);
    std::string_view key, number, extra;
    if (!fields.next(key) || !fields.next(number) || fields.next(extra)) continue;
    size_t six = key.find('6');
    if (six == std::string_view::npos || six + 1 >= key.size()) continue;
    if (wanted && !wanted(key.substr(0, six + 1), key.substr(six + 1))) continue;
    auto value = parseNumber(number);
    if (!value) continue;
    values.push_back({key.substr(0, six + 1), key.substr(six + 1), *value});
  }
  return values;
}

NetstatCollector::NetstatCollector(std::string proc_root)
    : netstat_(proc_root + "/net/netstat"),
      snmp_(proc_root + "/net/snmp"),
      snmp6_(proc_root + "/net/snmp6") {}

Result<void> NetstatCollector::collect(Families& out) const {
  auto netstat = netstat_.read();
  if (!netstat) return std::unexpected(netstat.error());
  auto snmp = snmp_.read();
  if (!snmp) return std::unexpected(snmp.error());
  // Without IPv6 there is no snmp6; that is not a failure.
  auto snmp6 = snmp6_.read();
  if (!snmp6 && !isMissing(snmp6.error())) return std::unexpected(snmp6.error());

  std::array<std::vector<NetstatValue>, 3> sources = {
      parseNetstat(*netstat, netstatFieldWanted), parseNetstat(*snmp, netstatFieldWanted),
      snmp6 ? parseSnmp6(*snmp6, netstatFieldWanted) : std::vector<NetstatValue>{}};
  // The fields in order: the same as last scrape means the same families in
  // the same order, which come back from the last scrape with their names;
  // only the values are new.
  layout_.clear();
  for (const auto& source : sources) {
    for (const NetstatValue& v : source) {
      layout_.add(v.protocol);
      layout_.add(v.field);
    }
  }
  if (layout_.unchanged(spareFamilies())) {
    size_t i = 0;
    for (const auto& source : sources)
      for (const NetstatValue& v : source)
        if (layout_.kept(i++)) addSample(reuseFamily(out), v.value);
    return {};
  }
  std::vector<bool>& kept = layout_.keptFlags();
  kept.clear();
  const size_t first = out.size();
  for (const auto& source : sources) {
    for (const NetstatValue& v : source) {
      std::string& name = name_;
      name.assign("node_netstat_").append(v.protocol).append("_").append(v.field);
      sanitizeMetricNameInPlace(name);
      // A field repeated (across files or in a hostile one) is exported once;
      // a linear look over the ~45 families beats hashing here.
      auto begin = out.begin() + static_cast<std::ptrdiff_t>(first);
      bool repeated = std::any_of(begin, out.end(), [&](const auto& f) { return f.name == name; });
      kept.push_back(!repeated);
      if (repeated) continue;
      help_.assign("Statistic ").append(v.protocol).append(v.field).append(".");
      addSample(addFamily(out, name, help_, prometheus::MetricType::Untyped), v.value);
    }
  }
  layout_.save(out.size() - first);
  return {};
}

}  // namespace rampart::metrics
