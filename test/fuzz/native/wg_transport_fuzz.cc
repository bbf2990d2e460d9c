// wg_transport: the engine's WireGuard receive path, WgTransform::Open (engine/wg_transform.cc),
// on a transform with two peers as the engine runs it: type-4 transport messages (receiver
// index, counter against the replay window and REJECT_AFTER_MESSAGES, ChaCha20-Poly1305 in place,
// the inner packet's length and its source against the peer's AllowedIPs, roaming, a responder's
// `next` keypair confirmed by its first packet), types 1-3 handed up to JS after the CookieGate
// (engine/wg_cookie_gate.cc: mac1, and under load mac2, cookie replies, rate limits).
// Peer 1 owns 198.18.1.0/24 and 2001:2:0:1::/64, peer 2 198.18.2.0/24 and 198.18.1.128/25 (more
// specific, inside peer 1's); peer 1's keypair is an initiator's (current), peer 2's a
// responder's (next, until confirmed).
// Input: first byte even, the rest is one datagram as it arrived (seeds: wireguard-go's
// messages); odd, a recipe (FuzzedDataProvider) of up to 128 operations: raw datagrams, genuine
// transport messages (a keypair, a counter: the next, a replay, far behind, at the limit, any;
// an inner packet: keepalive, IPv4/IPv6 from a source inside or outside the peer's prefixes,
// padded or with a wrong length, or not IP) sealed with the keypair's key and then changed in up
// to 3 bytes, handshake messages with the macs of a peer that knows our public key (and its
// cookie, once it got a reply), cookie replies, load on or off, new keypairs for either peer.
// Checked against a model that classifies every datagram's actual bytes (type, length, index,
// window, tag, IP header, longest-prefix owner): exactly the counter it names goes up, a packet
// is delivered exactly when the model says and is the inner packet without padding, the window
// accepts each counter once, the peer's endpoint follows its authenticated packets, a `next`
// keypair is confirmed by its first authenticated packet (one keypair_confirmed event) and a
// retired keypair's index is unknown; handshake messages: a bad mac1 is dropped, without load a
// good mac1 goes up as a "message" event with its bytes and source; under load a message without
// a valid mac2 gets a cookie reply to its source (which the peer's CookieGenerator accepts), one
// with a valid mac2 goes up (or is rate limited), never a reply.
#include <arpa/inet.h>
#include <sys/socket.h>

#include <map>
#include <set>

#include "../../../native/src/engine/wg_cookie_gate.h"
#include "../../../native/src/engine/wg_transform.h"
#include "engine_fixture.h"
#include "wg_fixture.h"

using namespace tund;
using namespace tund::engine;
using fuzz::CollectRx;
using fuzz::TestCore;

namespace {

constexpr uint64_t kLimit = UINT64_MAX - (1ULL << 13);  // REJECT_AFTER_MESSAGES (WgLimits)

inline uint32_t Le32(const uint8_t* p) { return p[0] | p[1] << 8 | p[2] << 16 | static_cast<uint32_t>(p[3]) << 24; }
inline uint64_t Le64(const uint8_t* p) { return Le32(p) | static_cast<uint64_t>(Le32(p + 4)) << 32; }
inline void PutLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline void PutLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; i++) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

Prefix P(const char* text) {
  Prefix p;
  std::string err;
  FUZZ_CHECK(ParsePrefix(text, &p, &err), "%s", err.c_str());
  return p;
}

bool Contains(const Prefix& p, int family, const uint8_t* addr) {
  if (p.family != family) return false;
  for (int i = 0; i < p.bits; i++) {
    if (((addr[i / 8] ^ p.addr[i / 8]) >> (7 - i % 8)) & 1) return false;
  }
  return true;
}

