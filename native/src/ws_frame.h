// WebSocket framing (RFC 6455 section 5), both directions, for vpn-ws tunnels: each binary
// message carries one Ethernet frame. Pure C++ (no N-API), shared by the engine's threads and
// the test bindings (vpnws_addon.cc).
//
//  - FrameReader parses frames from a byte stream incrementally. It owns one receive buffer that
//    the caller reads into directly (WritePtr/Commit, e.g. recv or SSL_read) or copies into
//    (Append). A whole unfragmented frame is unmasked in place and handed out as a pointer into
//    that buffer (no copy); fragments are reassembled into a second buffer, bounded by
//    maxMessage. Control frames (ping, pong, close) may come between fragments. Every protocol
//    violation ends the reader with an Error event that carries the close code to send.
//  - Encoder builds frames: a client masks every frame with a fresh key from FastRandom (one
//    cipher call per 1024 keys); a server never masks. FrameInPlace writes the header into
//    headroom in front of the payload, so a frame read from a TAP device goes out without a copy.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tund {

class FastRandom;

namespace ws {

enum class Opcode : uint8_t { Continuation = 0x0, Text = 0x1, Binary = 0x2, Close = 0x8, Ping = 0x9, Pong = 0xA };

// Which end of the connection this side is: it decides who masks (RFC 6455 5.1).
enum class Role { Client, Server };

// Close codes (RFC 6455 7.4.1). 1005 and 1006 are never sent on the wire.
constexpr uint16_t kCloseNormal = 1000;
constexpr uint16_t kCloseGoingAway = 1001;
constexpr uint16_t kCloseProtocolError = 1002;
constexpr uint16_t kCloseUnsupportedData = 1003;
constexpr uint16_t kCloseNoStatus = 1005;
constexpr uint16_t kCloseAbnormal = 1006;
constexpr uint16_t kCloseInvalidPayload = 1007;
constexpr uint16_t kClosePolicyViolation = 1008;
constexpr uint16_t kCloseTooBig = 1009;
constexpr uint16_t kCloseInternalError = 1011;

// Largest header: 2 + 8 (64-bit length) + 4 (masking key).
constexpr size_t kMaxHeader = 14;
// Largest control frame payload (RFC 6455 5.5).
constexpr size_t kMaxControlPayload = 125;

// May this code appear in a close frame (RFC 6455 7.4, IANA registry)?
bool IsValidCloseCode(uint16_t code);
bool IsValidUtf8(const uint8_t* p, size_t n);

// Header bytes for a payload of `len`, masked or not.
size_t HeaderSize(uint64_t len, bool masked);
// Writes a frame header (FIN, opcode, length, masking key if `maskKey` is not null) to `out`
// (room for kMaxHeader bytes); returns its size.
size_t WriteHeader(uint8_t* out, Opcode op, bool fin, uint64_t len, const uint8_t* maskKey);
// XORs data with the 4-byte key, starting at key byte `keyOffset % 4` (masking and unmasking
// are the same operation). Eight bytes at a time.
void Mask(uint8_t* data, size_t len, const uint8_t key[4], size_t keyOffset = 0);

class Encoder {
 public:
  // A client needs `rng` for its masking keys (it must outlive the encoder); a server passes null.
  Encoder(Role local, FastRandom* rng);

  bool Masks() const { return masks_; }
  // Header size of a frame with `len` bytes of payload from this side.
  size_t HeaderSizeFor(uint64_t len) const { return HeaderSize(len, masks_); }

