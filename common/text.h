// User text inside messages. An error that quotes what the user typed (an
// argument, a value from a file, a path) must not carry raw control
// characters to the terminal (a newline forging a second line, an escape
// sequence clearing the screen), nor grow with the input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace rampart {

// How much of a user's value a message quotes by default.
inline constexpr std::size_t kQuoteMax = 64;
// The longest line an error message prints.
inline constexpr std::size_t kLineMax = 400;

// `text` as a message quotes it: \n, \r, \t and \xNN for other control bytes
// and for bytes that are not UTF-8; \uNNNN for invisible or direction-changing
// code points (C1 controls, zero-width spaces and joiners, bidi overrides), so
// a look-alike stays findable. Other characters are kept as they are. At most
// `max` bytes of the escaped form are kept, then "…".
std::string printableClip(std::string_view text, std::size_t max = kQuoteMax);

// A whole message line (which may already quote values): escaped as
// printableClip does, and above `max` bytes its start and its end are kept
// with "…" between, so both the subject and the reason stay readable.
std::string printableLine(std::string_view text, std::size_t max = kLineMax);

// "<what> '<value>': <error>" for a value the user gave (`what`: the flag or
// argument, "PORT", "--from"), the value escaped and clipped. When `error`
// already starts by quoting the value (the parsers' errors do), it is not
// said twice: "PORT '80/xyz': unknown protocol 'xyz' ...".
std::string valueError(std::string_view what, std::string_view value, std::string_view error);

}  // namespace rampart
