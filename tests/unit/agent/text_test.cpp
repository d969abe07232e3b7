// common/text.h: how messages quote user text.
#include <catch2/catch.hpp>

#include <string>

#include "common/text.h"

using rampart::printableClip;
using rampart::printableLine;

namespace {

bool hasRawControl(const std::string& s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("text: control characters are shown escaped, never raw") {
  CHECK(printableClip("22\nallow 23") == "22\\nallow 23");
  CHECK(printableClip("a\rb\tc") == "a\\rb\\tc");
  CHECK(printableClip("22\x1b[2J") == "22\\x1b[2J");
  CHECK(printableClip(std::string("w\0eb", 4)) == "w\\x00eb");
  CHECK(printableClip("del\x7f") == "del\\x7f");
}

TEST_CASE("text: invisible and direction-changing code points are shown as \\u, look-alikes are kept") {
  CHECK(printableClip("ss\u200bh") == "ss\\u200bh");      // zero-width space
  CHECK(printableClip("ssh\u202etxt") == "ssh\\u202etxt");  // right-to-left override
  CHECK(printableClip("\ufeffssh") == "\\ufeffssh");       // byte order mark
  CHECK(printableClip("22\u009b2J") == "22\\u009b2J");     // C1 CSI
  CHECK(printableClip("sѕh") == "sѕh");                    // a Cyrillic letter stays visible
  CHECK(printableClip("２２") == "２２");
}

TEST_CASE("text: bytes that are not UTF-8 are shown as \\x") {
  CHECK(printableClip("ss\xff\xfeh") == "ss\\xff\\xfeh");
  CHECK(printableClip("\xc0\xaf") == "\\xc0\\xaf");          // overlong '/'
  CHECK(printableClip("\xed\xa0\x80") == "\\xed\\xa0\\x80");  // a surrogate
  CHECK(printableClip("\xe2\x82") == "\\xe2\\x82");          // cut short
}

TEST_CASE("text: a long value is clipped with an ellipsis, on a character boundary") {
  CHECK(printableClip(std::string(64, 'a')) == std::string(64, 'a'));
  CHECK(printableClip(std::string(65, 'a')) == std::string(64, 'a') + "…");
  CHECK(printableClip(std::string(100000, 'a')).size() == 64 + std::string("…").size());
  // An escape is never cut in half.
  CHECK(printableClip(std::string(10, '\x1b'), 6) == "\\x1b…");
  CHECK(printableClip("ééé", 5) == "éé…");
}

TEST_CASE("text: a long line keeps its start and its end") {
  const std::string line = "cannot open /tmp/" + std::string(5000, 'a') + ": File name too long";
  const std::string shown = printableLine(line);
  CHECK(shown.size() <= rampart::kLineMax);
  CHECK(shown.starts_with("cannot open /tmp/aaa"));
  CHECK(shown.ends_with("aaa: File name too long"));
  CHECK(shown.find("…") != std::string::npos);
  CHECK(printableLine("short\n") == "short\\n");
  const std::string escapes = printableLine(std::string(1000, '\x1b'), 100);
  CHECK(escapes.size() <= 100);
  CHECK_FALSE(hasRawControl(escapes));
  CHECK(escapes.starts_with("\\x1b"));
  CHECK(escapes.ends_with("\\x1b"));
}

TEST_CASE("text: a value in an error is named once, escaped") {
  using rampart::valueError;
  // The parser already quotes the value: not said twice.
  CHECK(valueError("PORT", "80/xyz", "'80/xyz': unknown protocol 'xyz'") == "PORT '80/xyz': unknown protocol 'xyz'");
  // It does not: the value comes first.
  CHECK(valueError("--for", "5x", "expected a number and a unit") == "--for '5x': expected a number and a unit");
  // Control characters in the value are escaped, also when the parser's
  // error quoted them raw (then the value is given escaped before it).
  const std::string shown = valueError("ADDR", "1.2.3.4\n\x1b[2J", "'1.2.3.4\n\x1b[2J' is not an address");
  CHECK(shown.starts_with("ADDR '1.2.3.4\\n\\x1b[2J': "));
}
