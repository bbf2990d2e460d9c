// WireGuard's transport on the engine: see wg_transform.h.
#include "wg_transform.h"

#include <sys/socket.h>

#include <algorithm>
#include <cstring>

#include "offload.h"
#include "shared_stamp.h"

namespace tund {
namespace engine {

namespace {

constexpr uint32_t kTypeInitiation = 1;
constexpr uint32_t kTypeResponse = 2;
constexpr uint32_t kTypeCookieReply = 3;
constexpr uint32_t kTypeTransport = 4;
constexpr size_t kInitiationSize = 148;
constexpr size_t kResponseSize = 92;
constexpr size_t kCookieReplySize = 64;
constexpr size_t kMinTransportSize = WgTransform::kHeader + wg::kTagSize;  // a keepalive

inline uint32_t Le32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}
inline uint64_t Le64(const uint8_t* p) { return static_cast<uint64_t>(Le32(p)) | static_cast<uint64_t>(Le32(p + 4)) << 32; }
inline void PutLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void PutLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint16_t Be16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

inline int64_t Since(const std::atomic<int64_t>& t, int64_t now) {
  int64_t v = t.load(std::memory_order_relaxed);
  return v < 0 ? -1 : now - v;
}

// The destination (tx) or source (rx) address of an IP packet, and its length from its header.
struct IpView {
  int family = 0;
  const uint8_t* src = nullptr;
  const uint8_t* dst = nullptr;
  size_t len = 0;  // the packet's own length (IPv4 total length, IPv6 payload + 40)
};
bool ParseIp(const uint8_t* p, size_t n, IpView* v) {
  if (n >= 20 && (p[0] >> 4) == 4) {
    v->family = AF_INET;
    v->src = p + 12;
    v->dst = p + 16;
    v->len = Be16(p + 2);
    return v->len >= 20 && v->len <= n;
  }
  if (n >= 40 && (p[0] >> 4) == 6) {
    v->family = AF_INET6;
    v->src = p + 8;
    v->dst = p + 24;
    v->len = 40 + static_cast<size_t>(Be16(p + 4));
    return v->len <= n;
  }
  return false;
}

}  // namespace

struct WgTransform::Keypair {
  Keypair(const WgKeypairSpec& s, uint32_t peerId, int64_t now, wg::AeadBackend backend)
      : send(s.sendKey, backend), receive(s.receiveKey, backend), localIndex(s.localIndex), remoteIndex(s.remoteIndex),
        initiator(s.initiator), peer(peerId), createdMs(now) {}
  wg::ChaCha20Poly1305 send;     // the tx side only (under txMu_ when the rx thread seals)
  wg::ChaCha20Poly1305 receive;  // rx thread only
  ReplayWindow replay;           // rx thread only
  std::atomic<uint64_t> sendCounter{0};
  const uint32_t localIndex, remoteIndex;
  const bool initiator;
  const uint32_t peer;
  const int64_t createdMs;
};

struct WgTransform::Peer {
  explicit Peer(uint32_t i) : id(i) {}
  const uint32_t id;
  std::mutex mu;  // endpoint, keypairs, staged, toSend
  Endpoint endpoint;
  KeypairPtr previous, current, next;
  std::deque<std::vector<uint8_t>> staged;
  std::deque<std::vector<uint8_t>> toSend;
  bool removed = false;
  // What the tx side writes with every packet, what the rx side writes, and what both write, on
  // cache lines of their own: under a one-way flow one thread seals and the other opens the
  // ACKs, and neither should pull the other's line for each packet. (The times are written only
  // when they change: mostly once per round.)
  alignas(64) std::atomic<uint64_t> txBytes{0}, txPackets{0}, keepalivesSent{0};
  std::atomic<int64_t> lastTx{-1}, lastTxData{-1};
  alignas(64) std::atomic<uint64_t> rxBytes{0}, rxPackets{0}, keepalivesReceived{0};
  std::atomic<int64_t> lastRx{-1}, lastRxData{-1};
  alignas(64) std::atomic<int64_t> firstRxDataSinceTx{-1}, firstTxDataSinceRx{-1};
  alignas(64) std::atomic<int64_t> lastHandshakeEvent{-1000000000};
  std::atomic<uint64_t> stagedDrops{0}, replayDrops{0}, authFailures{0}, sourceDrops{0}, expiredDrops{0},
      noEndpointDrops{0};
};

WgTransform::WgTransform(const WgOptions& o)
    : o_(o),
      useCache_(!SwitchedOff("TUND_NO_WG_LOOKUP_CACHE")),
      aead_(SwitchedOff("TUND_NO_WG_DIRECT_AEAD") ? wg::AeadBackend::Evp : wg::AeadBackend::Direct) {
  if (o_.mtu < 0) o_.mtu = 0;
  if (o_.maxStaged < 1) o_.maxStaged = 1;
}

WgTransform::~WgTransform() = default;

void WgTransform::Start(Core& core) { core_ = &core; }

WgTransform::PeerPtr WgTransform::FindPeer(uint32_t id) {
  auto it = peers_.find(id);
  return it == peers_.end() ? nullptr : it->second;
}

WgTransform::PeerPtr WgTransform::FindPeer(uint32_t id, std::string* error) {
  PeerPtr peer = FindPeer(id);
  if (!peer) *error = "no peer " + std::to_string(id);
  return peer;
}

void WgTransform::RetireAll(Peer& peer) {
  Retire(peer.previous);
  Retire(peer.current);
  Retire(peer.next);
}

// Runs op(peer) under mu_ (exclusive when it retires keypairs) and the peer's lock; false with
// "no peer N" or what op said. `flush`: then let the tx thread look at the peer's queues.
template <typename Op>
bool WgTransform::WithPeer(uint32_t id, bool exclusive, bool flush, std::string* error, Op op) {
  {
    std::unique_lock<std::shared_mutex> unique(mu_, std::defer_lock);
    std::shared_lock<std::shared_mutex> shared(mu_, std::defer_lock);
    if (exclusive) unique.lock();
    else shared.lock();
    PeerPtr peer = FindPeer(id, error);
    if (!peer) return false;
    std::lock_guard<std::mutex> pl(peer->mu);
    if (!op(*peer)) return false;
  }
  if (flush) ScheduleFlush(id);
  return true;
}

// ---------------------------------------------------------------------------------------------
// JS thread

bool WgTransform::AddPeer(uint32_t id, std::string* error) {
  if (id == 0) {
    *error = "peer id 0 is reserved (expected 1..4294967295)";
    return false;
  }
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (peers_.count(id)) {
    *error = "peer " + std::to_string(id) + " exists already";
    return false;
  }
  peers_[id] = std::make_shared<Peer>(id);
  Changed();
  return true;
}

bool WgTransform::RemovePeer(uint32_t id, std::string* error) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  PeerPtr peer = FindPeer(id, error);
  if (!peer) return false;
  {
    std::lock_guard<std::mutex> pl(peer->mu);
    RetireAll(*peer);
    peer->staged.clear();
    peer->toSend.clear();
    peer->removed = true;
  }
  routes_.RemovePeer(id);
  peers_.erase(id);
  Changed();
  return true;
}

