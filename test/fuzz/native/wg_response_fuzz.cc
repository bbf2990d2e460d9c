// wg_response: type-2 messages at the initiator: Handshake::ConsumeResponse after our own
// initiation (always the same one: fixed ephemeral key, timestamp and index, wg_fixture.h, so
// that responses captured from a real wireguard-go open here).
// Input byte 0, even: the rest is a datagram as it arrived. Odd: the responder R answers our
// initiation with an ephemeral key and index from the input, and up to three bytes of its
// response are changed. Checked against a model: the type bytes -> bad_message; the receiver
// index -> wrong_state; the authenticated body -> decrypt/bad_key; the sender index or the
// macs -> accepted, with that index. Whatever came first, a refused response leaves our
// initiation usable: the genuine response is accepted afterwards, and both sides derive the
// same keys.
#include "wg_fixture.h"

using namespace tund;
using namespace tund::wg;

namespace {

struct Exchange {
  Handshake initiator{fuzz::Initiator(), fuzz::Responder()->PublicKey()};
  Handshake responder{fuzz::Responder(), fuzz::Initiator()->PublicKey()};
  uint8_t init[kInitiationSize];

  Exchange() {
    initiator.SetNextEphemeral(fuzz::kInitiatorEphemeral);
    HandshakeError e = initiator.CreateInitiation(fuzz::kInitiatorIndex, init, fuzz::kInitiatorTimestamp);
    FUZZ_CHECK(e == HandshakeError::kNone, "CreateInitiation: %s", fuzz::Err(e));
  }
  // The responder's genuine answer (its ephemeral key: eph, or a random one when null).
  void Answer(const uint8_t* eph, uint32_t index, uint8_t resp[kResponseSize]) {
    InitiationInfo info;
    HandshakeError e = ReadInitiation(*fuzz::Responder(), init, sizeof init, &info);
    FUZZ_CHECK(e == HandshakeError::kNone, "ReadInitiation of our own initiation: %s", fuzz::Err(e));
    e = responder.ConsumeInitiation(info, 10 * kNanosPerSecond);
    info.Clear();
    FUZZ_CHECK(e == HandshakeError::kNone, "ConsumeInitiation of our own initiation: %s", fuzz::Err(e));
    if (eph) responder.SetNextEphemeral(eph);
    e = responder.CreateResponse(index, resp);
    FUZZ_CHECK(e == HandshakeError::kNone, "CreateResponse: %s", fuzz::Err(e));
  }
  // The genuine response completes the handshake and both sides agree.
  void Finish(const uint8_t resp[kResponseSize], uint32_t responderIndex) {
    HandshakeError e = initiator.ConsumeResponse(resp, kResponseSize);
    FUZZ_CHECK(e == HandshakeError::kNone, "the genuine response after a refused one: %s", fuzz::Err(e));
    Keypair a, b;
    FUZZ_CHECK(initiator.DeriveKeypair(&a) && responder.DeriveKeypair(&b), "DeriveKeypair failed");
    FUZZ_CHECK(std::memcmp(a.sendKey, b.recvKey, kKeySize) == 0 && std::memcmp(a.recvKey, b.sendKey, kKeySize) == 0,
               "the two sides derived different keys");
    FUZZ_CHECK(a.remoteIndex == responderIndex && a.localIndex == fuzz::kInitiatorIndex, "indices mixed up");
    a.Clear();
    b.Clear();
  }
};

void Raw(const uint8_t* msg, size_t len) {
  Exchange x;
  HandshakeError e = x.initiator.ConsumeResponse(msg, len);
  if (MessageTypeOf(msg, len) != kMessageResponse) {
    FUZZ_CHECK(e == HandshakeError::kBadMessage, "a %zu-byte datagram read as %s", len, fuzz::Err(e));
  } else if (ReadLe32(msg + kResponseReceiverOffset) != fuzz::kInitiatorIndex) {
    FUZZ_CHECK(e == HandshakeError::kWrongState, "a response to another index read as %s", fuzz::Err(e));
  }
  if (e == HandshakeError::kNone) {
    // A genuine response (a seed from a real peer).
    Keypair k;
    FUZZ_CHECK(x.initiator.DeriveKeypair(&k) && k.remoteIndex == ReadLe32(msg + kSenderOffset), "no keypair");
    k.Clear();
    return;
  }
  FUZZ_CHECK(x.initiator.State() == HandshakeState::kInitiationCreated, "a refused response changed our state");
  uint8_t resp[kResponseSize];
  x.Answer(nullptr, 0x600df00d, resp);
  x.Finish(resp, 0x600df00d);
}

void Built(FuzzedDataProvider& in) {
  Exchange x;
  uint8_t eph[kKeySize];
  in.ConsumeData(eph, sizeof eph);
  uint32_t index = in.ConsumeIntegral<uint32_t>();
  uint8_t genuine[kResponseSize], resp[kResponseSize];
  x.Answer(eph, index, genuine);
  std::memcpy(resp, genuine, sizeof resp);
  std::set<size_t> touched = fuzz::Mutate(in, resp, sizeof resp);
  HandshakeError e = x.initiator.ConsumeResponse(resp, sizeof resp);
  if (fuzz::TouchesRange(touched, 0, 4)) {
    FUZZ_CHECK(e == HandshakeError::kBadMessage, "a changed type read as %s", fuzz::Err(e));
  } else if (fuzz::TouchesRange(touched, kResponseReceiverOffset, kResponseReceiverOffset + 4)) {
    FUZZ_CHECK(e == HandshakeError::kWrongState, "a changed receiver index read as %s", fuzz::Err(e));
  } else if (fuzz::TouchesRange(touched, 12, Mac1Offset(kResponseSize))) {
    FUZZ_CHECK(e == HandshakeError::kDecrypt || e == HandshakeError::kBadKey, "a changed body read as %s", fuzz::Err(e));
  } else {
    FUZZ_CHECK(e == HandshakeError::kNone, "a response changed only in its sender index or macs: %s", fuzz::Err(e));
    FUZZ_CHECK(x.initiator.RemoteIndex() == ReadLe32(resp + kSenderOffset), "remote index not the one sent");
    Keypair a;
    FUZZ_CHECK(x.initiator.DeriveKeypair(&a), "DeriveKeypair failed");
    a.Clear();
    return;
  }
  FUZZ_CHECK(x.initiator.State() == HandshakeState::kInitiationCreated, "a refused response changed our state");
  x.Finish(genuine, index);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::TwoModes(data, size, Raw, Built);
}
