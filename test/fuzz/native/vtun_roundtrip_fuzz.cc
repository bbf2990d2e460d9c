// vtun_roundtrip: every packet a VtunEncoder produces, its peer's VtunDecoder gives back
// unchanged, for every module chain (18 ciphers x 3 compressions, levels 1..9), with the
// encoders' random IVs, padding and sequence numbers; and every frame fits what a receiver
// accepts (1..kMaxFramePayload bytes of payload), so a peer never drops our frames as oversized.
// Input: byte 0 the chain, byte 1 the level, then packets (a 2-byte length, 1..kMaxPacket after
// reduction, then that many bytes, as far as the input goes).
#include <cstring>
#include <memory>
#include <vector>

#include "fuzz_common.h"

using namespace tund;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  vtun::CodecConfig cfg = fuzz::ChainConfig(data[0], data[1]);
  FUZZ_CHECK(vtun::ValidateConfig(cfg).empty(), "%s", fuzz::Describe(cfg).c_str());
  // Two ends of one direction: the sender's encoder and the receiver's decoder, each with its
  // own session's resync signal, as on two hosts.
  vtun::VtunEncoder enc(cfg, std::make_shared<vtun::ResyncSignal>());
  vtun::VtunDecoder dec(cfg, std::make_shared<vtun::ResyncSignal>());
  std::vector<uint8_t> frame(vtun::kMaxEncoded + 64);
  size_t pos = 2;
  while (pos + 2 < size) {
    size_t want = 1 + ((size_t(data[pos]) << 8 | data[pos + 1]) % vtun::kMaxPacket);
    pos += 2;
    size_t len = std::min(want, size - pos);
    std::vector<uint8_t> packet(data + pos, data + pos + len);
    pos += len;
    std::string err;
    int n = enc.Encode(packet.data(), packet.size(), frame.data(), &err);
    FUZZ_CHECK(n > 0, "encode of %zu bytes failed: %s (%s)", len, err.c_str(), fuzz::Describe(cfg).c_str());
    FUZZ_CHECK(static_cast<size_t>(n) <= vtun::kMaxFramePayload,
               "a %zu-byte packet became a %d-byte frame, more than a receiver accepts (%zu) (%s)", len, n,
               vtun::kMaxFramePayload, fuzz::Describe(cfg).c_str());
    std::vector<uint8_t> wire(frame.data(), frame.data() + n);
    const uint8_t* out = nullptr;
    size_t outLen = 0;
    vtun::DecodeResult r = dec.Decode(wire.data(), wire.size(), &out, &outLen, &err);
    FUZZ_CHECK(r == vtun::DecodeResult::Ok, "a %zu-byte packet did not decode (%s): %s", len,
               r == vtun::DecodeResult::Drop ? "dropped" : "error", fuzz::Describe(cfg).c_str());
    FUZZ_CHECK(outLen == len && std::memcmp(out, packet.data(), len) == 0,
               "a %zu-byte packet came back as %zu different bytes (%s)", len, outLen, fuzz::Describe(cfg).c_str());
  }
  return 0;
}