bool WgTransform::SetEndpoint(uint32_t id, const Endpoint& ep, std::string* error) {
  // (flush: a keepalive or packets that waited for an endpoint)
  return WithPeer(id, false, true, error, [&](Peer& peer) {
    peer.endpoint = ep;
    return true;
  });
}

bool WgTransform::SetAllowedIps(uint32_t id, const std::vector<Prefix>& prefixes, std::string* error) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  if (!FindPeer(id, error)) return false;
  routes_.RemovePeer(id);
  for (const Prefix& p : prefixes) routes_.Insert(p, id);
  Changed();
  return true;
}

std::vector<Prefix> WgTransform::AllowedIpsOf(uint32_t id) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  return routes_.PrefixesOf(id);
}

void WgTransform::Retire(KeypairPtr& kp) {
  if (!kp) return;
  auto it = index_.find(kp->localIndex);
  if (it != index_.end() && it->second == kp) {
    index_.erase(it);
    Changed();
  }
  kp.reset();
}

bool WgTransform::InstallKeypair(uint32_t id, const WgKeypairSpec& spec, std::string* error) {
  std::unique_lock<std::shared_mutex> lock(mu_);
  PeerPtr peer = FindPeer(id, error);
  if (!peer) return false;
  if (index_.count(spec.localIndex)) {
    *error = "local index " + std::to_string(spec.localIndex) + " is in use";
    return false;
  }
  auto kp = std::make_shared<Keypair>(spec, id, MonotonicMs(), aead_);
  if (!kp->send.Ok() || !kp->receive.Ok()) {
    *error = "cannot set up ChaCha20-Poly1305 contexts";
    return false;
  }
  index_[spec.localIndex] = kp;
  Changed();
  {
    std::lock_guard<std::mutex> pl(peer->mu);
    if (spec.initiator) {
      // usable at once; a `next` that was never confirmed becomes previous (wireguard-go)
      if (peer->next) {
        Retire(peer->previous);
        peer->previous = std::move(peer->next);
        Retire(peer->current);
      } else {
        Retire(peer->previous);
        peer->previous = std::move(peer->current);
      }
      peer->current = kp;
    } else {
      // waits for the initiator's first packet under it
      Retire(peer->next);
      Retire(peer->previous);
      peer->next = kp;
    }
  }
  lock.unlock();
  if (spec.initiator) ScheduleFlush(id);
  return true;
}

