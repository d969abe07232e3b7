// DNS names in groups. The merge is tested with a fake resolver (a map of
// answers), since no DNS server is reachable from the test machine; the
// real resolver is only asked about "localhost", which /etc/hosts answers.
#include <catch2/catch.hpp>

#include <map>

#include "firewall/resolver.h"
#include "policy_test_util.h"

using namespace rampart::fw;

namespace {

Cidr cidr(const char* t) { return *Cidr::parse(t); }

// Answers from a table; a name mapped to an error string fails. Counts calls.
struct FakeDns {
  std::map<std::string, std::expected<std::vector<Cidr>, std::string>> answers;
  std::map<std::string, int> calls;
  ResolveFn fn() {
    return [this](const std::string& name) -> std::expected<std::vector<Cidr>, std::string> {
      ++calls[name];
      auto it = answers.find(name);
      if (it == answers.end()) return std::unexpected("NXDOMAIN " + name);
      return it->second;
    };
  }
};

Policy twoGroups() {
  auto p = test::parseText(R"(firewall:
  groups:
    db: [db.example.com, 10.0.0.1]
    web: [web.example.com, db.example.com]
)");
  REQUIRE(p.errors() == "");
  return p.policy;
}

// Both names of twoGroups() resolve: db to 10.0.5.1, web to 10.0.6.1.
FakeDns answeringBoth() {
  FakeDns dns;
  dns.answers["db.example.com"] = std::vector{cidr("10.0.5.1")};
  dns.answers["web.example.com"] = std::vector{cidr("10.0.6.1")};
  return dns;
}

}  // namespace

TEST_CASE("resolve: answers fill each group's resolved, sorted and without duplicates") {
  Policy p = twoGroups();
  FakeDns dns;
  dns.answers["db.example.com"] = std::vector{cidr("10.0.5.2"), cidr("10.0.5.1"), cidr("10.0.5.2")};
  dns.answers["web.example.com"] = std::vector{cidr("2001:db8::80"), cidr("10.0.5.1")};
  ResolvedNames cache;
  auto out = resolveGroups(p, cache, dns.fn());
  CHECK(out.failures.empty());
  CHECK(out.names == 2);
  CHECK(out.changed);
  CHECK(dns.calls["db.example.com"] == 1);  // in two groups, looked up once
  CHECK(p.findGroup("db")->resolved == std::vector{cidr("10.0.5.1"), cidr("10.0.5.2")});
  CHECK(p.findGroup("web")->resolved ==
        std::vector{cidr("10.0.5.1"), cidr("10.0.5.2"), cidr("2001:db8::80")});
  CHECK(p.findGroup("db")->cidrs == std::vector{cidr("10.0.0.1")});  // literal part untouched

  // The same answers again change nothing.
  auto again = resolveGroups(p, cache, dns.fn());
  CHECK_FALSE(again.changed);
}

TEST_CASE("resolve: a failed name keeps its previous addresses and is reported, never emptied") {
  Policy p = twoGroups();
  FakeDns dns = answeringBoth();
  ResolvedNames cache;
  resolveGroups(p, cache, dns.fn());

  dns.answers["db.example.com"] = std::unexpected(std::string("SERVFAIL"));
  dns.answers["web.example.com"] = std::vector{cidr("10.0.6.2")};
  auto out = resolveGroups(p, cache, dns.fn());
  REQUIRE(out.failures.size() == 1);
  CHECK(out.failures[0].name == "db.example.com");
  CHECK(out.failures[0].group == "db");
  CHECK(out.failures[0].error == "SERVFAIL");
  CHECK(out.failures[0].kept == 1);
  CHECK(out.failures[0].loc.line == 3);
  CHECK(out.changed);  // web moved on
  CHECK(p.findGroup("db")->resolved == std::vector{cidr("10.0.5.1")});
  CHECK(p.findGroup("web")->resolved == std::vector{cidr("10.0.5.1"), cidr("10.0.6.2")});
}

TEST_CASE("resolve: an empty answer counts as a failure and keeps the previous addresses") {
  Policy p = twoGroups();
  FakeDns dns = answeringBoth();
  ResolvedNames cache;
  resolveGroups(p, cache, dns.fn());
  dns.answers["web.example.com"] = std::vector<Cidr>{};
  auto out = resolveGroups(p, cache, dns.fn());
  REQUIRE(out.failures.size() == 1);
  CHECK(out.failures[0].error == "no addresses");
  CHECK_FALSE(out.changed);
  CHECK(p.findGroup("web")->resolved == std::vector{cidr("10.0.5.1"), cidr("10.0.6.1")});
}

TEST_CASE("resolve: after a config reload, a failing name still gets its last good addresses") {
  Policy p = twoGroups();
  FakeDns dns = answeringBoth();
  ResolvedNames cache;
  resolveGroups(p, cache, dns.fn());

  Policy reloaded = twoGroups();  // fresh from the file: resolved is empty
  REQUIRE(reloaded.findGroup("db")->resolved.empty());
  dns.answers.clear();  // everything fails now
  auto out = resolveGroups(reloaded, cache, dns.fn());
  CHECK(out.failures.size() == 2);
  CHECK(reloaded.findGroup("db")->resolved == std::vector{cidr("10.0.5.1")});
  CHECK(reloaded.findGroup("web")->resolved == std::vector{cidr("10.0.5.1"), cidr("10.0.6.1")});
}

TEST_CASE("resolve: a name never resolved is reported with nothing kept") {
  Policy p = twoGroups();
  FakeDns dns;
  ResolvedNames cache;
  auto out = resolveGroups(p, cache, dns.fn());
  REQUIRE(out.failures.size() == 2);
  CHECK(out.failures[0].kept == 0);
  CHECK(out.failures[0].error == "NXDOMAIN db.example.com");
  CHECK_FALSE(out.changed);
  CHECK(p.findGroup("db")->resolved.empty());
}

TEST_CASE("resolve: names removed from the policy are forgotten") {
  Policy p = twoGroups();
  FakeDns dns = answeringBoth();
  ResolvedNames cache;
  resolveGroups(p, cache, dns.fn());
  CHECK(cache.size() == 2);
  auto smaller = test::parseText("firewall:\n  groups:\n    web: [web.example.com]\n");
  resolveGroups(smaller.policy, cache, dns.fn());
  CHECK(cache.size() == 1);
  CHECK(cache.contains("web.example.com"));
}

TEST_CASE("resolve: the system resolver answers localhost with a loopback address") {
  auto r = resolveHost("localhost");
  REQUIRE(r);
  REQUIRE_FALSE(r->empty());
  for (const Cidr& c : *r) {
    INFO(c.str());
    CHECK(c.isHost());
    CHECK((cidr("127.0.0.0/8").contains(c) || c == cidr("::1")));
  }
  CHECK(std::is_sorted(r->begin(), r->end()));
}

TEST_CASE("resolve: the system resolver refuses what is not a host name, and bounds answers") {
  CHECK(resolveHost("not a name").error() == "'not a name' is not a valid host name");
  CHECK_FALSE(resolveHost(""));
  auto capped = resolveHost("localhost", 0);
  REQUIRE_FALSE(capped);
  CHECK(capped.error() == "localhost resolves to more than 0 addresses");
}
