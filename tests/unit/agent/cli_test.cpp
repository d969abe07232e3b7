#include <fstream>

#include <catch2/catch.hpp>

#include "tests/unit/agent/process.h"

using namespace rampart::test;

TEST_CASE("cli: status with no agent exits 3 and says how to start one") {
  TempDir dir;
  auto r = run({binary(), "status", "--socket", dir.file("none.sock")});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains("rampart agent is not running (no socket at " +
                                    dir.file("none.sock") + ")"));
  CHECK_THAT(r.err, Catch::Contains("systemctl start rampart"));
}

TEST_CASE("cli: the socket comes from RAMPART_SOCKET when --socket is not given") {
  TempDir dir;
  auto r = run({"env", "RAMPART_SOCKET=" + dir.file("env.sock"), binary(), "status", "--json"});
  CHECK(r.exit_code == 3);
  CHECK_THAT(r.err, Catch::Contains(dir.file("env.sock")));
}

TEST_CASE("cli: usage errors exit 2") {
  CHECK(run({binary(), "--no-such-flag"}).exit_code == 2);
  CHECK(run({binary(), "status", "--bogus"}).exit_code == 2);
  CHECK(run({binary(), "no-such-verb"}).exit_code == 2);
  CHECK(run({binary()}).exit_code == 2);
  CHECK(run({binary(), "--help"}).exit_code == 0);
}

TEST_CASE("cli: version prints the version") {
  auto r = run({binary(), "version"});
  CHECK(r.exit_code == 0);
  CHECK_THAT(r.out, Catch::StartsWith("rampart "));
}

TEST_CASE("cli: check prints every error of a bad file and exits 1") {
  const std::string file = sourceDir() + "/tests/fixtures/config-agent/three-mistakes.yaml";
  auto r = run({binary(), "check", "--config", file});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains(file + ":3:3: "));
  CHECK_THAT(r.err, Catch::Contains(file + ":4:9: "));
  CHECK_THAT(r.err, Catch::Contains(file + ":7:18: "));
}

TEST_CASE("cli: check on a good file says so and exits 0; --config may come first") {
  const std::string file = sourceDir() + "/tests/fixtures/config-agent/full.yaml";
  auto r = run({binary(), "--config", file, "check"});
  CHECK(r.exit_code == 0);
  CHECK(r.out == file + ": configuration is valid\n");
}

TEST_CASE("cli: check on a missing file given with --config exits 1 naming it") {
  TempDir dir;
  auto r = run({binary(), "check", "--config", dir.file("none.yaml")});
  CHECK(r.exit_code == 1);
  CHECK_THAT(r.err, Catch::Contains(dir.file("none.yaml")));
}
