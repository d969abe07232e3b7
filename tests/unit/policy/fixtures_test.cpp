// The policy fixtures and the configurations shipped in packaging/: files a
// user starts from must parse without a single diagnostic.
#include <catch2/catch.hpp>

#include <cstdlib>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "policy_test_util.h"

using namespace rampart;
using namespace rampart::fw;

namespace {

std::string sourceDir() {
  const char* dir = std::getenv("RAMPART_SOURCE_DIR");
  REQUIRE(dir != nullptr);
  return dir;
}

std::string readFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  INFO(path);
  REQUIRE(in);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Parses a repository file; diagnostics name it by its repository path so
// golden output does not depend on where the checkout is.
test::Parsed parseRepoFile(const std::string& rel) {
  return test::parseText(readFile(sourceDir() + "/" + rel), rel);
}

// Compares with tests/golden/policy/<name>, or writes it when
// RAMPART_UPDATE_GOLDEN=1.
void checkGolden(const std::string& name, const std::string& actual) {
  const std::string path = sourceDir() + "/tests/golden/policy/" + name;
  const char* update = std::getenv("RAMPART_UPDATE_GOLDEN");
  if (update != nullptr && std::string_view(update) == "1") {
    std::ofstream(path, std::ios::binary | std::ios::trunc) << actual;
    return;
  }
  CHECK(actual == readFile(path));
}

}  // namespace

TEST_CASE("policy fixtures: the full fixture parses cleanly into every kind of value") {
  auto p = parseRepoFile("tests/fixtures/config/policy_full.yaml");
  REQUIRE(p.errors() == "");
  const Policy& pol = p.policy;
  CHECK(pol.forward_policy == ChainPolicy::Accept);
  CHECK(pol.output_policy == ChainPolicy::Drop);
  CHECK(pol.log_dropped == Rate{2, RateUnit::Minute});
  CHECK(pol.builtins == Builtins{true, true, false, false, true});
  CHECK(pol.groups.size() == 4);
  CHECK(pol.findGroup("partners")->dns_names == std::vector<std::string>{"partner-gw.example.com"});
  REQUIRE(pol.rules.size() == 7);
  CHECK(pol.rules[2].ports.at(0).str() == "53");
  CHECK(pol.rules[4].from_groups == std::vector<std::string>{"partners", "monitoring"});
  CHECK(pol.rules[4].from.at(0).str() == "192.0.2.1");
  CHECK(pol.rules[4].limit == Rate{100, RateUnit::Hour});
  CHECK(pol.rules[5].hook == Hook::Output);
  CHECK(pol.rules[6].action == Action::Deny);
  CHECK(pol.rules[6].ports.empty());
  CHECK(pol.rules[6].loc == SourceLoc{"tests/fixtures/config/policy_full.yaml", 37, 7});
}

TEST_CASE("policy fixtures: the file full of mistakes reports every one, in file order") {
  auto p = parseRepoFile("tests/fixtures/config/policy_errors.yaml");
  CHECK(p.diags.items().size() >= 20);
  checkGolden("policy_errors.txt", p.errors());
}

TEST_CASE("policy fixtures: the shipped default configuration and role examples parse cleanly") {
  for (const char* rel : {"packaging/rampart.yaml", "packaging/examples/web.yaml",
                          "packaging/examples/app.yaml", "packaging/examples/db.yaml",
                          "packaging/examples/lb.yaml"}) {
    INFO(rel);
    std::ifstream probe(sourceDir() + "/" + rel);
    if (!probe) continue;  // packaging not in this checkout
    auto p = parseRepoFile(rel);
    CHECK(p.errors() == "");
    CHECK_FALSE(p.policy.rules.empty());
  }
}

TEST_CASE("policy fixtures: the man page lists every service with its ports") {
  const std::string page = readFile(sourceDir() + "/packaging/rampart.1");
  for (std::string_view name : rampart::fw::serviceNames()) {
    const auto specs = rampart::fw::servicePorts(name);
    REQUIRE(specs);
    std::string ports;
    for (const auto& spec : *specs) ports += (ports.empty() ? "" : ", ") + spec.str();
    INFO(name << ": " << ports);
    CHECK(page.find(fmt::format(".B {}\n{}\n", name, ports)) != std::string::npos);
  }
}