// A keypair as the model knows it: the key the transform opens with, its window.
struct ModelKeypair {
  uint32_t peer = 0, index = 0;
  uint8_t key[32];
  bool alive = true;
  std::set<uint64_t> seen;
  uint64_t highest = 0;
  std::unique_ptr<wg::ChaCha20Poly1305> aead;
  bool MayAccept(uint64_t c) const { return c < kLimit && !seen.count(c) && (c >= highest || highest - c <= ReplayWindow::kWindowSize); }
  void Accept(uint64_t c) {
    seen.insert(c);
    if (c > highest) highest = c;
    while (!seen.empty() && highest - *seen.begin() > ReplayWindow::kWindowSize) seen.erase(seen.begin());
  }
};

struct ModelPeer {
  int previous = -1, current = -1, next = -1;  // indices into Fixture::keypairs
  std::vector<Prefix> allowed;
};

// Counters of WgTransform and the engine, read before and after each datagram.
struct Snapshot {
  uint64_t unknownIndex, authFailures, replayDrops, sourceDrops, invalidPackets, shortMessages, unknownTypes, handshakeMessages,
      handshakeDrops, cookieReplies, badFrames;
  size_t delivered;
  static Snapshot Of(const WgTransform& t, TestCore& core, const CollectRx& rx) {
    const WgCounters& c = t.Counters();
    auto r = [](const std::atomic<uint64_t>& v) { return v.load(); };
    return {r(c.unknownIndex), r(c.authFailures), r(c.replayDrops), r(c.sourceDrops), r(c.invalidPackets), r(c.shortMessages),
            r(c.unknownTypes), r(c.handshakeMessages), r(c.handshakeDrops), r(c.cookieReplies), r(core.c.badFrames), rx.packets.size()};
  }
};

enum class Outcome { Short, UnknownType, UnknownIndex, Replay, AuthFailure, Keepalive, Invalid, Source, Delivered, Handshake };
const char* Name(Outcome o) {
  static const char* const names[] = {"short", "unknown type", "unknown index", "replay", "auth failure", "keepalive", "invalid packet",
                                      "source not allowed", "delivered", "handshake"};
  return names[static_cast<int>(o)];
}

class Fixture {
 public:
  Fixture() : transform_(WgOptions{}), core_(&transform_), rx_(core_, transform_.MaxDelivered()), generator_(fuzz::Responder()->PublicKey()) {
    std::string err;
    peers_[1].allowed = {P("198.18.1.0/24"), P("2001:2:0:1::/64")};
    peers_[2].allowed = {P("198.18.2.0/24"), P("198.18.1.128/25")};
    for (uint32_t id : {1u, 2u}) {
      FUZZ_CHECK(transform_.AddPeer(id, &err), "%s", err.c_str());
      FUZZ_CHECK(transform_.SetAllowedIps(id, peers_[id].allowed, &err), "%s", err.c_str());
    }
    auto gate = std::make_unique<CookieGate>();
    gate->SetLocalPublicKey(fuzz::Responder()->PublicKey());
    gate->ForceLoad(false);
    gate_ = gate.get();
    transform_.SetHandshakeGate(std::move(gate));
    transform_.Start(core_);
    Install(1, true);
    Install(2, false);
    const char* addrs[] = {"198.18.5.1", "198.18.5.2", "2001:2::5"};
    for (int i = 0; i < 3; i++) FUZZ_CHECK(Endpoint::Parse(addrs[i], 51820 + i, &endpoints_[i]), "Endpoint::Parse");
  }

