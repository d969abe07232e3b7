#include <chrono>
#include <fstream>
#include <string>

#include <catch2/catch.hpp>
#include <fmt/format.h>

#include "agent/config.h"
#include "tests/unit/agent/process.h"

using rampart::agent::Config;
using rampart::agent::loadConfig;
using rampart::agent::parseConfig;

namespace {

std::string fixture(const std::string& name) {
  return rampart::test::sourceDir() + "/tests/fixtures/config-agent/" + name;
}

// The one error of `text`, as "file:line:col: message".
std::string onlyError(const std::string& text) {
  auto cfg = parseConfig(text, "t.yaml");
  REQUIRE_FALSE(cfg.has_value());
  INFO(cfg.error().str());
  REQUIRE(cfg.error().items().size() == 1);
  return cfg.error().items()[0].str();
}

}  // namespace

TEST_CASE("config: an empty file is the embedded default") {
  auto cfg = parseConfig("", "t.yaml");
  REQUIRE(cfg.has_value());
  const Config def = rampart::agent::defaultConfig();
  CHECK(cfg->listen == def.listen);
  CHECK(cfg->listen.str() == "0.0.0.0:9643");
  CHECK(cfg->state_dir == "/var/lib/rampart");
  CHECK(cfg->control_socket == "/run/rampart/control.sock");
  CHECK(cfg->firewall == rampart::fw::defaultPolicy(9643));
  CHECK(cfg->web.tls.cert_file == "/var/lib/rampart/tls/cert.pem");
  CHECK(cfg->node.name == def.node.name);
  CHECK_FALSE(cfg->node.name.empty());
  CHECK(cfg->node.role.empty());
}

TEST_CASE("config: every key of a full file becomes its typed value") {
  auto cfg = loadConfig(fixture("full.yaml"));
  INFO((cfg ? std::string() : cfg.error().str()));
  REQUIRE(cfg.has_value());
  CHECK(cfg->path == fixture("full.yaml"));
  CHECK(cfg->node.name == "web-01");
  CHECK(cfg->node.role == "web");
  CHECK(cfg->listen.host == "::");
  CHECK(cfg->listen.port == 9443);
  CHECK(cfg->listen.str() == "[::]:9443");
  const auto& t = cfg->web.tls;
  CHECK(t.cert_file == "/etc/rampart/tls/cert.pem");
  CHECK(t.key_file == "/etc/rampart/tls/key.pem");
  CHECK(t.client_auth == rampart::tls::ClientAuth::RequireAndVerifyClientCert);
  CHECK(t.client_ca_file == "/etc/rampart/fleet-ca.pem");
  CHECK(t.min_version == rampart::tls::Version::TLS12);
  CHECK(t.max_version == rampart::tls::Version::TLS13);
  CHECK(t.cipher_suites == std::vector<std::string>{"TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"});
  CHECK_FALSE(t.prefer_server_cipher_suites);
  REQUIRE(cfg->web.basic_auth_users.size() == 1);
  CHECK(cfg->web.basic_auth_users.contains("prometheus"));
  CHECK(cfg->watch_certificates == std::vector<std::string>{"/etc/ssl/certs/www.example.com.pem"});
  CHECK(cfg->disabled_collectors == std::set<std::string>{"conntrack", "filesystem"});
  CHECK(cfg->state_dir == "/var/lib/rampart-test");
  CHECK(cfg->control_socket == "/run/rampart-test/control.sock");
  REQUIRE(cfg->firewall.rules.size() == 1);
  CHECK(cfg->firewall.rules[0].name == "ssh");
}

TEST_CASE("config: the generated certificate follows state_dir unless named") {
  auto cfg = parseConfig("state_dir: /tmp/demo/state\n", "t.yaml");
  REQUIRE(cfg.has_value());
  CHECK(cfg->web.tls.cert_file == "/tmp/demo/state/tls/cert.pem");
  CHECK(cfg->web.tls.key_file == "/tmp/demo/state/tls/key.pem");
}

TEST_CASE("config: the default firewall policy allows the configured port") {
  auto cfg = parseConfig("listen: 127.0.0.1:9700\n", "t.yaml");
  REQUIRE(cfg.has_value());
  CHECK(cfg->firewall == rampart::fw::defaultPolicy(9700));
}

