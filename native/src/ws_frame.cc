// WebSocket framing: see ws_frame.h and RFC 6455 section 5.
#include "ws_frame.h"

#include <cstring>

#include "fast_random.h"

namespace tund {
namespace ws {

namespace {

// The buffer starts this big and grows (up to its cap) only when a frame needs more.
constexpr size_t kInitialBuffer = 32768;

uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }

uint64_t Be64(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
  return v;
}

}  // namespace

bool IsValidCloseCode(uint16_t code) {
  // 1004 is reserved, 1005 and 1006 must not be sent, 1015 is TLS-internal; 1012-1014 are
  // registered with IANA (restart, try again later, bad gateway).
  if (code >= 1000 && code <= 1014) return code != 1004 && code != 1005 && code != 1006;
  return code >= 3000 && code <= 4999;
}

bool IsValidUtf8(const uint8_t* p, size_t n) {
  size_t i = 0;
  while (i < n) {
    uint8_t c = p[i];
    if (c < 0x80) {
      i++;
      continue;
    }
    size_t extra;
    uint32_t cp;
    if ((c & 0xe0) == 0xc0) {
      extra = 1;
      cp = c & 0x1f;
    } else if ((c & 0xf0) == 0xe0) {
      extra = 2;
      cp = c & 0x0f;
    } else if ((c & 0xf8) == 0xf0) {
      extra = 3;
      cp = c & 0x07;
    } else {
      return false;
    }
    if (n - i <= extra) return false;
    for (size_t k = 1; k <= extra; k++) {
      if ((p[i + k] & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (p[i + k] & 0x3f);
    }
    // overlong forms, UTF-16 surrogates, beyond U+10FFFF
    if ((extra == 1 && cp < 0x80) || (extra == 2 && cp < 0x800) || (extra == 3 && cp < 0x10000)) return false;
    if (cp >= 0xd800 && cp <= 0xdfff) return false;
    if (cp > 0x10ffff) return false;
    i += extra + 1;
  }
  return true;
}

size_t HeaderSize(uint64_t len, bool masked) {
  size_t h = len < 126 ? 2 : len <= 0xffff ? 4 : 10;
  return masked ? h + 4 : h;
}

size_t WriteHeader(uint8_t* out, Opcode op, bool fin, uint64_t len, const uint8_t* maskKey) {
  out[0] = static_cast<uint8_t>((fin ? 0x80 : 0) | static_cast<uint8_t>(op));
  uint8_t maskBit = maskKey ? 0x80 : 0;
  size_t h;
  if (len < 126) {
    out[1] = static_cast<uint8_t>(maskBit | len);
    h = 2;
  } else if (len <= 0xffff) {
    out[1] = maskBit | 126;
    out[2] = static_cast<uint8_t>(len >> 8);
    out[3] = static_cast<uint8_t>(len);
    h = 4;
  } else {
    out[1] = maskBit | 127;
    for (int i = 0; i < 8; i++) out[2 + i] = static_cast<uint8_t>(len >> (56 - 8 * i));
    h = 10;
  }
  if (maskKey) {
    memcpy(out + h, maskKey, 4);
    h += 4;
  }
  return h;
}

void Mask(uint8_t* data, size_t len, const uint8_t key[4], size_t keyOffset) {
  uint8_t k[8];
  for (size_t i = 0; i < 8; i++) k[i] = key[(keyOffset + i) & 3];
  uint64_t k64;
  memcpy(&k64, k, 8);
  size_t i = 0;
  for (; i + 8 <= len; i += 8) {
    uint64_t v;
    memcpy(&v, data + i, 8);
    v ^= k64;
    memcpy(data + i, &v, 8);
  }
  for (; i < len; i++) data[i] ^= k[i & 7];
}

// ---- Encoder

Encoder::Encoder(Role local, FastRandom* rng) : masks_(local == Role::Client), rng_(rng) {}

size_t Encoder::FrameInPlace(uint8_t* buf, size_t len, Opcode op, bool fin) {
  size_t hs = HeaderSize(len, masks_);
  size_t offset = kMaxHeader - hs;
  uint8_t key[4];
  if (masks_) rng_->Fill(key, 4);
  WriteHeader(buf + offset, op, fin, len, masks_ ? key : nullptr);
  if (masks_) Mask(buf + kMaxHeader, len, key);
  return offset;
}

size_t Encoder::Frame(uint8_t* out, const uint8_t* payload, size_t len, Opcode op, bool fin) {
  uint8_t key[4];
  if (masks_) rng_->Fill(key, 4);
  size_t hs = WriteHeader(out, op, fin, len, masks_ ? key : nullptr);
  if (len > 0) memcpy(out + hs, payload, len);
  if (masks_) Mask(out + hs, len, key);
  return hs + len;
}

void Encoder::AppendFrame(std::vector<uint8_t>* out, const uint8_t* payload, size_t len, Opcode op, bool fin) {
  size_t at = out->size();
  out->resize(at + HeaderSizeFor(len) + len);
  Frame(out->data() + at, payload, len, op, fin);
}

void Encoder::AppendClose(std::vector<uint8_t>* out, uint16_t code, const std::string& reason) {
  uint8_t body[kMaxControlPayload];
  size_t n = 0;
  if (code != 0) {
    body[0] = static_cast<uint8_t>(code >> 8);
    body[1] = static_cast<uint8_t>(code);
    size_t r = reason.size() < kMaxControlPayload - 2 ? reason.size() : kMaxControlPayload - 2;
    // never cut a UTF-8 sequence in two: back up over continuation bytes
    while (r > 0 && r < reason.size() && (static_cast<uint8_t>(reason[r]) & 0xc0) == 0x80) r--;
    memcpy(body + 2, reason.data(), r);
    n = 2 + r;
  }
  AppendFrame(out, body, n, Opcode::Close, true);
}

// ---- FrameReader

FrameReader::FrameReader(Role local, size_t maxMessage, size_t readAhead)
    // room for a whole frame: the largest message or a control frame, which may be longer
    : local_(local), maxMessage_(maxMessage), cap_((maxMessage > kMaxControlPayload ? maxMessage : kMaxControlPayload) + kMaxHeader + readAhead) {
  buf_.resize(cap_ < kInitialBuffer ? cap_ : kInitialBuffer);
}

void FrameReader::Compact() {
  if (start_ == 0) return;
  size_t n = end_ - start_;
  if (n > 0) memmove(buf_.data(), buf_.data() + start_, n);
  start_ = 0;
  end_ = n;
}

size_t FrameReader::Writable() {
  // Compact when little room is left at the end, most of the buffer is parsed already, or the
  // frame being waited for would not fit behind its start.
  if (start_ > 0 && (buf_.size() - end_ < 4096 || start_ >= buf_.size() / 2 || start_ + need_ > buf_.size())) Compact();
  // Grow (up to the cap) when the frame being waited for does not fit, or the buffer is full.
  size_t want = need_ > buf_.size() ? need_ : 0;
  if (buf_.size() - end_ == 0 || want > 0) {
    size_t grown = buf_.size() * 2;
    if (grown < want) grown = want;
    if (grown > cap_) grown = cap_;
    if (grown > buf_.size()) {
      Compact();
      buf_.resize(grown);
    }
  }
  return buf_.size() - end_;
}

uint8_t* FrameReader::WritePtr() {
  Writable();
  return buf_.data() + end_;
}

void FrameReader::Commit(size_t n) {
  end_ += n;
  if (end_ > buf_.size()) end_ = buf_.size();
}

size_t FrameReader::Append(const uint8_t* p, size_t n) {
  size_t room = Writable();
  size_t take = n < room ? n : room;
  if (take == 0) return 0;  // p may be null then (an empty vector's data()): memcpy must not see it
  memcpy(buf_.data() + end_, p, take);
  end_ += take;
  return take;
}

Event FrameReader::Fail(uint16_t code, const char* why) {
  failed_ = true;
  failure_ = Event{};
  failure_.type = EventType::Error;
  failure_.code = code;
  failure_.error = why;
  return failure_;
}

Event FrameReader::Next() {
  if (failed_) return failure_;
  if (sawClose_) return Event{};
  for (;;) {
    need_ = 0;
    size_t avail = end_ - start_;
    if (avail < 2) return Event{};
    uint8_t* p = buf_.data() + start_;
    bool fin = (p[0] & 0x80) != 0;
    if (p[0] & 0x70) return Fail(kCloseProtocolError, "reserved bits set (no extension was negotiated)");
    uint8_t op = p[0] & 0x0f;
    bool masked = (p[1] & 0x80) != 0;
    uint64_t len = p[1] & 0x7f;
    size_t hdr = 2;
    if (len == 126) {
      if (avail < 4) return Event{};
      len = Be16(p + 2);
      hdr = 4;
    } else if (len == 127) {
      if (avail < 10) return Event{};
      len = Be64(p + 2);
      if (len >> 63) return Fail(kCloseProtocolError, "64-bit length with the most significant bit set");
      hdr = 10;
    }
    // Everything the header says is checked before waiting for the payload: a hostile length
    // fails at once instead of making the reader wait (or grow) for it.
    bool control = (op & 0x08) != 0;
    if (control) {
      if (op != 0x8 && op != 0x9 && op != 0xA) return Fail(kCloseProtocolError, "unknown control opcode");
      if (!fin) return Fail(kCloseProtocolError, "fragmented control frame");
      if (len > kMaxControlPayload) return Fail(kCloseProtocolError, "control frame longer than 125 bytes");
    } else {
      if (op != 0x0 && op != 0x1 && op != 0x2) return Fail(kCloseProtocolError, "unknown data opcode");
      if (op == 0x0 && !inMessage_) return Fail(kCloseProtocolError, "continuation frame without a message to continue");
      if (op != 0x0 && inMessage_) return Fail(kCloseProtocolError, "new message before the fragmented one ended");
      uint64_t sofar = op == 0x0 ? assembly_.size() : 0;
      if (len > maxMessage_ || sofar + len > maxMessage_) return Fail(kCloseTooBig, "message bigger than the limit");
    }
    if (local_ == Role::Server && !masked) return Fail(kCloseProtocolError, "unmasked frame from a client");
    if (local_ == Role::Client && masked) return Fail(kCloseProtocolError, "masked frame from a server");
    if (masked) hdr += 4;
    if (avail < hdr + len) {
      need_ = hdr + len;
      return Event{};
    }
    uint8_t* payload = p + hdr;
    size_t n = static_cast<size_t>(len);
    if (masked) Mask(payload, n, p + hdr - 4);
    start_ += hdr + n;
    counters_.frames++;
    counters_.bytes += hdr + n;

    Event e;
    switch (op) {
      case 0x9:
      case 0xA:
        e.type = op == 0x9 ? EventType::Ping : EventType::Pong;
        e.data = payload;
        e.len = n;
        (op == 0x9 ? counters_.pings : counters_.pongs)++;
        return e;
      case 0x8:
        if (n == 1) return Fail(kCloseProtocolError, "close frame with a 1-byte body");
        e.type = EventType::Close;
        e.code = kCloseNoStatus;
        if (n >= 2) {
          e.code = Be16(payload);
          if (!IsValidCloseCode(e.code)) return Fail(kCloseProtocolError, "invalid close code");
          if (!IsValidUtf8(payload + 2, n - 2)) return Fail(kCloseInvalidPayload, "close reason is not UTF-8");
          e.data = payload + 2;
          e.len = n - 2;
        }
        sawClose_ = true;
        return e;
      case 0x1:
      case 0x2:
        if (!fin) {
          inMessage_ = true;
          messageOpcode_ = static_cast<Opcode>(op);
          assembly_.assign(payload, payload + n);
          continue;
        }
        if (op == 0x1 && !IsValidUtf8(payload, n)) return Fail(kCloseInvalidPayload, "text message is not UTF-8");
        e.type = EventType::Message;
        e.opcode = static_cast<Opcode>(op);
        e.data = payload;
        e.len = n;
        counters_.messages++;
        return e;
      default:  // continuation
        assembly_.insert(assembly_.end(), payload, payload + n);
        if (!fin) continue;
        inMessage_ = false;
        if (messageOpcode_ == Opcode::Text && !IsValidUtf8(assembly_.data(), assembly_.size())) {
          return Fail(kCloseInvalidPayload, "text message is not UTF-8");
        }
        e.type = EventType::Message;
        e.opcode = messageOpcode_;
        e.data = assembly_.data();
        e.len = assembly_.size();
        e.reassembled = true;
        counters_.messages++;
        return e;
    }
  }
}

}  // namespace ws
}  // namespace tund
