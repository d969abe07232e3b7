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
std::vector<NetstatValue> parseNetstat(std::string_view text, NetstatFilter wanted = nullptr);
// /proc/net/snmp6: "Ip6InOctets   123" lines; the protocol ends at the
// first '6' ("Ip6", "Icmp6", "UdpLite6").
std::vector<NetstatValue> parseSnmp6(std::string_view text, NetstatFilter wanted = nullptr);

class NetstatCollector final : public Collector {
 public:
  explicit NetstatCollector(std::string proc_root);
  std::string_view name() const override { return "netstat"; }

 protected:
  Result<void> collect(Families& out) const override;

 private:
  mutable ProcFile netstat_, snmp_, snmp6_;
  mutable std::string name_, help_;  // the family being added, built in place
  mutable InputLayout layout_;  // protocol and field of every value
};

}  // namespace rampart::metrics