bool WgTransform::ClearKeypairs(uint32_t id, std::string* error) {
  return WithPeer(id, true, false, error, [&](Peer& peer) {
    RetireAll(peer);
    peer.staged.clear();
    return true;
  });
}

bool WgTransform::DropStaged(uint32_t id, std::string* error) {
  return WithPeer(id, false, false, error, [&](Peer& peer) {
    peer.staged.clear();
    return true;
  });
}

bool WgTransform::QueueKeepalive(uint32_t id, std::string* error) {
  return WithPeer(id, false, true, error, [&](Peer& peer) {
    // as wireguard-go: a keepalive is an empty packet in the staged queue (none if packets wait)
    if (peer.staged.empty()) peer.staged.emplace_back();
    return true;
  });
}

bool WgTransform::QueueToPeer(uint32_t id, std::vector<uint8_t> data, std::string* error) {
  return WithPeer(id, false, true, error, [&](Peer& peer) {
    if (peer.endpoint.Empty()) {
      *error = "peer " + std::to_string(id) + " has no endpoint";
      return false;
    }
    if (peer.toSend.size() >= o_.maxStaged) {
      *error = "peer " + std::to_string(id) + ": too many messages waiting";
      return false;
    }
    peer.toSend.push_back(std::move(data));
    return true;
  });
}

void WgTransform::ScheduleFlush(uint32_t id) {
  {
    std::lock_guard<std::mutex> lock(flushMu_);
    flush_.push_back(id);
  }
  if (core_) core_->WakeTx();
}

bool WgTransform::HasPeerAt(const Endpoint& ep) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  for (const auto& kv : peers_) {
    std::lock_guard<std::mutex> pl(kv.second->mu);
    if (kv.second->endpoint.SameAs(ep)) return true;
  }
  return false;
}

bool WgTransform::PeerStats(uint32_t id, WgPeerStats* out) {
  std::shared_lock<std::shared_mutex> lock(mu_);
  PeerPtr peer = FindPeer(id);
  if (!peer) return false;
  const int64_t now = MonotonicMs();
  Peer& p = *peer;
  auto rd = [](const std::atomic<uint64_t>& v) { return v.load(std::memory_order_relaxed); };
  out->rxBytes = rd(p.rxBytes);
  out->txBytes = rd(p.txBytes);
  out->rxPackets = rd(p.rxPackets);
  out->txPackets = rd(p.txPackets);
  out->keepalivesReceived = rd(p.keepalivesReceived);
  out->keepalivesSent = rd(p.keepalivesSent);
  out->msSinceTx = Since(p.lastTx, now);
  out->msSinceTxData = Since(p.lastTxData, now);
  out->msSinceRx = Since(p.lastRx, now);
  out->msSinceRxData = Since(p.lastRxData, now);
  out->msSinceFirstRxDataSinceTx = Since(p.firstRxDataSinceTx, now);
  out->msSinceFirstTxDataSinceRx = Since(p.firstTxDataSinceRx, now);
  out->stagedDrops = rd(p.stagedDrops);
  out->replayDrops = rd(p.replayDrops);
  out->authFailures = rd(p.authFailures);
  out->sourceDrops = rd(p.sourceDrops);
  out->expiredDrops = rd(p.expiredDrops);
  out->noEndpointDrops = rd(p.noEndpointDrops);
  std::lock_guard<std::mutex> pl(p.mu);
  out->endpoint = p.endpoint;
  out->staged = p.staged.size();
  auto info = [&](const KeypairPtr& kp, WgKeypairInfo* i) {
    *i = WgKeypairInfo{};
    if (!kp) return;
    i->present = true;
    i->localIndex = kp->localIndex;
    i->remoteIndex = kp->remoteIndex;
    i->sendCounter = kp->sendCounter.load(std::memory_order_relaxed);
    i->ageMs = now - kp->createdMs;
    i->initiator = kp->initiator;
  };
  info(p.current, &out->current);
  info(p.previous, &out->previous);
  info(p.next, &out->next);
  return true;
}

