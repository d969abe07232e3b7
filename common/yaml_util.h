// Typed reading of YAML nodes with file:line:col diagnostics. Parsers of
// each configuration section use a YamlReader so that every error names its
// place and all errors of a file are collected (STYLE.md rules 4 and 5).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>

#include <yaml-cpp/yaml.h>

#include "common/diag.h"

namespace rampart {

class YamlReader {
 public:
  YamlReader(std::string file, Diagnostics& diags) : file_(std::move(file)), diags_(diags) {}

  const std::string& file() const { return file_; }
  Diagnostics& diags() { return diags_; }

  SourceLoc loc(const YAML::Node& node) const;
  void error(const YAML::Node& node, std::string message);
  void error(SourceLoc loc, std::string message) { diags_.error(std::move(loc), std::move(message)); }

  // Each returns nullopt/false after reporting an error that names `what`.
  bool expectMap(const YAML::Node& node, std::string_view what);
  bool expectSequence(const YAML::Node& node, std::string_view what);
  // Reports every key of `map` that is not in `allowed`, at the key.
  void rejectUnknownKeys(const YAML::Node& map, std::string_view section,
                         std::initializer_list<std::string_view> allowed);
  std::optional<std::string> string(const YAML::Node& node, std::string_view what);
  std::optional<bool> boolean(const YAML::Node& node, std::string_view what);
  std::optional<int64_t> integer(const YAML::Node& node, std::string_view what, int64_t min,
                                 int64_t max);

 private:
  std::string file_;
  Diagnostics& diags_;
};

// Parses YAML text; a syntax error becomes a diagnostic and nullopt. Input
// above `max_bytes` is refused before parsing.
std::optional<YAML::Node> loadYaml(std::string_view text, const std::string& file,
                                   Diagnostics& diags, size_t max_bytes = 4u << 20);

}  // namespace rampart
