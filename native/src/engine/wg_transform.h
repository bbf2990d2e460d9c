// WireGuard's transport on the engine (whitepaper 5.4.6, exactly as WireGuard peers put it on the
// wire): one device and one UDP socket (IPv4 and IPv6) serve any number of peers.
//
// Transport data message (type 4): le32 type = 4 (3 reserved zero bytes), le32 receiver index,
// le64 counter, then ChaCha20-Poly1305 (key: the keypair's send key; nonce: 4 zero bytes ||
// le64 counter; no additional data) of the packet padded with zeros to a multiple of 16 (not
// beyond the MTU). An empty packet is a keepalive.
//
// tx (device -> net): the destination address picks the peer (cryptokey routing: AllowedIPs,
// longest prefix); its current keypair seals the packet in place, to its current endpoint. A
// peer without a usable keypair (none, older than REJECT_AFTER_TIME, counter at
// REJECT_AFTER_MESSAGES) stages the packet (bounded, oldest dropped) and JS gets
// "handshake_needed"; once JS installs a keypair the staged packets go first.
// rx (net -> device): type 4: the receiver index finds the keypair; counter checked against the
// replay window (RFC 6479, 8128 counters) and REJECT_AFTER_MESSAGES; opened in place; the inner
// packet's source must belong to the peer (AllowedIPs); the peer's endpoint follows its
// authenticated packets (roaming); a packet under a responder's `next` keypair confirms it.
// Types 1, 2 and 3 (handshake, cookie reply) go up to JS with their source endpoint, through the
// bounded event queue, after the HandshakeGate (mac1 / cookie hook) if one is set.
// Replayed, forged, truncated, unknown-index, expired and misrouted packets are dropped and counted.
//
// Keypairs (whitepaper 5.4.5, rotated as wireguard-go does): the initiator's new keypair becomes
// current at once (the old current becomes previous); the responder's waits as `next` until the
// first packet under it arrives. Keys and indices come from JS after a handshake.
//
// Threads: the tx side seals (the tx thread, or the rx thread's turnaround rounds, never both at
// once: the engine's txMu_; a keypair's send context and the "tx thread" state below are used only
// there), the rx thread
// opens (receive context, replay window only there); JS changes peers, routes and keypairs under
// mu_ (exclusive), the data threads read under mu_ (shared); per-peer state under Peer::mu.
// Each data thread remembers its last lookups (LookupCache): a stream's packets all ask the same
// question, so they skip the trie walk, the maps and mu_ until JS changes something
// (TUND_NO_WG_LOOKUP_CACHE=1 turns the caches off). Keypairs seal and open with wg_crypto's Direct
// backend, OpenSSL's ChaCha20 and Poly1305 without EVP's per-call layers (TUND_NO_WG_DIRECT_AEAD=1:
// through EVP).
#pragma once

#include <atomic>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "../wg_crypto.h"
#include "allowed_ips.h"
#include "engine.h"
#include "replay.h"

