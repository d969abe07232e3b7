#include "common/yaml_util.h"

#include <algorithm>
#include <charconv>

#include <fmt/format.h>

#include "common/text.h"

namespace rampart {
namespace {

std::string_view kindName(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null: return "nothing";
    case YAML::NodeType::Scalar: return "a scalar";
    case YAML::NodeType::Sequence: return "a list";
    case YAML::NodeType::Map: return "a mapping";
    case YAML::NodeType::Undefined: break;
  }
  return "nothing";
}

}  // namespace

SourceLoc YamlReader::loc(const YAML::Node& node) const {
  const YAML::Mark mark = node.Mark();
  if (mark.is_null()) return SourceLoc{file_, 0, 0};
  return SourceLoc{file_, mark.line + 1, mark.column + 1};
}

void YamlReader::error(const YAML::Node& node, std::string message) {
  diags_.error(loc(node), std::move(message));
}

bool YamlReader::expectMap(const YAML::Node& node, std::string_view what) {
  if (node.IsMap()) return true;
  error(node, fmt::format("{}: expected a mapping, found {}", what, kindName(node)));
  return false;
}

bool YamlReader::expectSequence(const YAML::Node& node, std::string_view what) {
  if (node.IsSequence()) return true;
  error(node, fmt::format("{}: expected a list, found {}", what, kindName(node)));
  return false;
}

void YamlReader::rejectUnknownKeys(const YAML::Node& map, std::string_view section,
                                   std::initializer_list<std::string_view> allowed) {
  // A copy, not a reference: yaml-cpp's iterator yields a temporary pair, so
  // `const Node& key = it->first` dangles (ASan: stack-use-after-scope).
  for (const auto& kv : map) {
    const YAML::Node key = kv.first;
    if (!key.IsScalar()) {
      error(key, fmt::format("{}: keys must be plain names", section));
      continue;
    }
    const std::string& name = key.Scalar();
    if (std::find(allowed.begin(), allowed.end(), name) == allowed.end()) {
      std::string expected;
      for (auto a : allowed) expected += fmt::format("{}{}", expected.empty() ? "" : ", ", a);
      error(key, fmt::format("{}: unknown key '{}' (expected one of: {})", section,
                             printableClip(name), expected));
    }
  }
}

std::optional<std::string> YamlReader::string(const YAML::Node& node, std::string_view what) {
  if (!node.IsScalar()) {
    error(node, fmt::format("{}: expected a string, found {}", what, kindName(node)));
    return std::nullopt;
  }
  return node.Scalar();
}

std::optional<bool> YamlReader::boolean(const YAML::Node& node, std::string_view what) {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  error(node, fmt::format("{}: expected true or false", what));
  return std::nullopt;
}

std::optional<int64_t> YamlReader::integer(const YAML::Node& node, std::string_view what,
                                           int64_t min, int64_t max) {
  if (node.IsScalar()) {
    const std::string& s = node.Scalar();
    int64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
    if (ec == std::errc() && p == s.data() + s.size()) {
      if (v >= min && v <= max) return v;
      error(node, fmt::format("{}: {} is out of range (expected {}..{})", what, printableClip(s), min,
                              max));
      return std::nullopt;
    }
  }
  error(node, fmt::format("{}: expected an integer {}..{}", what, min, max));
  return std::nullopt;
}

std::optional<YAML::Node> loadYaml(std::string_view text, const std::string& file,
                                   Diagnostics& diags, size_t max_bytes) {
  if (text.size() > max_bytes) {
    diags.error(SourceLoc{file, 0, 0},
                fmt::format("file is {} bytes, larger than the limit of {} bytes", text.size(),
                            max_bytes));
    return std::nullopt;
  }
  try {
    return YAML::Load(std::string(text));
  } catch (const YAML::Exception& e) {
    SourceLoc loc{file, e.mark.is_null() ? 0 : e.mark.line + 1,
                  e.mark.is_null() ? 0 : e.mark.column + 1};
    diags.error(loc, fmt::format("YAML syntax: {}", e.msg));
    return std::nullopt;
  }
}

}  // namespace rampart
