// Parsers are pure functions of text: hostile inputs go straight in.
#include <cstdint>
#include <deque>
#include <regex>

#include "metrics/collectors/cpu.h"
#include "metrics/collectors/filesystem.h"
#include "metrics/collectors/filefd.h"
#include "metrics/collectors/loadavg.h"
#include "metrics/collectors/pressure.h"
#include "metrics/collectors/meminfo.h"
#include "metrics/collectors/netdev.h"
#include "metrics/collectors/netstat.h"
#include "metrics/collectors/process.h"
#include "metrics/collectors/udp_queues.h"
#include "metrics/text.h"
#include "support.h"

using namespace rampart::metrics;

TEST_CASE("parseProcStat: 4,096 CPUs, a repeated CPU and torn lines keep every good line") {
  auto stat = parseProcStat(test::readText(test::procFixture("hostile/stat")));
  REQUIRE(stat);
  // cpu0..cpu4095 plus cpu4098 (four columns, no final newline).
  REQUIRE(stat->cpus.size() == 4097);
  CHECK(stat->cpus[7].ticks[0] == 71);  // the first cpu7 line, not the repeat
  CHECK(stat->cpus[4095].ticks[0] == UINT64_MAX);
  CHECK(stat->cpus[4095].ticks[1] == UINT64_MAX - 1);
  CHECK(stat->cpus[4096].cpu == 4098);
  CHECK(stat->cpus[4096].columns == 4);
  CHECK(stat->boot_time == 1700000000u);
}

TEST_CASE("parseProcStat: text without a cpu or btime line is an error") {
  CHECK_FALSE(parseProcStat("intr 1 2 3\n"));
  CHECK_FALSE(parseProcStat(""));
}

TEST_CASE("parseNetDev: the device name ends at the line's last colon") {
  auto devices = parseNetDev(test::readText(test::procFixture("hostile/net/dev")));
  std::vector<std::string> names;
  for (const auto& d : devices) names.push_back(d.device);
  CHECK(names == std::vector<std::string>{"lo", "a:b", "eth0", "we\"ird\\x",
                                          "bad\xEF\xBF\xBD\xEF\xBF\xBDutf8", "last0"});
  CHECK(devices[0].values[0] == 37350);  // the first lo line, not the repeat
  CHECK(devices[1].values[15] == 16);
  CHECK(devices[2].values[0] == UINT64_MAX);
  CHECK(devices[2].values[8] == UINT64_MAX - 1);
}

TEST_CASE("parseNetstat: a pair with mismatched counts or a non-number is skipped whole") {
  auto values = parseNetstat("Ip: Forwarding DefaultTTL\nIp: 1 64\n"
                             "Icmp: InMsgs InErrors\nIcmp: 10 x\n"
                             "Tcp: MaxConn ActiveOpens\nTcp: -1 7\n"
                             "Udp: A B C\nUdp: 1 2\n");
  REQUIRE(values.size() == 4);
  CHECK(values[0].protocol == "Ip");
  CHECK(values[0].field == "Forwarding");
  CHECK(values[2].value == -1);
  CHECK(values[3].field == "ActiveOpens");
  CHECK(values[3].value == 7);
}

TEST_CASE("parseSnmp6: the protocol ends at the first 6") {
  auto values = parseSnmp6("Ip6InOctets  \t 123\nUdpLite6InErrors 4\nIcmp6OutMsgs 5\nbogus\n");
  REQUIRE(values.size() == 3);
  CHECK(values[0].protocol == "Ip6");
  CHECK(values[0].field == "InOctets");
  CHECK(values[1].protocol == "UdpLite6");
  CHECK(values[2].protocol == "Icmp6");
  CHECK(values[2].value == 5);
}

