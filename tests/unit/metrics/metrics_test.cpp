// The Metrics object: the collector list, switching collectors off, failure
// isolation, and exposition text that promtool accepts.
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <regex>
#include <sstream>

#include "exposition.h"
#include "metrics/metrics.h"
#include "metrics/proc_file.h"
#include "support.h"

using namespace rampart::metrics;
using namespace std::chrono_literals;

namespace {

Options fixtureOptions(const std::string& root) {
  Options o;
  o.proc_root = test::procFixture(root);
  o.udev_data = test::sourceDir() + "/tests/fixtures/udev/data";
  o.node_name = "web-01";
  o.node_role = "web";
  o.version = "0.1.0";
  o.filesystem_timeout = 200ms;
  o.uname = [] {
    return rampart::Result<UnameInfo>(
        UnameInfo{"Linux", "6.1.0", "#1 SMP", "x86_64", "web-01", "(none)"});
  };
  o.statfs = [](const std::string& mp) -> rampart::Result<FsStats> {
    if (mp == "/dead" || mp == "/hung") return rampart::fail("statfs {}: EIO", mp);
    return FsStats{1000, 500, 400, 10, 5};
  };
  return o;
}

std::unique_ptr<Metrics> make(Options o) {
  auto m = Metrics::create(std::move(o));
  INFO((m ? std::string() : m.error().message));
  REQUIRE(m);
  return std::move(*m);
}

// promtool check metrics: every complaint must be the camelCase lint that
// node_exporter's own node_memory_*/node_netstat_* names draw.
void checkPromtool(const std::string& text) {
  if (!std::filesystem::exists("/usr/bin/promtool")) {
    WARN("promtool not installed (Debian package prometheus); check skipped");
    return;
  }
  std::string path = std::filesystem::temp_directory_path() /
                     ("rampart-metrics-" + std::to_string(::getpid()) + ".prom");
  { std::ofstream(path) << text; }
  FILE* p = ::popen(("promtool check metrics < " + path + " 2>&1").c_str(), "r");
  REQUIRE(p);
  std::string output;
  char buf[4096];
  while (size_t n = std::fread(buf, 1, sizeof buf, p)) output.append(buf, n);
  int status = ::pclose(p);
  std::filesystem::remove(path);
  const std::regex allowed(
      "(node_memory_|node_netstat_)[A-Za-z0-9_]+ metric names should be written in 'snake_case' "
      "not 'camelCase'");
  std::istringstream lines(output);
  std::string line;
  int complaints = 0;
  while (std::getline(lines, line)) {
    INFO("promtool: " << line);
    CHECK(std::regex_match(line, allowed));
    ++complaints;
  }
  // Exit 3 is "lint problems only"; anything else is a parse error.
  CHECK((WEXITSTATUS(status) == 0 || (WEXITSTATUS(status) == 3 && complaints > 0)));
}

}  // namespace

TEST_CASE("metrics: every collector runs on the captured /proc and each reports success 1") {
  Options o = fixtureOptions("real");
  o.firewall_state = [] { return rampart::Result<rampart::fw::LiveState>(rampart::fw::LiveState{}); };
  o.tls_handshakes = [] { return TlsHandshakes{1, 0}; };
  auto metrics = make(std::move(o));
  CHECK(metrics->enabled().size() == collectorNames().size());
  std::string text = metrics->scrape();
  auto e = test::parseExposition(text);
  for (std::string_view name : collectorNames()) {
    INFO(name);
    CHECK(e.samples["node_scrape_collector_success"]["collector=\"" + std::string(name) + "\","] ==
          1);
    CHECK(e.samples["node_scrape_collector_duration_seconds"].contains(
        "collector=\"" + std::string(name) + "\","));
  }
  checkPromtool(text);
}

TEST_CASE("metrics: hostile fixtures still give an exposition promtool accepts") {
  std::string text = make(fixtureOptions("hostile"))->scrape();
  auto e = test::parseExposition(text);
  CHECK(e.samples["node_network_receive_bytes_total"].contains("device=\"a:b\","));
  CHECK(e.samples["node_cpu_seconds_total"].size() == 4097 * 8 - 4);
  checkPromtool(text);
}

TEST_CASE("metrics: the live /proc of this machine gives an exposition promtool accepts") {
  Options o;
  o.node_name = "test";
  auto metrics = make(std::move(o));
  std::string text = metrics->scrape();
  auto e = test::parseExposition(text);
  for (const auto& [labels, value] : e.samples["node_scrape_collector_success"]) {
    INFO(labels);
    CHECK(value == 1);
  }
  CHECK(e.samples["process_open_fds"][""] > 0);
  checkPromtool(text);
}

