// `rampart fw` argument checking: every bad input is one line naming the
// argument, exit 2, and nothing is sent (no agent is running here, which
// would be exit 3).
#include <fstream>

#include <catch2/catch.hpp>

#include "tests/unit/agent/process.h"

using namespace rampart::test;

namespace {

struct Fw {
  TempDir dir;
  RunResult operator()(std::vector<std::string> args) {
    std::vector<std::string> argv{binary(), "--socket", dir.file("none.sock"), "fw"};
    argv.insert(argv.end(), args.begin(), args.end());
    return run(argv);
  }
};

void usageError(const RunResult& r, const std::string& names) {
  INFO(r.err);
  CHECK(r.exit_code == 2);
  CHECK_THAT(r.err, Catch::Contains(names));
  // One line.
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
  CHECK(r.out.empty());
}

}  // namespace

TEST_CASE("fw cli: bad ports are usage errors naming PORT") {
  Fw fw;
  usageError(fw({"allow", "0"}), "PORT '0'");
  usageError(fw({"allow", "70000"}), "PORT '70000'");
  usageError(fw({"allow", "443/tcpp"}), "PORT '443/tcpp'");
  // The value is named once, not again by the parser's own message.
  auto twice = fw({"allow", "443/tcpp"});
  CHECK(twice.err.find("'443/tcpp': '443/tcpp'") == std::string::npos);
  usageError(fw({"deny", "anything"}), "PORT 'anything'");
  usageError(fw({"allow", "any"}), "PORT 'any'");  // allow needs a port
}

TEST_CASE("fw cli: bad sources, names, durations and rates are usage errors naming the option") {
  Fw fw;
  usageError(fw({"allow", "443/tcp", "--from", "10.0.1.5/24"}), "--from '10.0.1.5/24'");
  usageError(fw({"allow", "443/tcp", "--from", "1.2.3"}), "--from '1.2.3'");
  usageError(fw({"allow", "443/tcp", "--for", "10 parsecs"}), "--for '10 parsecs'");
  usageError(fw({"allow", "443/tcp", "--limit", "10/fortnight"}), "--limit '10/fortnight'");
  usageError(fw({"allow", "443/tcp", "--name", "has space"}), "--name 'has space'");
  usageError(fw({"allow", "443/tcp", "--name", std::string(65, 'a')}), "--name");
  usageError(fw({"allow", "443/tcp", "--from", std::string(300, 'a')}), "--from: longer than 256");
  usageError(fw({"apply", "--confirm", "soon"}), "--confirm 'soon'");
}

TEST_CASE("fw cli: bad ban addresses are usage errors, also in a file, with the line number") {
  Fw fw;
  usageError(fw({"ban", "10.0.0.1/8"}), "ADDR '10.0.0.1/8'");
  usageError(fw({"ban", "::ffff:1.2.3.4"}), "ADDR '::ffff:1.2.3.4'");
  usageError(fw({"ban"}), "ADDR: expected addresses or --file");
  usageError(fw({"ban", "--file", fw.dir.file("missing.txt")}), "--file");
  {
    std::ofstream out(fw.dir.file("bans.txt"));
    out << "192.0.2.1\n# a comment\n\n192.0.2.300\n";
  }
  usageError(fw({"ban", "--file", fw.dir.file("bans.txt")}), "line 4: '192.0.2.300'");
  usageError(fw({"ban", "192.0.2.1", "--for", "10 parsecs"}), "--for '10 parsecs'");
  usageError(fw({"unban", "10.0.0.1/8"}), "ADDR '10.0.0.1/8'");
}

TEST_CASE("fw cli: missing arguments and unknown verbs are usage errors") {
  Fw fw;
  CHECK(fw({"delete"}).exit_code == 2);
  CHECK(fw({"allow"}).exit_code == 2);
  CHECK(fw({"frobnicate"}).exit_code == 2);
  CHECK(fw({}).exit_code == 2);
}

TEST_CASE("fw cli: good arguments with no agent running exit 3") {
  Fw fw;
  for (auto args : std::vector<std::vector<std::string>>{{"status"},
                                                         {"allow", "443/tcp", "--from", "10.0.1.0/24", "--for", "1h"},
                                                         {"deny", "any", "--from", "app_servers"},
                                                         {"delete", "3"},
                                                         {"ban", "192.0.2.1", "2001:db8::/32"},
                                                         {"bans", "--json"},
                                                         {"plan"},
                                                         {"apply", "--confirm", "60s"},
                                                         {"confirm"},
                                                         {"rollback"}}) {
    auto r = fw(args);
    INFO(args[0] << ": " << r.err);
    CHECK(r.exit_code == 3);
    CHECK_THAT(r.err, Catch::Contains("rampart agent is not running"));
  }
}
