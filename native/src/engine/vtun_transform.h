// VTun 3.0 on the engine (docs/vtun-protocol.md §6-§11): the 2-byte frame header (flags |
// length), the module chain of vtun_codec.h (compression -> encryption), and the control frames.
//
//   - every ECHO_REQ from the peer is answered with ECHO_REP by the engine itself; several queued
//     requests/replies collapse into one each (they carry no data); one ECHO_REQ at start
//     (unless nat_hack), more on JS's request;
//   - CONN_CLOSE ends the engine with peer_closed; after peer_closed, device_error and
//     codec_error the engine sends one CONN_CLOSE, as vtund does; one queued by JS right before
//     stop() is still sent;
//   - oversized frames, `00 00`, BAD frames, UDP datagrams whose length does not match the
//     header, undecryptable frames and 1-byte packets for a tun/tap (vtund's resync carrier,
//     docs/vtun-protocol.md §10.5.4, which a tun/tap would refuse) are dropped and counted in
//     badFrames;
//   - nat_hack (UDP, docs/vtun-protocol.md §6.4): the socket waits unconnected; the first
//     datagram that is a valid frame (ECHO_REQ, ECHO_REP, or a data frame that decodes) connects
//     it. Nothing else picks the peer, a stranger's CONN_CLOSE or broken data does not end the
//     session, and nothing is encoded before there is somewhere to send it.
#pragma once

#include <atomic>
#include <memory>

#include "../vtun_codec.h"
#include "engine.h"

namespace tund {
namespace engine {

struct VtunOptions {
  vtun::CodecConfig codec;
  bool streamDevice = false;  // pipe/tty: 1-byte packets are data
  bool tcp = true;
  bool natHack = false;       // UDP only
};

class VtunTransform : public Transform, public Framer {
 public:
  explicit VtunTransform(const VtunOptions& o);

  size_t Headroom() const override { return 2; }
  size_t MaxPacket() const override { return vtun::kMaxPacket; }
  size_t TxSlotBytes() const override { return 2 + vtun::kMaxEncoded + 64; }
  // larger than any valid datagram, so an oversized one is seen as truncated
  size_t RxSlotBytes() const override { return 4096 + 64; }
  size_t MaxDelivered() const override { return vtun::kMaxDecoded; }
  Framer* StreamFramer() override { return this; }

  void Start(Core& core) override;
  void OnEnd(const char* reason) override;
  void CollectOutgoing(TxContext& tx) override;
  void Seal(Message& pkt, TxContext& tx) override;
  // (Seal adds one frame per packet and reads no clock: the lone-packet path may call it)
  bool SealsAlone() const override { return true; }
  bool SealLone(Message& pkt, uint8_t* scratch, Message* wire, Core& core) override;
  bool OpenLone(Message& msg, int64_t nowMs, Message* pkt) override;
  bool OutgoingPending() const override {
    return pendingEchoRep_.load(std::memory_order_relaxed) != 0 || pendingEchoReq_.load(std::memory_order_relaxed) != 0 ||
           pendingClose_.load(std::memory_order_relaxed) != 0;
  }
  void CollectFinal(TxContext& tx) override;
  Split Next(const uint8_t* p, size_t have) override;
  void Open(Message& msg, RxContext& rx) override;

  // JS: queue an ECHO_REQ / a CONN_CLOSE (the engine must be woken after).
  void QueueEchoRequest() { pendingEchoReq_++; }
  void QueueClose() { pendingClose_ = 1; }

  // VTun's own counters (the engine's are in Core::c).
  uint64_t EchoRequestsReceived() const { return echoReqRx_.load(std::memory_order_relaxed); }
  uint64_t EchoRepliesReceived() const { return echoRepRx_.load(std::memory_order_relaxed); }
  uint64_t EchoRequestsSent() const { return echoReqTx_.load(std::memory_order_relaxed); }
  // ms since the last frame from the peer, -1 before the first one.
  int64_t MsSinceRx() const;
  // ms since the last ECHO_REP (the answer to our keep-alive), -1 before the first one.
  int64_t MsSinceEchoReply() const;

 private:
  void Control(uint16_t h, RxContext& rx);
  // A data frame: decoded, checked, delivered (and, awaiting the peer, pinning it first).
  void HandleData(const Message& msg, RxContext& rx, bool awaitingPeer);
  void AddControl(TxContext& tx, uint16_t h);
  void Frame(Message& pkt, Message* m, Core& core);

  VtunOptions o_;
  std::shared_ptr<vtun::ResyncSignal> sync_;
  std::unique_ptr<vtun::VtunEncoder> enc_;
  std::unique_ptr<vtun::VtunDecoder> dec_;
  std::vector<uint8_t> plain_;  // tx: the packet, when the codec cannot work in place
  std::atomic<int> pendingEchoReq_{0}, pendingEchoRep_{0}, pendingClose_{0};
  std::atomic<uint64_t> echoReqRx_{0}, echoRepRx_{0}, echoReqTx_{0};
  std::atomic<int64_t> lastRxMs_{-1};
  std::atomic<int64_t> lastEchoRepMs_{-1};
};

}  // namespace engine
}  // namespace tund
