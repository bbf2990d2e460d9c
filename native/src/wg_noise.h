// WireGuard's handshake (whitepaper section 5.4): Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s with
// WireGuard's framing (message types 1 and 2, sender/receiver indices, TAI64N payload) and the
// derivation of the transport keypair. Pure C++ over wg_crypto, no N-API (bindings in wg_addon.cc).
//
// Who calls what:
//  - initiator: Handshake::CreateInitiation -> (CookieGenerator::AddMacs, send) ... receive a
//    type-2 message whose receiver index is ours -> Handshake::ConsumeResponse -> DeriveKeypair.
//  - responder: (CookieChecker vets mac1/mac2) -> ReadInitiation with the device's identity, which
//    yields the initiator's static public key -> find that peer -> its Handshake::ConsumeInitiation
//    (timestamp replay and flood checks) -> CreateResponse (-> AddMacs, send) -> DeriveKeypair.
// mac1/mac2 are not touched here: a created message leaves them zero for the CookieGenerator,
// and consuming one does not check them (the CookieChecker did, before).
//
// A Handshake belongs to one peer and one thread (the control thread); it is not locked. The
// StaticIdentity is shared, immutable, and safe to use from any thread.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "wg_crypto.h"

namespace tund {
namespace wg {

// Message types (first byte; the next three bytes are zero).
constexpr uint8_t kMessageInitiation = 1;
constexpr uint8_t kMessageResponse = 2;
constexpr uint8_t kMessageCookieReply = 3;
constexpr uint8_t kMessageTransport = 4;

constexpr size_t kInitiationSize = 148;   // type, sender, ephemeral, static+tag, timestamp+tag, mac1, mac2
constexpr size_t kResponseSize = 92;      // type, sender, receiver, ephemeral, empty+tag, mac1, mac2
constexpr size_t kCookieReplySize = 64;   // type, receiver, nonce(24), cookie+tag
constexpr size_t kTransportHeaderSize = 16;  // type, receiver, counter (LE64)
constexpr size_t kKeepaliveSize = kTransportHeaderSize + kTagSize;

// Field offsets used by the cookie code and the engine.
constexpr size_t kSenderOffset = 4;             // type 1 and 2: the sender's index
constexpr size_t kResponseReceiverOffset = 8;   // type 2: our index
constexpr size_t kReceiverOffset = 4;           // type 3 and 4: our index
constexpr size_t kTransportCounterOffset = 8;   // type 4
// mac1 and mac2 are the last 32 bytes of a type-1/2 message.
constexpr size_t Mac1Offset(size_t messageSize) { return messageSize - 2 * kMacSize; }
constexpr size_t Mac2Offset(size_t messageSize) { return messageSize - kMacSize; }

// The type of a datagram: 1..4 when the first byte is one of them, the three reserved bytes are
// zero and the length fits the type (exact for 1-3, at least a keepalive for 4); otherwise 0.
uint8_t MessageTypeOf(const uint8_t* msg, size_t len);
uint32_t ReadLe32(const uint8_t* p);
void WriteLe32(uint8_t* p, uint32_t v);

// Every time-dependent call takes `now` in monotonic nanoseconds (mono_clock.h MonotonicNanos), so
// tests can drive the clock.

constexpr int64_t kNanosPerMilli = 1000000;
constexpr int64_t kNanosPerSecond = 1000000000;
// wireguard-go's HandshakeInitationRate: one initiation per peer per 20 ms is consumed.
constexpr int64_t kInitiationMinIntervalNs = kNanosPerSecond / 50;

// Noise's construction name and WireGuard's prologue ("identifier"). The chaining key and hash
// every handshake starts from depend only on them; Protocol computes them once.
extern const char kConstruction[];  // "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s"
extern const char kIdentifier[];    // "WireGuard v1 zx2c4 Jason@zx2c4.com"
extern const char kLabelMac1[];     // "mac1----"
extern const char kLabelCookie[];   // "cookie--"

class Protocol {
 public:
  // WireGuard's (prologue = kIdentifier). Other prologues exist for the Noise test vectors.
  static std::shared_ptr<const Protocol> WireGuard();
  explicit Protocol(const std::string& prologue);
  const uint8_t* InitialChainKey() const { return chainKey_; }
  const uint8_t* InitialHash() const { return hash_; }