namespace tund {
namespace engine {

// The whitepaper's limits (section 6.1); shorter values for tests.
struct WgLimits {
  int64_t rekeyAfterTimeMs = 120000;
  int64_t rejectAfterTimeMs = 180000;
  int64_t keepaliveTimeoutMs = 10000;
  int64_t rekeyTimeoutMs = 5000;
  uint64_t rekeyAfterMessages = 1ULL << 60;
  uint64_t rejectAfterMessages = UINT64_MAX - (1ULL << 13);  // 2^64 - 2^13 - 1
};

struct WgOptions {
  int mtu = 1420;                       // padding stops at the MTU
  size_t maxStaged = 128;               // packets per peer waiting for a keypair
  int64_t handshakeEventIntervalMs = 1000;  // at most one "handshake_needed" per peer per interval
  WgLimits limits;
};

struct WgKeypairSpec {
  uint8_t sendKey[wg::kKeySize];
  uint8_t receiveKey[wg::kKeySize];
  uint32_t localIndex = 0;   // the index peers put in messages to us
  uint32_t remoteIndex = 0;  // the index we put in messages to the peer
  bool initiator = false;
};

// The hook where the rx thread vets handshake messages (types 1 and 2) before they go up to JS:
// mac1 (is it for us?), and under load mac2/cookie replies and rate limits (whitepaper 5.3,
// wg_cookie's CookieChecker::Vet). queued/capacity: the event queue's fill, wireguard-go's
// measure of load. Reply: send reply[0..*replyLen) to the source (a cookie reply, at most 64
// bytes) and drop the message. Called on the rx thread only.
class HandshakeGate {
 public:
  enum class Verdict { Pass, Drop, Reply };
  virtual ~HandshakeGate() = default;
  virtual Verdict Vet(const uint8_t* msg, size_t len, const Endpoint& from, size_t queued, size_t capacity,
                      uint8_t* reply, size_t* replyLen) = 0;
};

struct WgKeypairInfo {
  bool present = false;
  uint32_t localIndex = 0, remoteIndex = 0;
  uint64_t sendCounter = 0;  // messages sent under it (the next counter)
  int64_t ageMs = 0;
  bool initiator = false;
};

struct WgPeerStats {
  uint64_t rxBytes = 0, txBytes = 0;  // wire bytes of transport messages
  uint64_t rxPackets = 0, txPackets = 0;  // data packets (keepalives not included)
  uint64_t keepalivesReceived = 0, keepalivesSent = 0;
  int64_t msSinceTx = -1, msSinceTxData = -1, msSinceRx = -1, msSinceRxData = -1;
  // The first data packet received since the last message sent (reset by every send), and the
  // first data packet sent since the last authenticated message received (reset by every receive):
  // what the whitepaper's passive keepalive and new-handshake timers look at.
  int64_t msSinceFirstRxDataSinceTx = -1, msSinceFirstTxDataSinceRx = -1;
  Endpoint endpoint;
  WgKeypairInfo current, previous, next;
  uint64_t staged = 0, stagedDrops = 0;
  uint64_t replayDrops = 0, authFailures = 0, sourceDrops = 0, expiredDrops = 0, noEndpointDrops = 0;
};

struct WgCounters {
  std::atomic<uint64_t> noRoute{0};          // tx: no peer for the destination (or not IP)
  std::atomic<uint64_t> unknownIndex{0};     // rx: no keypair with that receiver index
  std::atomic<uint64_t> authFailures{0};     // rx: forged or corrupted (tag did not verify)
  std::atomic<uint64_t> replayDrops{0};      // rx: counter seen, behind the window, or past the limit
  std::atomic<uint64_t> expiredDrops{0};     // rx: keypair older than REJECT_AFTER_TIME
  std::atomic<uint64_t> sourceDrops{0};      // rx: inner source not in the peer's AllowedIPs
  std::atomic<uint64_t> invalidPackets{0};   // rx: authenticated, but not an IPv4/IPv6 packet
  std::atomic<uint64_t> shortMessages{0};    // rx: truncated / wrong size for its type
  std::atomic<uint64_t> unknownTypes{0};     // rx: not a WireGuard message type
  std::atomic<uint64_t> handshakeMessages{0};  // rx: types 1-3 handed up to JS
  std::atomic<uint64_t> handshakeDrops{0};   // rx: refused by the HandshakeGate (or queue full)
  std::atomic<uint64_t> cookieReplies{0};    // rx: cookie replies the gate sent
};

class WgTransform : public Transform {
 public:
  explicit WgTransform(const WgOptions& o);
  ~WgTransform() override;

  // ---- JS thread (thread-safe). false with *error when the peer is unknown, etc.
  bool AddPeer(uint32_t id, std::string* error);
  bool RemovePeer(uint32_t id, std::string* error);
  bool SetEndpoint(uint32_t id, const Endpoint& ep, std::string* error);
  // Replaces the peer's prefixes; a prefix another peer had moves to this one.
  bool SetAllowedIps(uint32_t id, const std::vector<Prefix>& prefixes, std::string* error);
  std::vector<Prefix> AllowedIpsOf(uint32_t id);
  bool InstallKeypair(uint32_t id, const WgKeypairSpec& spec, std::string* error);
  // Forgets every keypair of the peer and drops its staged packets.
  bool ClearKeypairs(uint32_t id, std::string* error);
  // Drops the peer's staged packets (its handshake attempts gave up).
  bool DropStaged(uint32_t id, std::string* error);
  // A keepalive (empty transport message) to the peer, staged like a packet when it has no keypair.
  bool QueueKeepalive(uint32_t id, std::string* error);
  // A message as it is (a handshake initiation) to the peer's current endpoint.
  bool QueueToPeer(uint32_t id, std::vector<uint8_t> data, std::string* error);
  bool PeerStats(uint32_t id, WgPeerStats* out);
  // Some peer's current endpoint is ep (a stream transport's connection is in use). Any thread.
  bool HasPeerAt(const Endpoint& ep);
  std::vector<uint32_t> PeerIds();
  const WgCounters& Counters() const { return wc_; }
  // Set before start (rx thread only afterwards).
  void SetHandshakeGate(std::unique_ptr<HandshakeGate> gate) { gate_ = std::move(gate); }