std::vector<uint32_t> WgTransform::PeerIds() {
  std::shared_lock<std::shared_mutex> lock(mu_);
  std::vector<uint32_t> ids;
  for (const auto& e : peers_) ids.push_back(e.first);
  std::sort(ids.begin(), ids.end());
  return ids;
}

// ---------------------------------------------------------------------------------------------
// the data threads' lookups

bool WgTransform::SameAddress(const LookupCache& c, int family, const uint8_t* addr) {
  return c.family == family && std::memcmp(c.addr, addr, family == AF_INET ? 4 : 16) == 0;
}

void WgTransform::RememberAddress(LookupCache* c, int family, const uint8_t* addr) {
  c->family = family;
  std::memcpy(c->addr, addr, family == AF_INET ? 4 : 16);
}

WgTransform::PeerPtr WgTransform::PeerFor(int family, const uint8_t* dst) {
  LookupCache& c = txRoute_;
  if (CacheHit(c) && SameAddress(c, family, dst)) {
    PeerPtr peer = c.peer.lock();
    if (peer || c.owner == 0) return peer;
  }
  std::shared_lock<std::shared_mutex> lock(mu_);
  c.version = version_.load(std::memory_order_relaxed);
  RememberAddress(&c, family, dst);
  c.owner = routes_.Lookup(family, dst);
  PeerPtr peer = c.owner ? FindPeer(c.owner) : nullptr;
  c.peer = peer;
  return peer;
}

uint32_t WgTransform::OwnerOf(int family, const uint8_t* src) {
  LookupCache& c = rxSource_;
  if (CacheHit(c) && SameAddress(c, family, src)) return c.owner;
  std::shared_lock<std::shared_mutex> lock(mu_);
  c.version = version_.load(std::memory_order_relaxed);
  RememberAddress(&c, family, src);
  c.owner = routes_.Lookup(family, src);
  return c.owner;
}

bool WgTransform::KeypairFor(uint32_t index, KeypairPtr* kp, PeerPtr* peer) {
  LookupCache& c = rxKeypair_;
  if (CacheHit(c) && c.index == index) {
    *kp = c.keypair.lock();
    *peer = c.peer.lock();
    if (*kp && *peer) return true;
  }
  std::shared_lock<std::shared_mutex> lock(mu_);
  c.version = version_.load(std::memory_order_relaxed);
  c.index = index;
  auto it = index_.find(index);
  *kp = it == index_.end() ? nullptr : it->second;
  *peer = *kp ? FindPeer((*kp)->peer) : nullptr;
  c.keypair = *kp;
  c.peer = *peer;
  return *kp && *peer;
}

// ---------------------------------------------------------------------------------------------
// tx thread

size_t WgTransform::Padded(size_t len) const {
  const size_t mtu = static_cast<size_t>(o_.mtu);
  size_t last = len;
  if (mtu > 0 && last > mtu) last %= mtu;
  size_t padded = (last + 15) & ~static_cast<size_t>(15);
  if (mtu > 0 && padded > mtu) padded = mtu;
  return len + (padded - last);
}

bool WgTransform::Usable(const Keypair* kp, int64_t now) const {
  return kp != nullptr && now - kp->createdMs < o_.limits.rejectAfterTimeMs &&
         kp->sendCounter.load(std::memory_order_relaxed) < o_.limits.rejectAfterMessages;
}

