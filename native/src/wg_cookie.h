// WireGuard's denial-of-service defences (whitepaper 5.3, 5.4.4, 5.4.7), pure C++ over wg_crypto:
//  - CookieChecker (the receiving side of every type-1/2 message, one per device): mac1 check,
//    mac2 check under load, and the type-3 cookie reply (XChaCha20-Poly1305, the cookie secret
//    rotating every 2 minutes). Vet() is the whole receive-path decision in one call, made for
//    the engine's rx thread: no JS, no allocation.
//  - CookieGenerator (the sending side, one per peer): adds mac1 to every type-1/2 message and
//    mac2 while a cookie from that peer is fresh; consumes the peer's cookie replies.
//  - RateLimiter: wireguard-go's token bucket per source address for initiations under load
//    (20 per second, bursts of 5; IPv6 sources by /64 as the kernel does).
//  - LoadTracker: "under load" as wireguard-go defines it (the handshake queue at least 1/8 full,
//    and for one second after).
// All four are safe to call from several threads (internally locked where they hold state).
// Times are monotonic nanoseconds (mono_clock.h MonotonicNanos) passed by the caller.
#pragma once

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_map>
#include <string>

#include "wg_crypto.h"
#include "wg_noise.h"

struct sockaddr;

namespace tund {
namespace wg {

constexpr int64_t kCookieRefreshNs = 120 * kNanosPerSecond;  // secret lifetime, cookie lifetime
constexpr size_t kCookieNonceOffset = 8;
constexpr size_t kCookieSealedOffset = 32;

// The bytes a cookie is bound to: the datagram's source address and port (IPv4: 4 + 2 bytes,
// IPv6: 16 + 2). `ip` is the address alone (rate limiting).
struct SourceAddress {
  uint8_t bytes[18] = {};
  size_t len = 0;     // 6 or 18; 0 when unset
  size_t ipLen = 0;   // 4 or 16
  const uint8_t* Ip() const { return bytes; }
};
// From a sockaddr_in / sockaddr_in6 (v4-mapped IPv6 addresses count as IPv4). False for others.
bool SourceFromSockaddr(const sockaddr* sa, SourceAddress* out);
// From address bytes (4 or 16) and a port.
bool SourceFromBytes(const uint8_t* ip, size_t ipLen, uint16_t port, SourceAddress* out);

class RateLimiter {
 public:
  static constexpr int64_t kPacketsPerSecond = 20;
  static constexpr int64_t kBurst = 5;
  explicit RateLimiter(size_t maxEntries = 65536);
  // True when a handshake message from this address may be processed now. ipLen 4 or 16.
  bool Allow(const uint8_t* ip, size_t ipLen, int64_t nowNs);
  size_t Size() const;

 private:
  struct Entry {
    int64_t lastNs;
    int64_t tokens;
  };
  void CollectGarbage(int64_t nowNs);
  mutable std::mutex mu_;
  std::unordered_map<std::string, Entry> table_;
  size_t maxEntries_;
  int64_t lastGcNs_ = 0;
};

class LoadTracker {
 public:
  static constexpr int64_t kUnderLoadAfterNs = kNanosPerSecond;
  // queued/capacity: the handshake queue's fill. Returns whether the device is under load now.
  bool Update(size_t queued, size_t capacity, int64_t nowNs);
  // A decision forced by the caller (tests, the interop suite's "under load" switch).
  void Force(bool underLoad) { forced_ = underLoad ? 1 : -1; }
  void Unforce() { forced_ = 0; }

 private:
  std::mutex mu_;
  int64_t lastUnderLoadNs_ = 0;
  bool everUnderLoad_ = false;
  int forced_ = 0;
};

class CookieChecker {
 public:
  // What the receive path does with a type-1/2 message.
  enum class Verdict {
    kDrop,         // bad length/type or mac1 wrong: not for us (no reply, no log per packet)
    kAccept,       // process the handshake message
    kCookieReply,  // under load without a valid mac2: send the reply written into `reply`
    kRateLimited,  // under load, mac2 valid, but this source sends too many: drop
  };

  CookieChecker();
  ~CookieChecker();
  CookieChecker(const CookieChecker&) = delete;
  CookieChecker& operator=(const CookieChecker&) = delete;
  // The device's public key (mac1 key = HASH("mac1----" || pub), cookie reply key =
  // HASH("cookie--" || pub)). Until set, every message is dropped.
  void SetLocalPublicKey(const uint8_t pub[kKeySize]);

  bool CheckMac1(const uint8_t* msg, size_t len) const;
  bool CheckMac2(const uint8_t* msg, size_t len, const SourceAddress& src, int64_t nowNs) const;
  // The type-3 reply to msg (type 1 or 2, mac1 already valid) for the sender index in msg.
  bool CreateReply(const uint8_t* msg, size_t len, const SourceAddress& src, int64_t nowNs,
                   uint8_t reply[kCookieReplySize]);
  // The receive path's decision for a datagram of type 1 or 2 (see Verdict). limiter may be null.
  Verdict Vet(const uint8_t* msg, size_t len, const SourceAddress& src, bool underLoad, RateLimiter* limiter,
              int64_t nowNs, uint8_t reply[kCookieReplySize]);

 private:
  // cookie = MAC(secret, src), rotating the secret first when it is older than 2 minutes
  // (rotate = false: no rotation, and false when the secret has expired).
  bool Cookie(const SourceAddress& src, int64_t nowNs, bool rotate, uint8_t out[kMacSize]) const;

  mutable std::mutex mu_;
  bool haveKey_ = false;
  uint8_t mac1Key_[kHashSize];
  uint8_t replyKey_[kKeySize];
  mutable uint8_t secret_[kHashSize];
  mutable int64_t secretSetNs_ = 0;
  mutable bool haveSecret_ = false;
};

class CookieGenerator {
 public:
  // The peer's public key (mac1 of our messages is keyed by it; its cookie replies are sealed
  // with HASH("cookie--" || peer's public key)).
  explicit CookieGenerator(const uint8_t remotePublic[kKeySize]);
  ~CookieGenerator();
  CookieGenerator(const CookieGenerator&) = delete;
  CookieGenerator& operator=(const CookieGenerator&) = delete;

  // Writes mac1 into a type-1/2 message (len 148 or 92) and mac2 while a cookie younger than
  // 2 minutes is held; remembers mac1 for the reply that may come back.
  bool AddMacs(uint8_t* msg, size_t len, int64_t nowNs);
  // A type-3 message for our last message: stores its cookie. False when it does not open
  // (forged, or not for the last message we sent) or no message of ours awaits one.
  bool ConsumeReply(const uint8_t* msg, size_t len, int64_t nowNs);
  bool HasFreshCookie(int64_t nowNs) const;

 private:
  mutable std::mutex mu_;
  uint8_t mac1Key_[kHashSize];
  uint8_t replyKey_[kKeySize];
  uint8_t cookie_[kMacSize];
  int64_t cookieSetNs_ = 0;
  bool haveCookie_ = false;
  uint8_t lastMac1_[kMacSize];
  bool haveLastMac1_ = false;
};

}  // namespace wg
}  // namespace tund
