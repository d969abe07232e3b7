// The CLI's state store: round trip, atomic replacement, and a damaged file
// set aside rather than emptied.
#include <sys/stat.h>

#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "agent/fw_state.h"
#include "tests/unit/agent/process.h"

using namespace rampart;
using namespace rampart::agent;
using namespace std::chrono_literals;
using rampart::test::TempDir;

namespace {

fw::Cidr cidr(const char* s) { return *fw::Cidr::parse(s); }

WallTime at(int64_t ms) { return WallTime(std::chrono::milliseconds(ms)); }

FwState sample() {
  FwState s;
  fw::Rule r;
  r.name = "cli-443-tcp";
  r.origin = fw::Origin::Cli;
  r.ports = {*fw::PortSpec::parse("443/tcp"), *fw::PortSpec::parse("8000-8100/udp"), *fw::PortSpec::parse("53")};
  r.from = {cidr("10.0.1.0/24"), cidr("2001:db8::1")};
  r.from_groups = {"app_servers"};
  r.interfaces = {"eth1", "vlan*"};
  r.to = {cidr("192.0.2.10"), cidr("2001:db8::/64")};
  r.limit = *Rate::parse("10/minute");
  r.expires = at(1'900'000'000'123);
  r.loc = SourceLoc{"<cli>", 0, 0};
  s.rules.push_back(CliRule{r, at(1'800'000'000'000)});
  fw::Rule d;
  d.name = "cli-deny-any";
  d.action = fw::Action::Deny;
  d.origin = fw::Origin::Cli;
  s.rules.push_back(CliRule{d, at(1'800'000'000'001)});
  fw::Rule j = d;
  j.name = "cli-reject-8080-tcp";
  j.action = fw::Action::Reject;
  j.ports = {*fw::PortSpec::parse("8080/tcp")};
  s.rules.push_back(CliRule{j, at(1'800'000'000'002)});
  s.bans = {fw::Ban{cidr("192.0.2.7"), at(1'900'000'000'000)}, fw::Ban{cidr("2001:db8:9::/48"), std::nullopt}};
  fw::Policy prev = fw::defaultPolicy(9643);
  prev.groups.push_back(fw::Group{"g", {cidr("10.9.0.0/16")}, {"db.example.com"}, {cidr("10.9.1.1")}, SourceLoc{"f", 3, 4}});
  prev.log_dropped.reset();
  prev.builtins.established = false;
  s.pending = PendingConfirm{prev, at(1'850'000'000'000)};
  s.rollback = RollbackInForce{prev, fw::defaultPolicy(1), at(1'850'000'000'500)};
  return s;
}

void writeFile(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::trunc | std::ios::binary);
  out << text;
}

std::vector<std::string> filesIn(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : std::filesystem::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

}  // namespace

TEST_CASE("fw state: rules, bans, a pending confirm and a rollback survive a round trip") {
  FwState s = sample();
  auto back = parseState(serializeState(s));
  REQUIRE(back.has_value());
  CHECK(*back == s);
}

TEST_CASE("fw state: a policy kept by a release without the dhcp and ping builtins and forward_interfaces reads their defaults") {
  FwState s = sample();
  s.pending->previous.builtins.dhcp = false;
  s.pending->previous.builtins.ping = false;
  s.pending->previous.forward_interfaces = {"lxcbr0"};
  std::string text = serializeState(s);
  auto back = parseState(text);
  REQUIRE(back.has_value());
  CHECK_FALSE(back->pending->previous.builtins.dhcp);
  CHECK_FALSE(back->pending->previous.builtins.ping);
  CHECK(back->pending->previous.forward_interfaces == std::vector<std::string>{"lxcbr0"});
  // The same file without the key, as older releases wrote it.
  for (const char* key : {"\"dhcp\":", "\"ping\":"}) {
    size_t removed = 0;
    for (size_t at; (at = text.find(key)) != std::string::npos; ++removed) {
      size_t end = text.find_first_of(",}", at);
      if (text[end] == ',') ++end;  // "dhcp":true, and the comma after it
      else if (text[at - 1] == ',') --at;
      text.erase(at, end - at);
    }
    REQUIRE(removed == 3);  // pending, and rollback's two policies
  }
  size_t removed = 0;
  removed = 0;
  for (size_t at; (at = text.find("\"forward_interfaces\":")) != std::string::npos; ++removed) {
    size_t end = text.find(']', at) + 1;
    if (text[end] == ',') ++end;
    text.erase(at, end - at);
  }
  REQUIRE(removed == 3);
  auto old = parseState(text);
  REQUIRE(old.has_value());
  CHECK(old->pending->previous.builtins.dhcp);
  CHECK(old->pending->previous.builtins.ping);
  CHECK(old->pending->previous.forward_interfaces == fw::defaultForwardInterfaces());
  CHECK(old->rollback->policy.builtins.dhcp);
}

