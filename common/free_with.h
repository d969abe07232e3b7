// The deleter of every owning alias for a C library's handle
// (std::unique_ptr<T, FreeWith<t_free>>): calls the library's own free
// function (STYLE.md rule 8).
#pragma once

namespace rampart {

template <auto Free>
struct FreeWith {
  template <class T>
  void operator()(T* p) const noexcept {
    Free(p);
  }
};

}  // namespace rampart
