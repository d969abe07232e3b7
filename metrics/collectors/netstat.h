// node_netstat_<Protocol>_<Field> (untyped) from /proc/net/netstat,
// /proc/net/snmp and /proc/net/snmp6, limited to node_exporter's default
// --collector.netstat.fields:
//   ^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|
//     Icmp6?_(InMsgs|OutMsgs)|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|
//     TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)|Tcp_(ActiveOpens|InSegs|OutSegs|
//     OutRsts|PassiveOpens|RetransSegs|CurrEstab)|
//     Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$
// (node_exporter 1.5 lacks TCPOFOQueue and TCPRcvQDrop; later releases added
// them.) Matched by hand: this runs for every field on every scrape.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "metrics/collector.h"
#include "metrics/proc_file.h"

namespace rampart::metrics {

struct NetstatValue {
  std::string_view protocol;  // "TcpExt", "Ip6"
  std::string_view field;     // "ListenDrops", "InOctets"
  double value = 0;
};

bool netstatFieldWanted(std::string_view protocol, std::string_view field);

// /proc/net/netstat and /proc/net/snmp: pairs of "Proto: names..." and
// "Proto: values..." lines. A pair whose name and value counts differ, or
// with a value that is not a number, is skipped. Views point into `text`.
// With `wanted`, only the fields it accepts are parsed and returned (and only
// their values must be numbers).
using NetstatFilter = bool (*)(std::string_view protocol, std::string_view field);

// Where parseNetstat found the values it returned, so that a text with the
// same names lines can be read by position (netstatValuesAt). Complete only
// when no line pair was skipped.
struct NetstatPositions {
  std::string names;              // every pair's names line, each followed by '\n'
  std::vector<uint32_t> counts;   // per pair: its number of fields
  std::vector<uint32_t> indices;  // per pair: the returned fields' indices, then kEnd
  bool complete = false;
  static constexpr uint32_t kEnd = UINT32_MAX;
};

// With `positions`, also records where the returned values were.
std::vector<NetstatValue> parseNetstat(std::string_view text, NetstatFilter wanted = nullptr,
                                       NetstatPositions* positions = nullptr);
// When `text` has exactly the names lines `positions` was made from (and the
// same field counts), appends the values at those positions to `values` and
// returns true: what parseNetstat would return, without looking at a name.
// Otherwise (or when a value is not a number) false.
bool netstatValuesAt(std::string_view text, const NetstatPositions& positions,
                     std::vector<double>& values);
// /proc/net/snmp6: "Ip6InOctets   123" lines; the protocol ends at the
// first '6' ("Ip6", "Icmp6", "UdpLite6").
// Where parseSnmp6 found the lines it returned: the number of lines, and
// each returned line's index and key ("Ip6InOctets"). The lines of snmp6
// are fixed for a kernel.
struct Snmp6Positions {
  size_t lines = 0;
  std::vector<std::pair<size_t, std::string>> wanted;
  bool complete = false;
};
// With `positions`, also records where the returned values were.
std::vector<NetstatValue> parseSnmp6(std::string_view text, NetstatFilter wanted = nullptr,
                                     Snmp6Positions* positions = nullptr);
// When `text` has as many lines as `positions` was made from and each
// recorded line still holds its key and a number, replaces `values` with
// what parseSnmp6 would return (splitting only those lines) and returns
// true; otherwise false.
bool snmp6ValuesAt(std::string_view text, const Snmp6Positions& positions, std::vector<NetstatValue>& values);

class NetstatCollector final : public Collector {
 public:
  explicit NetstatCollector(std::string proc_root);
  std::string_view name() const override { return "netstat"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  mutable ProcFile netstat_, snmp_, snmp6_;
  mutable std::string name_, help_;  // the family being added, built in place
  // The names lines of netstat and snmp, then protocol and field of every
  // snmp6 value.
  mutable InputLayout layout_;
  mutable std::array<NetstatPositions, 2> positions_;  // netstat, snmp
  mutable std::vector<double> values_;                 // netstat and snmp, by position
  mutable Snmp6Positions snmp6_positions_;
  mutable std::vector<NetstatValue> v6_;
};

}  // namespace rampart::metrics