TEST_CASE("fw state: save then load gives the same state, and no temp file is left") {
  TempDir dir;
  const std::string path = dir.file("firewall.json");
  REQUIRE(saveState(path, sample()).has_value());
  auto loaded = loadState(path, at(0));
  REQUIRE(loaded.has_value());
  CHECK_FALSE(loaded->set_aside.has_value());
  CHECK(loaded->state == sample());
  CHECK(filesIn(dir.path()) == std::vector<std::string>{"firewall.json"});
}

TEST_CASE("fw state: a missing file is an empty state") {
  TempDir dir;
  auto loaded = loadState(dir.file("firewall.json"), at(0));
  REQUIRE(loaded.has_value());
  CHECK(loaded->state == FwState{});
  CHECK_FALSE(loaded->set_aside.has_value());
}

TEST_CASE("fw state: a truncated file is set aside with its path named, not emptied") {
  TempDir dir;
  const std::string path = dir.file("firewall.json");
  const std::string full = serializeState(sample());
  writeFile(path, full.substr(0, full.size() / 2));
  const WallTime now = at(1'764'000'000'000);  // 2025-11-24T16:00:00Z
  auto loaded = loadState(path, now);
  REQUIRE(loaded.has_value());
  CHECK(loaded->state == FwState{});
  REQUIRE(loaded->set_aside.has_value());
  CHECK_THAT(*loaded->set_aside, Catch::Contains(path + ": not valid JSON"));
  const std::string aside = path + ".corrupt-20251124T160000Z";
  CHECK_THAT(*loaded->set_aside, Catch::Contains(aside));
  CHECK(filesIn(dir.path()) == std::vector<std::string>{"firewall.json.corrupt-20251124T160000Z"});
  std::ifstream in(aside, std::ios::binary);
  std::string kept((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  CHECK(kept == full.substr(0, full.size() / 2));  // the operator's data is still there
}

TEST_CASE("fw state: valid JSON with a bad value is set aside, naming what is wrong") {
  TempDir dir;
  const std::string path = dir.file("firewall.json");
  writeFile(path, R"({"version": 1, "rules": [], "bans": [{"cidr": "10.0.0.1/8"}]})");
  auto loaded = loadState(path, at(0));
  REQUIRE(loaded.has_value());
  REQUIRE(loaded->set_aside.has_value());
  CHECK_THAT(*loaded->set_aside, Catch::Contains("10.0.0.1/8"));
  CHECK_FALSE(std::filesystem::exists(path));
}

TEST_CASE("fw state: an unknown format version is not read as empty") {
  auto r = parseState(R"({"version": 2, "rules": [], "bans": []})");
  REQUIRE_FALSE(r.has_value());
  CHECK_THAT(r.error(), Catch::Contains("version"));
}

TEST_CASE("fw state: an unreadable file is an error and stays where it is") {
  TempDir dir;
  const std::string path = dir.file("firewall.json");
  std::filesystem::create_directory(path);  // open() works, read() fails with EISDIR
  auto loaded = loadState(path, at(0));
  // Either read fails (an error, file left alone) or it is set aside; never silently empty.
  if (loaded.has_value()) {
    CHECK(loaded->set_aside.has_value());
  } else {
    CHECK_THAT(loaded.error().message, Catch::Contains(path));
    CHECK(std::filesystem::exists(path));
  }
}

TEST_CASE("fw state: prune drops what expired and keeps the rest") {
  FwState s = sample();
  s.bans.push_back(fw::Ban{cidr("198.51.100.1"), at(1000)});
  CHECK(s.prune(at(2000)));
  CHECK(s.bans.size() == 2);
  CHECK(s.rules.size() == 3);
  CHECK(s.prune(at(1'950'000'000'000)));
  CHECK(s.rules.size() == 2);  // the temporary rule ended
  CHECK(s.bans.size() == 1);   // the permanent ban stays
  CHECK_FALSE(s.prune(at(1'950'000'000'000)));
}

TEST_CASE("fw state: 100,000 bans serialise and parse back") {
  FwState s;
  for (uint32_t i = 0; i < 100'000; ++i) {
    fw::Cidr c;
    c.addr[0] = 10;
    c.addr[1] = static_cast<uint8_t>(i >> 16);
    c.addr[2] = static_cast<uint8_t>(i >> 8);
    c.addr[3] = static_cast<uint8_t>(i);
    s.bans.push_back(fw::Ban{c, at(1'900'000'000'000 + i)});
  }
  auto back = parseState(serializeState(s));
  REQUIRE(back.has_value());
  CHECK(back->bans == s.bans);
}

// The ban journal: a change of bans alone is a line appended beside the file.
namespace {

std::string readAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

std::vector<BanChange> someChanges() {
  return {BanChange{cidr("198.51.100.1"), false, at(1'900'000'000'042)},  // new
          BanChange{cidr("192.0.2.7"), false, std::nullopt},              // was temporary, now permanent
          BanChange{cidr("2001:db8:9::/48"), true, std::nullopt},         // lifted
          BanChange{cidr("203.0.113.0/24"), false, at(1'900'000'000'000)},
          BanChange{cidr("203.0.113.0/24"), true, std::nullopt},  // banned and lifted again
          BanChange{cidr("2001:db8:9::/48"), false, at(5)}};      // back, at the end
}

// sample() with someChanges() applied by hand.
std::vector<fw::Ban> changedBans() {
  return {fw::Ban{cidr("192.0.2.7"), std::nullopt}, fw::Ban{cidr("198.51.100.1"), at(1'900'000'000'042)},
          fw::Ban{cidr("2001:db8:9::/48"), at(5)}};
}

}  // namespace

TEST_CASE("ban journal: lines as the operator reads them") {
  CHECK(serializeBanChanges(someChanges()) ==
        "ban 198.51.100.1 1900000000042\n"
        "ban 192.0.2.7 never\n"
        "unban 2001:db8:9::/48\n"
        "ban 203.0.113.0/24 1900000000000\n"
        "unban 203.0.113.0/24\n"
        "ban 2001:db8:9::/48 5\n");
}

TEST_CASE("ban journal: appended changes are in the state loaded, in order; a whole save takes them in and removes it") {
  TempDir dir;
  const std::string path = dir.file("firewall.json");
  REQUIRE(saveState(path, sample()));
  const auto changes = someChanges();
  REQUIRE(appendBanJournal(path, std::span(changes).first(3)));
  REQUIRE(appendBanJournal(path, std::span(changes).subspan(3)));
  CHECK(readAll(path + ".bans") == serializeBanChanges(changes));
  auto loaded = loadState(path, at(0));
  REQUIRE(loaded.has_value());
  CHECK_FALSE(loaded->set_aside.has_value());
  CHECK(loaded->journal_used);
  FwState expected = sample();
  expected.bans = changedBans();
  CHECK(loaded->state == expected);

  REQUIRE(saveState(path, loaded->state));
  CHECK(filesIn(dir.path()) == std::vector<std::string>{"firewall.json"});
  auto again = loadState(path, at(0));
  REQUIRE(again.has_value());
  CHECK_FALSE(again->journal_used);
  CHECK(again->state == expected);
}

TEST_CASE("ban journal: without a state file it applies to an empty state") {
  TempDir dir;
  const std::string path = dir.file("firewall.json");
  const std::vector<BanChange> one{BanChange{cidr("10.0.0.0/8"), false, std::nullopt}};
  REQUIRE(appendBanJournal(path, one));
  auto loaded = loadState(path, at(0));
  REQUIRE(loaded.has_value());
  CHECK(loaded->state.bans == std::vector<fw::Ban>{fw::Ban{cidr("10.0.0.0/8"), std::nullopt}});
}

TEST_CASE("ban journal: replaying lines the file already holds changes nothing (a crash inside saveState)") {
  TempDir dir;
  const std::string path = dir.file("firewall.json");
  FwState after = sample();
  after.bans = changedBans();
  REQUIRE(saveState(path, after));
  REQUIRE(appendBanJournal(path, someChanges()));  // as if the removal never happened
  auto loaded = loadState(path, at(0));
  REQUIRE(loaded.has_value());
  CHECK(loaded->state == after);
}

TEST_CASE("ban journal: a last line cut short by a crash is ignored") {
  TempDir dir;
  const std::string path = dir.file("firewall.json");
  REQUIRE(saveState(path, sample()));
  const std::vector<BanChange> one{BanChange{cidr("198.51.100.1"), false, std::nullopt}};
  REQUIRE(appendBanJournal(path, one));
  {
    std::ofstream out(path + ".bans", std::ios::app | std::ios::binary);
    out << "ban 198.51.100.2 19000";  // no newline: the write did not finish
  }
  auto loaded = loadState(path, at(0));
  REQUIRE(loaded.has_value());
  CHECK_FALSE(loaded->set_aside.has_value());
  CHECK(loaded->journal_used);
  REQUIRE(loaded->state.bans.size() == 3);
  CHECK(loaded->state.bans.back() == fw::Ban{cidr("198.51.100.1"), std::nullopt});
}

TEST_CASE("ban journal: a damaged line sets the journal aside, naming the line; the file's state is kept") {
  TempDir dir;
  const std::string path = dir.file("firewall.json");
  REQUIRE(saveState(path, sample()));
  writeFile(path + ".bans", "ban 198.51.100.1 never\nban 10.0.0.1/8 never\n");
  const WallTime now = at(1'764'000'000'000);
  auto loaded = loadState(path, now);
  REQUIRE(loaded.has_value());
  CHECK(loaded->state == sample());
  REQUIRE(loaded->set_aside.has_value());
  CHECK_THAT(*loaded->set_aside, Catch::Contains(path + ".bans: line 2: "));
  CHECK_THAT(*loaded->set_aside, Catch::Contains("10.0.0.1/8"));
  CHECK(filesIn(dir.path()) == std::vector<std::string>{"firewall.json", "firewall.json.bans.corrupt-20251124T160000Z"});

  for (const char* bad : {"ban 198.51.100.1\n", "ban 198.51.100.1 soon\n", "unban 198.51.100.1 never\n",
                          "block 198.51.100.1\n", "ban 198.51.100.1 12 13\n"}) {
    std::vector<fw::Ban> bans;
    auto r = replayBanJournal(bad, bans);
    INFO(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK_THAT(r.error(), Catch::StartsWith("line 1: "));
  }
}

TEST_CASE("ban journal: a state file set aside takes its journal with it") {
  TempDir dir;
  const std::string path = dir.file("firewall.json");
  writeFile(path, "{\"version\": 1, \"rul");
  const std::vector<BanChange> one{BanChange{cidr("198.51.100.1"), false, std::nullopt}};
  REQUIRE(appendBanJournal(path, one));
  auto loaded = loadState(path, at(1'764'000'000'000));
  REQUIRE(loaded.has_value());
  CHECK(loaded->state == FwState{});
  REQUIRE(loaded->set_aside.has_value());
  CHECK_THAT(*loaded->set_aside, Catch::Contains("ban journal too"));
  CHECK(filesIn(dir.path()) == std::vector<std::string>{"firewall.json.bans.corrupt-20251124T160000Z",
                                                        "firewall.json.corrupt-20251124T160000Z"});
}
