// VTun on the engine: see vtun_transform.h.
#include "vtun_transform.h"

#include <cstring>

namespace tund {
namespace engine {

namespace {

inline void PutHeader(uint8_t* p, uint16_t h) {
  p[0] = static_cast<uint8_t>(h >> 8);
  p[1] = static_cast<uint8_t>(h);
}
inline uint16_t GetHeader(const uint8_t* p) { return static_cast<uint16_t>((p[0] << 8) | p[1]); }
// A data frame's header fits the message that carries it (a datagram, or a frame the stream's
// framer cut): the length it says, 1 to kMaxFramePayload, is what follows it.
inline bool FitsMessage(uint16_t h, size_t message) {
  const size_t flen = h & vtun::kFsizeMask;
  return flen != 0 && flen <= vtun::kMaxFramePayload && flen == message - 2;
}

const char* const kEndPeerClosed = "peer_closed";
const char* const kEndCodecError = "codec_error";

}  // namespace

VtunTransform::VtunTransform(const VtunOptions& o) : o_(o), plain_(vtun::kMaxPacket) {
  if (o_.tcp) o_.natHack = false;
}

void VtunTransform::Start(Core& core) {
  sync_ = std::make_shared<vtun::ResyncSignal>();
  enc_ = std::make_unique<vtun::VtunEncoder>(o_.codec, sync_);
  dec_ = std::make_unique<vtun::VtunDecoder>(o_.codec, sync_);
  if (!o_.natHack) {
    pendingEchoReq_ = 1;  // docs/vtun-protocol.md §7.5
    core.WakeTx();
  }
}

void VtunTransform::OnEnd(const char* reason) {
  if (std::strcmp(reason, kEndPeerClosed) == 0 || std::strcmp(reason, kEndDeviceError) == 0 ||
      std::strcmp(reason, kEndCodecError) == 0) {
    pendingClose_ = 1;
  }
}

namespace {
int64_t MsSince(const std::atomic<int64_t>& ms) {
  int64_t last = ms.load(std::memory_order_relaxed);
  return last < 0 ? -1 : MonotonicMs() - last;
}
}  // namespace

int64_t VtunTransform::MsSinceRx() const { return MsSince(lastRxMs_); }
int64_t VtunTransform::MsSinceEchoReply() const { return MsSince(lastEchoRepMs_); }

// ---- tx thread

void VtunTransform::AddControl(TxContext& tx, uint16_t h) {
  Message* m = tx.Add();
  if (!m) return;
  PutHeader(m->data, h);
  m->len = 2;
}

void VtunTransform::CollectOutgoing(TxContext& tx) {
  // (a plain load first: nearly every round finds nothing, and a locked exchange per flag per
  // round is a write to lines the control side shares)
  auto take = [](std::atomic<int>& flag) { return flag.load(std::memory_order_relaxed) != 0 ? flag.exchange(0) : 0; };
  int rep = take(pendingEchoRep_);
  int req = take(pendingEchoReq_);
  if (req > 0) {
    AddControl(tx, vtun::kEchoReq);
    echoReqTx_.fetch_add(1, std::memory_order_relaxed);
  }
  if (rep > 0) AddControl(tx, vtun::kEchoRep);
  if (take(pendingClose_)) AddControl(tx, vtun::kConnClose);
}

void VtunTransform::Seal(Message& pkt, TxContext& tx) {
  if (tx.AwaitingPeer()) {
    // nat_hack (docs/vtun-protocol.md §6.4): nowhere to send until the peer's first valid frame
    // shows its address; the cipher stream must not start (its side-band would be lost) before
    tx.core().c.txDropped.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  Message* m = tx.Add();
  if (m) Frame(pkt, m, tx.core());
}

// (the engine calls it only once the peer is known)
bool VtunTransform::SealLone(Message& pkt, uint8_t* scratch, Message* wire, Core& core) {
  wire->data = scratch;
  Frame(pkt, wire, core);
  return true;
}

// A data frame of pkt into m (whose data is a slot of TxSlotBytes(), unless it is framed in place).
void VtunTransform::Frame(Message& pkt, Message* m, Core& core) {
  if (enc_->Identity()) {
    // in place: the header goes into the packet's headroom
    m->data = pkt.data - 2;
    m->len = pkt.len + 2;
    PutHeader(m->data, static_cast<uint16_t>(pkt.len));
    return;
  }
  std::string err;
  int n = enc_->Encode(pkt.data, pkt.len, m->data + 2, &err);
  if (n < 0) {
    m->len = 0;
    core.End(kEndCodecError, "encode: " + err);
    return;
  }
  PutHeader(m->data, static_cast<uint16_t>(n));
  m->len = static_cast<size_t>(n) + 2;
}

void VtunTransform::CollectFinal(TxContext& tx) {
  if (pendingClose_.exchange(0)) AddControl(tx, vtun::kConnClose);
}

// ---- rx thread

Split VtunTransform::Next(const uint8_t* p, size_t have) {
  Split s;
  if (have < 2) return s;
  uint16_t h = GetHeader(p);
  if (h & 0xf000) {
    s.kind = Split::Frame;
    s.len = 2;
    return s;
  }
  size_t len = h & vtun::kFsizeMask;
  if (len == 0 || len > vtun::kMaxFramePayload) {
    // `00 00` (never sent by vtund) or oversized: read and discard, keep going (docs/vtun-protocol.md §7.2)
    s.kind = Split::Skip;
    s.len = 2 + len;
    return s;
  }
  if (have < 2 + len) return s;
  s.kind = Split::Frame;
  s.len = 2 + len;
  return s;
}

// A control header (docs/vtun-protocol.md §7.7: exact flag values; other combinations are ignored).
void VtunTransform::Control(uint16_t h, RxContext& rx) {
  Core& core = rx.core();
  switch (h & 0xf000) {
    case vtun::kConnClose:
      core.End(kEndPeerClosed, "connection closed by the peer (CONN_CLOSE)");
      break;
    case vtun::kEchoReq:
      echoReqRx_.fetch_add(1, std::memory_order_relaxed);
      pendingEchoRep_++;
      core.WakeTx();
      break;
    case vtun::kEchoRep:
      echoRepRx_.fetch_add(1, std::memory_order_relaxed);
      lastEchoRepMs_.store(rx.RoundMs(), std::memory_order_relaxed);
      break;
    case vtun::kBadFrame:
      core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      break;
  }
}

void VtunTransform::HandleData(const Message& msg, RxContext& rx, bool awaitingPeer) {
  Core& core = rx.core();
  uint8_t* payload = msg.data + 2;
  size_t len = msg.len - 2;
  const uint8_t* out = payload;
  size_t n = len;
  if (!dec_->Identity()) {
    std::string err;
    vtun::DecodeResult r = dec_->Decode(payload, len, &out, &n, &err);
    if (r == vtun::DecodeResult::Error && awaitingPeer) {
      // a stranger's broken frame must not end the session nor leave the decoder's streams
      // (zlib, cipher) broken for the real peer: nothing valid was decoded yet, start afresh
      core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
      dec_ = std::make_unique<vtun::VtunDecoder>(o_.codec, sync_);
      return;
    }
    if (r == vtun::DecodeResult::Error) {
      core.End(kEndCodecError, err);
      return;
    }
    if (r == vtun::DecodeResult::Drop) {
      core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
      return;
    }
  }
  if (n == 1 && !o_.streamDevice) {
    // vtund's resynchronisation carrier (docs/vtun-protocol.md §10.5.4): a dummy 1-byte packet sent only to carry
    // an "rsyn" tag. No tun/tap accepts it (EINVAL would end the session): drop it.
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (awaitingPeer) {
    if (!rx.PinPeer(msg)) return;
    lastRxMs_.store(rx.RoundMs(), std::memory_order_relaxed);
  }
  if (out >= payload && out + n <= payload + len) rx.Deliver(const_cast<uint8_t*>(out), n);  // decrypted in place
  else rx.DeliverCopy(out, n);  // the decoder's own buffer (decompressed)
}

// Only the common case: a data frame of the known peer (a UDP datagram, or a frame the TCP framer
// cut, which fits its length by then), no codec, two bytes or more (what Open would deliver in
// place); the rest is Open's.
bool VtunTransform::OpenLone(Message& msg, int64_t nowMs, Message* pkt) {
  if (msg.len < 4 || !dec_->Identity()) return false;
  const uint16_t h = GetHeader(msg.data);
  if ((h & 0xf000) || !FitsMessage(h, msg.len)) return false;
  lastRxMs_.store(nowMs, std::memory_order_relaxed);
  pkt->data = msg.data + 2;
  pkt->len = h;
  pkt->peer = nullptr;
  pkt->truncated = false;
  return true;
}

void VtunTransform::Open(Message& msg, RxContext& rx) {
  Core& core = rx.core();
  if (msg.len < 2) {
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // (from a stranger, while nat_hack awaits its peer, only a valid frame counts as activity)
  const bool awaiting = !o_.tcp && rx.AwaitingPeer();
  if (!awaiting) lastRxMs_.store(rx.RoundMs(), std::memory_order_relaxed);
  uint16_t h = GetHeader(msg.data);
  if (h & 0xf000) {
    if (awaiting) {
      // only a well-formed echo picks the peer; a stranger's CONN_CLOSE ends nothing
      if (msg.len != 2 || (h != vtun::kEchoReq && h != vtun::kEchoRep)) {
        core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
        return;
      }
      if (!rx.PinPeer(msg)) return;
      lastRxMs_.store(rx.RoundMs(), std::memory_order_relaxed);
    }
    Control(h, rx);
    return;
  }
  if (!o_.tcp && !FitsMessage(h, msg.len)) {
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  HandleData(msg, rx, awaiting);
}

}  // namespace engine
}  // namespace tund
