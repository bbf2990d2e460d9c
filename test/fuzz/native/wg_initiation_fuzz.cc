// wg_initiation: type-1 messages at the responder: ReadInitiation with the device's identity,
// then the peer's Handshake::ConsumeInitiation (replay and flood checks), CreateResponse and
// DeriveKeypair; the response goes back to the initiator, whose keys must match.
// Input byte 0, even: the rest is a datagram as it arrived (any length), checked only for not
// being accepted with a wrong type or length. Odd: the rest drives 1-4 genuine initiations from
// the peer I (ephemeral key, timestamp, sender index, arrival time from the input) with up to
// three bytes changed in each. Checked against a model: a change to the type bytes is refused as
// bad_message, one in the ephemeral or static key fields as decrypt/bad_key by ReadInitiation,
// one in the sealed timestamp as decrypt by ConsumeInitiation, one in the sender index or the
// macs is accepted (macs are the CookieChecker's job) with the index as sent; an accepted
// initiation is refused as replay when its timestamp is not newer than the last consumed one,
// as flood when it comes within 20 ms of it, and otherwise completes the handshake.
#include "wg_fixture.h"

using namespace tund;
using namespace tund::wg;

namespace {

void Raw(const uint8_t* msg, size_t len) {
  InitiationInfo info;
  HandshakeError e = ReadInitiation(*fuzz::Responder(), msg, len, &info);
  if (MessageTypeOf(msg, len) != kMessageInitiation) {
    FUZZ_CHECK(e == HandshakeError::kBadMessage, "a %zu-byte datagram of type %u read as %s", len, len ? msg[0] : 0, fuzz::Err(e));
    return;
  }
  if (e != HandshakeError::kNone) return;
  // A genuine initiation (a seed from a real peer): finish the handshake with that peer.
  Handshake h(fuzz::Responder(), info.peerStatic);
  if (h.Valid() && h.ConsumeInitiation(info, kNanosPerSecond) == HandshakeError::kNone) {
    uint8_t resp[kResponseSize];
    FUZZ_CHECK(h.CreateResponse(7, resp) == HandshakeError::kNone, "no response to an accepted initiation");
    Keypair kp;
    FUZZ_CHECK(h.DeriveKeypair(&kp) && kp.remoteIndex == info.senderIndex, "no keypair after a response");
    kp.Clear();
  }
  info.Clear();
}

void Built(FuzzedDataProvider& in) {
  bool withPsk = in.ConsumeBool();
  uint8_t psk[kKeySize] = {};
  if (withPsk) in.ConsumeData(psk, sizeof psk);
  Handshake initiator(fuzz::Initiator(), fuzz::Responder()->PublicKey(), withPsk ? psk : nullptr);
  Handshake responder(fuzz::Responder(), fuzz::Initiator()->PublicKey(), withPsk ? psk : nullptr);
  // the model of the responder's replay/flood state
  bool consumedAny = false;
  uint8_t lastTs[kTai64nSize] = {};
  int64_t lastNs = 0, now = 10 * kNanosPerSecond;

  int count = in.ConsumeIntegralInRange<int>(1, 4);
  for (int m = 0; m < count && in.remaining_bytes() > 0; m++) {
    uint8_t eph[kKeySize], ts[kTai64nSize];
    in.ConsumeData(eph, sizeof eph);
    in.ConsumeData(ts, sizeof ts);
    uint32_t sender = in.ConsumeIntegral<uint32_t>();
    now += static_cast<int64_t>(in.ConsumeIntegral<uint16_t>()) * 10000;  // 0..655 ms later
    initiator.SetNextEphemeral(eph);
    uint8_t msg[kInitiationSize];
    HandshakeError ce = initiator.CreateInitiation(sender, msg, ts);
    FUZZ_CHECK(ce == HandshakeError::kNone, "CreateInitiation: %s", fuzz::Err(ce));
    std::set<size_t> touched = fuzz::Mutate(in, msg, sizeof msg);
    bool typeBroken = fuzz::TouchesRange(touched, 0, 4);
    // ReadInitiation opens the static key (bytes 8..87); the timestamp (88..115) is opened by
    // ConsumeInitiation.
    constexpr size_t kTimestampOffset = 88;
    bool keysBroken = fuzz::TouchesRange(touched, 8, kTimestampOffset);
    bool timestampBroken = fuzz::TouchesRange(touched, kTimestampOffset, Mac1Offset(kInitiationSize));

    InitiationInfo info;
    HandshakeError e = ReadInitiation(*fuzz::Responder(), msg, sizeof msg, &info);
    if (typeBroken) {
      FUZZ_CHECK(e == HandshakeError::kBadMessage, "a changed type read as %s", fuzz::Err(e));
      continue;
    }
    if (keysBroken) {
      FUZZ_CHECK(e == HandshakeError::kDecrypt || e == HandshakeError::kBadKey, "a changed key field (at %zu) read as %s",
                 *touched.lower_bound(8), fuzz::Err(e));
      continue;
    }
    FUZZ_CHECK(e == HandshakeError::kNone, "a genuine initiation read as %s", fuzz::Err(e));
    FUZZ_CHECK(std::memcmp(info.peerStatic, fuzz::Initiator()->PublicKey(), kKeySize) == 0, "wrong static key");
    FUZZ_CHECK(info.senderIndex == ReadLe32(msg + kSenderOffset), "sender index %08x, sent %08x", info.senderIndex,
               ReadLe32(msg + kSenderOffset));

    HandshakeError expect = HandshakeError::kNone;
    if (timestampBroken) expect = HandshakeError::kDecrypt;
    else if (consumedAny && !Tai64nAfter(ts, lastTs)) expect = HandshakeError::kReplay;
    else if (consumedAny && now - lastNs <= kInitiationMinIntervalNs) expect = HandshakeError::kFlood;
    uint8_t tsOut[kTai64nSize];
    HandshakeError c = responder.ConsumeInitiation(info, now, tsOut);
    info.Clear();
    FUZZ_CHECK(c == expect, "ConsumeInitiation: %s, the model says %s", fuzz::Err(c), fuzz::Err(expect));
    if (c != HandshakeError::kNone) continue;
    FUZZ_CHECK(std::memcmp(tsOut, ts, sizeof ts) == 0, "timestamp changed on the way");
    consumedAny = true;
    std::memcpy(lastTs, ts, sizeof ts);
    lastNs = now;

    uint8_t resp[kResponseSize];
    uint32_t responderIndex = sender ^ 0x5a5a5a5a;
    HandshakeError re = responder.CreateResponse(responderIndex, resp);
    FUZZ_CHECK(re == HandshakeError::kNone, "CreateResponse: %s", fuzz::Err(re));
    HandshakeError ie = initiator.ConsumeResponse(resp, sizeof resp);
    if (fuzz::TouchesRange(touched, kSenderOffset, kSenderOffset + 4)) {
      // the responder answered the index it read, which is not the initiator's
      FUZZ_CHECK(ie == HandshakeError::kWrongState, "a response to a changed sender index: %s", fuzz::Err(ie));
      responder.Clear();
      continue;
    }
    FUZZ_CHECK(ie == HandshakeError::kNone, "the initiator refused the response: %s", fuzz::Err(ie));
    Keypair a, b;
    FUZZ_CHECK(initiator.DeriveKeypair(&a) && responder.DeriveKeypair(&b), "DeriveKeypair failed");
    FUZZ_CHECK(std::memcmp(a.sendKey, b.recvKey, kKeySize) == 0 && std::memcmp(a.recvKey, b.sendKey, kKeySize) == 0,
               "the two sides derived different keys");
    FUZZ_CHECK(a.initiator && !b.initiator && a.remoteIndex == responderIndex && b.remoteIndex == sender,
               "indices or roles mixed up");
    a.Clear();
    b.Clear();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::TwoModes(data, size, Raw, Built);
}
