// Digests for code outside tls/ that must not include OpenSSL.
#pragma once

#include <string>
#include <string_view>

namespace rampart::tls {

// The 32-byte SHA-256 of `data`.
std::string sha256(std::string_view data);

}  // namespace rampart::tls
