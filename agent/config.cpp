#include "agent/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <sstream>
#include <vector>

#include <fmt/format.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include "common/text.h"
#include "common/yaml_util.h"

namespace rampart::agent {
namespace {

// A configuration file is a few kilobytes; 1 MiB leaves room for large
// address groups and still bounds what a mistaken path can make us read.
constexpr size_t kMaxConfigBytes = 1u << 20;
// yaml-cpp shares the node an alias points to, so a few lines of nested
// aliases ("billion laughs") describe a tree with billions of nodes that a
// plain walk would visit one by one. We count the nodes the document would
// have with every alias expanded, and refuse it above this bound.
constexpr size_t kMaxExpandedNodes = 200'000;
constexpr size_t kMaxWatchedCertificates = 1024;
constexpr size_t kMaxBasicAuthUsers = 1024;

// The collectors `metrics.disable` may name (the metrics/ collectors).
constexpr std::array<std::string_view, 17> kCollectors = {
    "conntrack", "cpu",     "diskstats", "filefd",  "filesystem", "firewall",
    "loadavg",   "meminfo", "netclass",  "netdev",  "netstat",    "pressure",
    "process",   "time",    "tls",       "uname",   "udp_queues"};

// Counts the nodes of the document with aliases expanded, from the parser's
// events (one pass, nothing expanded).
class ExpansionCounter : public YAML::EventHandler {
 public:
  size_t total() const { return total_; }
  bool exceeded() const { return total_ > kMaxExpandedNodes; }
  YAML::Mark exceededAt() const { return exceeded_at_; }

  // Where each document starts (its "---", or its first token).
  const std::vector<YAML::Mark>& documents() const { return documents_; }

  void OnDocumentStart(const YAML::Mark& mark) override { documents_.push_back(mark); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    auto it = sizes_.find(anchor);
    add(mark, it == sizes_.end() ? 1 : it->second);
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    leaf(mark, anchor);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

 private:
  void add(const YAML::Mark& mark, size_t n) {
    if (!exceeded() && total_ + n > kMaxExpandedNodes) exceeded_at_ = mark;
    total_ = std::min(total_ + n, kMaxExpandedNodes + 1);
  }
  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor) {
    add(mark, 1);
    if (anchor != YAML::NullAnchor) sizes_[anchor] = 1;
  }
  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    add(mark, 1);
    open_.push_back({anchor, total_ - 1});
  }
  void close() {
    if (open_.empty()) return;
    auto [anchor, start] = open_.back();
    open_.pop_back();
    if (anchor != YAML::NullAnchor) sizes_[anchor] = total_ - start;
  }

  size_t total_ = 0;
  YAML::Mark exceeded_at_ = YAML::Mark::null_mark();
  std::map<YAML::anchor_t, size_t> sizes_;
  std::vector<std::pair<YAML::anchor_t, size_t>> open_;
  std::vector<YAML::Mark> documents_;
};

SourceLoc locOf(const std::string& file, const YAML::Mark& m) {
  return SourceLoc{file, m.is_null() ? 0 : m.line + 1, m.is_null() ? 0 : m.column + 1};
}

// Refuses what yaml-cpp would take but the configuration must not hold:
// a document whose alias expansion is too large, and anything after the
// first document (YAML::Load reads the first and ignores the rest without a
// word, so a second "---" would silently drop half a file). A syntax error
// in the first document is left to loadYaml, which reports it with its place.
bool documentBounded(std::string_view text, const std::string& file, Diagnostics& diags) {
  std::istringstream in{std::string(text)};
  ExpansionCounter counter;
  YAML::Parser parser(in);
  try {
    parser.HandleNextDocument(counter);
  } catch (const YAML::Exception&) {
    return true;
  }
  if (counter.exceeded()) {
    diags.error(locOf(file, counter.exceededAt()),
                fmt::format("the document expands to more than {} nodes through aliases; "
                            "write the values out instead",
                            kMaxExpandedNodes));
    return false;
  }
  const auto second = [&] {
    diags.error(locOf(file, counter.documents().back()),
                "a second YAML document starts here; the configuration is one document "
                "(remove this '---' and what follows, or merge it into the first)");
    return false;
  };
  try {
    if (parser.HandleNextDocument(counter)) return second();
  } catch (const YAML::Exception& e) {
    if (counter.documents().size() > 1) return second();
    diags.error(locOf(file, e.mark), fmt::format("YAML syntax after the first document: {}", e.msg));
    return false;
  }
  return true;
}

std::string joined(std::initializer_list<std::string_view> names) {
  std::string out;
  for (auto n : names) out += fmt::format("{}{}", out.empty() ? "" : ", ", n);
  return out;
}

// Walks a mapping once: unknown and repeated keys are errors at the key;
// every known key's value goes to `fn`.
void forEachKey(YamlReader& r, const YAML::Node& map, std::string_view section,
                std::initializer_list<std::string_view> allowed,
                const std::function<void(const std::string&, const YAML::Node&)>& fn) {
  std::vector<std::string> seen;
  for (auto it = map.begin(); it != map.end(); ++it) {
    const YAML::Node key = it->first;  // a copy: the iterator hands out a temporary
    if (!key.IsScalar()) {
      r.error(key, fmt::format("{}: keys must be plain names", section));
      continue;
    }
    const std::string& name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      r.error(key, fmt::format("{}: unknown key '{}' (expected one of: {})", section,
                               printableClip(name), joined(allowed)));
      continue;
    }
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      r.error(key, fmt::format("{}: key '{}' is given twice", section, name));
      continue;
    }
    seen.push_back(name);
    fn(name, it->second);
  }
}