  // A new keypair for the peer, as JS installs one after a handshake; the model follows the
  // rotation rules of wg_transform.h (wireguard-go's).
  void Install(uint32_t id, bool initiator) {
    auto kp = std::make_unique<ModelKeypair>();
    kp->peer = id;
    kp->index = 0x1000 + static_cast<uint32_t>(keypairs_.size());
    for (int i = 0; i < 32; i++) kp->key[i] = static_cast<uint8_t>(kp->index * 31 + i);
    kp->aead = std::make_unique<wg::ChaCha20Poly1305>(kp->key);
    WgKeypairSpec spec;
    std::memset(spec.sendKey, 0x5a, sizeof spec.sendKey);
    std::memcpy(spec.receiveKey, kp->key, 32);
    spec.localIndex = kp->index;
    spec.remoteIndex = 0x9000 + kp->index;
    spec.initiator = initiator;
    std::string err;
    FUZZ_CHECK(transform_.InstallKeypair(id, spec, &err), "InstallKeypair: %s", err.c_str());
    keypairs_.push_back(std::move(kp));
    const int k = static_cast<int>(keypairs_.size()) - 1;
    ModelPeer& p = peers_[id];
    if (initiator) {
      if (p.next >= 0) {
        Retire(p.previous);
        p.previous = p.next;
        p.next = -1;
        Retire(p.current);
      } else {
        Retire(p.previous);
        p.previous = p.current;
      }
      p.current = k;
    } else {
      Retire(p.next);
      Retire(p.previous);
      p.next = k;
    }
    CheckKeypairs(id);
  }

  // One datagram from endpoint `from`: the model's outcome, then the transform's, compared.
  void Receive(std::vector<uint8_t> bytes, int from) {
    const Endpoint& ep = endpoints_[from];
    std::vector<uint8_t> original = bytes;
    std::vector<uint8_t> expectPacket;
    Outcome expect = Classify(original, &expectPacket);
    Snapshot before = Snapshot::Of(transform_, core_, rx_);
    Message m;
    m.data = bytes.data();
    m.len = bytes.size();
    m.peer = &ep;
    rx_.Opening(m);
    transform_.Open(m, rx_);
    Snapshot after = Snapshot::Of(transform_, core_, rx_);
    auto up = [&](uint64_t Snapshot::*f) { return after.*f - before.*f; };
    FUZZ_CHECK(after.delivered - before.delivered == (expect == Outcome::Delivered ? 1u : 0u), "%zu packets delivered, the model: %s",
               after.delivered - before.delivered, Name(expect));
    switch (expect) {
      case Outcome::Short: FUZZ_CHECK(up(&Snapshot::shortMessages) == 1, "not counted as short"); break;
      case Outcome::UnknownType: FUZZ_CHECK(up(&Snapshot::unknownTypes) == 1, "not counted as an unknown type"); break;
      case Outcome::UnknownIndex: FUZZ_CHECK(up(&Snapshot::unknownIndex) == 1, "not counted as an unknown index"); break;
      case Outcome::Replay: FUZZ_CHECK(up(&Snapshot::replayDrops) == 1, "counter %llu not counted as a replay", static_cast<unsigned long long>(Le64(&original[8]))); break;
      case Outcome::AuthFailure: FUZZ_CHECK(up(&Snapshot::authFailures) == 1, "not counted as an auth failure"); break;
      case Outcome::Invalid: FUZZ_CHECK(up(&Snapshot::invalidPackets) == 1, "not counted as an invalid packet"); break;
      case Outcome::Source: FUZZ_CHECK(up(&Snapshot::sourceDrops) == 1, "not counted as a source drop"); break;
      case Outcome::Delivered:
        FUZZ_CHECK(rx_.packets.back() == expectPacket, "delivered %zu bytes, the inner packet has %zu", rx_.packets.back().size(), expectPacket.size());
        break;
      case Outcome::Keepalive:
      case Outcome::Handshake:
        break;
    }
    if (expect != Outcome::Handshake) {
      const bool bad = expect != Outcome::Keepalive && expect != Outcome::Delivered;
      FUZZ_CHECK(up(&Snapshot::badFrames) == (bad ? 1u : 0u), "badFrames +%llu for %s", static_cast<unsigned long long>(up(&Snapshot::badFrames)), Name(expect));
      FUZZ_CHECK(up(&Snapshot::handshakeMessages) + up(&Snapshot::handshakeDrops) == 0, "a %s datagram went the handshake way", Name(expect));
      FUZZ_CHECK(core_.TakeOutgoing().empty(), "something queued for a %s datagram", Name(expect));
    } else {
      Handshake(original, ep, from, before, after);
    }
    for (auto& e : core_.TakeEvents()) {
      FUZZ_CHECK(e.type == "keypair_confirmed" && expectConfirm_ >= 0, "unexpected event \"%s\"", e.type.c_str());
      FUZZ_CHECK(e.peer == keypairs_[expectConfirm_]->peer && e.index == keypairs_[expectConfirm_]->index, "confirmed peer %u index %u", e.peer, e.index);
      expectConfirm_ = -1;
    }
    FUZZ_CHECK(expectConfirm_ < 0, "keypair %u not confirmed", keypairs_[expectConfirm_]->index);
    if (authenticatedPeer_) {
      WgPeerStats s;
      FUZZ_CHECK(transform_.PeerStats(authenticatedPeer_, &s), "PeerStats");
      FUZZ_CHECK(s.endpoint.SameAs(ep), "peer %u's endpoint is %s, its last packet came from %s", authenticatedPeer_, s.endpoint.ToString().c_str(),
                 ep.ToString().c_str());
      CheckKeypairs(authenticatedPeer_);
      authenticatedPeer_ = 0;
    }
  }

