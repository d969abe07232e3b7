// Duration and Rate (common/units.h): the values `--for`, `limit:` and
// `log_dropped:` are made of.
#include <catch2/catch.hpp>

#include "common/units.h"

using rampart::Duration;
using rampart::Rate;
using rampart::RateUnit;
using namespace std::chrono_literals;

TEST_CASE("duration: each unit and combinations parse to the exact milliseconds") {
  CHECK(Duration::parse("500ms")->value == 500ms);
  CHECK(Duration::parse("30s")->value == 30s);
  CHECK(Duration::parse("10m")->value == 10min);
  CHECK(Duration::parse("2h")->value == 2h);
  CHECK(Duration::parse("7d")->value == 7 * 24h);
  CHECK(Duration::parse("1w")->value == 7 * 24h);
  CHECK(Duration::parse("1h30m")->value == 90min);
  CHECK(Duration::parse("1m500ms")->value == 60500ms);
}

TEST_CASE("duration: str is the shortest exact form and parses back to the same value") {
  CHECK(Duration::parse("90s")->str() == "1m30s");
  CHECK(Duration::parse("1w")->str() == "7d");
  CHECK(Duration::parse("3600s")->str() == "1h");
  CHECK(Duration::parse("1500ms")->str() == "1s500ms");
  for (const char* text : {"500ms", "30s", "10m", "2h", "7d", "1h30m", "1d1h1m1s1ms", "36500d"}) {
    auto d = Duration::parse(text);
    REQUIRE(d);
    auto again = Duration::parse(d->str());
    REQUIRE(again);
    CHECK(*again == *d);
  }
}

TEST_CASE("duration: zero, negative, unitless, unknown units and junk are refused") {
  for (const char* text : {"", "0s", "0ms", "-5s", "+5s", "5", "s", "10 parsecs", "10parsecs",
                           "1.5h", " 5s", "5s ", "5S", "5sec", "1h-30m", "ms5"}) {
    INFO(text);
    CHECK_FALSE(Duration::parse(text));
  }
  CHECK(Duration::parse("10 parsecs").error() ==
        "'10 parsecs' is not a duration (expected a number and a unit: 500ms, 30s, 10m, 2h, 7d, "
        "1h30m)");
  CHECK(Duration::parse("0s").error() == "duration '0s' must be positive");
}

TEST_CASE("duration: more than 100 years or an overflowing count is refused, not wrapped") {
  CHECK(Duration::parse("36500d"));
  CHECK(Duration::parse("36501d").error() == "duration '36501d' is longer than 100 years");
  CHECK_FALSE(Duration::parse("99999999999999999999s"));  // above uint64
  CHECK_FALSE(Duration::parse("18446744073709551615ms"));
  CHECK_FALSE(Duration::parse("36500d36500d"));  // each part fits, the sum does not
  CHECK_FALSE(Duration::parse(std::string(33, '1') + "s"));  // longer than any valid text
}

TEST_CASE("rate: every unit and its short forms parse; str uses the long name") {
  CHECK(*Rate::parse("5/second") == Rate{5, RateUnit::Second});
  CHECK(*Rate::parse("10/minute") == Rate{10, RateUnit::Minute});
  CHECK(*Rate::parse("100/hour") == Rate{100, RateUnit::Hour});
  CHECK(*Rate::parse("1000/day") == Rate{1000, RateUnit::Day});
  CHECK(*Rate::parse("3/s") == Rate{3, RateUnit::Second});
  CHECK(*Rate::parse("3/min") == Rate{3, RateUnit::Minute});
  CHECK(Rate::parse("3/m")->str() == "3/minute");
  CHECK(Rate::parse("10/minute")->period() == std::chrono::seconds(60));
  CHECK(Rate::parse("1/day")->period() == std::chrono::seconds(86400));
  for (const char* text : {"5/second", "10/minute", "100/hour", "1000/day", "2147483647/second"}) {
    auto r = Rate::parse(text);
    REQUIRE(r);
    CHECK(r->str() == text);
    CHECK(*Rate::parse(r->str()) == *r);
  }
}

TEST_CASE("rate: zero, negative, overflow, missing parts and unknown units are refused") {
  for (const char* text : {"", "/", "5", "5/", "/second", "0/second", "-1/second", "+1/second",
                           "2147483648/second", "99999999999999999999999/second", "5/parsec",
                           "5 /second", "5/ second", "5/Second", "1.5/second", "5/second/x"}) {
    INFO(text);
    CHECK_FALSE(Rate::parse(text));
  }
  CHECK(Rate::parse("0/second").error() == "rate '0/second': count must be 1..2147483647");
  CHECK(Rate::parse("5/parsec").error() ==
        "'5/parsec' is not a rate (expected COUNT/UNIT with UNIT second, minute, hour or day, "
        "e.g. 10/minute)");
}
