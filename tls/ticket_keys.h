// Session ticket keys that outlive any one ServerContext. The Reloader hands
// the same TicketKeys to every context it builds, so a certificate reload
// does not end resumption: a ticket issued before the reload still opens
// after it (OpenSSL's own keys are per SSL_CTX and die with it).
//
// Keys rotate on a schedule: new tickets are sealed with the current key, and
// once that key is older than `rotate_every` the next ticket makes a new one.
// Tickets sealed with the previous key are still accepted (and re-issued
// under the current one), so a ticket stays usable for at least
// `rotate_every`; older ones fall back to a full handshake. RFC 5077 §4 and
// RFC 8446 §4.6.1 leave the ticket format to the server; this one is
// OpenSSL's: a 16-byte key name, AES-256-CBC, HMAC-SHA256.
//
// The keys live in memory only, are never written or logged, and are wiped
// when dropped.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>

#include "common/error.h"

struct ssl_ctx_st;       // SSL_CTX
struct evp_cipher_ctx_st;  // EVP_CIPHER_CTX
struct evp_mac_ctx_st;     // EVP_MAC_CTX

namespace rampart::tls {

class TicketKeys {
 public:
  using Clock = std::chrono::steady_clock;
  using NowFn = std::function<Clock::time_point()>;
  static constexpr std::chrono::seconds kDefaultRotation{12 * 3600};

  static Result<std::shared_ptr<TicketKeys>> create(std::chrono::seconds rotate_every = kDefaultRotation,
                                                    NowFn now = {});
  ~TicketKeys();
  TicketKeys(const TicketKeys&) = delete;
  TicketKeys& operator=(const TicketKeys&) = delete;

  // A new current key now; the current one becomes the previous (still
  // accepted), the previous one is dropped.
  Result<void> rotate();
  uint64_t rotations() const { return rotations_.load(); }
  std::chrono::seconds rotateEvery() const { return rotate_every_; }

  // Seals and opens the tickets of `ctx` with these keys. The caller keeps
  // this object alive for as long as `ctx` (ServerContext holds both).
  Result<void> install(ssl_ctx_st* ctx);

  // The body of OpenSSL's ticket key callback for a context installed
  // above (SSL_CTX_set_tlsext_ticket_key_evp_cb's contract: 1 sealed or
  // opened, 2 opened with an older key so re-issue, 0 unknown key, -1 error).
  int onTicket(unsigned char* name, unsigned char* iv, evp_cipher_ctx_st* cipher, evp_mac_ctx_st* mac, int enc);

 private:
  struct Key {
    std::array<unsigned char, 16> name{};
    std::array<unsigned char, 32> aes{};
    std::array<unsigned char, 32> hmac{};
    Clock::time_point born{};
  };

  TicketKeys(std::chrono::seconds rotate_every, NowFn now);
  Clock::time_point now() const { return now_ ? now_() : Clock::now(); }
  Result<void> rotateLocked();  // mu_ held
  static Result<Key> makeKey(Clock::time_point born);
  static void wipe(Key& key);

  const std::chrono::seconds rotate_every_;
  const NowFn now_;
  mutable std::mutex mu_;
  Key current_;
  std::optional<Key> previous_;
  std::atomic<uint64_t> rotations_{0};
};

}  // namespace rampart::tls