  void SetLoad(bool on) {
    underLoad_ = on;
    gate_->ForceLoad(on);
  }
  bool UnderLoad() const { return underLoad_; }

  // A transport message sealed as the peer of keypair k would: type 4, its index, the counter,
  // the packet padded to 16 bytes.
  std::vector<uint8_t> Seal(int k, uint64_t counter, const std::vector<uint8_t>& packet) {
    size_t padded = (packet.size() + 15) & ~static_cast<size_t>(15);
    std::vector<uint8_t> msg(16 + padded + 16, 0);
    PutLe32(&msg[0], 4);
    PutLe32(&msg[4], keypairs_[k]->index);
    PutLe64(&msg[8], counter);
    std::vector<uint8_t> plain(padded, 0);
    std::copy(packet.begin(), packet.end(), plain.begin());
    FUZZ_CHECK(keypairs_[k]->aead->Seal(counter, nullptr, 0, plain.data(), plain.size(), &msg[16]), "Seal");
    return msg;
  }

  // A handshake message (type 1 or 2) with the macs of a peer that knows our public key.
  std::vector<uint8_t> HandshakeMessage(uint8_t type, FuzzedDataProvider& in) {
    std::vector<uint8_t> msg(type == 1 ? 148 : 92, 0);
    std::vector<uint8_t> body = in.ConsumeBytes<uint8_t>(msg.size() - 4 - 32);
    std::copy(body.begin(), body.end(), msg.begin() + 4);
    msg[0] = type;
    FUZZ_CHECK(generator_.AddMacs(msg.data(), msg.size(), tund::MonotonicNanos()), "AddMacs");
    return msg;
  }

  size_t KeypairCount() const { return keypairs_.size(); }
  const ModelKeypair& Keypair(int k) const { return *keypairs_[k]; }

 private:
  void Retire(int& k) {
    if (k >= 0) keypairs_[k]->alive = false;
    k = -1;
  }

  const ModelKeypair* ByIndex(uint32_t index) const {
    for (const auto& kp : keypairs_) {
      if (kp->alive && kp->index == index) return kp.get();
    }
    return nullptr;
  }

  void CheckKeypairs(uint32_t id) {
    WgPeerStats s;
    FUZZ_CHECK(transform_.PeerStats(id, &s), "PeerStats");
    const ModelPeer& p = peers_[id];
    auto same = [&](const WgKeypairInfo& got, int k, const char* slot) {
      FUZZ_CHECK(got.present == (k >= 0) && (k < 0 || got.localIndex == keypairs_[k]->index), "peer %u's %s keypair: %s %u, the model %d", id, slot,
                 got.present ? "index" : "none", got.localIndex, k < 0 ? -1 : static_cast<int>(keypairs_[k]->index));
    };
    same(s.previous, p.previous, "previous");
    same(s.current, p.current, "current");
    same(s.next, p.next, "next");
  }