bool isLabelChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         c == '-' || c == '_' || c == '.';
}

// node.name and node.role end up in metric labels and logs: plain names only.
std::optional<std::string> label(YamlReader& r, const YAML::Node& n, std::string_view what) {
  auto s = r.string(n, what);
  if (!s) return std::nullopt;
  if (s->empty() || s->size() > 64 || !std::all_of(s->begin(), s->end(), isLabelChar)) {
    r.error(n, fmt::format("{}: '{}' is not a valid name (expected 1 to 64 of A-Z a-z 0-9 . _ -)",
                           what, printableClip(*s)));
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> absolutePath(YamlReader& r, const YAML::Node& n, std::string_view what,
                                        size_t max_len = 4095) {
  auto s = r.string(n, what);
  if (!s) return std::nullopt;
  if (s->empty() || s->front() != '/' || s->size() > max_len ||
      s->find('\0') != std::string::npos) {
    r.error(n, fmt::format("{}: '{}' is not an absolute path (expected /... of at most {} bytes)",
                           what, printableClip(*s), max_len));
    return std::nullopt;
  }
  return s;
}

}  // namespace

std::expected<Listen, std::string> parseListen(std::string_view text) {
  const auto bad = [&](std::string_view why) {
    return std::unexpected(fmt::format(
        "'{}' is not a listen address: {} (expected HOST:PORT, e.g. 0.0.0.0:9643 or [::]:9643)",
        printableClip(text), why));
  };
  std::string_view host;
  std::string_view port;
  if (text.starts_with('[')) {
    const size_t close = text.find(']');
    if (close == std::string_view::npos) return bad("missing ']'");
    host = text.substr(1, close - 1);
    if (close + 1 >= text.size() || text[close + 1] != ':') return bad("missing ':PORT'");
    port = text.substr(close + 2);
    in6_addr a6{};
    if (!inet_pton(AF_INET6, std::string(host).c_str(), &a6)) return bad("bad IPv6 address");
    // Firewall addresses refuse IPv4-mapped IPv6 (firewall/address.cpp);
    // the listen address says the same rather than bind a form the rules
    // for it could not name.
    if (IN6_IS_ADDR_V4MAPPED(&a6)) {
      std::array<char, INET_ADDRSTRLEN> v4{};
      ::inet_ntop(AF_INET, &a6.s6_addr[12], v4.data(), v4.size());
      return bad(fmt::format("an IPv4-mapped IPv6 address; write the IPv4 address {}:PORT instead",
                             v4.data()));
    }
  } else {
    const size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) return bad("missing ':PORT'");
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.empty()) {
      host = "0.0.0.0";
    } else {
      in_addr a4{};
      if (host.find(':') != std::string_view::npos) return bad("write an IPv6 address in [ ]");
      if (!inet_pton(AF_INET, std::string(host).c_str(), &a4)) return bad("bad IPv4 address");
    }
  }
  unsigned value = 0;
  auto [p, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (port.empty() || ec != std::errc() || p != port.data() + port.size() || value > 65535) {
    return bad("the port must be 0..65535");
  }
  return Listen{std::string(host), static_cast<uint16_t>(value)};
}

