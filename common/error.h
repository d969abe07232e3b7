// Errors as values (STYLE.md rule 6): what failed, in words a user can act on.
#pragma once

#include <cerrno>
#include <cstring>
#include <expected>
#include <string>
#include <utility>

#include <fmt/format.h>

namespace rampart {

struct Error {
  std::string message;

  // A syscall error names the call and strerror(errno): "open /x: No such file".
  static Error fromErrno(std::string_view what, int err = errno) {
    return Error{fmt::format("{}: {}", what, std::strerror(err))};
  }
};

template <class T>
using Result = std::expected<T, Error>;

inline std::unexpected<Error> fail(std::string message) {
  return std::unexpected(Error{std::move(message)});
}

template <class... Args>
std::unexpected<Error> fail(fmt::format_string<Args...> f, Args&&... args) {
  return std::unexpected(Error{fmt::format(f, std::forward<Args>(args)...)});
}

}  // namespace rampart
