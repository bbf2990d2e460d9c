// wg_cookie: WireGuard's cookie machinery on arbitrary traffic: CookieChecker::Vet (the receive
// path's verdict for every datagram), CookieGenerator::ConsumeReply (type-3 cookie replies),
// RateLimiter, SourceFromSockaddr. The input is a list of operations on one checker (the
// device R), one generator (the peer I's, for R) and one rate limiter with a small table, with
// sources and a clock from the input (the cookie secret rotates every 2 minutes).
// Checked: a datagram that is not a type-1/2 message with a valid mac1 is dropped; without load
// every message with a valid mac1 is accepted; under load a message without a valid mac2 gets a
// cookie reply addressed to its sender index, which the generator accepts, after which the
// generator's messages pass from that source until the cookie is 2 minutes old, and not from
// another source; a change anywhere before mac2 makes a message drop.
#include <netinet/in.h>
#include <sys/socket.h>

#include "wg_fixture.h"

using namespace tund;
using namespace tund::wg;

namespace {

SourceAddress Source(FuzzedDataProvider& in) {
  uint8_t ip[16];
  size_t ipLen = in.ConsumeBool() ? 16 : 4;
  in.ConsumeData(ip, ipLen);
  SourceAddress src;
  FUZZ_CHECK(SourceFromBytes(ip, ipLen, in.ConsumeIntegral<uint16_t>(), &src), "SourceFromBytes refused %zu bytes", ipLen);
  return src;
}

bool SameSource(const SourceAddress& a, const SourceAddress& b) {
  return a.len == b.len && std::memcmp(a.bytes, b.bytes, a.len) == 0;
}

// One datagram as it arrived (seeds: real wireguard-go messages to the device R).
void Raw(const uint8_t* msg, size_t len) {
  CookieChecker checker;
  checker.SetLocalPublicKey(fuzz::Responder()->PublicKey());
  CookieGenerator generator(fuzz::Initiator()->PublicKey());
  RateLimiter limiter(8);
  const uint8_t ip[4] = {198, 18, 88, 1};
  SourceAddress src;
  SourceFromBytes(ip, sizeof ip, 51820, &src);
  uint8_t type = MessageTypeOf(msg, len);
  bool mac1 = checker.CheckMac1(msg, len);
  FUZZ_CHECK(!mac1 || type == kMessageInitiation || type == kMessageResponse, "mac1 valid on type %u", type);
  uint8_t reply[kCookieReplySize];
  auto v = checker.Vet(msg, len, src, false, &limiter, kNanosPerSecond, reply);
  FUZZ_CHECK(v == (mac1 ? CookieChecker::Verdict::kAccept : CookieChecker::Verdict::kDrop), "not under load: verdict %d", static_cast<int>(v));
  v = checker.Vet(msg, len, src, true, &limiter, kNanosPerSecond, reply);
  if (!mac1) FUZZ_CHECK(v == CookieChecker::Verdict::kDrop, "no valid mac1 under load: verdict %d", static_cast<int>(v));
  // a fresh checker has no secret, so no mac2 can be valid yet: a cookie reply
  if (mac1) FUZZ_CHECK(v == CookieChecker::Verdict::kCookieReply, "under load: verdict %d", static_cast<int>(v));
  bool consumed = generator.ConsumeReply(msg, len, kNanosPerSecond);
  FUZZ_CHECK(!consumed, "a cookie reply accepted before any message of ours");
}

void Operations(FuzzedDataProvider& in) {
  CookieChecker checker;
  checker.SetLocalPublicKey(fuzz::Responder()->PublicKey());
  CookieGenerator generator(fuzz::Responder()->PublicKey());
  RateLimiter limiter(8);
  int64_t now = 100 * kNanosPerSecond;
  // the model: the checker's secret (set or rotated by a cookie reply once 2 minutes old) and
  // the generator's cookie (which secret it was made under, when, for which source)
  bool haveSecret = false;
  int64_t secretAt = 0;
  int secretGen = 0;
  auto replied = [&] {
    if (!haveSecret || now - secretAt > kCookieRefreshNs) {
      haveSecret = true;
      secretAt = now;
      secretGen++;
    }
  };
  bool haveCookie = false;
  int64_t cookieAt = 0;
  int cookieGen = 0;
  SourceAddress cookieSource;
  uint8_t reply[kCookieReplySize];

  for (int ops = 0; ops < 32 && in.remaining_bytes() > 0; ops++) {
    switch (in.ConsumeIntegralInRange<int>(0, 4)) {
      case 0: {  // a datagram as it arrived
        SourceAddress src = Source(in);
        bool underLoad = in.ConsumeBool();
        std::vector<uint8_t> msg = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 200));
        uint8_t type = MessageTypeOf(msg.data(), msg.size());
        bool mac1 = checker.CheckMac1(msg.data(), msg.size());
        FUZZ_CHECK(!mac1 || type == kMessageInitiation || type == kMessageResponse, "mac1 valid on type %u", type);
        auto v = checker.Vet(msg.data(), msg.size(), src, underLoad, &limiter, now, reply);
        if (!mac1) FUZZ_CHECK(v == CookieChecker::Verdict::kDrop, "no valid mac1 but verdict %d", static_cast<int>(v));
        if (mac1 && !underLoad) FUZZ_CHECK(v == CookieChecker::Verdict::kAccept, "not under load: verdict %d", static_cast<int>(v));
        if (v == CookieChecker::Verdict::kCookieReply) replied();
        break;
      }
      case 1: {  // the peer's own message (type 1 or 2), macs added by its generator
        SourceAddress src = Source(in);
        bool underLoad = in.ConsumeBool();
        size_t len = in.ConsumeBool() ? kInitiationSize : kResponseSize;
        std::vector<uint8_t> msg(len);
        in.ConsumeData(msg.data(), len);
        msg[0] = len == kInitiationSize ? kMessageInitiation : kMessageResponse;
        msg[1] = msg[2] = msg[3] = 0;
        FUZZ_CHECK(generator.AddMacs(msg.data(), len, now), "AddMacs refused a type-%u message", msg[0]);
        bool fresh = haveCookie && now - cookieAt <= kCookieRefreshNs;
        FUZZ_CHECK(generator.HasFreshCookie(now) == fresh, "HasFreshCookie %d, the model says %d", !fresh, fresh);
        std::set<size_t> touched = fuzz::Mutate(in, msg.data(), len);
        auto v = checker.Vet(msg.data(), len, src, underLoad, &limiter, now, reply);
        if (fuzz::TouchesRange(touched, 0, Mac2Offset(len))) {
          FUZZ_CHECK(v == CookieChecker::Verdict::kDrop, "a changed message (mac1 no longer valid) got verdict %d",
                     static_cast<int>(v));
          break;
        }
        if (!underLoad) {
          FUZZ_CHECK(v == CookieChecker::Verdict::kAccept, "not under load: verdict %d", static_cast<int>(v));
          break;
        }
        // mac2 is valid when the cookie is fresh, was made for this source, under the checker's
        // current secret, and that secret is not older than 2 minutes
        bool mac2 = fresh && touched.empty() && SameSource(src, cookieSource) && cookieGen == secretGen &&
                    now - secretAt <= kCookieRefreshNs;
        if (mac2) {
          FUZZ_CHECK(v == CookieChecker::Verdict::kAccept || v == CookieChecker::Verdict::kRateLimited,
                     "a valid mac2 under load got verdict %d", static_cast<int>(v));
          break;
        }
        FUZZ_CHECK(v == CookieChecker::Verdict::kCookieReply, "no valid mac2 under load: verdict %d", static_cast<int>(v));
        replied();
        FUZZ_CHECK(MessageTypeOf(reply, sizeof reply) == kMessageCookieReply, "the reply is not a type-3 message");
        FUZZ_CHECK(ReadLe32(reply + kReceiverOffset) == ReadLe32(msg.data() + kSenderOffset), "reply to the wrong index");
        if (touched.empty()) {
          // our last message: the reply opens, and the cookie is now fresh
          FUZZ_CHECK(generator.ConsumeReply(reply, sizeof reply, now), "the generator refused the checker's reply");
          haveCookie = true;
          cookieAt = now;
          cookieGen = secretGen;
          cookieSource = src;
        }
        break;
      }
      case 2: {  // a cookie reply as it arrived
        std::vector<uint8_t> msg = in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 100));
        bool ok = generator.ConsumeReply(msg.data(), msg.size(), now);
        if (MessageTypeOf(msg.data(), msg.size()) != kMessageCookieReply) FUZZ_CHECK(!ok, "a %zu-byte non-reply accepted", msg.size());
        if (ok) {
          haveCookie = true;
          cookieAt = now;
          cookieGen = -1;  // made under a secret we do not know
          cookieSource = SourceAddress{};
        }
        break;
      }
      case 3:  // time passes: up to about 4.6 minutes
        now += static_cast<int64_t>(in.ConsumeIntegral<uint16_t>()) * 4 * kNanosPerMilli + 1;
        break;
      case 4: {  // a source address from the kernel
        sockaddr_storage ss;
        std::memset(&ss, 0, sizeof ss);
        std::vector<uint8_t> raw = in.ConsumeBytes<uint8_t>(sizeof ss);
        if (!raw.empty()) std::memcpy(&ss, raw.data(), raw.size());
        int families[] = {AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC};
        ss.ss_family = static_cast<sa_family_t>(families[in.ConsumeIntegralInRange<int>(0, 3)]);
        SourceAddress src;
        bool ok = SourceFromSockaddr(reinterpret_cast<const sockaddr*>(&ss), &src);
        FUZZ_CHECK(ok == (ss.ss_family == AF_INET || ss.ss_family == AF_INET6), "family %d: %d", ss.ss_family, ok);
        if (ok) FUZZ_CHECK(src.len == src.ipLen + 2 && (src.ipLen == 4 || src.ipLen == 16), "length %zu/%zu", src.len, src.ipLen);
        break;
      }
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::TwoModes(data, size, Raw, Operations);
}
