// Every collector on the captured and the hostile procfs fixtures, rendered
// as exposition text and compared with tests/golden/metrics/*.prom.
#include <condition_variable>
#include <mutex>

#include "metrics/collectors/conntrack.h"
#include "metrics/collectors/cpu.h"
#include "metrics/collectors/filefd.h"
#include "metrics/collectors/filesystem.h"
#include "metrics/collectors/firewall.h"
#include "metrics/collectors/loadavg.h"
#include "metrics/collectors/meminfo.h"
#include "metrics/collectors/netdev.h"
#include "metrics/collectors/netstat.h"
#include "metrics/collectors/node_info.h"
#include "metrics/collectors/pressure.h"
#include "metrics/collectors/process.h"
#include "metrics/collectors/time.h"
#include "metrics/collectors/tls.h"
#include "metrics/collectors/udp_queues.h"
#include "metrics/collectors/uname.h"
#include "support.h"

using namespace rampart::metrics;
using namespace std::chrono_literals;

namespace {

// Deterministic statfs: sizes derived from the mount point's length.
rampart::Result<FsStats> fakeStatfs(const std::string& mountpoint) {
  if (mountpoint == "/dead") return rampart::fail("statfs /dead: Input/output error");
  uint64_t n = mountpoint.size();
  return FsStats{n * 1'000'000'000, n * 400'000'000, n * 300'000'000, n * 1000, n * 900};
}

void golden(const std::string& name, const Collector& collector) {
  test::checkGolden(name, test::render(test::collectOk(collector)));
}

}  // namespace

TEST_CASE("golden: procfs collectors on this machine's captured /proc") {
  std::string root = test::procFixture("real");
  golden("cpu", CpuCollector(root));
  golden("netdev", NetDevCollector(root));
  golden("netstat", NetstatCollector(root));
  golden("conntrack", ConntrackCollector(root));
  golden("loadavg", LoadavgCollector(root));
  golden("meminfo", MeminfoCollector(root));
  golden("process", ProcessCollector(root));
  golden("filesystem", FilesystemCollector(root, 1s, fakeStatfs));
  golden("filefd", FileFdCollector(root));
  golden("pressure", PressureCollector(root));
  golden("time", TimeCollector([] { return 1795700000.25; }));
  golden("udp_queues", UdpQueuesCollector(root));
}

TEST_CASE("golden: procfs collectors on hostile fixtures") {
  std::string root = test::procFixture("hostile");
  golden("cpu_hostile", CpuCollector(root));
  golden("netdev_hostile", NetDevCollector(root));
  golden("netstat_hostile", NetstatCollector(root));  // no snmp6: not a failure
  golden("meminfo_hostile", MeminfoCollector(root));
  golden("process_hostile", ProcessCollector(root));
  golden("udp_queues_hostile", UdpQueuesCollector(root));  // no udp6: v4 only
}

TEST_CASE("pressure: a kernel without /proc/pressure gives no metric and no failure") {
  PressureCollector collector(test::procFixture("hostile"));
  CHECK(test::collectOk(collector).empty());
}

TEST_CASE("conntrack: absent files give no metric and no failure") {
  ConntrackCollector collector(test::procFixture("hostile"));
  CHECK(test::collectOk(collector).empty());
}

TEST_CASE("filesystem: a hung statfs costs one timeout, then the mount is skipped until it returns") {
  // Shared with the worker thread, which outlives the collector.
  struct Gate {
    std::mutex mutex;
    std::condition_variable cv;
    bool release = false;
    int hung_calls = 0;
  };
  auto gate = std::make_shared<Gate>();
  auto statfs = [gate](const std::string& mountpoint) -> rampart::Result<FsStats> {
    if (mountpoint == "/hung") {
      std::unique_lock lock(gate->mutex);
      ++gate->hung_calls;
      gate->cv.wait(lock, [&] { return gate->release; });
    }
    return fakeStatfs(mountpoint);
  };
  FilesystemCollector collector(test::procFixture("hostile"), 100ms, statfs);
  auto start = std::chrono::steady_clock::now();
  std::string first = test::render(test::collectOk(collector));
  auto took = std::chrono::steady_clock::now() - start;
  CHECK(took >= 100ms);
  CHECK(took < 5s);
  test::checkGolden("filesystem_hostile", first);

  // The second scrape does not wait for the stuck mount again.
  start = std::chrono::steady_clock::now();
  std::string second = test::render(test::collectOk(collector));
  CHECK(std::chrono::steady_clock::now() - start < 100ms);
  CHECK(second == first);
  {
    std::lock_guard lock(gate->mutex);
    CHECK(gate->hung_calls == 1);
    gate->release = true;
  }
  gate->cv.notify_all();
}

TEST_CASE("golden: uname, node_info, firewall and tls from fixed values") {
  golden("uname", UnameCollector([] {
           return rampart::Result<UnameInfo>(UnameInfo{"Linux", "6.1.0-13-amd64",
                                                       "#1 SMP PREEMPT_DYNAMIC Debian 6.1.55-1",
                                                       "x86_64", "web-01", "(none)"});
         }));
  golden("node_info", NodeInfoCollector("web-01", "web", "0.1.0"));

  rampart::fw::LiveState state;
  state.table_present = true;
  state.rules = {{"ssh", rampart::fw::Hook::Input, rampart::fw::Action::Allow,
                  rampart::fw::Origin::Config, 10, 600, 1},
                 {"web", rampart::fw::Hook::Input, rampart::fw::Action::Allow,
                  rampart::fw::Origin::Config, 18446744073709551615u, 2, 2},
                 {"web", rampart::fw::Hook::Input, rampart::fw::Action::Allow,
                  rampart::fw::Origin::Config, 0, 5, 3},
                 {"block \"x\"", rampart::fw::Hook::Input, rampart::fw::Action::Deny,
                  rampart::fw::Origin::Cli, 7, 420, 4}};
  state.dropped[0] = {100, 6000};
  state.bans = 3;
  state.kernel_rules = 12;
  golden("firewall", FirewallCollector([state] { return rampart::Result<rampart::fw::LiveState>(state); },
                                       [] {
                                         return FirewallCounters{5, 1, 1700000000.5, 2};
                                       }));
  golden("tls", TlsCollector(
                    [] {
                      return std::vector<TlsCertificate>{
                          {"/var/lib/rampart/tls/cert.pem", "CN=web-01", 1767225600},
                          {"/etc/ssl/certs/www.pem", "CN=www.example.com,O=Example", 1780000000},
                          {"/etc/ssl/certs/www.pem", "CN=www.example.com,O=Example", 1}};
                    },
                    [] { return TlsHandshakes{42, 3}; }, [] { return TlsReloads{7, 1}; }));
}

TEST_CASE("firewall: a failing dump fails the collector and appends nothing") {
  FirewallCollector collector([] { return rampart::Result<rampart::fw::LiveState>(rampart::fail("netlink: EPERM")); },
                              {});
  Families out;
  auto result = collector.collectInto(out);
  REQUIRE_FALSE(result);
  CHECK(result.error().message == "netlink: EPERM");
  CHECK(out.empty());
}