void WgTransform::NeedHandshake(Peer& peer, const char* reason, int64_t now) {
  int64_t last = peer.lastHandshakeEvent.load(std::memory_order_relaxed);
  if (now - last < o_.handshakeEventIntervalMs) return;
  if (!peer.lastHandshakeEvent.compare_exchange_strong(last, now)) return;
  if (!core_) return;
  Event e;
  e.type = "handshake_needed";
  e.peer = peer.id;
  e.reason = reason;
  core_->Events().Push(std::move(e), true, &core_->c.eventDrops);
}

void WgTransform::Stage(Peer& peer, const uint8_t* data, size_t len) {
  if (peer.staged.size() >= o_.maxStaged) {
    peer.staged.pop_front();
    peer.stagedDrops.fetch_add(1, std::memory_order_relaxed);
  }
  peer.staged.emplace_back(data, data + len);
}

void WgTransform::SealFor(Peer& peer, uint8_t* data, size_t len, TxContext& tx, int64_t now) {
  KeypairPtr kp;
  Endpoint to;
  uint64_t counter = 0;
  {
    std::lock_guard<std::mutex> pl(peer.mu);
    if (peer.removed) return;
    if (peer.endpoint.Empty()) {
      // nowhere to send it, nor a handshake (as wireguard-go: "no known endpoint")
      peer.noEndpointDrops.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    if (!Usable(peer.current.get(), now)) {
      Stage(peer, data, len);
      NeedHandshake(peer, peer.current ? "expired" : "no_keypair", now);
      return;
    }
    kp = peer.current;
    to = peer.endpoint;
    counter = kp->sendCounter.fetch_add(1, std::memory_order_relaxed);
  }
  if (counter >= o_.limits.rejectAfterMessages) {
    // raced past the limit: the packet waits for the next keypair
    std::lock_guard<std::mutex> pl(peer.mu);
    Stage(peer, data, len);
    NeedHandshake(peer, "expired", now);
    return;
  }
  const size_t padded = Padded(len);
  std::memset(data + len, 0, padded - len);
  // the header goes in after sealing: the seal's scratch covers it
  if (!kp->send.SealWithScratch(counter, data, padded)) {
    tx.core().c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  uint8_t* msg = data - kHeader;
  PutLe32(msg, kTypeTransport);
  PutLe32(msg + 4, kp->remoteIndex);
  PutLe64(msg + 8, counter);
  Message* m = tx.Add();
  if (!m) return;
  m->data = msg;
  m->len = kHeader + padded + wg::kTagSize;
  tx.SetDestination(m, to);
  peer.txBytes.fetch_add(m->len, std::memory_order_relaxed);
  StoreIfChanged(peer.lastTx, now);
  StoreIfChanged(peer.firstRxDataSinceTx, -1);
  if (len == 0) {
    peer.keepalivesSent.fetch_add(1, std::memory_order_relaxed);
  } else {
    peer.txPackets.fetch_add(1, std::memory_order_relaxed);
    StoreIfChanged(peer.lastTxData, now);
    SetIfUnset(peer.firstTxDataSinceRx, now);
  }
  // the soft limits: time for a new handshake (JS applies REKEY_TIMEOUT between attempts)
  if (counter >= o_.limits.rekeyAfterMessages) NeedHandshake(peer, "rekey_messages", now);
  else if (kp->initiator && now - kp->createdMs >= o_.limits.rekeyAfterTimeMs) NeedHandshake(peer, "rekey_time", now);
}

void WgTransform::CollectOutgoing(TxContext& tx) {
  std::vector<uint32_t> ids;
  {
    std::lock_guard<std::mutex> lock(flushMu_);
    ids.swap(flush_);
  }
  inflight_.clear();  // sent in the previous round
  toPeerSending_.clear();
  if (ids.empty()) return;
  std::sort(ids.begin(), ids.end());
  ids.erase(std::unique(ids.begin(), ids.end()), ids.end());
  const int64_t now = MonotonicMs();
  std::vector<PeerPtr> peers;
  {
    std::shared_lock<std::shared_mutex> lock(mu_);
    for (uint32_t id : ids) {
      if (PeerPtr p = FindPeer(id)) peers.push_back(std::move(p));
    }
  }
  for (const PeerPtr& peer : peers) {
    std::deque<std::vector<uint8_t>> staged, toSend;
    Endpoint to;
    {
      std::lock_guard<std::mutex> pl(peer->mu);
      toSend.swap(peer->toSend);
      to = peer->endpoint;
      // staged packets go only when they can (else they stay staged, in order, and JS is asked)
      if (Usable(peer->current.get(), now) && !peer->endpoint.Empty()) {
        staged.swap(peer->staged);
      } else if (!peer->staged.empty() && !peer->endpoint.Empty()) {
        NeedHandshake(*peer, peer->current ? "expired" : "no_keypair", now);
      }
    }
    for (auto& d : toSend) {
      toPeerSending_.push_back(std::move(d));
      Message* m = tx.Add();
      if (!m) return;
      m->data = toPeerSending_.back().data();
      m->len = toPeerSending_.back().size();
      tx.SetDestination(m, to);
    }
    for (auto& pkt : staged) {
      // copy with room for the header (and the seal's scratch) before and padding + tag after,
      // seal in place
      std::vector<uint8_t> buf(Headroom() + pkt.size() + Tailroom());
      std::memcpy(buf.data() + Headroom(), pkt.data(), pkt.size());
      inflight_.push_back(std::move(buf));
      SealFor(*peer, inflight_.back().data() + Headroom(), pkt.size(), tx, now);
    }
  }
}

void WgTransform::Seal(Message& pkt, TxContext& tx) {
  IpView ip;
  if (!ParseIp(pkt.data, pkt.len, &ip)) {
    wc_.noRoute.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  PeerPtr peer = PeerFor(ip.family, ip.dst);
  if (!peer) {
    wc_.noRoute.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // (without mu_: sending may wait for the socket, and JS must not wait for that)
  SealFor(*peer, pkt.data, pkt.len, tx, tx.RoundMs());
}

// ---------------------------------------------------------------------------------------------
// rx thread

void WgTransform::Open(Message& msg, RxContext& rx) {
  Core& core = rx.core();
  if (msg.len < 4) {
    wc_.shortMessages.fetch_add(1, std::memory_order_relaxed);
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  const uint32_t type = Le32(msg.data);  // the 3 reserved bytes must be zero
  const int64_t now = rx.RoundMs();
  if (type == kTypeTransport) {
    if (msg.len < kMinTransportSize) {
      wc_.shortMessages.fetch_add(1, std::memory_order_relaxed);
      core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    OpenData(msg, rx, now);
    return;
  }
  size_t want = type == kTypeInitiation ? kInitiationSize
                : type == kTypeResponse  ? kResponseSize
                : type == kTypeCookieReply ? kCookieReplySize
                                           : 0;
  if (want == 0) {
    wc_.unknownTypes.fetch_add(1, std::memory_order_relaxed);
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (msg.len != want || msg.peer == nullptr || msg.peer->Empty()) {
    wc_.shortMessages.fetch_add(1, std::memory_order_relaxed);
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (gate_ && type != kTypeCookieReply) {
    // The CookieChecker hook: mac1, and under load mac2 / cookie reply / rate limit.
    uint8_t reply[kCookieReplySize];
    size_t replyLen = 0;
    size_t queued = core.Events().Size();
    switch (gate_->Vet(msg.data, msg.len, *msg.peer, queued, core.Events().Limit(), reply, &replyLen)) {
      case HandshakeGate::Verdict::Pass:
        break;
      case HandshakeGate::Verdict::Drop:
        wc_.handshakeDrops.fetch_add(1, std::memory_order_relaxed);
        return;
      case HandshakeGate::Verdict::Reply: {
        Outgoing o;
        o.data.assign(reply, reply + std::min(replyLen, sizeof reply));
        o.to = *msg.peer;
        if (core.QueueOutgoing(std::move(o))) wc_.cookieReplies.fetch_add(1, std::memory_order_relaxed);
        wc_.handshakeDrops.fetch_add(1, std::memory_order_relaxed);
        return;
      }
    }
  }
  Event e;
  e.type = "message";
  e.data.assign(msg.data, msg.data + msg.len);
  e.from = *msg.peer;
  if (core.Events().Push(std::move(e), true, &core.c.eventDrops)) {
    wc_.handshakeMessages.fetch_add(1, std::memory_order_relaxed);
  } else {
    wc_.handshakeDrops.fetch_add(1, std::memory_order_relaxed);
  }
}

void WgTransform::OpenData(Message& msg, RxContext& rx, int64_t now) {
  Core& core = rx.core();
  const uint32_t receiver = Le32(msg.data + 4);
  const uint64_t counter = Le64(msg.data + 8);
  KeypairPtr kp;
  PeerPtr peer;
  if (!KeypairFor(receiver, &kp, &peer)) {
    wc_.unknownIndex.fetch_add(1, std::memory_order_relaxed);
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (now - kp->createdMs >= o_.limits.rejectAfterTimeMs) {
    wc_.expiredDrops.fetch_add(1, std::memory_order_relaxed);
    peer->expiredDrops.fetch_add(1, std::memory_order_relaxed);
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!kp->replay.MayAccept(counter, o_.limits.rejectAfterMessages)) {
    wc_.replayDrops.fetch_add(1, std::memory_order_relaxed);
    peer->replayDrops.fetch_add(1, std::memory_order_relaxed);
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  uint8_t* plain = msg.data + kHeader;
  const size_t sealed = msg.len - kHeader;
  if (!kp->receive.Open(counter, nullptr, 0, plain, sealed, plain)) {
    wc_.authFailures.fetch_add(1, std::memory_order_relaxed);
    peer->authFailures.fetch_add(1, std::memory_order_relaxed);
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (!kp->replay.Accept(counter, o_.limits.rejectAfterMessages)) {
    wc_.replayDrops.fetch_add(1, std::memory_order_relaxed);
    peer->replayDrops.fetch_add(1, std::memory_order_relaxed);
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  // Authenticated: the peer is alive, and its endpoint is where this came from (roaming).
  const size_t plainLen = sealed - wg::kTagSize;
  StoreIfChanged(peer->lastRx, now);
  peer->rxBytes.fetch_add(msg.len, std::memory_order_relaxed);
  StoreIfChanged(peer->firstTxDataSinceRx, -1);
  bool confirm = false, lastMinute = false;
  {
    std::lock_guard<std::mutex> pl(peer->mu);
    if (msg.peer && !msg.peer->Empty() && !peer->endpoint.SameAs(*msg.peer)) peer->endpoint = *msg.peer;
    confirm = peer->next == kp;
    // keep the key fresh (wireguard-go's keepKeyFreshReceiving): the initiator of a keypair
    // close to REJECT_AFTER_TIME asks for a new handshake
    lastMinute = peer->current == kp && kp->initiator &&
                 now - kp->createdMs >= o_.limits.rejectAfterTimeMs - o_.limits.keepaliveTimeoutMs - o_.limits.rekeyTimeoutMs;
  }
  if (confirm) Confirm(peer, kp);
  if (lastMinute) NeedHandshake(*peer, "rekey_time", now);
  if (plainLen == 0) {
    peer->keepalivesReceived.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  IpView ip;
  if (!ParseIp(plain, plainLen, &ip)) {
    wc_.invalidPackets.fetch_add(1, std::memory_order_relaxed);
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  if (OwnerOf(ip.family, ip.src) != peer->id) {
    wc_.sourceDrops.fetch_add(1, std::memory_order_relaxed);
    peer->sourceDrops.fetch_add(1, std::memory_order_relaxed);
    core.c.badFrames.fetch_add(1, std::memory_order_relaxed);
    return;
  }
  peer->rxPackets.fetch_add(1, std::memory_order_relaxed);
  StoreIfChanged(peer->lastRxData, now);
  SetIfUnset(peer->firstRxDataSinceTx, now);
  rx.Deliver(plain, ip.len);  // without the padding
}

// The first packet under a responder's `next` keypair: it becomes current (wireguard-go's
// ReceivedWithKeypair), and the packets that waited for it go out.
void WgTransform::Confirm(const PeerPtr& peer, const KeypairPtr& kp) {
  {
    std::unique_lock<std::shared_mutex> lock(mu_);
    std::lock_guard<std::mutex> pl(peer->mu);
    if (peer->next != kp) return;
    Retire(peer->previous);
    peer->previous = std::move(peer->current);
    peer->current = std::move(peer->next);
  }
  if (core_) {
    Event e;
    e.type = "keypair_confirmed";
    e.peer = peer->id;
    e.index = kp->localIndex;
    core_->Events().Push(std::move(e), true, &core_->c.eventDrops);
  }
  ScheduleFlush(peer->id);
}

}  // namespace engine
}  // namespace tund