TEST_CASE("metrics: a failing collector shows success 0 and the others are still scraped") {
  auto empty = std::filesystem::temp_directory_path() / ("rampart-empty-" + std::to_string(::getpid()));
  std::filesystem::create_directories(empty);
  Options o = fixtureOptions("real");
  o.proc_root = empty;
  o.firewall_state = [] { return rampart::Result<rampart::fw::LiveState>(rampart::fail("EPERM")); };
  auto e = test::parseExposition(make(std::move(o))->scrape());
  std::filesystem::remove(empty);
  auto& success = e.samples["node_scrape_collector_success"];
  for (const char* failing : {"cpu", "netdev", "netstat", "loadavg", "meminfo", "filesystem",
                              "filefd", "process", "firewall", "udp_queues"}) {
    INFO(failing);
    CHECK(success["collector=\"" + std::string(failing) + "\","] == 0);
  }
  // Absent conntrack files are not a failure; uname and node_info need no /proc.
  CHECK(success["collector=\"conntrack\","] == 1);
  CHECK(success["collector=\"uname\","] == 1);
  CHECK(e.samples["rampart_node_info"]["node=\"web-01\",role=\"web\",version=\"0.1.0\","] == 1);
  CHECK_FALSE(e.samples.contains("node_cpu_seconds_total"));
}

TEST_CASE("metrics: disabled collectors are not run; an unknown name is refused") {
  Options o = fixtureOptions("real");
  o.disabled = {"filesystem", "netstat"};
  auto metrics = make(o);
  auto e = test::parseExposition(metrics->scrape());
  CHECK_FALSE(e.samples.contains("node_filesystem_size_bytes"));
  CHECK_FALSE(e.samples.contains("node_netstat_Tcp_InSegs"));
  CHECK_FALSE(e.samples["node_scrape_collector_success"].contains("collector=\"netstat\","));
  CHECK(e.samples.contains("node_cpu_seconds_total"));

  o.disabled = {"cpu", "nosuch"};
  auto refused = Metrics::create(o);
  REQUIRE_FALSE(refused);
  CHECK(refused.error().message.find("'nosuch'") != std::string::npos);
}

TEST_CASE("metrics: extra collectables are appended to the scrape") {
  struct One : prometheus::Collectable {
    Families Collect() const override {
      Families f;
      addSample(addFamily(f, "rampart_http_requests_total", "Requests.",
                          prometheus::MetricType::Counter),
                7);
      return f;
    }
  };
  Options o = fixtureOptions("real");
  o.extra.push_back(std::make_shared<One>());
  auto e = test::parseExposition(make(o)->scrape());
  CHECK(e.samples["rampart_http_requests_total"][""] == 7);
}

// Not run by default: `unit_metrics "[.bench]"` prints the CPU time of 1,000
// scrapes of the live /proc.
TEST_CASE("bench: CPU time of 1,000 in-process scrapes", "[.bench]") {
  Options o;
  o.node_name = "bench";
  if (const char* only = std::getenv("RAMPART_BENCH_COLLECTORS")) {
    std::string keep = std::string(",") + only + ",";
    for (std::string_view n : collectorNames())
      if (keep.find("," + std::string(n) + ",") == std::string::npos) o.disabled.emplace(n);
  }
  auto metrics = make(std::move(o));
  size_t bytes = 0;
  auto cpu = [] {
    rusage u{};
    ::getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
  };
  metrics->scrape();
  double start = cpu();
  for (int i = 0; i < 1000; ++i) bytes += metrics->scrape().size();
  double took = cpu() - start;
  std::printf("1000 scrapes: %.3f s CPU, %.1f us per scrape, %zu bytes each\n", took,
              took * 1000, bytes / 1000);
  CHECK(bytes > 0);
}

namespace {

// The exposition without the lines that differ between two scrapes of the
// same files (collector durations, the clock).
std::string withoutTimings(const std::string& text) {
  std::istringstream in(text);
  std::string out, line;
  while (std::getline(in, line))
    if (!line.starts_with("node_scrape_collector_duration_seconds{") &&
        !line.starts_with("node_time_seconds "))
      out += line + "\n";
  return out;
}

void copyTree(const std::filesystem::path& from, const std::filesystem::path& to) {
  std::filesystem::copy(from, to,
                        std::filesystem::copy_options::recursive |
                            std::filesystem::copy_options::copy_symlinks);
}

}  // namespace

