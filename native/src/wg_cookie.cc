#include "wg_cookie.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstring>

namespace tund {
namespace wg {
namespace {

const uint8_t* Bytes(const char* s) { return reinterpret_cast<const uint8_t*>(s); }

// HASH(label || key): mac1 keys and cookie-reply keys.
bool LabelKey(const char* label, const uint8_t pub[kKeySize], uint8_t out[kHashSize]) {
  return Blake2s256(out, Bytes(label), strlen(label), pub, kKeySize);
}

bool IsHandshakeMessage(const uint8_t* msg, size_t len) {
  uint8_t type = MessageTypeOf(msg, len);
  return type == kMessageInitiation || type == kMessageResponse;
}

}  // namespace

// ---- SourceAddress

bool SourceFromBytes(const uint8_t* ip, size_t ipLen, uint16_t port, SourceAddress* out) {
  if (ipLen != 4 && ipLen != 16) return false;
  static const uint8_t kMapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
  if (ipLen == 16 && memcmp(ip, kMapped, sizeof kMapped) == 0) {
    ip += 12;
    ipLen = 4;
  }
  memset(out->bytes, 0, sizeof out->bytes);
  memcpy(out->bytes, ip, ipLen);
  out->bytes[ipLen] = static_cast<uint8_t>(port >> 8);
  out->bytes[ipLen + 1] = static_cast<uint8_t>(port);
  out->ipLen = ipLen;
  out->len = ipLen + 2;
  return true;
}

bool SourceFromSockaddr(const sockaddr* sa, SourceAddress* out) {
  if (sa == nullptr) return false;
  if (sa->sa_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(sa);
    return SourceFromBytes(reinterpret_cast<const uint8_t*>(&in->sin_addr), 4, ntohs(in->sin_port), out);
  }
  if (sa->sa_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(sa);
    return SourceFromBytes(reinterpret_cast<const uint8_t*>(&in6->sin6_addr), 16, ntohs(in6->sin6_port), out);
  }
  return false;
}

// ---- RateLimiter

RateLimiter::RateLimiter(size_t maxEntries) : maxEntries_(maxEntries) {}

size_t RateLimiter::Size() const {
  std::lock_guard<std::mutex> lock(mu_);
  return table_.size();
}

void RateLimiter::CollectGarbage(int64_t nowNs) {
  // Entries idle for a second have refilled their bucket anyway: forget them.
  for (auto it = table_.begin(); it != table_.end();) {
    it = nowNs - it->second.lastNs > kNanosPerSecond ? table_.erase(it) : std::next(it);
  }
  lastGcNs_ = nowNs;
}

bool RateLimiter::Allow(const uint8_t* ip, size_t ipLen, int64_t nowNs) {
  if (ipLen != 4 && ipLen != 16) return false;
  constexpr int64_t kPacketCost = kNanosPerSecond / kPacketsPerSecond;
  constexpr int64_t kMaxTokens = kPacketCost * kBurst;
  // IPv6 sources count per /64: one host owns a /64 as easily as one address.
  std::string key(reinterpret_cast<const char*>(ip), ipLen == 16 ? 8 : 4);
  std::lock_guard<std::mutex> lock(mu_);
  if (nowNs - lastGcNs_ > kNanosPerSecond) CollectGarbage(nowNs);
  auto it = table_.find(key);
  if (it == table_.end()) {
    if (table_.size() >= maxEntries_) return false;
    table_.emplace(std::move(key), Entry{nowNs, kMaxTokens - kPacketCost});
    return true;
  }
  Entry& e = it->second;
  e.tokens += nowNs - e.lastNs;
  e.lastNs = nowNs;
  if (e.tokens > kMaxTokens) e.tokens = kMaxTokens;
  // ">=" as the kernel's limiter (wireguard-go's ">" lets one packet less through a burst).
  if (e.tokens >= kPacketCost) {
    e.tokens -= kPacketCost;
    return true;
  }
  return false;
}

// ---- LoadTracker

bool LoadTracker::Update(size_t queued, size_t capacity, int64_t nowNs) {
  std::lock_guard<std::mutex> lock(mu_);
  if (forced_ != 0) return forced_ > 0;
  if (capacity > 0 && queued >= capacity / 8) {
    lastUnderLoadNs_ = nowNs;
    everUnderLoad_ = true;
    return true;
  }
  return everUnderLoad_ && nowNs - lastUnderLoadNs_ < kUnderLoadAfterNs;
}

// ---- CookieChecker

CookieChecker::CookieChecker() {
  memset(mac1Key_, 0, sizeof mac1Key_);
  memset(replyKey_, 0, sizeof replyKey_);
  memset(secret_, 0, sizeof secret_);
}

CookieChecker::~CookieChecker() {
  Wipe(secret_, sizeof secret_);
  Wipe(mac1Key_, sizeof mac1Key_);
  Wipe(replyKey_, sizeof replyKey_);
}

void CookieChecker::SetLocalPublicKey(const uint8_t pub[kKeySize]) {
  std::lock_guard<std::mutex> lock(mu_);
  haveKey_ = LabelKey(kLabelMac1, pub, mac1Key_) && LabelKey(kLabelCookie, pub, replyKey_);
  // A new identity invalidates the cookies handed out under the old one.
  haveSecret_ = false;
}

bool CookieChecker::CheckMac1(const uint8_t* msg, size_t len) const {
  if (!IsHandshakeMessage(msg, len)) return false;
  uint8_t key[kHashSize];
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!haveKey_) return false;
    memcpy(key, mac1Key_, sizeof key);
  }
  uint8_t mac[kMacSize];
  bool ok = Blake2sMac128(mac, key, kHashSize, msg, Mac1Offset(len)) &&
            ConstantTimeEqual(mac, msg + Mac1Offset(len), kMacSize);
  Wipe(key, sizeof key);
  return ok;
}