 private:
  uint8_t chainKey_[kHashSize];
  uint8_t hash_[kHashSize];
};

// This side's static key pair (the device's PrivateKey), loaded once.
class StaticIdentity {
 public:
  explicit StaticIdentity(const uint8_t privateKey[kKeySize]);
  bool Ok() const { return key_.Ok(); }
  const uint8_t* PublicKey() const { return key_.PublicKey(); }
  bool Dh(const uint8_t remote[kKeySize], uint8_t out[kKeySize]) const { return key_.Shared(remote, out); }

 private:
  X25519PrivateKey key_;
};

enum class HandshakeError {
  kNone = 0,
  kBadMessage,     // wrong type or length
  kDecrypt,        // an AEAD field did not open: not for us, or forged
  kBadKey,         // a DH result was all zeros (low-order key) or the identity is not loaded
  kWrongPeer,      // ConsumeInitiation: the initiation is from another static key
  kWrongState,     // e.g. a response without an initiation of ours, or with another index
  kReplay,         // the initiation's timestamp is not newer than the last one consumed
  kFlood,          // an initiation less than 20 ms after the last one consumed for this peer
  kCrypto,         // OpenSSL failed
};
const char* HandshakeErrorName(HandshakeError e);

enum class HandshakeState { kZeroed, kInitiationCreated, kInitiationConsumed, kResponseCreated, kResponseConsumed };

// The transport keys of one session and its indices.
struct Keypair {
  uint8_t sendKey[kKeySize];
  uint8_t recvKey[kKeySize];
  uint32_t localIndex = 0;   // receiver index the peer puts on packets to us
  uint32_t remoteIndex = 0;  // receiver index we put on packets to the peer
  bool initiator = false;    // we sent the initiation: this keypair is confirmed already
  void Clear();
};

// The device-level half of consuming an initiation: what the ephemeral and static fields gave,
// before the peer is known. Holds handshake secrets: Clear() it when done.
constexpr size_t kMaxNoisePayload = 64;  // largest payload the Noise-level calls accept
struct InitiationInfo {
  uint8_t peerStatic[kKeySize];  // the initiator's static public key: look the peer up by it
  uint32_t senderIndex = 0;
  // continuation state
  uint8_t chainKey[kHashSize];
  uint8_t hash[kHashSize];
  uint8_t ephemeral[kKeySize];
  uint8_t sealedPayload[kMaxNoisePayload + kTagSize];
  size_t sealedPayloadLen = 0;
  void Clear();
};

// Opens a WireGuard initiation (148 bytes, macs not checked) with the local identity.
HandshakeError ReadInitiation(const StaticIdentity& local, const uint8_t* msg, size_t len, InitiationInfo* out,
                              const Protocol& protocol = *Protocol::WireGuard());
// The same for a bare Noise message 1 (e || s || payload, no WireGuard framing): the Noise vectors.
HandshakeError ReadNoiseMessage1(const StaticIdentity& local, const uint8_t* body, size_t len, InitiationInfo* out,
                                 const Protocol& protocol);

class Handshake {
 public:
  // psk may be null (no preshared key: 32 zero bytes, as WireGuard defines it).
  Handshake(std::shared_ptr<const StaticIdentity> local, const uint8_t remoteStatic[kKeySize],
            const uint8_t psk[kKeySize] = nullptr,
            std::shared_ptr<const Protocol> protocol = Protocol::WireGuard());
  ~Handshake();
  Handshake(const Handshake&) = delete;
  Handshake& operator=(const Handshake&) = delete;