  // What the transform must do with these bytes (and the model's state after it).
  Outcome Classify(const std::vector<uint8_t>& b, std::vector<uint8_t>* packet) {
    if (b.size() < 4) return Outcome::Short;
    const uint32_t type = Le32(b.data());
    if (type == 1 || type == 2 || type == 3) return b.size() == (type == 1 ? 148u : type == 2 ? 92u : 64u) ? Outcome::Handshake : Outcome::Short;
    if (type != 4) return Outcome::UnknownType;
    if (b.size() < 32) return Outcome::Short;
    const ModelKeypair* found = ByIndex(Le32(&b[4]));
    if (!found) return Outcome::UnknownIndex;
    ModelKeypair& kp = *keypairs_[found->index - 0x1000];
    const uint64_t counter = Le64(&b[8]);
    if (!kp.MayAccept(counter)) return Outcome::Replay;
    std::vector<uint8_t> plain(b.size() - 32);
    if (!kp.aead->Open(counter, nullptr, 0, &b[16], b.size() - 16, plain.data())) return Outcome::AuthFailure;
    kp.Accept(counter);
    authenticatedPeer_ = kp.peer;
    ModelPeer& peer = peers_[kp.peer];
    if (peer.next >= 0 && keypairs_[peer.next].get() == &kp) {
      Retire(peer.previous);
      peer.previous = peer.current;
      peer.current = peer.next;
      peer.next = -1;
      expectConfirm_ = peer.current;
    }
    if (plain.empty()) return Outcome::Keepalive;
    // the inner packet (RFC 791 / RFC 8200 headers): its own length and its source
    int family = 0;
    size_t len = 0;
    const uint8_t* src = nullptr;
    if (plain.size() >= 20 && plain[0] >> 4 == 4) {
      family = AF_INET;
      len = static_cast<size_t>(plain[2] << 8 | plain[3]);
      src = &plain[12];
      if (len < 20) return Outcome::Invalid;
    } else if (plain.size() >= 40 && plain[0] >> 4 == 6) {
      family = AF_INET6;
      len = 40 + static_cast<size_t>(plain[4] << 8 | plain[5]);
      src = &plain[8];
    } else {
      return Outcome::Invalid;
    }
    if (len > plain.size()) return Outcome::Invalid;
    uint32_t owner = 0;
    int best = -1;
    for (const auto& e : peers_) {
      for (const Prefix& pr : e.second.allowed) {
        if (pr.bits > best && Contains(pr, family, src)) {
          best = pr.bits;
          owner = e.first;
        }
      }
    }
    if (owner != kp.peer) return Outcome::Source;
    packet->assign(plain.begin(), plain.begin() + static_cast<long>(len));
    return Outcome::Delivered;
  }