std::string Listen::str() const {
  if (host.find(':') != std::string::npos) return fmt::format("[{}]:{}", host, port);
  return fmt::format("{}:{}", host, port);
}

namespace {

void parseNode(YamlReader& r, const YAML::Node& n, Config& cfg) {
  if (!r.expectMap(n, "node")) return;
  forEachKey(r, n, "node", {"name", "role"}, [&](const std::string& key, const YAML::Node& v) {
    if (key == "name") {
      if (auto s = label(r, v, "node.name")) cfg.node.name = *s;
    } else if (auto s = label(r, v, "node.role")) {
      cfg.node.role = *s;
    }
  });
}

std::optional<tls::Version> tlsVersion(YamlReader& r, const YAML::Node& n, std::string_view what) {
  static constexpr std::pair<std::string_view, tls::Version> kNames[] = {
      {"TLS10", tls::Version::TLS10},
      {"TLS11", tls::Version::TLS11},
      {"TLS12", tls::Version::TLS12},
      {"TLS13", tls::Version::TLS13}};
  auto s = r.string(n, what);
  if (!s) return std::nullopt;
  for (auto [name, v] : kNames)
    if (*s == name) return v;
  r.error(n, fmt::format("{}: '{}' is not a TLS version (expected TLS10, TLS11, TLS12 or TLS13)",
                         what, printableClip(*s)));
  return std::nullopt;
}

std::optional<tls::ClientAuth> clientAuth(YamlReader& r, const YAML::Node& n) {
  static constexpr std::pair<std::string_view, tls::ClientAuth> kNames[] = {
      {"NoClientCert", tls::ClientAuth::NoClientCert},
      {"RequestClientCert", tls::ClientAuth::RequestClientCert},
      {"RequireAnyClientCert", tls::ClientAuth::RequireAnyClientCert},
      {"VerifyClientCertIfGiven", tls::ClientAuth::VerifyClientCertIfGiven},
      {"RequireAndVerifyClientCert", tls::ClientAuth::RequireAndVerifyClientCert}};
  auto s = r.string(n, "web.tls_server_config.client_auth_type");
  if (!s) return std::nullopt;
  for (auto [name, v] : kNames)
    if (*s == name) return v;
  r.error(n, fmt::format("web.tls_server_config.client_auth_type: '{}' is not a client auth type "
                         "(expected NoClientCert, RequestClientCert, RequireAnyClientCert, "
                         "VerifyClientCertIfGiven or RequireAndVerifyClientCert)",
                         printableClip(*s)));
  return std::nullopt;
}

void parseCipherSuites(YamlReader& r, const YAML::Node& n, tls::ServerConfig& t) {
  constexpr std::string_view what = "web.tls_server_config.cipher_suites";
  if (!r.expectSequence(n, what)) return;
  for (const auto& item : n) {
    auto s = r.string(item, what);
    if (!s) continue;
    const bool ok = !s->empty() && s->size() <= 128 &&
                    std::all_of(s->begin(), s->end(), [](char c) {
                      return isLabelChar(c) && c != '.';
                    });
    if (!ok) {
      r.error(item, fmt::format("{}: '{}' is not a cipher suite name", what, printableClip(*s)));
      continue;
    }
    t.cipher_suites.push_back(*s);
  }
}

void parseTls(YamlReader& r, const YAML::Node& n, tls::ServerConfig& t) {
  if (!r.expectMap(n, "web.tls_server_config")) return;
  std::optional<YAML::Node> auth_node;
  forEachKey(
      r, n, "web.tls_server_config",
      {"cert_file", "key_file", "client_ca_file", "client_auth_type", "min_version",
       "max_version", "cipher_suites", "prefer_server_cipher_suites"},
      [&](const std::string& key, const YAML::Node& v) {
        const std::string what = "web.tls_server_config." + key;
        if (key == "cert_file") {
          if (auto s = absolutePath(r, v, what)) t.cert_file = *s;
        } else if (key == "key_file") {
          if (auto s = absolutePath(r, v, what)) t.key_file = *s;
        } else if (key == "client_ca_file") {
          if (auto s = absolutePath(r, v, what)) t.client_ca_file = *s;
        } else if (key == "client_auth_type") {
          auth_node = v;
          if (auto a = clientAuth(r, v)) t.client_auth = *a;
        } else if (key == "min_version") {
          if (auto ver = tlsVersion(r, v, what)) t.min_version = *ver;
        } else if (key == "max_version") {
          if (auto ver = tlsVersion(r, v, what)) t.max_version = *ver;
        } else if (key == "cipher_suites") {
          parseCipherSuites(r, v, t);
        } else if (auto b = r.boolean(v, what)) {
          t.prefer_server_cipher_suites = *b;
        }
      });
  if (t.max_version && *t.max_version < t.min_version) {
    r.error(n, "web.tls_server_config: max_version is lower than min_version");
  }
  const bool verifies = t.client_auth == tls::ClientAuth::VerifyClientCertIfGiven ||
                        t.client_auth == tls::ClientAuth::RequireAndVerifyClientCert;
  if (verifies && !t.client_ca_file && auth_node) {
    r.error(*auth_node, "web.tls_server_config.client_auth_type: verifying client certificates "
                        "needs client_ca_file");
  }
}

// bcrypt as exporter-toolkit takes it: $2a$, $2b$ or $2y$, cost, 53 characters.
bool looksLikeBcrypt(std::string_view h) {
  if (h.size() != 60 || h[0] != '$' || h[1] != '2' || h[3] != '$' || h[6] != '$') return false;
  if (h[2] != 'a' && h[2] != 'b' && h[2] != 'y') return false;
  if (h[4] < '0' || h[4] > '3' || h[5] < '0' || h[5] > '9') return false;
  return std::all_of(h.begin() + 7, h.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '.' || c == '/';
  });
}