TEST_CASE("config: each bad value is reported at its line and column with what was expected") {
  struct Case {
    const char* text;
    const char* error;
  };
  const Case cases[] = {
      {"nodes: {}\n", "t.yaml:1:1: the configuration: unknown key 'nodes' (expected one of: node,"},
      {"- a\n", "t.yaml:1:1: the configuration: expected a mapping, found a list"},
      {"node: web\n", "t.yaml:1:7: node: expected a mapping, found a scalar"},
      {"node:\n  name: [a]\n", "t.yaml:2:9: node.name: expected a string, found a list"},
      {"node:\n  name: \"a b\"\n", "t.yaml:2:9: node.name: 'a b' is not a valid name"},
      {"node:\n  role: \"\"\n", "t.yaml:2:9: node.role: '' is not a valid name"},
      {"node:\n  colour: red\n", "t.yaml:2:3: node: unknown key 'colour' (expected one of: name, role)"},
      {"listen: 9643\n", "t.yaml:1:9: listen: '9643' is not a listen address: missing ':PORT'"},
      {"listen: \"0.0.0.0:65536\"\n", "t.yaml:1:9: listen: '0.0.0.0:65536' is not a listen address: the port must be 0..65535"},
      {"listen: \"300.0.0.1:80\"\n", "t.yaml:1:9: listen: '300.0.0.1:80' is not a listen address: bad IPv4 address"},
      {"listen: \"::1:80\"\n", "t.yaml:1:9: listen: '::1:80' is not a listen address: write an IPv6 address in [ ]"},
      {"listen: \"[::1:80\"\n", "t.yaml:1:9: listen: '[::1:80' is not a listen address: missing ']'"},
      {"web: []\n", "t.yaml:1:6: web: expected a mapping, found a list"},
      {"web:\n  http_server_config: {}\n", "t.yaml:2:3: web: unknown key 'http_server_config'"},
      {"web:\n  tls_server_config:\n    cert_file: cert.pem\n",
       "t.yaml:3:16: web.tls_server_config.cert_file: 'cert.pem' is not an absolute path"},
      {"web:\n  tls_server_config:\n    min_version: TLS14\n",
       "t.yaml:3:18: web.tls_server_config.min_version: 'TLS14' is not a TLS version (expected TLS10, TLS11, TLS12 or TLS13)"},
      {"web:\n  tls_server_config:\n    client_auth_type: Sometimes\n",
       "t.yaml:3:23: web.tls_server_config.client_auth_type: 'Sometimes' is not a client auth type"},
      {"web:\n  tls_server_config:\n    client_auth_type: RequireAndVerifyClientCert\n",
       "t.yaml:3:23: web.tls_server_config.client_auth_type: verifying client certificates needs client_ca_file"},
      {"web:\n  tls_server_config:\n    min_version: TLS13\n    max_version: TLS12\n",
       "t.yaml:3:5: web.tls_server_config: max_version is lower than min_version"},
      {"web:\n  tls_server_config:\n    prefer_server_cipher_suites: maybe\n",
       "t.yaml:3:34: web.tls_server_config.prefer_server_cipher_suites: expected true or false"},
      {"web:\n  tls_server_config:\n    cipher_suites: [\"RC4 MD5\"]\n",
       "t.yaml:3:21: web.tls_server_config.cipher_suites: 'RC4 MD5' is not a cipher suite name"},
      {"web:\n  basic_auth_users:\n    prom: secret\n",
       "t.yaml:3:11: web.basic_auth_users: the password of 'prom' is not a bcrypt hash"},
      {"watch_certificates: /etc/ssl/a.pem\n", "t.yaml:1:21: watch_certificates: expected a list, found a scalar"},
      {"watch_certificates: [a.pem]\n", "t.yaml:1:22: watch_certificates: 'a.pem' is not an absolute path"},
      {"metrics:\n  disable: [cpu, gpu]\n", "t.yaml:2:18: metrics.disable: unknown collector 'gpu'"},
      {"metrics:\n  enable: [cpu]\n", "t.yaml:2:3: metrics: unknown key 'enable' (expected one of: disable)"},
      {"state_dir: var/lib\n", "t.yaml:1:12: state_dir: 'var/lib' is not an absolute path"},
      {"control_socket: \"/x/" "0123456789012345678901234567890123456789012345678901234567890123456789"
       "0123456789012345678901234567890123456789\"\n",
       "t.yaml:1:17: control_socket: '/x/"},
      {"listen: \":1\"\nlisten: \":2\"\n", "t.yaml:2:1: the configuration: key 'listen' is given twice"},
      {"node: {name: [}\n", "t.yaml:1:"},  // a syntax error still has its place
  };
  for (const auto& c : cases) {
    INFO(c.text);
    const std::string err = onlyError(c.text);
    CHECK_THAT(err, Catch::StartsWith(c.error));
  }
}