  // A well-sized type 1, 2 or 3: up to JS, dropped, or answered with a cookie reply.
  void Handshake(const std::vector<uint8_t>& msg, const Endpoint& ep, int from, const Snapshot& before, const Snapshot& after) {
    const uint64_t upward = after.handshakeMessages - before.handshakeMessages, drops = after.handshakeDrops - before.handshakeDrops,
                   replies = after.cookieReplies - before.cookieReplies;
    FUZZ_CHECK(upward + drops == 1, "a handshake message: %llu up, %llu dropped", static_cast<unsigned long long>(upward), static_cast<unsigned long long>(drops));
    std::deque<Outgoing> out = core_.TakeOutgoing();
    FUZZ_CHECK(out.size() == replies, "%zu queued, %llu cookie replies counted", out.size(), static_cast<unsigned long long>(replies));
    std::deque<Event> events = core_.TakeEvents();
    if (upward) {
      FUZZ_CHECK(events.size() == 1 && events[0].type == "message" && events[0].data == msg && events[0].from.SameAs(ep), "the message did not go up as it came");
    }
    const uint8_t type = msg[0];
    if (type == 3) {
      FUZZ_CHECK(upward == 1, "a cookie reply was not handed up");
      return;
    }
    wg::CookieChecker checker;  // (only for mac1, which is keyed by our public key alone)
    checker.SetLocalPublicKey(fuzz::Responder()->PublicKey());
    const bool mac1 = checker.CheckMac1(msg.data(), msg.size());
    const bool mac2Genuine = haveCookie_ && cookieFrom_ == from && macsAdded_ == msg;
    if (!mac1) {
      FUZZ_CHECK(drops == 1 && replies == 0, "a message with a bad mac1 was not dropped silently");
      return;
    }
    if (!underLoad_) {
      FUZZ_CHECK(upward == 1, "not under load, a message with a good mac1 was dropped");
      return;
    }
    if (mac2Genuine) {
      FUZZ_CHECK(replies == 0, "under load, a message with a fresh cookie's mac2 got a cookie reply");
      return;
    }
    if (replies == 1) {
      FUZZ_CHECK(out[0].to.SameAs(ep) && out[0].data.size() == 64 && Le32(out[0].data.data()) == 3, "a cookie reply not to the sender, or not type 3");
      FUZZ_CHECK(std::memcmp(&out[0].data[4], &msg[4], 4) == 0, "the cookie reply's receiver is not the message's sender index");
      if (msg == macsAdded_) {
        // our own message: the peer takes the cookie, and its next messages from here carry mac2
        FUZZ_CHECK(generator_.ConsumeReply(out[0].data.data(), 64, tund::MonotonicNanos()), "the peer refused the cookie reply");
        haveCookie_ = true;
        cookieFrom_ = from;
      }
    } else {
      // (a valid mac2 the fuzzer made itself is possible only with our cookie: ours, from elsewhere)
      FUZZ_CHECK(haveCookie_ && drops == 1, "under load, a message without a valid mac2 got no cookie reply");
    }
  }

 public:
  void Sent(const std::vector<uint8_t>& macsAdded) { macsAdded_ = macsAdded; }

 private:
  WgTransform transform_;
  TestCore core_;
  CollectRx rx_;
  CookieGate* gate_ = nullptr;
  wg::CookieGenerator generator_;
  std::vector<uint8_t> macsAdded_;  // the last message the generator put macs on, as it left
  bool haveCookie_ = false, underLoad_ = false;
  int cookieFrom_ = -1;
  std::map<uint32_t, ModelPeer> peers_;
  std::vector<std::unique_ptr<ModelKeypair>> keypairs_;
  Endpoint endpoints_[3];
  int expectConfirm_ = -1;
  uint32_t authenticatedPeer_ = 0;
};

// An inner packet for a transport message.
std::vector<uint8_t> InnerPacket(FuzzedDataProvider& in) {
  const int kind = in.ConsumeIntegralInRange<int>(0, 3);
  if (kind == 0) return {};  // keepalive
  if (kind == 3) return in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(1, 80));  // anything
  const bool v4 = kind == 1;
  const size_t header = v4 ? 20 : 40;
  const size_t payload = in.ConsumeIntegralInRange<size_t>(0, 64);
  std::vector<uint8_t> p(header + payload, 0);
  p[0] = v4 ? 0x45 : 0x60;
  size_t stated = v4 ? header + payload : payload;
  switch (in.ConsumeIntegralInRange<int>(0, 3)) {
    case 1: stated += in.ConsumeIntegralInRange<size_t>(1, 20); break;  // longer than what came
    case 2: stated -= std::min(stated, in.ConsumeIntegralInRange<size_t>(1, 20)); break;  // padding after it, or too short
    default: break;
  }
  if (v4) {
    p[2] = static_cast<uint8_t>(stated >> 8);
    p[3] = static_cast<uint8_t>(stated);
  } else {
    p[4] = static_cast<uint8_t>(stated >> 8);
    p[5] = static_cast<uint8_t>(stated);
  }
  static const char* const v4Sources[] = {"198.18.1.7", "198.18.1.200", "198.18.2.9", "198.18.3.1"};
  static const char* const v6Sources[] = {"2001:2:0:1::7", "2001:2:0:2::7", "2001:2::1"};
  uint8_t* src = v4 ? &p[12] : &p[8];
  if (in.ConsumeBool()) {
    in.ConsumeData(src, v4 ? 4 : 16);
  } else if (v4) {
    inet_pton(AF_INET, v4Sources[in.ConsumeIntegralInRange<int>(0, 3)], src);
  } else {
    inet_pton(AF_INET6, v6Sources[in.ConsumeIntegralInRange<int>(0, 2)], src);
  }
  for (size_t i = header; i < p.size(); i++) p[i] = static_cast<uint8_t>(i);
  return p;
}

