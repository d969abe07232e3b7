// The bad-input table (issue 9): hostile inputs to the configuration parser
// and to the CLI's arguments. Each one must get a clear error (non-empty,
// bounded, one line or file:line:col lines, no crash or stack trace, no raw
// control characters, naming the argument or the place), the exit status of
// SPEC.md (2 for a usage error, 1 for a configuration error), and change
// nothing: no file is written, and a `fw` verb refuses before it tries the
// control socket (which would be exit 3, as no agent runs at --socket).
//
// With RAMPART_HOSTILE_REPORT=FILE the table's rows are written there as
// tab-separated values (tests/fuzz/report puts them in docs/reliability.md).
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include <fmt/format.h>

#include "agent/config.h"

extern char** environ;

namespace {

namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr auto kDeadline = std::chrono::seconds(20);
constexpr std::size_t kMaxCapture = 1 << 20;

std::string binary() {
  const char* b = std::getenv("RAMPART_BINARY");
  return b != nullptr ? b : "";
}

struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "rampart-hostile-XXXXXX").string();
    if (::mkdtemp(tmpl.data()) == nullptr) throw std::runtime_error("mkdtemp failed");
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Every entry below the directory, relative to it.
  std::set<std::string> listing() const {
    std::set<std::string> out;
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(path, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
      out.insert(fs::relative(it->path(), path).string());
    }
    return out;
  }
};

struct Outcome {
  int code = -1;  // exit status, or 128 + signal
  std::string out;
  std::string err;
  bool timed_out = false;
};

// Runs the rampart binary with `args` (stdin from /dev/null, SSH_CONNECTION
// unset), killing it at the deadline.
Outcome run(const std::vector<std::string>& args) {
  Outcome o;
  std::array<int, 2> out_pipe{};
  std::array<int, 2> err_pipe{};
  if (::pipe2(out_pipe.data(), O_CLOEXEC) != 0 || ::pipe2(err_pipe.data(), O_CLOEXEC) != 0) {
    throw std::runtime_error("pipe2 failed");
  }
  posix_spawn_file_actions_t fa;
  posix_spawn_file_actions_init(&fa);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&fa, out_pipe[1], 1);
  posix_spawn_file_actions_adddup2(&fa, err_pipe[1], 2);

  std::vector<std::string> env_store;
  for (char** e = environ; *e != nullptr; ++e) {
    if (std::strncmp(*e, "SSH_CONNECTION=", 15) != 0) env_store.emplace_back(*e);
  }
  std::vector<char*> envp;
  for (auto& e : env_store) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::string bin = binary();
  std::vector<std::string> argv_store{bin};
  argv_store.insert(argv_store.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : argv_store) argv.push_back(a.data());
  argv.push_back(nullptr);

  pid_t pid = -1;
  int rc = ::posix_spawn(&pid, bin.c_str(), &fa, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  ::close(out_pipe[1]);
  ::close(err_pipe[1]);
  if (rc != 0) {
    ::close(out_pipe[0]);
    ::close(err_pipe[0]);
    throw std::runtime_error(fmt::format("posix_spawn {}: {}", bin, std::strerror(rc)));
  }

  const auto deadline = Clock::now() + kDeadline;
  std::array<pollfd, 2> fds{pollfd{out_pipe[0], POLLIN, 0}, pollfd{err_pipe[0], POLLIN, 0}};
  std::array<std::string*, 2> sinks{&o.out, &o.err};
  int open_fds = 2;
  while (open_fds > 0) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      o.timed_out = true;
      ::kill(pid, SIGKILL);
      break;
    }
    if (::poll(fds.data(), fds.size(), static_cast<int>(left)) < 0) {
      if (errno == EINTR) continue;
      break;
    }
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (fds[i].fd < 0 || fds[i].revents == 0) continue;
      std::array<char, 4096> buf{};
      ssize_t n = ::read(fds[i].fd, buf.data(), buf.size());
      if (n > 0) {
        if (sinks[i]->size() < kMaxCapture) sinks[i]->append(buf.data(), static_cast<std::size_t>(n));
      } else {
        ::close(fds[i].fd);
        fds[i].fd = -1;
        --open_fds;
      }
    }
  }
  for (auto& f : fds) {
    if (f.fd >= 0) ::close(f.fd);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  o.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
  return o;
}

