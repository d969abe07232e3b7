// Names, lookups and the embedded default policy. Parsing of the YAML lives
// in policy_parse.cpp, the address and port types in address.cpp.
#include "firewall/policy.h"

#include <algorithm>

namespace rampart::fw {
namespace {

bool isNameChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '_' || c == '.' || c == '-';
}

bool isHostLabelChar(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
         c == '-';
}

}  // namespace

bool isValidRuleName(std::string_view name) {
  return !name.empty() && name.size() <= 64 && std::all_of(name.begin(), name.end(), isNameChar);
}

std::vector<std::string> defaultForwardInterfaces() {
  return {"docker0", "br-*", "virbr*", "cni*", "podman*", "cali*", "vxlan.calico", "flannel*", "cilium_*", "lxc*", "lxdbr*", "weave", "kube-bridge"};
}

bool isValidInterfacePattern(std::string_view name) {
  if (name.ends_with('*')) name.remove_suffix(1);
  if (name.empty() || name.size() > 15) return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || c == '*' || c == '\0' || static_cast<unsigned char>(c) <= ' ' || c == 0x7f;
  });
}

bool familiesMeet(const Rule& rule) {
  if (rule.to.empty() || (rule.from.empty() && rule.from_groups.empty())) return true;
  for (Family f : {Family::V4, Family::V6}) {
    // A group may gain members of either family: it meets any destination.
    bool source = !rule.from_groups.empty() ||
                  std::ranges::any_of(rule.from, [&](const Cidr& c) { return c.family == f; });
    if (source && std::ranges::any_of(rule.to, [&](const Cidr& c) { return c.family == f; })) return true;
  }
  return false;
}

bool interfaceMatches(std::string_view pattern, std::string_view name) {
  if (pattern.ends_with('*')) return name.starts_with(pattern.substr(0, pattern.size() - 1));
  return pattern == name;
}

std::string_view actionName(Action a) {
  switch (a) {
    case Action::Allow:
      return "allow";
    case Action::Deny:
      return "deny";
    case Action::Reject:
      return "reject";
  }
  return "allow";
}

bool isValidGroupName(std::string_view name) {
  if (!isValidRuleName(name)) return false;
  const char c = name[0];
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '_';
}

bool isValidHostName(std::string_view name) {
  if (name.ends_with('.')) name.remove_suffix(1);
  if (name.empty() || name.size() > 253) return false;
  std::string_view last;
  while (true) {
    const size_t dot = name.find('.');
    const std::string_view label = name.substr(0, dot);
    if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-' ||
        !std::all_of(label.begin(), label.end(), isHostLabelChar)) {
      return false;
    }
    last = label;
    if (dot == std::string_view::npos) break;
    name.remove_prefix(dot + 1);
  }
  // RFC 3696 section 2: a top-level domain is never all-numeric.
  return !std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
}

const Group* Policy::findGroup(std::string_view name) const {
  for (const auto& g : groups) {
    if (g.name == name) return &g;
  }
  return nullptr;
}

Policy defaultPolicy(uint16_t agent_port) {
  const SourceLoc loc{"<embedded default>", 0, 0};
  const auto tcp = [](uint16_t port) {
    return PortSpec{PortRange{port, port}, {Proto::Tcp}};
  };
  Policy p;  // input drop, forward drop, output accept, log_dropped 5/second
  // No `limit` on SSH here: the default runs on nodes nobody has configured
  // yet, where a rate limit is how an operator running a loop of `ssh` or an
  // Ansible play with many forks locks themselves out. A configured policy
  // can add one (SPEC.md's example does).
  Rule ssh;
  ssh.name = "ssh";
  ssh.ports = {tcp(22)};
  ssh.loc = loc;
  Rule web;
  web.name = "web";
  web.ports = {tcp(80), tcp(443)};
  web.loc = loc;
  Rule agent;
  agent.name = "rampart";
  agent.ports = {tcp(agent_port)};
  agent.loc = loc;
  p.rules = {ssh, web, agent};
  return p;
}

}  // namespace rampart::fw
