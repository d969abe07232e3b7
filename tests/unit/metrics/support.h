// Shared helpers of the metrics unit tests: fixture paths, golden files,
// rendering families as exposition text.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <catch2/catch.hpp>
#include <prometheus/text_serializer.h>

#include "metrics/collector.h"

namespace rampart::metrics::test {

inline std::string sourceDir() {
  if (const char* dir = std::getenv("RAMPART_SOURCE_DIR")) return dir;
  // Run by hand: this file is tests/unit/metrics/support.h.
  return std::filesystem::path(__FILE__).parent_path().parent_path().parent_path().parent_path();
}

inline std::string procFixture(const std::string& name) {
  return sourceDir() + "/tests/fixtures/proc/" + name;
}

inline std::string readText(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Compares `actual` with tests/golden/metrics/<name>.prom; with
// RAMPART_UPDATE_GOLDEN=1 writes the file instead.
inline void checkGolden(const std::string& name, const std::string& actual) {
  std::string path = sourceDir() + "/tests/golden/metrics/" + name + ".prom";
  const char* update = std::getenv("RAMPART_UPDATE_GOLDEN");
  if (update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
    return;
  }
  INFO("golden file " << path << " (RAMPART_UPDATE_GOLDEN=1 regenerates it)");
  REQUIRE(std::filesystem::exists(path));
  CHECK(actual == readText(path));
}

inline std::string render(const Families& families) {
  return prometheus::TextSerializer().Serialize(families);
}

// Collects once; the collector must succeed.
inline Families collectOk(const Collector& collector) {
  Families out;
  auto result = collector.collectInto(out);
  INFO(collector.name() << ": " << (result ? std::string("ok") : result.error().message));
  REQUIRE(result.has_value());
  return out;
}

inline const prometheus::MetricFamily* findFamily(const Families& families,
                                                  const std::string& name) {
  for (const auto& f : families)
    if (f.name == name) return &f;
  return nullptr;
}

}  // namespace rampart::metrics::test
