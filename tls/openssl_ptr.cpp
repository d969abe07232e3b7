#include "tls/openssl_ptr.h"

#include <openssl/err.h>

#include <string>

namespace rampart::tls {

std::string takeOpensslErrors(std::string_view fallback) {
  std::string out;
  while (unsigned long code = ERR_get_error()) {
    char buf[256];
    ERR_error_string_n(code, buf, sizeof buf);
    if (!out.empty()) out += "; ";
    out += buf;
  }
  return out.empty() ? std::string(fallback) : out;
}

}  // namespace rampart::tls