TEST_CASE("netstatFieldWanted: equals node_exporter's default field regex") {
  const std::regex re(
      "^(.*_(InErrors|InErrs)|Ip_Forwarding|Ip(6|Ext)_(InOctets|OutOctets)|Icmp6?_(InMsgs|OutMsgs)"
      "|TcpExt_(Listen.*|Syncookies.*|TCPSynRetrans|TCPTimeouts|TCPOFOQueue|TCPRcvQDrop)"
      "|Tcp_(ActiveOpens|InSegs|OutSegs|OutRsts|PassiveOpens|RetransSegs|CurrEstab)"
      "|Udp6?_(InDatagrams|OutDatagrams|NoPorts|RcvbufErrors|SndbufErrors))$");
  std::vector<NetstatValue> all;
  for (const char* file : {"real/net/netstat", "real/net/snmp", "hostile/net/netstat",
                           "hostile/net/snmp"}) {
    static std::deque<std::string> keep;  // the views point into these
    keep.push_back(test::readText(test::procFixture(file)));
    auto v = parseNetstat(keep.back());
    all.insert(all.end(), v.begin(), v.end());
  }
  static std::string snmp6 = test::readText(test::procFixture("real/net/snmp6"));
  auto v6 = parseSnmp6(snmp6);
  all.insert(all.end(), v6.begin(), v6.end());
  // Synthetic keys at the regex's edges.
  for (auto [p, f] : std::initializer_list<std::pair<const char*, const char*>>{
           {"X", "InErrors"}, {"X", "A_InErrs"}, {"X", "InErrorsX"}, {"X", "nErrors"},
           {"Ip", "ForwardingX"}, {"IpExt", "InOctets"}, {"Ip4", "InOctets"},
           {"TcpExt", "Listen"}, {"TcpExt", "SyncookiesX"}, {"Tcp", "CurrEstab"},
           {"Udp6", "NoPorts"}, {"UdpLite", "NoPorts"}, {"Icmp6", "OutMsgs"}, {"Icmp4", "OutMsgs"}}) {
    all.push_back({p, f, 0});
  }
  REQUIRE(all.size() > 100);
  for (const auto& value : all) {
    std::string key = std::string(value.protocol) + "_" + std::string(value.field);
    INFO(key);
    CHECK(netstatFieldWanted(value.protocol, value.field) == std::regex_match(key, re));
  }
}

TEST_CASE("parseMeminfo: parentheses, units and hostile lines") {
  auto values = parseMeminfo(test::readText(test::procFixture("hostile/meminfo")));
  std::vector<std::string> names;
  for (const auto& v : values) names.push_back(v.name);
  CHECK(names == std::vector<std::string>{"MemTotal_bytes", "Active_anon_bytes", "HugePages_Total",
                                          "Weird_Name_x_bytes", "Huge_bytes"});
  CHECK(values[0].value == 16000000.0 * 1024);
  CHECK(values[2].value == 4);
  CHECK(values[4].value == static_cast<double>(UINT64_MAX) * 1024);
}

TEST_CASE("parseFileNr: allocated and maximum, the kernel's 2^63-1 maximum kept; else an error") {
  auto fd = parseFileNr("2417\t0\t9223372036854775807\n");
  REQUIRE(fd);
  CHECK(fd->allocated == 2417);
  CHECK(fd->maximum == 9223372036854775807ULL);
  CHECK_FALSE(parseFileNr("2417\t0\n"));
  CHECK_FALSE(parseFileNr("2417\tx\t100\n"));
  CHECK_FALSE(parseFileNr(""));
}

TEST_CASE("parsePressure: some and full totals in microseconds; cpu without full; else an error") {
  auto p = parsePressure(
      "some avg10=0.15 avg60=0.16 avg300=0.13 total=34021648\n"
      "full avg10=0.00 avg60=0.00 avg300=0.00 total=18446744073709551615\n");
  REQUIRE(p);
  CHECK(p->some_us == 34021648);
  CHECK(p->full_us == 18446744073709551615ULL);
  auto cpu = parsePressure("some avg10=1.00 avg60=0.50 avg300=0.25 total=12\n");
  REQUIRE(cpu);
  CHECK(cpu->some_us == 12);
  CHECK_FALSE(cpu->full_us);
  CHECK_FALSE(parsePressure(""));
  CHECK_FALSE(parsePressure("full avg10=0.00 total=5\n"));         // no some line
  CHECK_FALSE(parsePressure("some avg10=0.00 avg60=0.00\n"));      // truncated
  CHECK_FALSE(parsePressure("some total=12x\n"));
  CHECK_FALSE(parsePressure("most total=12\n"));
}