TEST_CASE("config: three different mistakes give three errors in file order") {
  auto cfg = loadConfig(fixture("three-mistakes.yaml"));
  REQUIRE_FALSE(cfg.has_value());
  const auto& items = cfg.error().items();
  INFO(cfg.error().str());
  REQUIRE(items.size() == 3);
  CHECK(items[0].loc.line == 3);
  CHECK(items[0].loc.col == 3);
  CHECK_THAT(items[0].message, Catch::Contains("unknown key 'rol'"));
  CHECK(items[1].loc.line == 4);
  CHECK(items[1].loc.col == 9);
  CHECK_THAT(items[1].message, Catch::Contains("the port must be 0..65535"));
  CHECK(items[2].loc.line == 7);
  CHECK(items[2].loc.col == 18);
  CHECK_THAT(items[2].message, Catch::Contains("'TLS9' is not a TLS version"));
}

TEST_CASE("config: errors in the firewall section are reported with the others") {
  auto cfg = parseConfig("listen: nowhere\nfirewall:\n  input_policy: maybe\n", "t.yaml");
  REQUIRE_FALSE(cfg.has_value());
  INFO(cfg.error().str());
  REQUIRE(cfg.error().items().size() == 2);
  CHECK(cfg.error().items()[0].loc.line == 1);
  CHECK(cfg.error().items()[1].loc.line == 3);
}

TEST_CASE("config: listen addresses") {
  using rampart::agent::parseListen;
  CHECK(parseListen("0.0.0.0:9643")->str() == "0.0.0.0:9643");
  CHECK(parseListen("[::]:9643")->host == "::");
  CHECK(parseListen(":9100")->host == "0.0.0.0");
  CHECK(parseListen("127.0.0.1:0")->port == 0);
  CHECK_FALSE(parseListen("127.0.0.1:").has_value());
  CHECK_FALSE(parseListen("127.0.0.1:-1").has_value());
  CHECK_FALSE(parseListen("[::]9643").has_value());
  CHECK_FALSE(parseListen("localhost:9643").has_value());
}

TEST_CASE("config: an alias bomb is refused quickly, not expanded") {
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 12; ++i) {
    text += fmt::format("a{}: &a{} [", i, i);
    for (int k = 0; k < 10; ++k) text += fmt::format("{}*a{}", k ? ", " : "", i - 1);
    text += "]\n";
  }
  const auto start = std::chrono::steady_clock::now();
  auto cfg = parseConfig(text, "t.yaml");
  const auto took = std::chrono::steady_clock::now() - start;
  REQUIRE_FALSE(cfg.has_value());
  INFO(cfg.error().str());
  REQUIRE(cfg.error().items().size() == 1);
  CHECK_THAT(cfg.error().items()[0].message, Catch::Contains("expands to more than"));
  CHECK(took < std::chrono::seconds(2));
}

TEST_CASE("config: a few harmless aliases are fine") {
  auto cfg = parseConfig("watch_certificates: &w [/a.pem]\nmetrics: {disable: &d [cpu]}\n",
                         "t.yaml");
  CHECK(cfg.has_value());
}

TEST_CASE("config: a missing file and an oversized file name the path") {
  rampart::test::TempDir dir;
  auto missing = loadConfig(dir.file("none.yaml"));
  REQUIRE_FALSE(missing.has_value());
  CHECK_THAT(missing.error().str(), Catch::StartsWith(dir.file("none.yaml") + ": cannot open"));

  const std::string big = dir.file("big.yaml");
  {
    std::ofstream out(big);
    out << "watch_certificates:\n";
    for (int i = 0; i < 70000; ++i) out << "  - /etc/ssl/certs/some-long-certificate-name.pem\n";
  }
  auto large = loadConfig(big);
  REQUIRE_FALSE(large.has_value());
  CHECK_THAT(large.error().str(), Catch::Contains("larger than the limit"));
}