// Printable, one line, clipped: how a row shows an input or a message.
std::string shown(std::string_view s, std::size_t max = 60) {
  std::string out;
  for (unsigned char c : s) {
    if (out.size() >= max) {
      out += "…";
      break;
    }
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c < 0x20 || c == 0x7f) {
      out += fmt::format("\\x{:02x}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::vector<std::string> lines(const std::string& text) {
  std::vector<std::string> out;
  std::size_t start = 0;
  while (start < text.size()) {
    auto nl = text.find('\n', start);
    if (nl == std::string::npos) nl = text.size();
    out.push_back(text.substr(start, nl - start));
    start = nl + 1;
  }
  return out;
}

// What every error message must not be or contain.
void checkMessageText(const std::string& err, std::vector<std::string>& problems) {
  if (err.empty()) problems.emplace_back("no error message");
  for (const char* marker : {"terminate called", "what():", "Aborted", "Segmentation fault", "AddressSanitizer",
                             "runtime error:", "#0 0x", "stack trace", "Stack trace"}) {
    if (err.find(marker) != std::string::npos) problems.push_back(fmt::format("crash output ('{}')", marker));
  }
  for (unsigned char c : err) {
    if ((c < 0x20 && c != '\n') || c == 0x7f) {
      problems.push_back(fmt::format("raw control character 0x{:02x} in the message", c));
      break;
    }
  }
}

// ---------------------------------------------------------------------------
// The table's rows.

struct Row {
  std::string kind;   // "config" or "cli"
  std::string label;
  std::string input;  // shown
  int code = 0;
  std::string verdict;  // "ok" or "FINDING: ..."
  std::string message;  // first line, shown
};

std::vector<Row>& rows() {
  static std::vector<Row> r;
  return r;
}

void writeReport() {
  const char* path = std::getenv("RAMPART_HOSTILE_REPORT");
  if (path == nullptr) return;
  std::ofstream f(path, std::ios::trunc);
  for (const auto& r : rows()) {
    f << r.kind << '\t' << r.label << '\t' << r.input << '\t' << r.code << '\t' << r.verdict << '\t' << r.message
      << '\n';
  }
}

// Records a case. A case with `known` set is a finding already reported:
// it shows in the table and warns, but does not fail the test.
void record(const std::string& kind, const std::string& label, const std::string& input, int code,
            const std::vector<std::string>& problems, const std::string& err, const std::string& known) {
  std::string verdict = "ok";
  if (!problems.empty()) {
    verdict = "FINDING: " + problems.front();
    for (std::size_t i = 1; i < problems.size(); ++i) verdict += "; " + problems[i];
  }
  auto first = lines(err);
  rows().push_back(Row{kind, label, shown(input), code, verdict, first.empty() ? "" : shown(first.front(), 160)});
  INFO(kind << " case '" << label << "' input '" << shown(input) << "' exit " << code << "\nstderr: " << err);
  if (!known.empty()) {
    if (problems.empty()) {
      WARN("known finding no longer reproduces: " << known);
    } else {
      WARN("known finding: " << known << ": " << verdict);
    }
    return;
  }
  for (const auto& p : problems) FAIL_CHECK(p);
  CHECK(problems.empty());
}

// ---------------------------------------------------------------------------
// Configuration cases.

// A valid configuration with one slot per value under test. The line of
// each slot is where an error about it must point.
constexpr std::string_view kTemplate =
    "node:\n"                            // 1
    "  name: web-01\n"                   // 2
    "  role: web\n"                      // 3
    "listen: \"{listen}\"\n"             // 4
    "state_dir: {state}\n"               // 5
    "control_socket: {state}/c.sock\n"   // 6
    "firewall:\n"                        // 7
    "  input_policy: {policy}\n"         // 8
    "  log_dropped: {log}\n"             // 9
    "  groups:\n"                        // 10
    "    app_servers: [{cidr}]\n"        // 11
    "  rules:\n"                         // 12
    "    - name: {rule}\n"               // 13
    "      allow: {port}\n"              // 14
    "      limit: {limit}\n"             // 15
    "    - name: db\n"                   // 16
    "      allow: 5432/tcp\n"            // 17
    "      from: {from}\n";              // 18

const std::map<std::string, std::pair<std::string, int>>& slots() {
  static const std::map<std::string, std::pair<std::string, int>> s{
      {"listen", {"0.0.0.0:9643", 4}},  {"policy", {"drop", 8}}, {"log", {"5/second", 9}},
      {"cidr", {"10.0.1.0/24", 11}},    {"rule", {"ssh", 13}},   {"port", {"22/tcp", 14}},
      {"limit", {"10/minute", 15}},     {"from", {"app_servers", 18}},
  };
  return s;
}

std::string replaceAll(std::string text, std::string_view from, std::string_view to) {
  for (auto pos = text.find(from); pos != std::string::npos; pos = text.find(from, pos + to.size())) {
    text.replace(pos, from.size(), to);
  }
  return text;
}

std::string fillTemplate(const std::string& slot, const std::string& value, const std::string& state_dir) {
  std::string text(kTemplate);
  for (const auto& [name, def] : slots()) {
    text = replaceAll(text, "{" + name + "}", name == slot ? value : def.first);
  }
  return replaceAll(text, "{state}", state_dir);
}

struct ConfigCase {
  std::string label;
  std::string text;     // the whole file ("{state}" is the temp state dir)
  std::string shown;    // what the table shows as the input
  int line = 0;         // an error must point at this line (0: any line)
  bool may_be_valid = false;  // a file YAML and SPEC.md allow; must then parse cleanly
  std::string known;    // a finding already reported (see record())
};

ConfigCase slotCase(std::string label, const std::string& slot, std::string value, std::string known = {}) {
  ConfigCase c;
  c.label = std::move(label);
  c.text = fillTemplate(slot, value, "{state}");
  c.shown = slot + ": " + value;
  c.line = slots().at(slot).second;
  c.known = std::move(known);
  return c;
}

ConfigCase fileCase(std::string label, std::string text, std::string input_shown, int line = 0,
                    bool may_be_valid = false) {
  return ConfigCase{std::move(label), std::move(text), std::move(input_shown), line, may_be_valid, {}};
}

std::vector<ConfigCase> configCases() {
  std::vector<ConfigCase> v;
  const std::string valid = fillTemplate("", "", "{state}");

  // Whole files.
  v.push_back(fileCase("binary garbage", std::string("\x7f" "ELF\x02\x01\x01\0\0\0\xff\xfe\x80\x81", 14) +
                                             std::string(512, '\xc3'), "ELF header and invalid UTF-8"));
  v.push_back(fileCase("NUL byte inside the file", replaceAll(valid, "role: web", std::string("role: w\0eb", 10)),
                       "role: w\\0eb", 3));
  v.push_back(fileCase("invalid UTF-8 in a rule name", replaceAll(valid, "name: ssh", "name: ss\xff\xfeh"),
                       "name: ss\\xff\\xfeh", 13));
  v.push_back(fileCase("top level is a list", "- node\n- firewall\n", "- node\\n- firewall"));
  v.push_back(fileCase("top level is a number", "42\n", "42"));
  v.push_back(fileCase("unknown top-level key", valid + "frobnicate: true\n", "frobnicate: true", 19));
  v.push_back(fileCase("duplicate top-level key", valid + "listen: \"0.0.0.0:1\"\n", "listen: twice", 0));
  v.push_back(fileCase("duplicate key in a rule",
                       replaceAll(valid, "      allow: 22/tcp\n", "      allow: 22/tcp\n      allow: 23/tcp\n"),
                       "allow: twice in one rule", 0));
  v.push_back(fileCase("duplicate rule name",
                       replaceAll(valid, "    - name: db\n", "    - name: ssh\n"), "two rules named ssh", 16));
  v.push_back(fileCase("tab indentation", replaceAll(valid, "  input_policy", "\tinput_policy"),
                       "\\tinput_policy", 8));
  v.push_back(fileCase("CRLF line ends with a bad port (line numbers still right)",
                       replaceAll(fillTemplate("port", "65536", "{state}"), "\n", "\r\n"), "CRLF; allow: 65536", 14));
  v.push_back(fileCase("CR-only line ends", replaceAll(valid, "\n", "\r"), "\\r line ends", 0, true));
  // The template has 18 lines: a second document's "---" is on line 19.
  v.push_back(fileCase("two YAML documents", valid + "---\n" + valid, "--- twice", 19));
  v.push_back(fileCase("an empty second YAML document", valid + "---\n", "valid config + ---", 19));
  v.push_back(fileCase("a second YAML document that does not parse", valid + "---\n[unclosed\n",
                       "--- [unclosed", 19));
  v.push_back(fileCase("first document ended by ... then a second", valid + "...\n---\nnode: {}\n",
                       "... --- node: {}", 20));
  v.push_back(fileCase("unclosed flow sequence", replaceAll(valid, "[10.0.1.0/24]", "[10.0.1.0/24"),
                       "[10.0.1.0/24", 0));
  v.push_back(fileCase("unclosed quote", replaceAll(valid, "listen: \"0.0.0.0:9643\"", "listen: \"0.0.0.0:9643"),
                       "listen: \"0.0.0.0:9643", 0));
  v.push_back(fileCase("binary tag for a port", replaceAll(valid, "allow: 22/tcp", "allow: !!binary MjI="),
                       "allow: !!binary MjI=", 14));
  v.push_back(fileCase("foreign tag", replaceAll(valid, "input_policy: drop", "input_policy: !!python/object drop"),
                       "!!python/object", 8, true));
  v.push_back(fileCase("rules is a map", replaceAll(valid, "  rules:\n    - name: ssh", "  rules:\n    x: ssh\n    y:"),
                       "rules: {x: ..}", 0));
  {
    // A billion laughs: nine levels of nine aliases each.
    std::string bomb = "a0: &a0 [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n";
    for (int i = 1; i < 10; ++i) {
      bomb += fmt::format("a{}: &a{} [", i, i);
      for (int j = 0; j < 9; ++j) bomb += fmt::format("{}*a{}", j ? "," : "", i - 1);
      bomb += "]\n";
    }
    v.push_back(fileCase("alias bomb at the top level", bomb, "billion laughs (9^9 via aliases)"));
    v.push_back(fileCase("alias bomb in firewall.groups", bomb + "firewall:\n  groups:\n    g: *a9\n",
                         "groups: {g: *a9} (9^9 addresses)"));
    v.push_back(fileCase("alias bomb as a rule's from",
                         bomb + "firewall:\n  rules:\n    - name: x\n      allow: 22\n      from: *a9\n",
                         "from: *a9 (9^9 sources)"));
  }
  v.push_back(fileCase("alias to itself (recursive anchor)", "firewall: &f\n  rules: *f\n", "rules: *f inside &f"));
  v.push_back(fileCase("merge key into a rule",
                       replaceAll(valid, "    - name: db\n", "    - <<: {allow: 1/tcp}\n      name: db\n"),
                       "<<: merge", 0, true));
  v.push_back(fileCase("deep nesting of sequences", "firewall: " + std::string(20000, '[') + std::string(20000, ']') + "\n",
                       "20000 nested [", 1));
  {
    std::string deep = "firewall:\n";
    std::string indent = "  ";
    for (int i = 0; i < 2000; ++i) {
      deep += indent + "a:\n";
      indent += " ";
    }
    v.push_back(fileCase("deep nesting of maps", deep, "2000 nested maps"));
  }
  v.push_back(fileCase("a 1 MiB rule name", replaceAll(valid, "name: ssh", "name: " + std::string(1 << 20, 'a')),
                       "name: a×1048576"));
  v.push_back(fileCase("larger than any configuration (2 MiB of comments)",
                       valid + "# " + std::string(2 << 20, 'x') + "\n", "valid config + 2 MiB comment"));
  v.push_back(fileCase("100,000 groups", [] {
                std::string t = "firewall:\n  groups:\n";
                for (int i = 0; i < 100000; ++i) t += fmt::format("    g{}: [10.0.0.1]\n", i);
                return t;
              }(),
                       "100000 groups (about 2 MiB)"));

  // Rule names.
  v.push_back(slotCase("empty rule name", "rule", "\"\""));
  v.push_back(slotCase("rule name with a zero-width space", "rule", "ss\u200bh"));
  v.push_back(slotCase("rule name starting with a zero-width joiner", "rule", "\u200dssh"));
  v.push_back(slotCase("rule name with a Cyrillic letter", "rule", "sѕh"));
  v.push_back(slotCase("rule name in fullwidth letters", "rule", "ｓｓｈ"));
  v.push_back(slotCase("rule name with a right-to-left override", "rule", "ssh\u202etxt"));
  v.push_back(slotCase("rule name with a NUL (YAML escape)", "rule", "\"ss\\0h\""));
  v.push_back(slotCase("rule name with an escape sequence", "rule", "\"ssh\\e[31m\""));
  v.push_back(slotCase("rule name with a newline (YAML escape)", "rule", "\"ssh\\nallow: 1\""));
  v.push_back(slotCase("rule name of 65 characters", "rule", std::string(65, 'a')));
  v.push_back(slotCase("rule name with a space", "rule", "\"s sh\""));
  v.push_back(slotCase("rule name with a slash", "rule", "../../etc/passwd"));
  v.push_back(slotCase("rule name is an emoji", "rule", "\"\xf0\x9f\x94\xa5\""));
  v.push_back(slotCase("rule name is a list", "rule", "[ssh]"));
  v.push_back(slotCase("rule name is null", "rule", "~"));

  // Ports.
  for (const auto& [label, value] : std::vector<std::pair<std::string, std::string>>{
           {"port 0", "0"},
           {"port 65536", "65536"},
           {"negative port", "-22"},
           {"port 2^64", "18446744073709551616"},
           {"port 2^32 + 22 (wraps to 22 in 32 bits)", "4294967318"},
           {"port 2^16 + 22 (wraps to 22 in 16 bits)", "65558"},
           {"port in fullwidth digits", "２２"},
           {"port in Arabic-Indic digits", "٢٢"},
           {"port with a zero-width space", "2\u200b2"},
           {"port in hexadecimal", "0x16"},
           {"port in exponent form", "2.2e1"},
           {"port with a fraction", "22.0"},
           {"port with a plus sign", "\"+22\""},
           {"unknown protocol", "22/sctp"},
           {"protocol twice", "22/tcp/udp"},
           {"empty protocol", "22/"},
           {"protocol only", "/tcp"},
           {"reversed range", "100-50"},
           {"open range", "22-"},
           {"range to 65536", "1-65536"},
           {"unknown service name", "sshd"},
           {"service name with a protocol", "ssh/tcp"},
           {"port is a map", "{port: 22}"},
           {"empty port list", "[]"},
           {"port is a boolean", "true"},
           {"port is null", "~"},
       }) {
    v.push_back(slotCase(label, "port", value));
  }

  // Addresses and networks in a group.
  for (const auto& [label, value] : std::vector<std::pair<std::string, std::string>>{
           {"CIDR with host bits", "10.0.1.5/24"},
           {"IPv6 CIDR with host bits", "\"2001:db8::1/64\""},
           {"IPv4-mapped IPv6 address", "\"::ffff:10.0.0.1\""},
           {"IPv4-mapped IPv6 network", "\"::ffff:10.0.0.0/104\""},
           {"IPv4 prefix 33", "10.0.0.0/33"},
           {"IPv6 prefix 129", "\"2001:db8::/129\""},
           {"negative prefix", "10.0.0.0/-1"},
           {"prefix 2^64 + 24", "10.0.0.0/18446744073709551640"},
           {"octet 256", "256.0.0.1"},
           {"three octets", "10.0.1"},
           {"empty prefix", "10.0.0.1/"},
           {"prefix only", "/24"},
           {"two prefixes", "10.0.0.0/24/8"},
           {"fullwidth digits in an address", "１０.0.0.1"},
           {"address with a zone", "\"fe80::1%eth0\""},
           {"triple colon", "\":::1\""},
           {"two double colons", "\"2001::db8::1\""},
           {"hex digit out of range", "\"2001:db8::g\""},
           {"address with a Cyrillic letter", "\"2001:db8::с\""},
           {"hexadecimal IPv4", "0x0a.0.0.1"},
           {"address with a zero-width space", "10.0.0.\u200b1"},
       }) {
    v.push_back(slotCase(label, "cidr", value));
  }

  // A rule's from: group references.
  v.push_back(slotCase("unknown group", "from", "app_server"));
  v.push_back(slotCase("group name with a Cyrillic letter", "from", "аpp_servers"));
  v.push_back(slotCase("group name with a zero-width space", "from", "app_\u200bservers"));
  v.push_back(slotCase("group name in fullwidth letters", "from", "ａｐｐ_servers"));

  // Rates.
  for (const auto& [label, value] : std::vector<std::pair<std::string, std::string>>{
           {"rate 0", "0/minute"},
           {"negative rate", "-1/minute"},
           {"rate 2^31", "2147483648/minute"},
           {"rate 2^64", "18446744073709551616/second"},
           {"rate 2^64 + 10 (wraps to 10)", "18446744073709551626/second"},
           {"unknown rate unit", "10/fortnight"},
           {"rate without a unit", "10/"},
           {"rate without a count", "/minute"},
           {"rate without a slash", "10minute"},
           {"rate in fullwidth digits", "１０/minute"},
           {"rate with a fraction", "1.5/second"},
           {"rate with two units", "10/minute/hour"},
       }) {
    v.push_back(slotCase(label, "limit", value));
  }
  v.push_back(slotCase("log_dropped rate 0", "log", "0/second"));
  v.push_back(slotCase("log_dropped is a number", "log", "5"));

  // The listen address.
  for (const auto& [label, value] : std::vector<std::pair<std::string, std::string>>{
           {"listen port 65536", "0.0.0.0:65536"},
           {"listen negative port", "0.0.0.0:-1"},
           {"listen port 2^64", "0.0.0.0:18446744073709551616"},
           {"listen on an IPv4-mapped address", "[::ffff:127.0.0.1]:9643"},
           {"listen on the IPv4-mapped any address", "[::ffff:0.0.0.0]:9643"},
           {"listen address with an escape sequence", "\\e[2J0.0.0.0:9643"},
           {"listen on a host name", "localhost:9643"},
           {"listen without a port", "0.0.0.0"},
           {"listen IPv6 without brackets", "::1:9643"},
           {"listen port in fullwidth digits", "0.0.0.0:９６４３"},
           {"listen empty", ""},
       }) {
    v.push_back(slotCase(label, "listen", value));
  }

  // Chain policies.
  v.push_back(slotCase("unknown chain policy", "policy", "reject"));
  v.push_back(slotCase("chain policy with a Cyrillic letter", "policy", "drоp"));
  v.push_back(slotCase("chain policy with a zero-width space", "policy", "dr\u200bop"));
  return v;
}

// The diagnostic lines `rampart check` prints: "FILE:LINE:COL: ...",
// "FILE:LINE: ..." or "FILE: ...".
bool isDiagnosticLine(const std::string& line, const std::string& file, int& line_no) {
  line_no = 0;
  if (line.rfind(file + ":", 0) != 0) return false;
  std::string_view rest(line);
  rest.remove_prefix(file.size() + 1);
  for (int part = 0; part < 2; ++part) {
    std::size_t digits = 0;
    while (digits < rest.size() && rest[digits] >= '0' && rest[digits] <= '9') ++digits;
    if (digits == 0 || digits >= rest.size() || rest[digits] != ':') break;
    if (part == 0) line_no = std::stoi(std::string(rest.substr(0, digits)));
    rest.remove_prefix(digits + 1);
  }
  return rest.size() > 1 && rest[0] == ' ';
}

void checkConfigCase(const ConfigCase& c) {
  TempDir dir;
  const std::string state = (dir.path / "state").string();
  const std::string text = replaceAll(c.text, "{state}", state);
  std::vector<std::string> problems;

  // In process: the parser itself.
  const auto t0 = Clock::now();
  auto parsed = rampart::agent::parseConfig(text, "hostile.yaml");
  const auto elapsed = Clock::now() - t0;
  if (elapsed > std::chrono::seconds(5)) {
    problems.push_back(fmt::format("parseConfig took {} ms",
                                   std::chrono::duration_cast<std::chrono::milliseconds>(elapsed).count()));
  }
  if (parsed) {
    if (!c.may_be_valid) problems.emplace_back("parseConfig accepted it");
  } else {
    const auto& items = parsed.error().items();
    if (items.empty()) problems.emplace_back("parseConfig failed with no diagnostic");
    if (items.size() > 100) problems.push_back(fmt::format("{} diagnostics", items.size()));
    bool on_line = c.line == 0;
    for (const auto& d : items) {
      if (d.loc.file != "hostile.yaml") problems.push_back("a diagnostic names file '" + d.loc.file + "'");
      if (d.message.empty()) problems.emplace_back("a diagnostic without a message");
      if (d.message.size() > 1000) problems.push_back(fmt::format("a {}-byte diagnostic", d.message.size()));
      if (d.loc.line == c.line) on_line = true;
    }
    if (!on_line) problems.push_back(fmt::format("no diagnostic on line {}", c.line));
  }

  // Through the binary: `rampart check --config FILE`.
  const std::string file = (dir.path / "hostile.yaml").string();
  {
    std::ofstream f(file, std::ios::binary);
    f.write(text.data(), static_cast<std::streamsize>(text.size()));
  }
  const auto before = dir.listing();
  Outcome o = run({"check", "--config", file});
  if (o.timed_out) problems.emplace_back("`rampart check` did not finish in time");
  const bool valid_ok = c.may_be_valid && o.code == 0;
  if (!valid_ok) {
    if (o.code != 1) problems.push_back(fmt::format("`rampart check` exit {} (want 1)", o.code));
    checkMessageText(o.err, problems);
    if (o.err.size() > 16 * 1024) problems.push_back(fmt::format("{} bytes of errors", o.err.size()));
    bool on_line = c.line == 0;
    for (const auto& l : lines(o.err)) {
      int n = 0;
      if (!isDiagnosticLine(l, file, n)) {
        problems.push_back("not a file:line:col line: '" + shown(l, 80) + "'");
        break;
      }
      if (n == c.line) on_line = true;
    }
    if (!on_line) problems.push_back(fmt::format("`rampart check` names no line {}", c.line));
  }
  if (dir.listing() != before) problems.emplace_back("files changed in the directory");
  if (fs::exists(state)) problems.emplace_back("the state directory was created");
  std::string err = o.err;
  if (!parsed && err.empty()) err = parsed.error().str();
  record("config", c.label, c.shown, o.code, problems, replaceAll(err, dir.path.string(), "$TMP"), c.known);
}

// ---------------------------------------------------------------------------
// CLI cases.

struct CliCase {
  std::string label;
  std::vector<std::string> args;  // "{sock}" and "{dir}" are replaced
  std::string names;              // the message must contain this
  int code = 2;
  std::string known;
};

std::vector<CliCase> cliCases() {
  std::vector<CliCase> v;
  const auto allow = [&v](std::string label, std::vector<std::string> extra, std::string names,
                          std::string known = {}) {
    std::vector<std::string> args{"fw", "allow", "--socket", "{sock}"};
    args.insert(args.end(), extra.begin(), extra.end());
    v.push_back(CliCase{std::move(label), std::move(args), std::move(names), 2, std::move(known)});
  };
  const auto verb = [&v](std::string label, std::vector<std::string> args, std::string names, int code = 2,
                         std::string known = {}) {
    v.push_back(CliCase{std::move(label), std::move(args), std::move(names), code, std::move(known)});
  };

  // PORT.
  allow("no PORT", {}, "PORT");
  allow("empty PORT", {""}, "PORT");
  allow("PORT 0", {"0"}, "PORT");
  allow("PORT 65536", {"65536"}, "PORT");
  allow("PORT 2^64", {"18446744073709551616"}, "PORT");
  allow("PORT 2^32 + 22", {"4294967318"}, "PORT");
  allow("PORT in fullwidth digits", {"２２"}, "PORT");
  allow("PORT with a zero-width space", {"2\u200b2"}, "PORT");
  allow("PORT with an unknown protocol", {"22/icmp"}, "PORT");
  allow("PORT with a space before the protocol", {"22 /tcp"}, "PORT");
  allow("PORT reversed range", {"100-50"}, "PORT");
  allow("PORT any (allow takes no any)", {"any"}, "PORT");
  allow("PORT of 300 characters", {std::string(300, '2')}, "PORT");
  allow("PORT of 100,000 characters", {std::string(100000, '9')}, "PORT");
  // The message shows the control characters escaped (and so names the
  // argument as typed).
  allow("PORT with a newline", {"22\nallow 23"}, "22\\nallow 23");
  allow("PORT with an escape sequence", {"22\x1b[2J"}, "22\\x1b[2J");
  allow("PORT with a C1 control character (U+009B, CSI)", {"22\u009b2J"}, "22\\u009b2J");
  allow("PORT with a right-to-left override", {"22\u202e"}, "22\\u202e");
  allow("PORT invalid UTF-8", {"22\xff\xfe"}, "PORT");
  allow("PORT given twice", {"22", "23"}, "23");

  // --from.
  allow("--from CIDR with host bits", {"22", "--from", "10.0.1.5/24"}, "--from");
  allow("--from IPv4-mapped IPv6", {"22", "--from", "::ffff:10.0.0.1"}, "--from");
  allow("--from prefix 33", {"22", "--from", "10.0.0.0/33"}, "--from");
  allow("--from prefix 2^64", {"22", "--from", "10.0.0.0/18446744073709551640"}, "--from");
  allow("--from group name with a Cyrillic letter", {"22", "--from", "аpp"}, "--from");
  allow("--from with a zero-width space", {"22", "--from", "10.0.0.\u200b1"}, "--from");
  allow("--from fullwidth digits", {"22", "--from", "１０.0.0.1"}, "--from");
  allow("--from empty", {"22", "--from", ""}, "--from");
  allow("--from of 300 characters", {"22", "--from", std::string(300, 'a')}, "--from");
  allow("--from with a space", {"22", "--from", "10.0.0.1 10.0.0.2"}, "--from");
  {
    std::vector<std::string> many{"22"};
    for (int i = 0; i < 257; ++i) {
      many.emplace_back("--from");
      many.push_back(fmt::format("10.0.{}.{}", i / 200, i % 200 + 1));
    }
    allow("--from 257 times", many, "--from");
  }

  // --for.
  for (const auto& [label, value] : std::vector<std::pair<std::string, std::string>>{
           {"--for 0s", "0s"},
           {"--for negative", "-5m"},
           {"--for without a unit", "5"},
           {"--for unknown unit", "5x"},
           {"--for over 100 years", "36501d"},
           {"--for 2^64 seconds", "18446744073709551616s"},
           {"--for 2^64 ms + 1 (wraps)", "18446744073709551617ms"},
           {"--for fullwidth digits", "５m"},
           {"--for ISO 8601", "PT5M"},
           {"--for empty unit order", "30m1h"},
           {"--for of 300 characters", std::string(299, '1') + "s"},
       }) {
    allow(label, {"22", "--for", value}, "--for");
  }
  allow("--for empty", {"22", "--for", ""}, "--for");
  allow("--limit empty", {"22", "--limit", ""}, "--limit");

  // --limit.
  for (const auto& [label, value] : std::vector<std::pair<std::string, std::string>>{
           {"--limit 0", "0/minute"},
           {"--limit negative", "-1/second"},
           {"--limit 2^31", "2147483648/second"},
           {"--limit 2^64 + 10", "18446744073709551626/second"},
           {"--limit unknown unit", "10/week"},
           {"--limit without a unit", "10"},
           {"--limit words", "abc"},
           {"--limit fullwidth digits", "１０/minute"},
       }) {
    allow(label, {"22", "--limit", value}, "--limit");
  }

  // --name.
  allow("--name with a Cyrillic letter", {"22", "--name", "wеb"}, "--name");
  allow("--name with a zero-width space", {"22", "--name", "w\u200beb"}, "--name");
  allow("--name with a space", {"22", "--name", "w eb"}, "--name");
  allow("--name of 65 characters", {"22", "--name", std::string(65, 'a')}, "--name");
  allow("--name empty", {"22", "--name", ""}, "--name");
  allow("--name with a newline", {"22", "--name", "web\nrampart: fw allow: ok"}, "web\\nrampart");
  allow("unknown option", {"22", "--bogus"}, "--bogus");
  verb("--limit on deny", {"fw", "deny", "--socket", "{sock}", "22", "--limit", "10/minute"}, "--limit");

  // Other fw verbs.
  verb("deny bad PORT", {"fw", "deny", "--socket", "{sock}", "22/xyz"}, "PORT");
  verb("ban CIDR with host bits", {"fw", "ban", "--socket", "{sock}", "10.0.0.1/8"}, "10.0.0.1/8");
  verb("ban IPv4-mapped IPv6", {"fw", "ban", "--socket", "{sock}", "::ffff:10.0.0.1"}, "::ffff:10.0.0.1");
  verb("ban garbage", {"fw", "ban", "--socket", "{sock}", "garbage"}, "garbage");
  verb("ban bad --for", {"fw", "ban", "--socket", "{sock}", "10.0.0.1", "--for", "-1h"}, "--for");
  verb("ban --file that does not exist", {"fw", "ban", "--socket", "{sock}", "--file", "{dir}/missing"},
       "missing");
  verb("unban garbage", {"fw", "unban", "--socket", "{sock}", "10.0.0.1/33"}, "10.0.0.1/33");
  verb("delete a name with a space", {"fw", "delete", "--socket", "{sock}", "a b"}, "a b");
  verb("delete an empty name", {"fw", "delete", "--socket", "{sock}", ""}, "delete");
  verb("delete number 0", {"fw", "delete", "--socket", "{sock}", "0"}, "NUMBER '0'");
  verb("delete a name of 65 characters", {"fw", "delete", "--socket", "{sock}", std::string(65, 'a')}, "NAME");
  verb("delete a name of 100,000 characters", {"fw", "delete", "--socket", "{sock}", std::string(100000, 'a')},
       "NAME|NUMBER");
  verb("delete a name with an escape sequence", {"fw", "delete", "--socket", "{sock}", "ssh\x1b[2J"},
       "ssh\\x1b[2J");
  verb("delete a name with a Cyrillic letter", {"fw", "delete", "--socket", "{sock}", "sѕh"}, "sѕh");
  verb("ban --for empty", {"fw", "ban", "--socket", "{sock}", "10.0.0.1", "--for", ""}, "--for");
  verb("ban --file empty", {"fw", "ban", "--socket", "{sock}", "--file", ""}, "--file");
  verb("apply --confirm empty", {"fw", "apply", "--socket", "{sock}", "--confirm", ""}, "--confirm");
  verb("apply --confirm negative", {"fw", "apply", "--socket", "{sock}", "--confirm", "-1m"}, "--confirm");
  verb("apply --confirm 0s", {"fw", "apply", "--socket", "{sock}", "--confirm", "0s"}, "--confirm");
  verb("unknown fw verb", {"fw", "frobnicate", "--socket", "{sock}"}, "frobnicate");
  verb("unknown verb", {"frobnicate"}, "frobnicate");
  verb("unknown tls ca verb", {"tls", "ca", "frobnicate"}, "'frobnicate'");
  verb("no verb", {}, "a verb is required (one of: version,");
  verb("no fw verb", {"fw", "--socket", "{sock}"}, "rampart fw: a verb is required");
  verb("no fw verb, an unknown option", {"fw", "--socket", "{sock}", "--bogus"}, "rampart fw: a verb is required");
  verb("unknown verb with an escape sequence", {"frob\x1b[2J"}, "frob\\x1b[2J");
  verb("unknown verb of 5000 characters", {std::string(5000, 'v')}, "vvvv…");
  verb("extra argument of 5000 characters", {"version", std::string(5000, 'x')}, "xxxx");

  // tls: nothing may be written to --dir.
  verb("tls init --days -1", {"tls", "init", "--dir", "{dir}/tls", "--days", "-1"}, "--days");
  verb("tls init --days 0", {"tls", "init", "--dir", "{dir}/tls", "--days", "0"}, "--days");
  verb("tls init --days 2^64", {"tls", "init", "--dir", "{dir}/tls", "--days", "18446744073709551616"}, "--days");
  verb("tls init --days words", {"tls", "init", "--dir", "{dir}/tls", "--days", "ten"}, "--days");
  verb("tls show of a missing file", {"tls", "show", "{dir}/missing.pem"}, "missing.pem", 1);

  // check --config.
  verb("check --config missing", {"check", "--config", "{dir}/missing.yaml"}, "missing.yaml", 1);
  verb("check --config a directory", {"check", "--config", "{dir}"}, "{dir}", 1);
  verb("check --config /dev/zero", {"check", "--config", "/dev/zero"}, "/dev/zero", 1);
  verb("check --config /dev/urandom", {"check", "--config", "/dev/urandom"}, "/dev/urandom", 1);
  verb("check --config empty path", {"check", "--config", ""}, "config", 1);
  verb("check --config path of 5000 characters", {"check", "--config", "{dir}/" + std::string(5000, 'a')}, "aaaa", 1);
  verb("check --config without a value", {"check", "--config"}, "--config", 2);
  return v;
}

std::vector<std::string> substitute(const std::vector<std::string>& args, const std::string& sock,
                                    const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& a : args) out.push_back(replaceAll(replaceAll(a, "{sock}", sock), "{dir}", dir));
  return out;
}

void checkCliCase(const CliCase& c) {
  TempDir dir;
  const std::string sock = (dir.path / "control.sock").string();
  const auto args = substitute(c.args, sock, dir.path.string());
  const std::string names = replaceAll(c.names, "{dir}", dir.path.string());
  const auto before = dir.listing();
  Outcome o = run(args);
  std::vector<std::string> problems;
  if (o.timed_out) problems.emplace_back("did not finish in time");
  if (o.code == 3) problems.emplace_back("exit 3: it tried the control socket before refusing the argument");
  else if (o.code != c.code) problems.push_back(fmt::format("exit {} (want {})", o.code, c.code));
  if (!o.out.empty()) problems.push_back("prints on stdout: '" + shown(o.out, 80) + "'");
  checkMessageText(o.err, problems);
  auto ls = lines(o.err);
  // One line; CLI11's own errors add a hint line, which is allowed.
  const bool hint = ls.size() == 2 && ls[1] == "Run with --help for more information.";
  if (ls.size() > 1 && !hint) problems.push_back(fmt::format("{} lines of error", ls.size()));
  if (!ls.empty() && ls.front().size() > 400) problems.push_back(fmt::format("a {}-byte error line", ls.front().size()));
  if (!names.empty() && o.err.find(names) == std::string::npos) problems.push_back("does not name '" + shown(names) + "'");
  if (dir.listing() != before) problems.emplace_back("files changed in the directory");
  std::string input;
  for (std::size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--socket") {
      ++i;
      continue;
    }
    input += (input.empty() ? "" : " ") + (args[i].empty() ? std::string("''") : args[i]);
  }
  input = replaceAll(input, dir.path.string(), "$TMP");
  record("cli", c.label, "rampart " + input, o.code, problems, replaceAll(o.err, dir.path.string(), "$TMP"), c.known);
}

}  // namespace

TEST_CASE("hostile input: the configuration parser refuses each bad file with file:line:col errors and changes nothing",
          "[hostile]") {
  REQUIRE_FALSE(binary().empty());
  auto cases = configCases();
  CHECK(cases.size() >= 100);
  for (const auto& c : cases) checkConfigCase(c);
  writeReport();
}

TEST_CASE("hostile input: each bad CLI argument is a one-line usage error naming it, exit 2, before any connection",
          "[hostile]") {
  REQUIRE_FALSE(binary().empty());
  auto cases = cliCases();
  CHECK(cases.size() >= 50);
  for (const auto& c : cases) checkCliCase(c);
  writeReport();
}
