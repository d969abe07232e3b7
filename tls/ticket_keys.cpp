#include "tls/ticket_keys.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>

#include <algorithm>
#include <cstring>

#include "tls/openssl_ptr.h"

namespace rampart::tls {
namespace {

// Where a context finds its TicketKeys (asio's ssl::context already uses
// the SSL_CTX's app data for its verify callback).
int exDataIndex() {
  static const int index = SSL_CTX_get_ex_new_index(0, nullptr, nullptr, nullptr, nullptr);
  return index;
}

int ticketCallback(SSL* ssl, unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                   int enc) {
  auto* keys = static_cast<TicketKeys*>(SSL_CTX_get_ex_data(SSL_get_SSL_CTX(ssl), exDataIndex()));
  return keys ? keys->onTicket(name, iv, cipher, mac, enc) : -1;
}

}  // namespace

TicketKeys::TicketKeys(std::chrono::seconds rotate_every, NowFn now)
    : rotate_every_(std::max(rotate_every, std::chrono::seconds(1))), now_(std::move(now)) {}

TicketKeys::~TicketKeys() {
  wipe(current_);
  if (previous_) wipe(*previous_);
}

Result<std::shared_ptr<TicketKeys>> TicketKeys::create(std::chrono::seconds rotate_every, NowFn now) {
  std::shared_ptr<TicketKeys> keys(new TicketKeys(rotate_every, std::move(now)));
  auto first = makeKey(keys->now());
  if (!first) return std::unexpected(first.error());
  keys->current_ = *first;
  wipe(*first);
  return keys;
}

Result<TicketKeys::Key> TicketKeys::makeKey(Clock::time_point born) {
  Key k;
  k.born = born;
  if (RAND_bytes(k.name.data(), static_cast<int>(k.name.size())) != 1 ||
      RAND_bytes(k.aes.data(), static_cast<int>(k.aes.size())) != 1 ||
      RAND_bytes(k.hmac.data(), static_cast<int>(k.hmac.size())) != 1) {
    wipe(k);
    return fail("making a session ticket key: {}", takeOpensslErrors());
  }
  return k;
}

void TicketKeys::wipe(Key& key) {
  OPENSSL_cleanse(key.aes.data(), key.aes.size());
  OPENSSL_cleanse(key.hmac.data(), key.hmac.size());
}

Result<void> TicketKeys::rotate() {
  std::lock_guard lock(mu_);
  return rotateLocked();
}

Result<void> TicketKeys::rotateLocked() {
  auto next = makeKey(now());
  if (!next) return std::unexpected(next.error());
  if (previous_) wipe(*previous_);
  previous_ = current_;
  current_ = *next;
  wipe(*next);
  rotations_.fetch_add(1);
  return {};
}

Result<void> TicketKeys::install(ssl_ctx_st* ctx) {
  if (exDataIndex() < 0 || SSL_CTX_set_ex_data(ctx, exDataIndex(), this) != 1 ||
      SSL_CTX_set_tlsext_ticket_key_evp_cb(ctx, ticketCallback) != 1)
    return fail("installing session ticket keys: {}", takeOpensslErrors());
  return {};
}

int TicketKeys::onTicket(unsigned char* name, unsigned char* iv, EVP_CIPHER_CTX* cipher, EVP_MAC_CTX* mac,
                         int enc) {
  std::lock_guard lock(mu_);
  // A due key rotates here, at the first ticket after its time, rather than
  // on a timer of its own. After two idle periods the old key is not kept
  // either. (Should the random source fail, the current key serves on.)
  const auto age = now() - current_.born;
  if (age >= rotate_every_ && rotateLocked() && age >= 2 * rotate_every_) {
    wipe(*previous_);
    previous_.reset();
  }

  const Key* key = &current_;
  int found = 1;
  if (enc == 1) {
    std::memcpy(name, key->name.data(), key->name.size());
    if (RAND_bytes(iv, EVP_CIPHER_get_iv_length(EVP_aes_256_cbc())) != 1) return -1;
  } else if (std::memcmp(name, current_.name.data(), current_.name.size()) != 0) {
    if (!previous_ || std::memcmp(name, previous_->name.data(), previous_->name.size()) != 0) return 0;
    key = &*previous_;
    found = 2;  // valid, but sealed with the older key: OpenSSL issues a fresh ticket
  }
  char digest[] = "SHA256";
  OSSL_PARAM params[] = {
      OSSL_PARAM_construct_octet_string(OSSL_MAC_PARAM_KEY, const_cast<unsigned char*>(key->hmac.data()),
                                        key->hmac.size()),
      OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0), OSSL_PARAM_construct_end()};
  if (EVP_MAC_CTX_set_params(mac, params) != 1) return -1;
  const int ok = enc == 1 ? EVP_EncryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv)
                          : EVP_DecryptInit_ex(cipher, EVP_aes_256_cbc(), nullptr, key->aes.data(), iv);
  return ok == 1 ? found : -1;
}

}  // namespace rampart::tls
