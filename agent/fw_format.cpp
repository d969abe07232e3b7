#include "agent/fw_format.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

#include "common/units.h"

namespace rampart::agent {
namespace {

using nlohmann::json;

std::string joined(const json& list, std::string_view empty) {
  if (!list.is_array() || list.empty()) return std::string(empty);
  std::string s;
  for (const auto& e : list) {
    if (!s.empty()) s += ",";
    s += e.is_string() ? e.get<std::string>() : e.dump();
  }
  return s;
}

std::string humanBytes(uint64_t b) {
  if (b < 1024) return fmt::format("{}", b);
  const char* units[] = {"K", "M", "G", "T", "P"};
  double v = static_cast<double>(b);
  int u = -1;
  while (v >= 1024 && u < 4) {
    v /= 1024;
    ++u;
  }
  return fmt::format("{:.1f}{}", v, units[u]);
}

std::string table(const std::vector<std::vector<std::string>>& rows) {
  std::vector<size_t> width;
  for (const auto& row : rows) {
    width.resize(std::max(width.size(), row.size()));
    for (size_t i = 0; i < row.size(); ++i) width[i] = std::max(width[i], row[i].size());
  }
  std::string out;
  for (const auto& row : rows) {
    std::string line;
    for (size_t i = 0; i < row.size(); ++i) {
      line += row[i];
      if (i + 1 < row.size()) line += std::string(width[i] - row[i].size() + 2, ' ');
    }
    out += line + "\n";
  }
  return out;
}

}  // namespace

std::string remaining(int64_t now_ms, int64_t at_ms) {
  if (at_ms <= now_ms) return "expired";
  // Rounded up to the second, so "in 1s" is never shown for what is due.
  int64_t ms = ((at_ms - now_ms + 999) / 1000) * 1000;
  return "in " + Duration{std::chrono::milliseconds(ms)}.str();
}

std::string renderFwStatus(const json& status, int64_t now_ms) {
  std::vector<std::vector<std::string>> rows{{"#", "NAME", "ACTION", "PORTS", "FROM", "ORIGIN", "EXPIRES", "PACKETS", "BYTES"}};
  for (const auto& r : status.value("rules", json::array())) {
    std::string action = r.value("action", "");
    if (r.value("chain", "input") != "input") action += " (" + r.value("chain", "") + ")";
    if (r.contains("limit") && r["limit"].is_string()) action += " " + r["limit"].get<std::string>();
    std::string expires = r.contains("expires_ms") && r["expires_ms"].is_number()
                              ? remaining(now_ms, r["expires_ms"].get<int64_t>())
                              : "-";
    std::string packets = r.value("in_kernel", false) ? fmt::format("{}", r.value("packets", uint64_t{0})) : "-";
    std::string bytes = r.value("in_kernel", false) ? humanBytes(r.value("bytes", uint64_t{0})) : "-";
    std::string ports = joined(r.value("ports", json::array()), "any");
    if (const json to = r.value("to", json::array()); to.is_array() && !to.empty()) ports += " to " + joined(to, "");
    if (const json ifaces = r.value("interfaces", json::array()); ifaces.is_array() && !ifaces.empty())
      ports += " on " + joined(ifaces, "");
    rows.push_back({fmt::format("{}", r.value("number", 0)), r.value("name", ""), action, ports,
                    joined(r.value("sources", json::array()), "any"),
                    r.value("origin", ""), expires, packets, bytes});
  }
  std::string out = table(rows);
  out += fmt::format("bans: {}\n", status.value("bans", uint64_t{0}));
  if (status.contains("confirm_deadline_ms")) {
    out += fmt::format("confirm window: rolls back {} unless `rampart fw confirm`\n",
                       remaining(now_ms, status["confirm_deadline_ms"].get<int64_t>()));
  }
  if (status.contains("rolled_back_at_ms")) {
    out += "rolled back: the previous policy runs instead of the configuration file's (`rampart fw apply` applies the file)\n";
  }
  if (status.contains("kernel_error")) out += fmt::format("kernel: {}\n", status["kernel_error"].get<std::string>());
  if (status.contains("state_problem")) out += fmt::format("state: {}\n", status["state_problem"].get<std::string>());
  return out;
}

std::string renderFwBans(const json& bans) {
  const int64_t now = bans.value("now_ms", int64_t{0});
  std::vector<std::vector<std::string>> rows{{"ADDRESS", "EXPIRES"}};
  for (const auto& b : bans.value("bans", json::array())) {
    std::string expires = b.contains("expires_ms") && b["expires_ms"].is_number()
                              ? remaining(now, b["expires_ms"].get<int64_t>())
                              : "never";
    rows.push_back({b.value("cidr", ""), expires});
  }
  return table(rows) + fmt::format("{} banned\n", rows.size() - 1);
}

}  // namespace rampart::agent
