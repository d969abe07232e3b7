// The netclass collector: /sys/class/net/<device>/ attributes on a
// hand-written sysfs fixture and on this machine's own lo.
#include "metrics/collectors/netclass.h"
#include "support.h"

using namespace rampart::metrics;

namespace {
std::string sysFixture() { return test::sourceDir() + "/tests/fixtures/sys"; }
}  // namespace

TEST_CASE("parseNetClass: speed in bytes/s (-1 kept), unreadable and non-numeric files give no value") {
  NetClassFiles files;
  files.operstate = "up\n";
  files.address = "52:54:00:12:34:56\n";
  files.speed = "-1\n";
  files.mtu = "abc\n";
  files.carrier = "1\n";
  files.rx_nohandler = "18446744073709551615\n";
  files.carrier_changes = "12\n";
  NetClass net = parseNetClass("eth0", files);
  CHECK(net.device == "eth0");
  CHECK(net.up);
  CHECK(net.address == "52:54:00:12:34:56");
  CHECK(net.duplex.empty());
  CHECK(net.speed_bytes == -125000);
  CHECK_FALSE(net.mtu);
  CHECK(net.carrier == 1);
  CHECK(net.rx_nohandler == UINT64_MAX);
  CHECK(net.carrier_changes == 12);
  files.speed = "25000\n";
  files.operstate = "unknown\n";
  net = parseNetClass("eth0", files);
  CHECK(net.speed_bytes == 3'125'000'000);
  CHECK_FALSE(net.up);
  files.speed = std::nullopt;
  CHECK_FALSE(parseNetClass("eth0", files).speed_bytes);
  files.speed = "99999999999999999\n";  // overflows when scaled
  CHECK_FALSE(parseNetClass("eth0", files).speed_bytes);
}

TEST_CASE("golden: netclass on the sysfs fixture (devices sorted, bonding_masters skipped)") {
  NetClassCollector collector(sysFixture());
  std::string text = test::render(test::collectOk(collector));
  CHECK_THAT(text, Catch::Contains("node_network_speed_bytes{device=\"eth0\"} 1250000000\n"));
  CHECK_THAT(text, Catch::Contains("node_network_speed_bytes{device=\"dummy0\"} -125000\n"));
  CHECK_THAT(text, !Catch::Contains("node_network_speed_bytes{device=\"lo\"}"));
  CHECK_THAT(text, !Catch::Contains("node_network_carrier{device=\"dummy0\"}"));
  CHECK_THAT(text, Catch::Contains("node_network_up{device=\"lo\"} 0\n"));
  CHECK_THAT(text, Catch::Contains("node_network_up{device=\"eth0\"} 1\n"));
  CHECK_THAT(text, Catch::Contains("node_network_receive_nohandler_total{device=\"eth0\"} 7\n"));
  CHECK_THAT(text, Catch::Contains("node_network_carrier_changes_total{device=\"eth0\"} 5\n"));
  CHECK_THAT(text, !Catch::Contains("node_network_carrier_changes_total{device=\"dummy0\"}"));
  CHECK_THAT(text, !Catch::Contains("bond"));
  test::checkGolden("netclass", text);
}

TEST_CASE("netclass: this machine's lo refuses speed (EINVAL), so lo has mtu and up but no speed") {
  NetClassCollector collector("/sys");
  std::string text = test::render(test::collectOk(collector));
  CHECK_THAT(text, Catch::Contains("node_network_mtu_bytes{device=\"lo\"}"));
  CHECK_THAT(text, Catch::Contains("node_network_up{device=\"lo\"}"));
  CHECK_THAT(text, Catch::Contains("node_network_carrier_changes_total{device=\"lo\"}"));
  CHECK_THAT(text, !Catch::Contains("node_network_speed_bytes{device=\"lo\"}"));
}

TEST_CASE("netclass: a missing /sys/class/net fails the collector") {
  Families out;
  CHECK_FALSE(NetClassCollector("/nonexistent-rampart-root").collectInto(out));
  CHECK(out.empty());
}