bool CookieChecker::Cookie(const SourceAddress& src, int64_t nowNs, bool rotate, uint8_t out[kMacSize]) const {
  uint8_t secret[kHashSize];
  {
    std::lock_guard<std::mutex> lock(mu_);
    bool expired = !haveSecret_ || nowNs - secretSetNs_ > kCookieRefreshNs;
    if (expired) {
      if (!rotate) return false;
      if (!RandomBytes(secret_, sizeof secret_)) return false;
      secretSetNs_ = nowNs;
      haveSecret_ = true;
    }
    memcpy(secret, secret_, sizeof secret);
  }
  bool ok = Blake2sMac128(out, secret, sizeof secret, src.bytes, src.len);
  Wipe(secret, sizeof secret);
  return ok;
}

bool CookieChecker::CheckMac2(const uint8_t* msg, size_t len, const SourceAddress& src, int64_t nowNs) const {
  if (!IsHandshakeMessage(msg, len) || src.len == 0) return false;
  uint8_t cookie[kMacSize], mac[kMacSize];
  bool ok = Cookie(src, nowNs, false, cookie) && Blake2sMac128(mac, cookie, kMacSize, msg, Mac2Offset(len)) &&
            ConstantTimeEqual(mac, msg + Mac2Offset(len), kMacSize);
  Wipe(cookie, sizeof cookie);
  return ok;
}

