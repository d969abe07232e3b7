// The OpenSSL side of an Identity; included by tls/*.cpp only.
#pragma once

#include "tls/openssl_ptr.h"

namespace rampart::tls {

struct IdentityData {
  X509StackPtr chain;  // leaf first
  EvpPkeyPtr key;
};

}  // namespace rampart::tls