  // False when DH(local static, remote static) is all zeros: no handshake can succeed.
  bool Valid() const { return valid_; }
  // A new local identity (wg set private-key): recomputes the static-static secret, drops any
  // handshake in progress.
  void SetLocalIdentity(std::shared_ptr<const StaticIdentity> local);
  void SetPresharedKey(const uint8_t psk[kKeySize]);  // null clears it
  const uint8_t* RemoteStatic() const { return remoteStatic_; }
  HandshakeState State() const { return state_; }
  uint32_t LocalIndex() const { return localIndex_; }
  uint32_t RemoteIndex() const { return remoteIndex_; }
  // The Noise handshake hash h (the value the Noise vectors call handshake_hash once both
  // messages are done); zeroed by DeriveKeypair.
  const uint8_t* HandshakeHash() const { return hash_; }

  // Initiator: a new initiation with localIndex as sender index, timestamped now (or `timestamp`),
  // into out[kInitiationSize]; mac1/mac2 zero.
  HandshakeError CreateInitiation(uint32_t localIndex, uint8_t out[kInitiationSize],
                                  const uint8_t timestamp[kTai64nSize] = nullptr);
  // Responder, after ReadInitiation found this peer: decrypts the timestamp, refuses replays
  // (timestamp not after the last consumed) and floods (< 20 ms since the last consumed at nowNs).
  // On success the timestamp becomes the new reference. `timestampOut` (optional) gets it.
  HandshakeError ConsumeInitiation(const InitiationInfo& info, int64_t nowNs, uint8_t timestampOut[kTai64nSize] = nullptr);
  // Responder: the response with localIndex as sender index into out[kResponseSize]; mac1/mac2 zero.
  HandshakeError CreateResponse(uint32_t localIndex, uint8_t out[kResponseSize]);
  // Initiator: a response (92 bytes) whose receiver index must be our localIndex.
  HandshakeError ConsumeResponse(const uint8_t* msg, size_t len);
  // After CreateResponse (responder) or ConsumeResponse (initiator): the transport keys; the
  // handshake state is wiped and returns to kZeroed. False in any other state.
  bool DeriveKeypair(Keypair* out);
  // Forgets the handshake in progress (keeps the replay/flood references).
  void Clear();

  // ---- Noise level, for the known-answer vectors: any prologue (Protocol), any payload up to
  // kMaxNoisePayload, a fixed ephemeral. WireGuard's calls above are built on these.
  void SetNextEphemeral(const uint8_t priv[kKeySize]);  // used by the next message we create
  // Writes e || s || payload into out (96 + n bytes); *outLen set.
  HandshakeError WriteNoiseMessage1(const uint8_t* payload, size_t n, uint8_t* out, size_t* outLen);
  // Finishes a message 1 read by ReadNoiseMessage1: decrypts the payload (no replay checks).
  HandshakeError ConsumeNoiseMessage1(const InitiationInfo& info, uint8_t* payloadOut, size_t* payloadLen);
  // Writes e || payload (48 + n bytes).
  HandshakeError WriteNoiseMessage2(const uint8_t* payload, size_t n, uint8_t* out, size_t* outLen);
  HandshakeError ReadNoiseMessage2(const uint8_t* body, size_t len, uint8_t* payloadOut, size_t* payloadLen);

 private:
  void Precompute();
  void WipeState();
  bool NewEphemeral(uint8_t priv[kKeySize], uint8_t pub[kKeySize]);

  std::shared_ptr<const StaticIdentity> local_;
  std::shared_ptr<const Protocol> protocol_;
  uint8_t remoteStatic_[kKeySize];
  uint8_t psk_[kKeySize];
  uint8_t staticStatic_[kKeySize];  // DH(local static, remote static)
  bool valid_ = false;
  uint8_t firstHash_[kHashSize];     // HASH(initial hash || responder's static public key)

  HandshakeState state_ = HandshakeState::kZeroed;
  uint8_t chainKey_[kHashSize];
  uint8_t hash_[kHashSize];
  uint8_t localEphemeral_[kKeySize];
  uint8_t remoteEphemeral_[kKeySize];
  uint32_t localIndex_ = 0;
  uint32_t remoteIndex_ = 0;
  bool haveNextEphemeral_ = false;
  uint8_t nextEphemeral_[kKeySize];

  uint8_t lastTimestamp_[kTai64nSize];
  int64_t lastInitiationConsumedNs_ = 0;
  bool consumedAny_ = false;
};

}  // namespace wg
}  // namespace tund
