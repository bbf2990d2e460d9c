#include "wg_cookie_gate.h"

namespace tund {
namespace engine {

void CookieGate::SetLocalPublicKey(const uint8_t pub[wg::kKeySize]) {
  checker_.SetLocalPublicKey(pub);
  haveKey_.store(true);
}

HandshakeGate::Verdict CookieGate::Vet(const uint8_t* msg, size_t len, const Endpoint& from, size_t queued,
                                       size_t capacity, uint8_t* reply, size_t* replyLen) {
  if (!haveKey_.load()) return Verdict::Pass;
  wg::SourceAddress src;
  if (!wg::SourceFromSockaddr(from.Sockaddr(), &src)) return Verdict::Drop;
  const int64_t now = MonotonicNanos();
  const bool underLoad = load_.Update(queued, capacity, now);
  switch (checker_.Vet(msg, len, src, underLoad, &limiter_, now, reply)) {
    case wg::CookieChecker::Verdict::kAccept:
      return Verdict::Pass;
    case wg::CookieChecker::Verdict::kCookieReply:
      *replyLen = wg::kCookieReplySize;
      return Verdict::Reply;
    case wg::CookieChecker::Verdict::kDrop:
    case wg::CookieChecker::Verdict::kRateLimited:
      break;
  }
  return Verdict::Drop;
}

}  // namespace engine
}  // namespace tund
