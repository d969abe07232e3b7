#include "common/text.h"

#include <vector>

#include <fmt/format.h>

namespace rampart {
namespace {

constexpr std::string_view kEllipsis = "…";

bool isContinuation(unsigned char c) { return (c & 0xc0) == 0x80; }

// Code points a terminal draws as nothing or uses to reorder text: C1
// controls, zero-width characters, bidi marks, embeddings, overrides and
// isolates (the "Trojan Source" characters, CVE-2021-42574), the BOM.
bool isInvisible(char32_t cp) {
  return (cp >= 0x80 && cp <= 0x9f) || cp == 0xad || (cp >= 0x200b && cp <= 0x200f) ||
         (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2060 && cp <= 0x2069) || cp == 0xfeff;
}

// Decodes one well-formed UTF-8 sequence at the start of `s` of 2 to 4 bytes
// (RFC 3629: no overlong forms, no surrogates, nothing above U+10FFFF);
// returns its length, or 0.
std::size_t decodeUtf8(std::string_view s, char32_t& cp) {
  const auto lead = static_cast<unsigned char>(s[0]);
  std::size_t len = 0;
  char32_t min = 0;
  if (lead >= 0xc2 && lead <= 0xdf) {
    len = 2, cp = lead & 0x1f, min = 0x80;
  } else if (lead >= 0xe0 && lead <= 0xef) {
    len = 3, cp = lead & 0x0f, min = 0x800;
  } else if (lead >= 0xf0 && lead <= 0xf4) {
    len = 4, cp = lead & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (s.size() < len) return 0;
  for (std::size_t i = 1; i < len; ++i) {
    const auto c = static_cast<unsigned char>(s[i]);
    if (!isContinuation(c)) return 0;
    cp = (cp << 6) | (c & 0x3f);
  }
  if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return 0;
  return len;
}

// The escaped form of the character at the start of `s`; `used` is how many
// bytes of `s` it stands for.
std::string escapeOne(std::string_view s, std::size_t& used) {
  const auto c = static_cast<unsigned char>(s[0]);
  used = 1;
  if (c == '\n') return "\\n";
  if (c == '\r') return "\\r";
  if (c == '\t') return "\\t";
  if (c < 0x20 || c == 0x7f) return fmt::format("\\x{:02x}", c);
  if (c < 0x80) return std::string(1, static_cast<char>(c));
  char32_t cp = 0;
  const std::size_t len = decodeUtf8(s, cp);
  if (len == 0) return fmt::format("\\x{:02x}", c);
  used = len;
  if (isInvisible(cp)) return fmt::format("\\u{:04x}", static_cast<uint32_t>(cp));
  return std::string(s.substr(0, len));
}

// The escaped form of `text`, one piece per character.
std::vector<std::string> escapePieces(std::string_view text) {
  std::vector<std::string> out;
  for (std::size_t pos = 0, used = 0; pos < text.size(); pos += used) {
    out.push_back(escapeOne(text.substr(pos), used));
  }
  return out;
}

}  // namespace

std::string printableClip(std::string_view text, std::size_t max) {
  std::string out;
  for (std::size_t pos = 0, used = 0; pos < text.size(); pos += used) {
    std::string piece = escapeOne(text.substr(pos), used);
    if (out.size() + piece.size() > max) return out + std::string(kEllipsis);
    out += piece;
  }
  return out;
}

std::string printableLine(std::string_view text, std::size_t max) {
  const auto pieces = escapePieces(text);
  std::size_t total = 0;
  for (const auto& p : pieces) total += p.size();
  std::string out;
  if (total <= max) {
    for (const auto& p : pieces) out += p;
    return out;
  }
  // Two thirds of the room for the start, the rest for the end.
  const std::size_t keep = max > kEllipsis.size() ? max - kEllipsis.size() : 0;
  const std::size_t head_room = keep * 2 / 3;
  std::size_t head = 0;
  while (head < pieces.size() && out.size() + pieces[head].size() <= head_room) out += pieces[head++];
  std::size_t tail = pieces.size(), tail_size = 0;
  while (tail > head && out.size() + tail_size + pieces[tail - 1].size() <= keep) {
    tail_size += pieces[--tail].size();
  }
  out += kEllipsis;
  for (std::size_t i = tail; i < pieces.size(); ++i) out += pieces[i];
  return out;
}

std::string valueError(std::string_view what, std::string_view value, std::string_view error) {
  const std::string quoted = "'" + printableClip(value) + "'";
  std::string out(what);
  out += ' ';
  if (error.starts_with(quoted)) return out.append(error);
  return out.append(quoted).append(": ").append(error);
}

}  // namespace rampart
