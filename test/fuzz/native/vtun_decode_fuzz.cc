// vtun_decode: what a VTun peer receives, through the real splitter and decoder.
// Input: byte 0 picks the module chain (fuzz_common.h: one of 18 ciphers x 3 compressions),
// byte 1 the compression level, the rest is the byte stream of a TCP connection after the
// handshake. The stream is cut into frames with FrameCutter + vtun::NextFrame (as the pump's
// receive loop does) and every data frame goes through a fresh VtunDecoder of that chain, in
// order, so the stream ciphers' state (side-band, seq#/rsyn, resync) and zlib's stream are
// exercised as on a real connection. Each payload is copied into a buffer of its exact size, so
// ASan sees any read past it. Checked: a decoded packet is non-empty, at most kMaxDecoded bytes
// and lies inside the decoder's own memory; after a decoder Error (zlib) the session ends, as
// in the pump.
#include <cstring>
#include <memory>
#include <vector>

#include "../../../native/src/frame_split.h"
#include "../../../native/src/vtun_frame.h"
#include "fuzz_common.h"

using namespace tund;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 2) return 0;
  vtun::CodecConfig cfg = fuzz::ChainConfig(data[0], data[1]);
  FUZZ_CHECK(vtun::ValidateConfig(cfg).empty(), "%s", fuzz::Describe(cfg).c_str());
  auto sync = std::make_shared<vtun::ResyncSignal>();
  vtun::VtunDecoder dec(cfg, sync);
  const uint8_t* stream = data + 2;
  size_t have = size - 2, off = 0;
  FrameCutter cutter(vtun::NextFrame);
  for (;;) {
    size_t at = 0;
    Split s = cutter.Next(stream, have, &off, &at);
    if (s.kind == Split::More) break;
    if (s.kind == Split::Skip) continue;
    FUZZ_CHECK(s.len >= 2 && at + s.len <= have, "frame [%zu, +%zu) outside the stream of %zu", at, s.len, have);
    if (vtun::FrameHeader(stream + at) & 0xf000) continue;  // control frame: no payload
    size_t len = s.len - 2;
    FUZZ_CHECK(len >= 1 && len <= vtun::kMaxFramePayload, "payload of %zu bytes passed the splitter", len);
    std::vector<uint8_t> payload(stream + at + 2, stream + at + 2 + len);
    const uint8_t* out = nullptr;
    size_t outLen = 0;
    std::string err;
    vtun::DecodeResult r = dec.Decode(payload.data(), payload.size(), &out, &outLen, &err);
    if (r == vtun::DecodeResult::Error) {
      FUZZ_CHECK(!err.empty(), "decoder error without a message (%s)", fuzz::Describe(cfg).c_str());
      break;  // the pump ends the session here
    }
    if (r == vtun::DecodeResult::Drop) continue;
    FUZZ_CHECK(out != nullptr && outLen > 0 && outLen <= vtun::kMaxDecoded, "decoded %zu bytes", outLen);
    // Touch every byte of the packet (ASan checks the whole range).
    volatile uint8_t sink = 0;
    for (size_t i = 0; i < outLen; i++) sink ^= out[i];
    (void)sink;
  }
  return 0;
}