  // `buf` holds the payload at buf[kMaxHeader .. kMaxHeader + len). Writes the header right in
  // front of it and masks the payload in place (client). Returns the offset where the frame
  // starts; the frame is buf[offset .. kMaxHeader + len).
  size_t FrameInPlace(uint8_t* buf, size_t len, Opcode op, bool fin = true);
  // Writes header and payload (masked for a client) to `out`, which needs
  // HeaderSizeFor(len) + len bytes. Returns the frame size.
  size_t Frame(uint8_t* out, const uint8_t* payload, size_t len, Opcode op, bool fin = true);
  // Appends a frame to `out` (tests, control frames, the handshake path).
  void AppendFrame(std::vector<uint8_t>* out, const uint8_t* payload, size_t len, Opcode op, bool fin = true);
  // A close frame with `code` (0: no code, empty body) and a reason (cut at 123 bytes on a
  // UTF-8 character boundary). Appended to `out`.
  void AppendClose(std::vector<uint8_t>* out, uint16_t code, const std::string& reason);

 private:
  bool masks_;
  FastRandom* rng_;
};

enum class EventType {
  None,     // need more bytes (or the reader has seen a close and ignores the rest)
  Message,  // a complete text or binary message
  Ping,
  Pong,
  Close,    // the peer's close frame (answer it, then stop reading)
  Error,    // a protocol violation: send a close with `code`, then drop the connection
};

struct Event {
  EventType type = EventType::None;
  Opcode opcode = Opcode::Binary;  // Message: Text or Binary
  // Message, Ping, Pong: the payload; Close: the reason (UTF-8, maybe empty). Valid until the
  // next call to any method of the reader.
  uint8_t* data = nullptr;
  size_t len = 0;
  // Close: the peer's code (kCloseNoStatus when it sent none); Error: the code to send.
  uint16_t code = 0;
  // Message: it came in more than one frame (it was copied into the reassembly buffer).
  bool reassembled = false;
  // Error: what was wrong, e.g. "unmasked frame from a client".
  const char* error = nullptr;
};

struct ReaderCounters {
  uint64_t frames = 0;
  uint64_t messages = 0;
  uint64_t bytes = 0;  // wire bytes parsed
  uint64_t pings = 0;
  uint64_t pongs = 0;
};

class FrameReader {
 public:
  // `local` is this side: a server requires masked frames, a client unmasked ones.
  // `maxMessage` bounds a message (one frame or reassembled); bigger ones end the reader with
  // kCloseTooBig. The buffer holds one largest frame (a message, or a control frame of up to 125
  // bytes when maxMessage is smaller) plus `readAhead` bytes.
  FrameReader(Role local, size_t maxMessage, size_t readAhead = 65536);

  // Where to receive into: at least min(wanted, free space) bytes, compacting first. Writable()
  // is 0 only when a frame that is not complete fills the whole buffer (cannot happen within
  // the limits: such a frame fails first).
  uint8_t* WritePtr();
  size_t Writable();
  void Commit(size_t n);
  // Copies up to `n` bytes in; returns how many were taken.
  size_t Append(const uint8_t* p, size_t n);

  // The next event from the bytes received so far.
  Event Next();

  size_t Buffered() const { return end_ - start_; }
  bool Failed() const { return failed_; }
  bool SawClose() const { return sawClose_; }
  // A fragmented message has begun and not ended.
  bool InMessage() const { return inMessage_; }
  size_t MaxMessage() const { return maxMessage_; }
  const ReaderCounters& Counters() const { return counters_; }

 private:
  Event Fail(uint16_t code, const char* why);
  void Compact();

  Role local_;
  size_t maxMessage_;
  size_t cap_;       // the most the buffer grows to
  size_t need_ = 0;  // bytes the frame being waited for takes (header + payload), 0 if unknown
  std::vector<uint8_t> buf_;
  size_t start_ = 0;  // first unparsed byte
  size_t end_ = 0;    // one past the last received byte
  // a fragmented message in progress
  bool inMessage_ = false;
  Opcode messageOpcode_ = Opcode::Binary;
  std::vector<uint8_t> assembly_;
  bool failed_ = false;
  Event failure_;
  bool sawClose_ = false;
  ReaderCounters counters_;
};

}  // namespace ws
}  // namespace tund