  // ---- the engine
  // the message header, within the seal's scratch (wg_crypto.h, SealWithScratch)
  size_t Headroom() const override { return wg::ChaCha20Poly1305::kSealScratch; }
  size_t Tailroom() const override { return wg::kTagSize + 16; }
  size_t MaxPacket() const override { return 65535; }
  size_t TxSlotBytes() const override { return 64; }  // keepalives; packets are sealed in place
  size_t RxSlotBytes() const override { return 65536; }
  size_t MaxDelivered() const override { return 64; }  // (packets are opened in place)
  bool Authenticated() const override { return true; }
  void Start(Core& core) override;
  void CollectOutgoing(TxContext& tx) override;
  void Seal(Message& pkt, TxContext& tx) override;
  void Open(Message& msg, RxContext& rx) override;

  static constexpr size_t kHeader = 16;
  static_assert(kHeader <= wg::ChaCha20Poly1305::kSealScratch, "the header lies within the seal's scratch");

 private:
  struct Keypair;
  struct Peer;
  using KeypairPtr = std::shared_ptr<Keypair>;
  using PeerPtr = std::shared_ptr<Peer>;

  // The last answer of one data thread's lookup, valid while version_ is what it was then.
  // tx: a destination's peer (id in owner); rx: a receiver index's keypair and peer, a source's
  // owner. Weak: a cache never keeps a removed peer or a retired keypair (its keys) alive.
  struct LookupCache {
    uint64_t version = UINT64_MAX;  // UINT64_MAX: empty
    int family = 0;
    uint8_t addr[16] = {};
    uint32_t index = 0;
    uint32_t owner = 0;
    std::weak_ptr<Peer> peer;
    std::weak_ptr<Keypair> keypair;
  };
  // Every change of peers_, index_ or routes_ (under mu_ exclusive) invalidates the caches.
  void Changed() { version_.fetch_add(1, std::memory_order_release); }
  bool CacheHit(const LookupCache& c) const {
    return useCache_ && c.version == version_.load(std::memory_order_acquire);
  }
  static bool SameAddress(const LookupCache& c, int family, const uint8_t* addr);
  static void RememberAddress(LookupCache* c, int family, const uint8_t* addr);
  PeerPtr PeerFor(int family, const uint8_t* dst);               // tx thread
  uint32_t OwnerOf(int family, const uint8_t* src);             // rx thread
  bool KeypairFor(uint32_t index, KeypairPtr* kp, PeerPtr* peer);  // rx thread

  PeerPtr FindPeer(uint32_t id);  // under mu_
  PeerPtr FindPeer(uint32_t id, std::string* error);  // ... or "no peer N"
  void RetireAll(Peer& peer);  // mu_ exclusive, Peer::mu held
  template <typename Op>
  bool WithPeer(uint32_t id, bool exclusive, bool flush, std::string* error, Op op);
  // Seals data[0..len) (kHeader bytes free before, room for padding and tag after) for the peer
  // and adds it to tx; stages a copy when the peer cannot send now. Called without mu_ (sending
  // may wait for the socket; JS must never wait for that).
  void SealFor(Peer& peer, uint8_t* data, size_t len, TxContext& tx, int64_t now);
  void Stage(Peer& peer, const uint8_t* data, size_t len);  // Peer::mu held
  void NeedHandshake(Peer& peer, const char* reason, int64_t now);
  void Retire(KeypairPtr& kp);  // mu_ exclusive: forget its index
  void OpenData(Message& msg, RxContext& rx, int64_t now);
  void Confirm(const PeerPtr& peer, const KeypairPtr& kp);
  void ScheduleFlush(uint32_t id);
  size_t Padded(size_t len) const;
  bool Usable(const Keypair* kp, int64_t now) const;

  WgOptions o_;
  Core* core_ = nullptr;
  std::unique_ptr<HandshakeGate> gate_;
  WgCounters wc_;

  std::shared_mutex mu_;
  std::unordered_map<uint32_t, PeerPtr> peers_;
  std::unordered_map<uint32_t, KeypairPtr> index_;  // local index -> keypair
  AllowedIps routes_;
  std::atomic<uint64_t> version_{0};
  const bool useCache_;
  const wg::AeadBackend aead_;  // keypairs' ChaCha20-Poly1305 (TUND_NO_WG_DIRECT_AEAD=1: EVP)
  LookupCache txRoute_;                 // tx thread only
  LookupCache rxSource_, rxKeypair_;    // rx thread only

  std::mutex flushMu_;
  std::vector<uint32_t> flush_;  // peers whose staged packets should go now
  std::vector<std::vector<uint8_t>> inflight_;  // tx thread: staged packets being sent
  std::deque<std::vector<uint8_t>> toPeerSending_;  // tx thread: QueueToPeer messages being sent
};

}  // namespace engine
}  // namespace tund
