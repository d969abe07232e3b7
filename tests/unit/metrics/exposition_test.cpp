// serializeText writes exactly what prometheus::TextSerializer writes.
#include <cmath>
#include <limits>

#include "metrics/exposition.h"
#include "metrics/metrics.h"
#include "support.h"

using namespace rampart::metrics;

namespace {

std::string ours(const Families& families) {
  std::string text;
  serializeText(families, text);
  return text;
}

}  // namespace

TEST_CASE("serializeText: byte for byte TextSerializer's output on every fixture scrape") {
  for (const char* root : {"real", "hostile"}) {
    Options o;
    o.proc_root = test::procFixture(root);
    o.node_name = "n\"a\\m\ne";
    o.tls_certificates = [] {
      return std::vector<TlsCertificate>{{"/x", "CN=\xC3\xA9", 1767225600}};
    };
    o.statfs = [](const std::string&) { return rampart::Result<FsStats>(FsStats{1, 2, 3, 4, 5}); };
    auto metrics = Metrics::create(o);
    REQUIRE(metrics);
    Families families = (*metrics)->collect();
    INFO(root);
    CHECK(ours(families) == test::render(families));
  }
}

TEST_CASE("serializeText: escapes, special values, timestamps and odd numbers as TextSerializer") {
  Families f;
  auto& g = addFamily(f, "g", "help \"quoted\"", prometheus::MetricType::Gauge);
  for (double v : {0.0, -0.0, 1.0, 0.07, 1e-5, 123456789012345678.0, 1.8446744073709552e19,
                   std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity(),
                   -std::numeric_limits<double>::infinity(), 1.0 / 3, -2.5e-300,
                   std::numeric_limits<double>::max(), std::numeric_limits<double>::denorm_min(),
                   // whole numbers on either side of the 16-digit boundary
                   -7.0, 42.0, 9999999999999998.0, 1e16, -1e16, 9007199254740993.0, 1e15 + 0.5})
    addSample(g, v, {{"v", "a\"b\\c\nd"}, {"w", ""}});
  g.metric.back().timestamp_ms = 1700000000123;
  addSample(addFamily(f, "c_total", "", prometheus::MetricType::Counter), 5);
  addSample(addFamily(f, "u", "untyped", prometheus::MetricType::Untyped), -1);
  addFamily(f, "empty", "no samples", prometheus::MetricType::Gauge);
  auto& h = addFamily(f, "h", "a histogram", prometheus::MetricType::Histogram);
  h.metric.emplace_back().histogram = {3, 4.5, {{1, 1.0}, {3, 2.0}}};
  CHECK(ours(f) == test::render(f));
  if (ours(f) != test::render(f)) { std::ofstream("/tmp/ours.txt") << ours(f); std::ofstream("/tmp/theirs.txt") << test::render(f); }
}

TEST_CASE("serializeText: HELP text is escaped, so a newline in it cannot end the line") {
  Families f;
  addSample(addFamily(f, "g", "a \\ b\nc", prometheus::MetricType::Gauge), 1);
  CHECK(ours(f) == "# HELP g a \\\\ b\\nc\n# TYPE g gauge\ng 1\n");
}

TEST_CASE("serializeText: a character to escape at any place of a long or short text") {
  // The plain-text check looks at 8 bytes at a time: put each special
  // character at every offset of texts around those word boundaries. Label
  // values as TextSerializer writes them; HELP text as the exposition
  // format says (TextSerializer leaves it unescaped; see the test above).
  auto escaped = [](const std::string& text, bool quote) {
    std::string out;
    for (char c : text) {
      if (c == '\\') out += "\\\\";
      else if (c == '\n') out += "\\n";
      else if (c == '"' && quote) out += "\\\"";
      else out += c;
    }
    return out;
  };
  Families labels;
  std::string want_help;
  for (size_t len : {0u, 1u, 7u, 8u, 9u, 15u, 16u, 17u, 24u, 33u}) {
    for (char special : {'\\', '\n', '"', 'x'}) {
      for (size_t at = 0; at < std::max<size_t>(len, 1); ++at) {
        std::string text(len, 'a');
        if (len > 0) text[at] = special;
        const std::string name = fmt::format("g_{}_{}_{}", len, static_cast<int>(special), at);
        addSample(addFamily(labels, name, "", prometheus::MetricType::Gauge), 1, {{"v", text}});
        Families one;
        addSample(addFamily(one, "h", "x" + text, prometheus::MetricType::Gauge), 1);
        INFO(name);
        CHECK(ours(one) == "# HELP h x" + escaped(text, false) + "\n# TYPE h gauge\nh 1\n");
      }
    }
  }
  CHECK(ours(labels) == test::render(labels));
}
