// How `fw status` and `fw bans` read for people.
#include <catch2/catch.hpp>

#include "agent/fw_format.h"

using namespace rampart::agent;
using nlohmann::json;

TEST_CASE("fw format: remaining time rounds up to the second") {
  CHECK(remaining(0, 1) == "in 1s");
  CHECK(remaining(0, 60'000) == "in 1m");
  CHECK(remaining(0, 3'723'000) == "in 1h2m3s");
  CHECK(remaining(5, 5) == "expired");
}

TEST_CASE("fw format: status is a numbered table with origin, expiry and counters") {
  json status = {{"rules",
                  {{{"number", 1}, {"name", "cli-443-tcp"}, {"action", "allow"}, {"chain", "input"},
                    {"ports", {"443/tcp"}}, {"sources", json::array()}, {"origin", "cli"}, {"expires_ms", 60'000},
                    {"limit", nullptr}, {"in_kernel", true}, {"packets", 12}, {"bytes", 2048}},
                   {{"number", 2}, {"name", "ssh"}, {"action", "allow"}, {"chain", "input"}, {"ports", {"22/tcp"}},
                    {"sources", {"10.0.0.0/8", "admins"}}, {"interfaces", {"eth1", "vlan*"}}, {"origin", "config"}, {"expires_ms", nullptr},
                    {"limit", "10/minute"}, {"in_kernel", false}, {"packets", 0}, {"bytes", 0}}}},
                 {"bans", 3}};
  CHECK(renderFwStatus(status, 0) ==
        "#  NAME         ACTION           PORTS                 FROM               ORIGIN  EXPIRES  PACKETS  BYTES\n"
        "1  cli-443-tcp  allow            443/tcp               any                cli     in 1m    12       2.0K\n"
        "2  ssh          allow 10/minute  22/tcp on eth1,vlan*  10.0.0.0/8,admins  config  -        -        -\n"
        "bans: 3\n");
}

TEST_CASE("fw format: bans list their expiry or never") {
  json bans = {{"now_ms", 0},
               {"bans", {{{"cidr", "192.0.2.1"}, {"expires_ms", 7'200'000}}, {{"cidr", "2001:db8::/32"}, {"expires_ms", nullptr}}}}};
  CHECK(renderFwBans(bans) ==
        "ADDRESS        EXPIRES\n"
        "192.0.2.1      in 2h\n"
        "2001:db8::/32  never\n"
        "2 banned\n");
}
