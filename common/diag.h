// Source locations and diagnostics: every configuration error says
// file:line:col and what was expected, and all of them are collected.
#pragma once

#include <string>
#include <vector>

namespace rampart {

struct SourceLoc {
  std::string file;  // path as given by the user, or "<embedded default>", "<cli>"
  int line = 0;      // 1-based; 0 when unknown
  int col = 0;       // 1-based; 0 when unknown

  std::string str() const;  // "file:line:col", "file:line" or "file"
  bool operator==(const SourceLoc&) const = default;
};

struct Diagnostic {
  SourceLoc loc;
  std::string message;

  std::string str() const;  // "file:line:col: message"
};

class Diagnostics {
 public:
  void error(SourceLoc loc, std::string message);
  bool ok() const { return items_.empty(); }
  const std::vector<Diagnostic>& items() const { return items_; }
  std::string str() const;  // one diagnostic per line
  void append(const Diagnostics& other);

 private:
  std::vector<Diagnostic> items_;
};

}  // namespace rampart