void parseBasicAuth(YamlReader& r, const YAML::Node& n, Config& cfg) {
  constexpr std::string_view what = "web.basic_auth_users";
  if (!r.expectMap(n, what)) return;
  if (n.size() > kMaxBasicAuthUsers) {
    r.error(n, fmt::format("{}: more than {} users", what, kMaxBasicAuthUsers));
    return;
  }
  for (auto it = n.begin(); it != n.end(); ++it) {
    auto user = r.string(it->first, what);
    if (!user) continue;
    if (user->empty() || user->size() > 256 || user->find(':') != std::string::npos) {
      r.error(it->first, fmt::format("{}: '{}' is not a user name (no ':', 1 to 256 bytes)", what,
                                     printableClip(*user)));
      continue;
    }
    if (cfg.web.basic_auth_users.contains(*user)) {
      r.error(it->first, fmt::format("{}: user '{}' is given twice", what, printableClip(*user)));
      continue;
    }
    auto hash = r.string(it->second, what);
    if (!hash) continue;
    // The hash is a secret of sorts: never echo it back.
    if (!looksLikeBcrypt(*hash)) {
      r.error(it->second, fmt::format("{}: the password of '{}' is not a bcrypt hash "
                                      "(expected $2y$10$ followed by 53 characters; "
                                      "make one with `htpasswd -nBC 10 {}`)",
                                      what, printableClip(*user), printableClip(*user)));
      continue;
    }
    cfg.web.basic_auth_users.emplace(*user, *hash);
  }
}

void parseWeb(YamlReader& r, const YAML::Node& n, Config& cfg) {
  if (!r.expectMap(n, "web")) return;
  forEachKey(r, n, "web", {"tls_server_config", "basic_auth_users"},
             [&](const std::string& key, const YAML::Node& v) {
               if (key == "tls_server_config") parseTls(r, v, cfg.web.tls);
               else parseBasicAuth(r, v, cfg);
             });
}

void parseWatch(YamlReader& r, const YAML::Node& n, Config& cfg) {
  if (!r.expectSequence(n, "watch_certificates")) return;
  if (n.size() > kMaxWatchedCertificates) {
    r.error(n, fmt::format("watch_certificates: more than {} files", kMaxWatchedCertificates));
    return;
  }
  for (const auto& item : n) {
    if (auto s = absolutePath(r, item, "watch_certificates")) cfg.watch_certificates.push_back(*s);
  }
}

void parseMetrics(YamlReader& r, const YAML::Node& n, Config& cfg) {
  if (!r.expectMap(n, "metrics")) return;
  forEachKey(r, n, "metrics", {"disable"}, [&](const std::string&, const YAML::Node& v) {
    if (!r.expectSequence(v, "metrics.disable")) return;
    for (const auto& item : v) {
      auto s = r.string(item, "metrics.disable");
      if (!s) continue;
      if (std::find(kCollectors.begin(), kCollectors.end(), *s) == kCollectors.end()) {
        std::string names;
        for (auto c : kCollectors) names += fmt::format("{}{}", names.empty() ? "" : ", ", c);
        r.error(item, fmt::format("metrics.disable: unknown collector '{}' (expected one of: {})",
                                  printableClip(*s), names));
        continue;
      }
      cfg.disabled_collectors.insert(*s);
    }
  });
}

