// PEM loading (tls/cert_info.h, tls/identity.h) on arbitrary bytes: the
// certificate chain reader behind Identity::load and `tls show`, and the
// private key reader. Everything goes through memory; no files.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "tls/cert_info.h"
#include "tls/identity.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace rampart::tls;
  std::string_view pem(reinterpret_cast<const char*>(data), size);
  auto certs = parseCertificates(pem, "fuzz.pem");
  if (certs) {
    for (const auto& c : *certs) {
      if (c.sha256_fingerprint.empty()) __builtin_trap();
    }
  } else if (certs.error().message.empty()) {
    __builtin_trap();
  }
  auto chain = parsePemChain(pem);
  if (!chain && chain.error().message.empty()) __builtin_trap();
  auto key = parsePemKey(pem);
  if (key) {
    if (toPem(key->get()).empty()) __builtin_trap();
  } else if (key.error().message.empty()) {
    __builtin_trap();
  }
  return 0;
}
