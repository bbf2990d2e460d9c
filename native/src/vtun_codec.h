// VTun 3.0 module chain (docs/vtun-protocol.md §9, §10): compression (LZO1X, zlib) then encryption (legacy
// Blowfish, ECB modes, CBC/CFB/OFB stream modes with side-band IV and seq# header blocks).
// One VtunEncoder per sending direction and one VtunDecoder per receiving direction; both keep the
// per-direction state vtund keeps (one zlib stream, one continuous cipher stream). Shared by the
// pump threads (pump.cc) and the synchronous VtunCodec object used by tests and tools.
// No allocation per packet: all buffers are allocated when the object is built.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace tund {
namespace vtun {

// Largest packet accepted from the device / handed to the modules (VTUN_FRAME_SIZE).
constexpr size_t kMaxPacket = 2048;
// Largest frame payload accepted from the peer (VTUN_FRAME_SIZE + VTUN_FRAME_OVERHEAD).
constexpr size_t kMaxFramePayload = 2148;
// Largest frame payload we can produce (the 12-bit length field); real output stays far below.
constexpr size_t kMaxEncoded = 4095;
// Largest packet produced by decompression; more is a codec error.
constexpr size_t kMaxDecoded = 4096;

constexpr uint16_t kFsizeMask = 0x0fff;
constexpr uint16_t kConnClose = 0x1000;
constexpr uint16_t kEchoReq = 0x2000;
constexpr uint16_t kEchoRep = 0x4000;
constexpr uint16_t kBadFrame = 0x8000;

enum class Compression { None, Zlib, Lzo };

struct CodecConfig {
  Compression compression = Compression::None;
  int level = 1;
  int cipher = 0;            // 0 none, 999 legacy, 1..16 (docs/vtun-protocol.md §10.2)
  std::string key;           // raw key bytes (16 or 32)
};

// Validates the config; returns an empty string when fine, else a message.
std::string ValidateConfig(const CodecConfig& cfg);
// Key bytes a cipher number needs (0 for none).
size_t CipherKeyBytes(int cipher);

// What a receiver learns that its own sender must act on (CBC/CFB/OFB resynchronisation, 10.5.4).
// Shared between the encoder and the decoder of one session; touched from two threads.
struct ResyncSignal {
  std::atomic<bool> wantRsyn{false};  // our decoder lost the peer's stream: tag frames "rsyn"
  std::atomic<bool> reinit{false};    // the peer asked ("rsyn"): start a new stream (side-band + IV)
};

class CipherImpl;
class CompressorImpl;

enum class DecodeResult { Ok, Drop, Error };

// One direction of the chain: its compressor (if any), its cipher, a scratch buffer.
class ModuleChain {
 public:
  // No compression and no cipher: frames carry the packet as it is.
  bool Identity() const { return identity_; }

 protected:
  ModuleChain(const CodecConfig& cfg, std::shared_ptr<ResyncSignal> sync, bool encoder, size_t scratch);
  ~ModuleChain();
  bool identity_;
  std::unique_ptr<CompressorImpl> comp_;
  std::unique_ptr<CipherImpl> cipher_;
  std::vector<uint8_t> scratch_;
};

class VtunEncoder : public ModuleChain {
 public:
  VtunEncoder(const CodecConfig& cfg, std::shared_ptr<ResyncSignal> sync);
  // Encodes one packet (len <= kMaxPacket) into out (capacity >= kMaxEncoded).
  // Returns the payload length (> 0), or -1 with error set (oversized input, library failure).
  int Encode(const uint8_t* in, size_t len, uint8_t* out, std::string* error);
};

class VtunDecoder : public ModuleChain {
 public:
  VtunDecoder(const CodecConfig& cfg, std::shared_ptr<ResyncSignal> sync);
  // Decodes one frame payload. `in` may be modified (decrypted in place). On Ok *out points to
  // the packet (inside `in` or an internal buffer, valid until the next call) and *outLen > 0.
  // Drop: nothing to deliver (garbled cipher text, bad padding). Error: decompression failed
  // (the session must end), message in *error.
  DecodeResult Decode(uint8_t* in, size_t len, const uint8_t** out, size_t* outLen, std::string* error);
};

}  // namespace vtun
}  // namespace tund