TEST_CASE("parseUdpQueues: hex tx_queue:rx_queue summed over sockets; torn lines skipped; sums saturate") {
  const std::string header =
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n";
  CHECK(parseUdpQueues(header).tx == 0);
  CHECK(parseUdpQueues("").rx == 0);
  UdpQueues q = parseUdpQueues(header +
                               "   1: 0100007F:0035 00000000:0000 07 00000200:00000A00 00:0 0\n"
                               "   2: 0100007F:0036 00000000:0000 07 00000001:00000010 00:0 0\n"
                               "   3: 0100007F:0037 00000000:0000 07 0000001\n"
                               "   4: 0100007F:0037 00000000:0000 07 xyz:00000010 00:0 0\n"
                               "   5: 0100007F:0037\n"
                               "   6: 0100007F:0037 00000000:0000 07 00000003:00000004");
  CHECK(q.tx == 0x200 + 1 + 3);
  CHECK(q.rx == 0xA00 + 0x10 + 4);
  q = parseUdpQueues(header + "1: a b c FFFFFFFFFFFFFFFF:1\n2: a b c 2:1\n");
  CHECK(q.tx == UINT64_MAX);
  CHECK(q.rx == 2);
}

TEST_CASE("parseLoadavg: three numbers, or an error") {
  auto loads = parseLoadavg("0.61 0.27 0.12 3/456 7890\n");
  REQUIRE(loads);
  CHECK((*loads)[0] == 0.61);
  CHECK((*loads)[2] == 0.12);
  CHECK_FALSE(parseLoadavg("0.61 0.27"));
  CHECK_FALSE(parseLoadavg("0.61 x 0.12"));
}

TEST_CASE("parseMounts: octal escapes are decoded, torn lines skipped, exclusions as node_exporter") {
  auto mounts = parseMounts(test::readText(test::procFixture("hostile/mounts")));
  REQUIRE(mounts.size() == 9);
  CHECK(mounts[1].mountpoint == "/srv/with space");
  CHECK(mounts[1].readonly);
  CHECK_FALSE(mounts[0].readonly);
  std::vector<std::string> wanted;
  for (const auto& m : mounts)
    if (filesystemWanted(m)) wanted.push_back(m.mountpoint);
  CHECK(wanted == std::vector<std::string>{"/", "/srv/with space", "/", "/dead", "/hung"});
  CHECK(filesystemWanted({"d", "/devices", "ext4", false}));
  CHECK_FALSE(filesystemWanted({"d", "/dev/x", "ext4", false}));
  CHECK_FALSE(filesystemWanted({"d", "/sys", "ext4", false}));
  CHECK(filesystemWanted({"d", "/var/lib/docker/", "ext4", false}));
  CHECK_FALSE(filesystemWanted({"d", "/x", "cgroup2", false}));
}

TEST_CASE("parseProcSelfStat: a command name with spaces and parentheses") {
  auto stat = parseProcSelfStat(test::readText(test::procFixture("hostile/self/stat")));
  REQUIRE(stat);
  CHECK(stat->utime == 150);
  CHECK(stat->stime == 50);
  CHECK(stat->starttime == 12345);
  CHECK(stat->vsize == 104857600);
  CHECK(stat->rss == 2560);
  CHECK_FALSE(parseProcSelfStat("1 (x) S 1 2 3"));
}

TEST_CASE("parseMaxOpenFiles: the soft limit, unlimited, or an error") {
  auto real = parseMaxOpenFiles(test::readText(test::procFixture("real/self/limits")));
  REQUIRE(real);
  CHECK(real->has_value());
  auto unlimited = parseMaxOpenFiles(test::readText(test::procFixture("hostile/self/limits")));
  REQUIRE(unlimited);
  CHECK_FALSE(unlimited->has_value());
  CHECK_FALSE(parseMaxOpenFiles("Max cpu time unlimited\n"));
}

