// See ws_transform.h.
#include "ws_transform.h"

#include <algorithm>
#include <cstring>

namespace tund {
namespace engine {

namespace {

constexpr const char* kEndPeerClosed = "peer_closed";
constexpr const char* kEndCodecError = "codec_error";

uint64_t Be(const uint8_t* p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = (v << 8) | p[i];
  return v;
}

}  // namespace

WsTransform::WsTransform(const WsOptions& o)
    : o_(o),
      encoder_(o.role, o.role == ws::Role::Client ? &rng_ : nullptr),
      // the reader's buffer only ever holds one frame that Open hands it
      reader_(o.role, o.maxMessage, 0) {}

int64_t WsTransform::MsSinceTraffic() const {
  int64_t last = std::max(lastTxMs_.load(std::memory_order_relaxed), lastRxMs_.load(std::memory_order_relaxed));
  return last < 0 ? -1 : MonotonicMs() - last;
}

int64_t WsTransform::MsSinceRx() const {
  int64_t last = lastRxMs_.load(std::memory_order_relaxed);
  return last < 0 ? -1 : MonotonicMs() - last;
}

// ---- tx thread

void WsTransform::AddControl(TxContext& tx, ws::Opcode op, const uint8_t* payload, size_t len) {
  Message* m = tx.Add();
  if (!m) return;
  m->len = encoder_.Frame(m->data, payload, len, op);
  lastTxMs_.store(MonotonicMs(), std::memory_order_relaxed);
}

void WsTransform::CollectOutgoing(TxContext& tx) {
  if (closeSent_.load()) return;
  bool pong = false;
  uint8_t payload[ws::kMaxControlPayload];
  size_t len = 0;
  {
    std::lock_guard<std::mutex> lock(pongMu_);
    if (pongPending_) {
      pong = true;
      len = pongPayload_.size();
      std::memcpy(payload, pongPayload_.data(), len);
      pongPending_ = false;
    }
  }
  if (pong) AddControl(tx, ws::Opcode::Pong, payload, len);
  if (pendingPing_.exchange(false)) {
    AddControl(tx, ws::Opcode::Ping, nullptr, 0);
    pingsSent_.fetch_add(1, std::memory_order_relaxed);
  }
  // a close JS asked for goes out now; the peer's answer ends the engine (or JS stops it)
  uint16_t code = closeCode_.load();
  if (code != 0 && !closeSent_.exchange(true)) {
    uint8_t body[2] = {static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code)};
    AddControl(tx, ws::Opcode::Close, body, 2);
  }
}

void WsTransform::Seal(Message& pkt, TxContext& tx) {
  if (closeSent_.load(std::memory_order_relaxed)) {
    // nothing may follow a close frame (RFC 6455 5.5.1)
    tx.core().c.txDropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Message* m = tx.Add();
  if (!m) return;
  uint8_t* buf = pkt.data - ws::kMaxHeader;
  size_t start = encoder_.FrameInPlace(buf, pkt.len, ws::Opcode::Binary);
  m->data = buf + start;
  m->len = ws::kMaxHeader + pkt.len - start;
  lastTxMs_.store(MonotonicMs(), std::memory_order_relaxed);
}

void WsTransform::CollectFinal(TxContext& tx) {
  uint16_t code = closeCode_.load();
  if (code != 0 && !closeSent_.exchange(true)) {
    uint8_t body[2] = {static_cast<uint8_t>(code >> 8), static_cast<uint8_t>(code)};
    AddControl(tx, ws::Opcode::Close, body, 2);
  }
}

// ---- rx thread

// One frame: its header and payload length. An impossible length (more than a message, or a
// control frame, may be) is handed over as the bare header, and Open ends the engine on it.
Split WsTransform::Next(const uint8_t* p, size_t have) {
  Split s;
  if (have < 2) return s;
  size_t hdr = 2 + ((p[1] & 0x80) ? 4 : 0);
  uint64_t len = p[1] & 0x7f;
  if (len == 126) {
    hdr += 2;
    if (have < 4) return s;
    len = Be(p + 2, 2);
  } else if (len == 127) {
    hdr += 8;
    if (have < 10) return s;
    len = Be(p + 2, 8);
  }
  s.kind = Split::Frame;
  // a control frame may carry 125 bytes even when the largest message is smaller (a small MTU)
  const uint64_t limit = (p[0] & 0x08) ? ws::kMaxControlPayload : o_.maxMessage;
  if (len > limit) {
    s.len = std::min(hdr, have);
    return s;
  }
  if (have < hdr + len) {
    s.kind = Split::More;
    return s;
  }
  s.len = hdr + static_cast<size_t>(len);
  return s;
}

void WsTransform::Open(Message& msg, RxContext& rx) {
  lastRxMs_.store(MonotonicMs(), std::memory_order_relaxed);
  const uint8_t* p = msg.data;
  // The common case, checked as strictly as the reader would: FIN, no reserved bits, binary,
  // masked exactly when the peer is a client, the whole frame here, no fragmented message open.
  const bool wantMask = o_.role == ws::Role::Server;
  if (msg.len >= 2 && p[0] == 0x82 && ((p[1] & 0x80) != 0) == wantMask && !reader_.InMessage()) {
    size_t hdr = 2;
    uint64_t len = p[1] & 0x7f;
    if (len == 126 && msg.len >= 4) {
      len = Be(p + 2, 2);
      hdr = 4;
    } else if (len == 127 && msg.len >= 10) {
      len = Be(p + 2, 8);
      hdr = 10;
    }
    const uint8_t* key = nullptr;
    if (wantMask) {
      key = p + hdr;
      hdr += 4;
    }
    if (len > 0 && len <= o_.maxMessage && msg.len == hdr + len) {
      uint8_t* payload = msg.data + hdr;
      if (key) {
        uint8_t k[4];
        std::memcpy(k, key, 4);
        ws::Mask(payload, static_cast<size_t>(len), k);
      }
      rx.Deliver(payload, static_cast<size_t>(len));
      return;
    }
  }
  // Everything else through the reader, which checks and answers it.
  if (reader_.Append(msg.data, msg.len) != msg.len) {
    closeCode_.store(ws::kCloseTooBig);
    rx.core().WakeTx();
    rx.core().End(kEndCodecError, "websocket: a frame larger than the largest message");
    return;
  }
  for (;;) {
    ws::Event ev = reader_.Next();
    if (ev.type == ws::EventType::None) return;
    HandleEvent(ev, rx);
    if (ev.type == ws::EventType::Close || ev.type == ws::EventType::Error) return;
  }
}

void WsTransform::HandleEvent(const ws::Event& ev, RxContext& rx) {
  Core& core = rx.core();
  switch (ev.type) {
    case ws::EventType::Message:
      if (ev.opcode != ws::Opcode::Binary || ev.len == 0) {
        core.c.badFrames.fetch_add(1, std::memory_order_relaxed);  // not an Ethernet frame
        return;
      }
      rx.DeliverCopy(ev.data, ev.len);
      return;
    case ws::EventType::Ping: {
      pingsRx_.fetch_add(1, std::memory_order_relaxed);
      {
        std::lock_guard<std::mutex> lock(pongMu_);
        pongPending_ = true;
        pongPayload_.assign(ev.data, ev.data + ev.len);
      }
      core.WakeTx();
      return;
    }
    case ws::EventType::Pong:
      pongsRx_.fetch_add(1, std::memory_order_relaxed);
      return;
    case ws::EventType::Close: {
      peerCloseCode_.store(ev.code, std::memory_order_relaxed);
      // answer with the same code (none when it sent none)
      uint16_t answer = ev.code == ws::kCloseNoStatus ? ws::kCloseNormal : ev.code;
      uint16_t expected = 0;
      closeCode_.compare_exchange_strong(expected, answer);
      std::string why = "closed by the peer (WebSocket close " + std::to_string(ev.code);
      if (ev.len > 0) why += ": " + std::string(reinterpret_cast<const char*>(ev.data), ev.len);
      core.End(kEndPeerClosed, why + ")");
      return;
    }
    case ws::EventType::Error: {
      uint16_t expected = 0;
      closeCode_.compare_exchange_strong(expected, ev.code);
      core.End(kEndCodecError, std::string("websocket: ") + (ev.error ? ev.error : "protocol error"));
      return;
    }
    case ws::EventType::None:
      return;
  }
}

}  // namespace engine
}  // namespace tund
