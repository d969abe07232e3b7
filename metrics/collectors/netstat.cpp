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

std::vector<NetstatValue> parseNetstat(std::string_view text, NetstatFilter wanted,
                                       NetstatPositions* positions) {
  std::vector<NetstatValue> values;
  if (positions) {
    positions->names.clear();
    positions->counts.clear();
    positions->indices.clear();
    positions->complete = true;
  }
  auto skipped = [&] {
    if (positions) positions->complete = false;
  };
  Lines lines(text);
  std::string_view names_line, values_line;
  while (lines.next(names_line)) {
    if (!lines.next(values_line)) {
      skipped();
      break;
    }
    size_t colon = names_line.find(':');
    if (colon == std::string_view::npos || colon == 0 ||
        values_line.substr(0, colon + 1) != names_line.substr(0, colon + 1)) {
      skipped();
      continue;
    }
    std::string_view protocol = names_line.substr(0, colon);
    Fields names(names_line.substr(colon + 1)), numbers(values_line.substr(colon + 1));
    size_t first = values.size(), first_index = positions ? positions->indices.size() : 0;
    std::string_view name, number;
    bool ok = true;
    uint32_t index = 0;
    for (;; ++index) {
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
      if (positions) positions->indices.push_back(index);
    }
    if (!ok) {
      values.resize(first);
      if (positions) positions->indices.resize(first_index);
      skipped();
      continue;
    }
    if (positions) {
      positions->names.append(names_line).append("\n");
      positions->counts.push_back(index);
      positions->indices.push_back(NetstatPositions::kEnd);
    }
  }
  return values;
}

bool netstatValuesAt(std::string_view text, const NetstatPositions& positions,
                     std::vector<double>& values) {
  if (!positions.complete) return false;
  const std::string& names = positions.names;
  Lines lines(text);
  std::string_view names_line, values_line;
  size_t at = 0, next = 0, pair = 0;
  while (lines.next(names_line)) {
    if (!lines.next(values_line) || pair == positions.counts.size()) return false;
    size_t end = at + names_line.size();
    if (end >= names.size() || names[end] != '\n' ||
        names.compare(at, names_line.size(), names_line) != 0)
      return false;
    at = end + 1;
    size_t colon = names_line.find(':');  // there is one: the line was parsed before
    if (values_line.substr(0, colon + 1) != names_line.substr(0, colon + 1)) return false;
    Fields numbers(values_line.substr(colon + 1));
    std::string_view number;
    uint32_t index = 0;
    for (; numbers.next(number); ++index) {
      if (positions.indices[next] != index) continue;
      auto value = parseNumber(number);
      if (!value) return false;
      values.push_back(*value);
      ++next;
    }
    if (index != positions.counts[pair] || positions.indices[next] != NetstatPositions::kEnd)
      return false;
    ++next;
    ++pair;
  }
  return pair == positions.counts.size() && at == names.size();
}

namespace {

// One "Ip6InOctets   123" line: its key, split after the protocol's '6'
// ("Ip6", "InOctets"), and its number; nullopt for any other shape.
struct Snmp6Line {
  std::string_view key, protocol, field, number;
};
std::optional<Snmp6Line> snmp6Line(std::string_view line) {
  Fields fields(line);
  std::string_view key, number, extra;
  if (!fields.next(key) || !fields.next(number) || fields.next(extra)) return std::nullopt;
  const size_t six = key.find('6');
  if (six == std::string_view::npos || six + 1 >= key.size()) return std::nullopt;
  return Snmp6Line{key, key.substr(0, six + 1), key.substr(six + 1), number};
}

}  // namespace

std::vector<NetstatValue> parseSnmp6(std::string_view text, NetstatFilter wanted, Snmp6Positions* positions) {
  std::vector<NetstatValue> values;
  if (positions) *positions = {};
  Lines lines(text);
  std::string_view line;
  size_t index = 0;
  for (; lines.next(line); ++index) {
    auto l = snmp6Line(line);
    if (!l || (wanted && !wanted(l->protocol, l->field))) continue;
    auto value = parseNumber(l->number);
    if (!value) continue;
    values.push_back({l->protocol, l->field, *value});
    if (positions) positions->wanted.emplace_back(index, std::string(l->key));
  }
  if (positions) {
    positions->lines = index;
    positions->complete = true;
  }
  return values;
}

bool snmp6ValuesAt(std::string_view text, const Snmp6Positions& positions, std::vector<NetstatValue>& values) {
  if (!positions.complete) return false;
  values.clear();
  Lines lines(text);
  std::string_view line;
  size_t index = 0, w = 0;
  for (; lines.next(line); ++index) {
    if (w == positions.wanted.size() || positions.wanted[w].first != index) continue;
    auto l = snmp6Line(line);
    if (!l || l->key != positions.wanted[w].second) return false;
    auto value = parseNumber(l->number);
    if (!value) return false;
    values.push_back({l->protocol, l->field, *value});
    ++w;
  }
  return index == positions.lines && w == positions.wanted.size();
}

NetstatCollector::NetstatCollector(std::string proc_root)
    : netstat_(proc_root + "/net/netstat", Rendering::kWhole),
      snmp_(proc_root + "/net/snmp", Rendering::kWhole),
      snmp6_(proc_root + "/net/snmp6", Rendering::kWhole) {}

Result<void> NetstatCollector::collect(Families& out) const {
  auto netstat = netstat_.read();
  if (!netstat) return std::unexpected(netstat.error());
  auto snmp = snmp_.read();
  if (!snmp) return std::unexpected(snmp.error());
  // Without IPv6 there is no snmp6; that is not a failure.
  auto snmp6 = snmp6_.read();
  if (!snmp6 && !isMissing(snmp6.error())) return std::unexpected(snmp6.error());

  // The lines of snmp6 are the same every time: only the wanted ones are split.
  if (!snmp6) {
    v6_.clear();
  } else if (!snmp6ValuesAt(*snmp6, snmp6_positions_, v6_)) {
    v6_ = parseSnmp6(*snmp6, netstatFieldWanted, &snmp6_positions_);
  }
  const std::vector<NetstatValue>& v6 = v6_;
  // The same names lines in netstat and snmp and the same snmp6 fields as
  // last scrape: the same families in the same order, which come back from
  // the last scrape with their names; only the values are new.
  auto layout = [&](const std::vector<NetstatValue>& six) {
    layout_.clear();
    layout_.add(positions_[0].names);
    layout_.add(positions_[1].names);
    for (const NetstatValue& v : six) {
      layout_.add(v.protocol);
      layout_.add(v.field);
    }
  };
  values_.clear();
  if (netstatValuesAt(*netstat, positions_[0], values_) &&
      netstatValuesAt(*snmp, positions_[1], values_)) {
    layout(v6);
    if (layout_.unchanged(spareFamilies())) {
      size_t i = 0;
      for (double value : values_)
        if (layout_.kept(i++)) addSample(reuseFamily(out), value);
      for (const NetstatValue& v : v6)
        if (layout_.kept(i++)) addSample(reuseFamily(out), v.value);
      return {};
    }
  }
  std::array<std::vector<NetstatValue>, 3> sources = {
      parseNetstat(*netstat, netstatFieldWanted, &positions_[0]),
      parseNetstat(*snmp, netstatFieldWanted, &positions_[1]), std::move(v6)};
  layout(sources[2]);
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