bool CookieChecker::CreateReply(const uint8_t* msg, size_t len, const SourceAddress& src, int64_t nowNs,
                                uint8_t reply[kCookieReplySize]) {
  if (!IsHandshakeMessage(msg, len) || src.len == 0) return false;
  uint8_t cookie[kMacSize], key[kKeySize];
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (!haveKey_) return false;
    memcpy(key, replyKey_, sizeof key);
  }
  memset(reply, 0, kCookieReplySize);
  reply[0] = kMessageCookieReply;
  memcpy(reply + kReceiverOffset, msg + kSenderOffset, 4);
  // The cookie is sealed with the message's mac1 as associated data: only the sender of that
  // message (who knows its mac1) can use the reply.
  bool ok = Cookie(src, nowNs, true, cookie) && RandomBytes(reply + kCookieNonceOffset, kXNonceSize) &&
            XAeadSeal(key, reply + kCookieNonceOffset, msg + Mac1Offset(len), kMacSize, cookie, kMacSize,
                      reply + kCookieSealedOffset);
  Wipe(cookie, sizeof cookie);
  Wipe(key, sizeof key);
  if (!ok) memset(reply, 0, kCookieReplySize);
  return ok;
}

CookieChecker::Verdict CookieChecker::Vet(const uint8_t* msg, size_t len, const SourceAddress& src, bool underLoad,
                                          RateLimiter* limiter, int64_t nowNs, uint8_t reply[kCookieReplySize]) {
  if (!CheckMac1(msg, len)) return Verdict::kDrop;
  if (!underLoad) return Verdict::kAccept;
  if (!CheckMac2(msg, len, src, nowNs)) {
    return CreateReply(msg, len, src, nowNs, reply) ? Verdict::kCookieReply : Verdict::kDrop;
  }
  if (limiter != nullptr && !limiter->Allow(src.Ip(), src.ipLen, nowNs)) return Verdict::kRateLimited;
  return Verdict::kAccept;
}

// ---- CookieGenerator

CookieGenerator::CookieGenerator(const uint8_t remotePublic[kKeySize]) {
  LabelKey(kLabelMac1, remotePublic, mac1Key_);
  LabelKey(kLabelCookie, remotePublic, replyKey_);
  memset(cookie_, 0, sizeof cookie_);
  memset(lastMac1_, 0, sizeof lastMac1_);
}

CookieGenerator::~CookieGenerator() {
  Wipe(cookie_, sizeof cookie_);
  Wipe(mac1Key_, sizeof mac1Key_);
  Wipe(replyKey_, sizeof replyKey_);
}

bool CookieGenerator::AddMacs(uint8_t* msg, size_t len, int64_t nowNs) {
  if (!IsHandshakeMessage(msg, len)) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (!Blake2sMac128(msg + Mac1Offset(len), mac1Key_, kHashSize, msg, Mac1Offset(len))) return false;
  memcpy(lastMac1_, msg + Mac1Offset(len), kMacSize);
  haveLastMac1_ = true;
  if (haveCookie_ && nowNs - cookieSetNs_ <= kCookieRefreshNs) {
    return Blake2sMac128(msg + Mac2Offset(len), cookie_, kMacSize, msg, Mac2Offset(len));
  }
  memset(msg + Mac2Offset(len), 0, kMacSize);
  return true;
}

bool CookieGenerator::ConsumeReply(const uint8_t* msg, size_t len, int64_t nowNs) {
  if (MessageTypeOf(msg, len) != kMessageCookieReply) return false;
  std::lock_guard<std::mutex> lock(mu_);
  if (!haveLastMac1_) return false;
  uint8_t cookie[kMacSize];
  if (!XAeadOpen(replyKey_, msg + kCookieNonceOffset, lastMac1_, kMacSize, msg + kCookieSealedOffset,
                 kMacSize + kTagSize, cookie)) {
    return false;
  }
  memcpy(cookie_, cookie, kMacSize);
  Wipe(cookie, sizeof cookie);
  cookieSetNs_ = nowNs;
  haveCookie_ = true;
  haveLastMac1_ = false;
  return true;
}

bool CookieGenerator::HasFreshCookie(int64_t nowNs) const {
  std::lock_guard<std::mutex> lock(mu_);
  return haveCookie_ && nowNs - cookieSetNs_ <= kCookieRefreshNs;
}

}  // namespace wg
}  // namespace tund
