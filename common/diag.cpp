#include "common/diag.h"

#include <fmt/format.h>

#include "common/text.h"

namespace rampart {

namespace {

// A path is the user's text too: a 4 KiB path would make every line of
// `rampart check` 4 KiB long.
constexpr size_t kMaxShownPath = 200;
// One diagnostic is one line; values it quotes are clipped where they are
// quoted, this bounds the rest.
constexpr size_t kMaxMessage = 1000;

}  // namespace

std::string SourceLoc::str() const {
  const std::string shown = printableLine(file, kMaxShownPath);
  if (line <= 0) return shown;
  if (col <= 0) return fmt::format("{}:{}", shown, line);
  return fmt::format("{}:{}:{}", shown, line, col);
}

std::string Diagnostic::str() const { return fmt::format("{}: {}", loc.str(), message); }

void Diagnostics::error(SourceLoc loc, std::string message) {
  // Messages quote the file's text; a NUL, newline or escape sequence in it
  // must not reach the terminal raw.
  items_.push_back({std::move(loc), printableLine(message, kMaxMessage)});
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