TEST_CASE("metrics: a scrape after files changed shape equals a first scrape (families are reused)") {
  auto root = std::filesystem::temp_directory_path() / ("rampart-reuse-" + std::to_string(::getpid()));
  std::filesystem::remove_all(root);
  copyTree(test::procFixture("real"), root);
  Options o = fixtureOptions("real");
  o.proc_root = root;
  auto reused = make(o);
  const std::string first = reused->scrape();
  CHECK(withoutTimings(reused->scrape()) == withoutTimings(first));

  // Fewer meminfo fields, one more network device, a CPU less: every family
  // list and sample list changes length against the one kept from before.
  std::string meminfo = test::readText(root / "meminfo");
  size_t line1 = meminfo.find('\n'), line2 = meminfo.find('\n', line1 + 1);
  meminfo.erase(line1 + 1, line2 - line1);  // the second field goes
  std::ofstream(root / "meminfo", std::ios::trunc) << meminfo;
  std::string dev = test::readText(root / "net/dev");
  std::ofstream(root / "net/dev", std::ios::trunc)
      << dev << "  new0: 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16\n";
  std::string stat = test::readText(root / "stat");
  size_t cpu1 = stat.find("\ncpu1 ");
  REQUIRE(cpu1 != std::string::npos);
  stat.erase(cpu1, stat.find('\n', cpu1 + 1) - cpu1);
  std::ofstream(root / "stat", std::ios::trunc) << stat;

  // New netstat values under the same names: read by position.
  std::string netstat = test::readText(root / "net/netstat");
  size_t values_line = netstat.find("\nTcpExt: ") + 1;
  netstat.replace(values_line + std::string("TcpExt: ").size(), 1, "7");  // SyncookiesSent
  std::ofstream(root / "net/netstat", std::ios::trunc) << netstat;

  const std::string again = reused->scrape();
  const std::string fresh = make(o)->scrape();
  CHECK(again.find("node_netstat_TcpExt_SyncookiesSent 7\n") != std::string::npos);
  std::filesystem::remove_all(root);
  CHECK(withoutTimings(again) != withoutTimings(first));
  CHECK(withoutTimings(again) == withoutTimings(fresh));
  CHECK(again.find("device=\"new0\"") != std::string::npos);
}

TEST_CASE("metrics: hostile fixtures (repeated fields among them) scrape the same twice in a row") {
  auto metrics = make(fixtureOptions("hostile"));
  const std::string first = metrics->scrape();
  CHECK(withoutTimings(metrics->scrape()) == withoutTimings(first));
  CHECK(withoutTimings(metrics->scrape()) == withoutTimings(first));
}

TEST_CASE("ProcFile: a procfs file stays open and reads afresh; a replaced regular file is read anew") {
  auto fds = [] {
    size_t n = 0;
    for ([[maybe_unused]] const auto& entry : std::filesystem::directory_iterator("/proc/self/fd")) ++n;
    return n;
  };
  size_t before = fds();
  {
    ProcFile limits("/proc/self/limits");
    auto one = limits.read();
    REQUIRE(one);
    std::string first(*one);
    CHECK(first == test::readText("/proc/self/limits"));
    CHECK(fds() == before + 1);  // kept open
    auto two = limits.read();
    REQUIRE(two);
    CHECK(*two == first);
    CHECK(fds() == before + 1);
  }
  CHECK(fds() == before);  // closed with the ProcFile

  auto dir = std::filesystem::temp_directory_path() / ("rampart-procfile-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::ofstream(dir / "f") << "one";
  ProcFile file((dir / "f").string());
  auto a = file.read();
  REQUIRE(a);
  CHECK(*a == "one");
  std::ofstream(dir / "g") << "two two";
  std::filesystem::rename(dir / "g", dir / "f");
  auto b = file.read();
  REQUIRE(b);
  CHECK(*b == "two two");
  CHECK(fds() == before);  // not procfs: not kept
  std::filesystem::remove(dir / "f");
  auto gone = file.read();
  REQUIRE_FALSE(gone);
  CHECK(isMissing(gone.error()));
  std::filesystem::remove_all(dir);
}

TEST_CASE("ProcFile: a file rendered whole is read whole, also when larger than the first buffer") {
  ProcFile records("/proc/self/limits");
  ProcFile whole("/proc/self/limits", Rendering::kWhole);
  auto a = records.read();
  auto b = whole.read();
  REQUIRE(a);
  REQUIRE(b);
  CHECK(*b == *a);
  auto again = whole.read();  // the kept fd, read again from offset 0
  REQUIRE(again);
  CHECK(*again == *a);

  auto dir = std::filesystem::temp_directory_path() / ("rampart-procwhole-" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  std::string big;
  for (int i = 0; i < 3000; ++i) big += "line " + std::to_string(i) + "\n";  // ~27 KB: several buffer sizes
  std::ofstream(dir / "big") << big;
  ProcFile file((dir / "big").string(), Rendering::kWhole);
  auto text = file.read();
  REQUIRE(text);
  CHECK(text->size() == big.size());
  CHECK(*text == big);
  std::filesystem::remove_all(dir);
}