TEST_CASE("parseNumber and parseU64: exact integers up to 2^64-1, decimals, nothing else") {
  CHECK(parseU64("18446744073709551615") == UINT64_MAX);
  CHECK_FALSE(parseU64("18446744073709551616"));
  CHECK_FALSE(parseU64("-1"));
  CHECK_FALSE(parseU64("1x"));
  CHECK_FALSE(parseU64(""));
  CHECK(parseNumber("-1") == -1.0);
  CHECK(parseNumber("0.61") == 0.61);
  CHECK_FALSE(parseNumber("1.2.3"));
  CHECK_FALSE(parseNumber(""));
}

TEST_CASE("sanitizeLabelValue: invalid UTF-8 becomes U+FFFD, valid UTF-8 stays") {
  CHECK(sanitizeLabelValue("caf\xC3\xA9") == "caf\xC3\xA9");
  CHECK(sanitizeLabelValue("a\xC3") == "a\xEF\xBF\xBD");
  CHECK(sanitizeLabelValue("\xED\xA0\x80") == "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
  CHECK(sanitizeMetricName("Weird-Name.x") == "Weird_Name_x");
}

TEST_CASE("netstatValuesAt: the same names lines read by position give parseNetstat's values; any change refuses") {
  const std::string text =
      "TcpExt: SyncookiesSent ListenDrops Other\nTcpExt: 1 2 3\n"
      "IpExt: InOctets OutOctets\nIpExt: 10 20\n";
  NetstatPositions positions;
  auto parsed = parseNetstat(text, netstatFieldWanted, &positions);
  REQUIRE(parsed.size() == 4);
  CHECK(positions.complete);
  const std::string later =
      "TcpExt: SyncookiesSent ListenDrops Other\nTcpExt: 5 6 7\n"
      "IpExt: InOctets OutOctets\nIpExt: 50 60\n";
  std::vector<double> values;
  REQUIRE(netstatValuesAt(later, positions, values));
  std::vector<double> expected;
  for (const auto& v : parseNetstat(later, netstatFieldWanted)) expected.push_back(v.value);
  CHECK(values == expected);
  CHECK(values == std::vector<double>{5, 6, 50, 60});

  for (const std::string changed : {
           "TcpExt: SyncookiesSent ListenDrops Othe\nTcpExt: 5 6 7\nIpExt: InOctets OutOctets\nIpExt: 50 60\n",
           "TcpExt: SyncookiesSent ListenDrops Other\nTcpExt: 5 6 7 8\nIpExt: InOctets OutOctets\nIpExt: 50 60\n",
           "TcpExt: SyncookiesSent ListenDrops Other\nTcpExt: 5 x 7\nIpExt: InOctets OutOctets\nIpExt: 50 60\n",
           "TcpExt: SyncookiesSent ListenDrops Other\nTcpExt: 5 6 7\n",
           "TcpExt: SyncookiesSent ListenDrops Other\nTcpExt: 5 6 7\nIpExt: InOctets OutOctets\nIpExt: 50 60\n"
           "Extra: A\nExtra: 1\n",
           "TcpExt: SyncookiesSent ListenDrops Other\nTcp: 5 6 7\nIpExt: InOctets OutOctets\nIpExt: 50 60\n"}) {
    INFO(changed);
    values.clear();
    CHECK_FALSE(netstatValuesAt(changed, positions, values));
  }
  // A skipped pair leaves the positions incomplete: never read by position.
  NetstatPositions torn;
  parseNetstat("TcpExt: A B\nTcpExt: 1\n", netstatFieldWanted, &torn);
  CHECK_FALSE(torn.complete);
  CHECK_FALSE(netstatValuesAt("TcpExt: A B\nTcpExt: 1\n", torn, values));
}
