// vpn-ws on the engine (docs/vpn-ws.md): every Ethernet frame of the TAP device is one binary
// WebSocket message (RFC 6455), over a TCP stream or TLS (engine::StreamLayer). The client side of
// a vpn-ws tunnel; the hub, with many connections and a switch, has its own loop (vpnws_hub.h).
//
//   - Seal writes the frame header into the packet's 14 bytes of headroom and masks the payload
//     in place (a client masks, with a fresh key per frame): no copy on the way out.
//   - Open takes a whole unfragmented binary frame straight to the device (unmasked in place when
//     masked); everything else (fragments, text, control frames, protocol violations) goes
//     through ws::FrameReader, which checks it as the conformance tests do.
//   - pings are answered natively (the latest payload, as RFC 6455 5.5.3 allows); a close from
//     the peer is answered and ends the engine with peer_closed; a protocol violation sends the
//     close code the reader names and ends it with codec_error.
//   - JS asks for pings (its keepalive timer reads MsSinceTraffic) and for an orderly close.
#pragma once

#include <algorithm>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "../fast_random.h"
#include "../ws_frame.h"
#include "engine.h"

namespace tund {
namespace engine {

struct WsOptions {
  ws::Role role = ws::Role::Client;
  // The largest message (one Ethernet frame) either way: the device MTU + 14 (+4 for a VLAN tag).
  size_t maxMessage = 1518;
};

class WsTransform : public Transform, public Framer {
 public:
  explicit WsTransform(const WsOptions& o);

  size_t Headroom() const override { return ws::kMaxHeader; }
  size_t MaxPacket() const override { return o_.maxMessage; }
  size_t TxSlotBytes() const override { return ws::kMaxHeader + ws::kMaxControlPayload + 2; }
  // a frame whole: the largest message, or a control frame (up to 125 bytes whatever the MTU)
  size_t RxSlotBytes() const override { return ws::kMaxHeader + std::max(o_.maxMessage, ws::kMaxControlPayload); }
  size_t MaxDelivered() const override { return o_.maxMessage; }
  Framer* StreamFramer() override { return this; }

  void CollectOutgoing(TxContext& tx) override;
  void Seal(Message& pkt, TxContext& tx) override;
  void CollectFinal(TxContext& tx) override;
  Split Next(const uint8_t* p, size_t have) override;
  void Open(Message& msg, RxContext& rx) override;

  // JS (then wake the tx thread): one ping; an orderly close with a code (1000, 1001).
  void QueuePing() { pendingPing_.store(true); }
  void QueueClose(uint16_t code) { closeCode_.store(code); }

  uint64_t PingsSent() const { return pingsSent_.load(std::memory_order_relaxed); }
  uint64_t PongsReceived() const { return pongsRx_.load(std::memory_order_relaxed); }
  uint64_t PingsReceived() const { return pingsRx_.load(std::memory_order_relaxed); }
  // The peer's close frame (0 before one came) and its reason.
  uint16_t PeerCloseCode() const { return peerCloseCode_.load(std::memory_order_relaxed); }
  // ms since the last frame either way (vpn-ws pings after 17 s of this), and since one came in;
  // -1 before the first.
  int64_t MsSinceTraffic() const;
  int64_t MsSinceRx() const;

 private:
  void AddControl(TxContext& tx, ws::Opcode op, const uint8_t* payload, size_t len);
  void HandleEvent(const ws::Event& ev, RxContext& rx);

  WsOptions o_;
  FastRandom rng_;        // tx thread
  ws::Encoder encoder_;   // tx thread
  ws::FrameReader reader_;  // rx thread: everything that is not a plain binary frame
  std::atomic<bool> pendingPing_{false};
  std::atomic<uint16_t> closeCode_{0};  // a close frame to send (local, an answer, an error)
  std::atomic<bool> closeSent_{false};
  std::mutex pongMu_;
  bool pongPending_ = false;
  std::vector<uint8_t> pongPayload_;
  std::atomic<int64_t> lastTxMs_{-1}, lastRxMs_{-1};
  std::atomic<uint64_t> pingsSent_{0}, pongsRx_{0}, pingsRx_{0};
  std::atomic<uint16_t> peerCloseCode_{0};
};

}  // namespace engine
}  // namespace tund