std::string hostName() {
  std::array<char, 256> buf{};
  if (gethostname(buf.data(), buf.size() - 1) != 0) return "localhost";
  std::string name(buf.data());
  // A host name is a label for metrics: keep the first DNS label.
  if (auto dot = name.find('.'); dot != std::string::npos) name.resize(dot);
  if (name.empty() || !std::all_of(name.begin(), name.end(), isLabelChar)) return "localhost";
  return name;
}

}  // namespace

Config defaultConfig() {
  Config cfg;
  cfg.path = "<embedded default>";
  cfg.node.name = hostName();
  cfg.firewall = fw::defaultPolicy(cfg.listen.port);
  return cfg;
}

std::expected<Config, Diagnostics> parseConfig(std::string_view text, const std::string& file) {
  Diagnostics diags;
  if (!documentBounded(text, file, diags)) return std::unexpected(diags);
  auto root = loadYaml(text, file, diags, kMaxConfigBytes);
  if (!root) return std::unexpected(diags);

  Config cfg;
  cfg.path = file;
  cfg.node.name = hostName();
  YamlReader r(file, diags);
  std::optional<YAML::Node> firewall;
  // An empty file is the embedded default.
  if (!root->IsNull() && r.expectMap(*root, "the configuration")) {
    forEachKey(r, *root, "the configuration",
               {"node", "listen", "web", "watch_certificates", "firewall", "metrics",
                "state_dir", "control_socket"},
               [&](const std::string& key, const YAML::Node& v) {
                 if (key == "node") {
                   parseNode(r, v, cfg);
                 } else if (key == "listen") {
                   auto s = r.string(v, "listen");
                   if (!s) return;
                   if (auto l = parseListen(*s)) cfg.listen = *l;
                   else r.error(v, "listen: " + l.error());
                 } else if (key == "web") {
                   parseWeb(r, v, cfg);
                 } else if (key == "watch_certificates") {
                   parseWatch(r, v, cfg);
                 } else if (key == "firewall") {
                   firewall = v;
                 } else if (key == "metrics") {
                   parseMetrics(r, v, cfg);
                 } else if (key == "state_dir") {
                   if (auto s = absolutePath(r, v, "state_dir")) cfg.state_dir = *s;
                 } else if (auto s = absolutePath(r, v, "control_socket", 107)) {
                   // 107: sun_path holds 108 bytes with the terminating NUL.
                   cfg.control_socket = *s;
                 }
               });
  }
  // The generated key and certificate live in the state directory unless
  // the file names them: moving state_dir moves them along.
  const tls::ServerConfig tls_defaults;
  if (cfg.web.tls.cert_file == tls_defaults.cert_file) cfg.web.tls.cert_file = cfg.state_dir + "/tls/cert.pem";
  if (cfg.web.tls.key_file == tls_defaults.key_file) cfg.web.tls.key_file = cfg.state_dir + "/tls/key.pem";
  // The policy is parsed after `listen` so its default can allow our port.
  cfg.firewall = firewall ? fw::parsePolicy(*firewall, file, diags)
                          : fw::defaultPolicy(cfg.listen.port);
  if (!diags.ok()) return std::unexpected(diags);
  return cfg;
}

std::expected<Config, Diagnostics> loadConfig(const std::string& path) {
  Diagnostics diags;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    diags.error(SourceLoc{path, 0, 0},
                fmt::format("cannot open the configuration: {}", std::strerror(errno)));
    return std::unexpected(diags);
  }
  // Read at most one byte over the limit, so loadYaml can report the size.
  std::string text(kMaxConfigBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  if (in.bad()) {
    diags.error(SourceLoc{path, 0, 0}, "cannot read the configuration");
    return std::unexpected(diags);
  }
  text.resize(static_cast<size_t>(in.gcount()));
  if (text.size() > kMaxConfigBytes) {
    diags.error(SourceLoc{path, 0, 0},
                fmt::format("the file is larger than the limit of {} bytes", kMaxConfigBytes));
    return std::unexpected(diags);
  }
  return parseConfig(text, path);
}

}  // namespace rampart::agent
