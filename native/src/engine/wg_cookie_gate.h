// The HandshakeGate of a WireGuard engine (wg_transform.h) made of wg_cookie's parts: mac1 must
// be ours (else the message is dropped, without a reply), and under load (LoadTracker over the
// engine's event queue, as wireguard-go) a message without a fresh mac2 gets a cookie reply and a
// source sending too many is rate limited. Until JS sets the device's public key, every
// well-formed handshake message passes (JS checks it). Thread-safe: the rx thread vets while JS
// may set the key or force the load state.
#pragma once

#include <atomic>

#include "../wg_cookie.h"
#include "wg_transform.h"

namespace tund {
namespace engine {

class CookieGate : public HandshakeGate {
 public:
  void SetLocalPublicKey(const uint8_t pub[wg::kKeySize]);
  // true/false: act as if (not) under load; Unforce: measure it.
  void ForceLoad(bool underLoad) { load_.Force(underLoad); }
  void UnforceLoad() { load_.Unforce(); }
  Verdict Vet(const uint8_t* msg, size_t len, const Endpoint& from, size_t queued, size_t capacity, uint8_t* reply,
              size_t* replyLen) override;

 private:
  std::atomic<bool> haveKey_{false};
  wg::CookieChecker checker_;
  wg::LoadTracker load_;
  wg::RateLimiter limiter_;
};

}  // namespace engine
}  // namespace tund