void Recipe(FuzzedDataProvider& in) {
  Fixture f;
  std::map<int, uint64_t> lastCounter;  // per keypair: the last counter a genuine message used
  for (int op = 0; op < 128 && in.remaining_bytes() > 0; op++) {
    const int from = in.ConsumeIntegralInRange<int>(0, 2);
    switch (in.ConsumeIntegralInRange<int>(0, 6)) {
      case 0:
        f.Receive(in.ConsumeBytes<uint8_t>(in.ConsumeIntegralInRange<size_t>(0, 200)), from);
        break;
      case 1:
      case 2: {
        const int k = in.ConsumeIntegralInRange<int>(0, static_cast<int>(f.KeypairCount()) - 1);
        const uint64_t highest = f.Keypair(k).highest;
        uint64_t counter = 0;
        switch (in.ConsumeIntegralInRange<int>(0, 5)) {
          case 0: counter = lastCounter.count(k) ? lastCounter[k] + 1 : 0; break;
          case 1: counter = lastCounter.count(k) ? lastCounter[k] : 0; break;  // a replay
          case 2: counter = highest - std::min(highest, in.ConsumeIntegralInRange<uint64_t>(ReplayWindow::kWindowSize - 2, ReplayWindow::kWindowSize + 2)); break;
          case 3: counter = highest + in.ConsumeIntegralInRange<uint64_t>(1, 20000); break;
          case 4: counter = kLimit - in.ConsumeIntegralInRange<uint64_t>(0, 2); break;
          default: counter = in.ConsumeIntegral<uint64_t>(); break;
        }
        lastCounter[k] = counter;
        std::vector<uint8_t> msg = f.Seal(k, counter, InnerPacket(in));
        fuzz::Mutate(in, msg.data(), msg.size());
        f.Receive(std::move(msg), from);
        break;
      }
      case 3: {
        std::vector<uint8_t> msg = f.HandshakeMessage(in.ConsumeBool() ? 1 : 2, in);
        f.Sent(msg);
        fuzz::Mutate(in, msg.data(), msg.size());
        f.Receive(std::move(msg), from);
        break;
      }
      case 4: {
        std::vector<uint8_t> msg = in.ConsumeBytes<uint8_t>(64);
        msg.resize(64);
        PutLe32(msg.data(), 3);
        f.Receive(std::move(msg), from);
        break;
      }
      case 5:
        f.SetLoad(!f.UnderLoad());
        break;
      case 6:
        if (f.KeypairCount() < 12) f.Install(in.ConsumeBool() ? 1 : 2, in.ConsumeBool());
        break;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return fuzz::TwoModes(
      data, size,
      [](const uint8_t* msg, size_t len) {
        Fixture f;
        f.Receive(std::vector<uint8_t>(msg, msg + len), 0);
        f.SetLoad(true);
        f.Receive(std::vector<uint8_t>(msg, msg + len), 1);
      },
      Recipe);
}
