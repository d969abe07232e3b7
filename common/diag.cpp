#include "common/diag.h"

#include <fmt/format.h>

namespace rampart {

std::string SourceLoc::str() const {
  if (line <= 0) return file;
  if (col <= 0) return fmt::format("{}:{}", file, line);
  return fmt::format("{}:{}:{}", file, line, col);
}

std::string Diagnostic::str() const { return fmt::format("{}: {}", loc.str(), message); }

void Diagnostics::error(SourceLoc loc, std::string message) {
  items_.push_back({std::move(loc), std::move(message)});
}

std::string Diagnostics::str() const {
  std::string out;
  for (const auto& d : items_) {
    out += d.str();
    out += '\n';
  }
  return out;
}

void Diagnostics::append(const Diagnostics& other) {
  items_.insert(items_.end(), other.items_.begin(), other.items_.end());
}

}  // namespace rampart
