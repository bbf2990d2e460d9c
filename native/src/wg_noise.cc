#include "wg_noise.h"

#include <cstring>
#include <ctime>

namespace tund {
namespace wg {

const char kConstruction[] = "Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s";
const char kIdentifier[] = "WireGuard v1 zx2c4 Jason@zx2c4.com";
const char kLabelMac1[] = "mac1----";
const char kLabelCookie[] = "cookie--";

namespace {

constexpr size_t kSealedKeySize = kKeySize + kTagSize;         // encrypted static key
constexpr size_t kSealedTimestampSize = kTai64nSize + kTagSize;
constexpr size_t kInitiationBodyOffset = 8;                    // after type and sender
constexpr size_t kResponseBodyOffset = 12;                     // after type, sender, receiver
constexpr size_t kInitiationBodySize = kKeySize + kSealedKeySize + kSealedTimestampSize;  // 108
constexpr size_t kResponseBodySize = kKeySize + kTagSize;                                  // 48

const uint8_t* Bytes(const char* s) { return reinterpret_cast<const uint8_t*>(s); }

// h = HASH(h || data)
bool MixHash(uint8_t h[kHashSize], const uint8_t* data, size_t n) { return Blake2s256(h, h, kHashSize, data, n); }

// ck = KDF1(ck, input)
bool MixKey(uint8_t ck[kHashSize], const uint8_t* input, size_t n) { return Kdf1(ck, ck, kHashSize, input, n); }

// (ck, k) = KDF2(ck, DH(...))
bool MixKeyDh(uint8_t ck[kHashSize], uint8_t k[kKeySize], const uint8_t dh[kKeySize]) {
  return Kdf2(ck, k, ck, kHashSize, dh, kKeySize);
}

// AEAD(k, 0, plain, h) then h = HASH(h || sealed)
bool SealAndHash(const uint8_t k[kKeySize], uint8_t h[kHashSize], const uint8_t* plain, size_t n, uint8_t* out) {
  uint8_t nonce[kNonceSize];
  CounterNonce(0, nonce);
  return AeadSeal(k, nonce, h, kHashSize, plain, n, out) && MixHash(h, out, n + kTagSize);
}

bool OpenAndHash(const uint8_t k[kKeySize], uint8_t h[kHashSize], const uint8_t* sealed, size_t n, uint8_t* out) {
  uint8_t nonce[kNonceSize];
  CounterNonce(0, nonce);
  return AeadOpen(k, nonce, h, kHashSize, sealed, n, out) && MixHash(h, sealed, n);
}

// Wipes a set of buffers when it goes out of scope (every return path of a handshake step).
class Scrub {
 public:
  Scrub(void* p, size_t n) : p_(p), n_(n) {}
  ~Scrub() { Wipe(p_, n_); }

 private:
  void* p_;
  size_t n_;
};

}  // namespace

uint8_t MessageTypeOf(const uint8_t* msg, size_t len) {
  if (len < 4 || msg[1] != 0 || msg[2] != 0 || msg[3] != 0) return 0;
  switch (msg[0]) {
    case kMessageInitiation: return len == kInitiationSize ? kMessageInitiation : 0;
    case kMessageResponse: return len == kResponseSize ? kMessageResponse : 0;
    case kMessageCookieReply: return len == kCookieReplySize ? kMessageCookieReply : 0;
    case kMessageTransport: return len >= kKeepaliveSize ? kMessageTransport : 0;
    default: return 0;
  }
}

uint32_t ReadLe32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

void WriteLe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}

const char* HandshakeErrorName(HandshakeError e) {
  switch (e) {
    case HandshakeError::kNone: return "ok";
    case HandshakeError::kBadMessage: return "bad_message";
    case HandshakeError::kDecrypt: return "decrypt";
    case HandshakeError::kBadKey: return "bad_key";
    case HandshakeError::kWrongPeer: return "wrong_peer";
    case HandshakeError::kWrongState: return "wrong_state";
    case HandshakeError::kReplay: return "replay";
    case HandshakeError::kFlood: return "flood";
    case HandshakeError::kCrypto: return "crypto";
  }
  return "unknown";
}

// ---- Protocol, identity, plain structs

Protocol::Protocol(const std::string& prologue) {
  // ck = HASH(construction); h = HASH(ck || prologue)
  Blake2s256(chainKey_, Bytes(kConstruction), strlen(kConstruction));
  Blake2s256(hash_, chainKey_, kHashSize, Bytes(prologue.data()), prologue.size());
}

std::shared_ptr<const Protocol> Protocol::WireGuard() {
  static const std::shared_ptr<const Protocol> wireguard = std::make_shared<Protocol>(kIdentifier);
  return wireguard;
}

StaticIdentity::StaticIdentity(const uint8_t privateKey[kKeySize]) : key_(privateKey) {}

void Keypair::Clear() {
  Wipe(sendKey, sizeof sendKey);
  Wipe(recvKey, sizeof recvKey);
  localIndex = remoteIndex = 0;
  initiator = false;
}

void InitiationInfo::Clear() {
  Wipe(this, sizeof *this);
}

// ---- responder, device level: e, es, s

HandshakeError ReadNoiseMessage1(const StaticIdentity& local, const uint8_t* body, size_t len, InitiationInfo* out,
                                 const Protocol& protocol) {
  if (!local.Ok()) return HandshakeError::kBadKey;
  if (len < kKeySize + kSealedKeySize + kTagSize || len > kKeySize + kSealedKeySize + kMaxNoisePayload + kTagSize) {
    return HandshakeError::kBadMessage;
  }
  InitiationInfo info;
  Scrub scrubInfo(&info, sizeof info);
  uint8_t k[kKeySize], dh[kKeySize];
  Scrub scrubK(k, sizeof k), scrubDh(dh, sizeof dh);

  memcpy(info.chainKey, protocol.InitialChainKey(), kHashSize);
  // h = HASH(HASH(h0 || our static public) || e)
  if (!Blake2s256(info.hash, protocol.InitialHash(), kHashSize, local.PublicKey(), kKeySize)) return HandshakeError::kCrypto;
  const uint8_t* ephemeral = body;
  memcpy(info.ephemeral, ephemeral, kKeySize);
  if (!MixHash(info.hash, ephemeral, kKeySize) || !MixKey(info.chainKey, ephemeral, kKeySize)) return HandshakeError::kCrypto;
  // es
  if (!local.Dh(ephemeral, dh)) return HandshakeError::kBadKey;
  if (!MixKeyDh(info.chainKey, k, dh)) return HandshakeError::kCrypto;
  // s
  if (!OpenAndHash(k, info.hash, body + kKeySize, kSealedKeySize, info.peerStatic)) return HandshakeError::kDecrypt;
  info.sealedPayloadLen = len - kKeySize - kSealedKeySize;
  memcpy(info.sealedPayload, body + kKeySize + kSealedKeySize, info.sealedPayloadLen);
  memcpy(out, &info, sizeof info);
  return HandshakeError::kNone;
}

HandshakeError ReadInitiation(const StaticIdentity& local, const uint8_t* msg, size_t len, InitiationInfo* out,
                              const Protocol& protocol) {
  if (MessageTypeOf(msg, len) != kMessageInitiation) return HandshakeError::kBadMessage;
  HandshakeError e = ReadNoiseMessage1(local, msg + kInitiationBodyOffset, kInitiationBodySize, out, protocol);
  if (e == HandshakeError::kNone) out->senderIndex = ReadLe32(msg + kSenderOffset);
  return e;
}

// ---- Handshake

Handshake::Handshake(std::shared_ptr<const StaticIdentity> local, const uint8_t remoteStatic[kKeySize],
                     const uint8_t psk[kKeySize], std::shared_ptr<const Protocol> protocol)
    : local_(std::move(local)), protocol_(std::move(protocol)) {
  memcpy(remoteStatic_, remoteStatic, kKeySize);
  SetPresharedKey(psk);
  memset(lastTimestamp_, 0, sizeof lastTimestamp_);
  memset(chainKey_, 0, sizeof chainKey_);
  memset(hash_, 0, sizeof hash_);
  memset(localEphemeral_, 0, sizeof localEphemeral_);
  memset(remoteEphemeral_, 0, sizeof remoteEphemeral_);
  Precompute();
}

Handshake::~Handshake() {
  WipeState();
  Wipe(psk_, sizeof psk_);
  Wipe(staticStatic_, sizeof staticStatic_);
  Wipe(nextEphemeral_, sizeof nextEphemeral_);
}

void Handshake::Precompute() {
  valid_ = local_ != nullptr && local_->Ok() && local_->Dh(remoteStatic_, staticStatic_);
  if (!valid_) Wipe(staticStatic_, sizeof staticStatic_);
  Blake2s256(firstHash_, protocol_->InitialHash(), kHashSize, remoteStatic_, kKeySize);
}

void Handshake::SetLocalIdentity(std::shared_ptr<const StaticIdentity> local) {
  local_ = std::move(local);
  WipeState();
  Precompute();
}

void Handshake::SetPresharedKey(const uint8_t psk[kKeySize]) {
  if (psk != nullptr) {
    memcpy(psk_, psk, kKeySize);
  } else {
    memset(psk_, 0, kKeySize);
  }
}

void Handshake::WipeState() {
  Wipe(chainKey_, sizeof chainKey_);
  Wipe(hash_, sizeof hash_);
  Wipe(localEphemeral_, sizeof localEphemeral_);
  Wipe(remoteEphemeral_, sizeof remoteEphemeral_);
  state_ = HandshakeState::kZeroed;
}

void Handshake::Clear() { WipeState(); }

void Handshake::SetNextEphemeral(const uint8_t priv[kKeySize]) {
  memcpy(nextEphemeral_, priv, kKeySize);
  haveNextEphemeral_ = true;
}

bool Handshake::NewEphemeral(uint8_t priv[kKeySize], uint8_t pub[kKeySize]) {
  if (haveNextEphemeral_) {
    memcpy(priv, nextEphemeral_, kKeySize);
    Wipe(nextEphemeral_, sizeof nextEphemeral_);
    haveNextEphemeral_ = false;
  } else if (!X25519GeneratePrivate(priv)) {
    return false;
  }
  return X25519PublicFromPrivate(priv, pub);
}

HandshakeError Handshake::WriteNoiseMessage1(const uint8_t* payload, size_t n, uint8_t* out, size_t* outLen) {
  if (!valid_) return HandshakeError::kBadKey;
  if (n > kMaxNoisePayload) return HandshakeError::kBadMessage;
  WipeState();
  uint8_t k[kKeySize], dh[kKeySize];
  Scrub scrubK(k, sizeof k), scrubDh(dh, sizeof dh);
  memcpy(chainKey_, protocol_->InitialChainKey(), kHashSize);
  memcpy(hash_, firstHash_, kHashSize);
  // e
  uint8_t* ephemeralPublic = out;
  if (!NewEphemeral(localEphemeral_, ephemeralPublic)) return HandshakeError::kCrypto;
  if (!MixHash(hash_, ephemeralPublic, kKeySize) || !MixKey(chainKey_, ephemeralPublic, kKeySize)) {
    WipeState();
    return HandshakeError::kCrypto;
  }
  // es
  if (!X25519Shared(localEphemeral_, remoteStatic_, dh)) {
    WipeState();
    return HandshakeError::kBadKey;
  }
  // s, ss, payload
  bool ok = MixKeyDh(chainKey_, k, dh) && SealAndHash(k, hash_, local_->PublicKey(), kKeySize, out + kKeySize) &&
            Kdf2(chainKey_, k, chainKey_, kHashSize, staticStatic_, kKeySize) &&
            SealAndHash(k, hash_, payload, n, out + kKeySize + kSealedKeySize);
  if (!ok) {
    WipeState();
    return HandshakeError::kCrypto;
  }
  *outLen = kKeySize + kSealedKeySize + n + kTagSize;
  state_ = HandshakeState::kInitiationCreated;
  return HandshakeError::kNone;
}

HandshakeError Handshake::CreateInitiation(uint32_t localIndex, uint8_t out[kInitiationSize],
                                           const uint8_t timestamp[kTai64nSize]) {
  uint8_t now[kTai64nSize];
  if (timestamp == nullptr) {
    Tai64nNow(now);
    timestamp = now;
  }
  memset(out, 0, kInitiationSize);
  out[0] = kMessageInitiation;
  WriteLe32(out + kSenderOffset, localIndex);
  size_t bodyLen = 0;
  HandshakeError e = WriteNoiseMessage1(timestamp, kTai64nSize, out + kInitiationBodyOffset, &bodyLen);
  if (e != HandshakeError::kNone) {
    memset(out, 0, kInitiationSize);
    return e;
  }
  localIndex_ = localIndex;
  return HandshakeError::kNone;
}

HandshakeError Handshake::ConsumeNoiseMessage1(const InitiationInfo& info, uint8_t* payloadOut, size_t* payloadLen) {
  if (!valid_) return HandshakeError::kBadKey;
  if (!ConstantTimeEqual(info.peerStatic, remoteStatic_, kKeySize)) return HandshakeError::kWrongPeer;
  if (info.sealedPayloadLen < kTagSize || info.sealedPayloadLen > sizeof info.sealedPayload) {
    return HandshakeError::kBadMessage;
  }
  uint8_t ck[kHashSize], h[kHashSize], k[kKeySize];
  Scrub scrubCk(ck, sizeof ck), scrubH(h, sizeof h), scrubK(k, sizeof k);
  memcpy(ck, info.chainKey, kHashSize);
  memcpy(h, info.hash, kHashSize);
  // ss, payload
  if (!Kdf2(ck, k, ck, kHashSize, staticStatic_, kKeySize)) return HandshakeError::kCrypto;
  if (!OpenAndHash(k, h, info.sealedPayload, info.sealedPayloadLen, payloadOut)) return HandshakeError::kDecrypt;
  *payloadLen = info.sealedPayloadLen - kTagSize;
  // Only a complete, authentic message replaces the state of a handshake in progress.
  WipeState();
  memcpy(chainKey_, ck, kHashSize);
  memcpy(hash_, h, kHashSize);
  memcpy(remoteEphemeral_, info.ephemeral, kKeySize);
  remoteIndex_ = info.senderIndex;
  state_ = HandshakeState::kInitiationConsumed;
  return HandshakeError::kNone;
}

HandshakeError Handshake::ConsumeInitiation(const InitiationInfo& info, int64_t nowNs, uint8_t timestampOut[kTai64nSize]) {
  if (!valid_) return HandshakeError::kBadKey;
  if (!ConstantTimeEqual(info.peerStatic, remoteStatic_, kKeySize)) return HandshakeError::kWrongPeer;
  if (info.sealedPayloadLen != kSealedTimestampSize) return HandshakeError::kBadMessage;
  // Decrypt into a copy of the state first: a replayed or flooding initiation must not disturb
  // a handshake in progress.
  uint8_t ck[kHashSize], h[kHashSize], k[kKeySize], timestamp[kTai64nSize];
  Scrub scrubCk(ck, sizeof ck), scrubH(h, sizeof h), scrubK(k, sizeof k);
  memcpy(ck, info.chainKey, kHashSize);
  memcpy(h, info.hash, kHashSize);
  if (!Kdf2(ck, k, ck, kHashSize, staticStatic_, kKeySize)) return HandshakeError::kCrypto;
  if (!OpenAndHash(k, h, info.sealedPayload, info.sealedPayloadLen, timestamp)) return HandshakeError::kDecrypt;
  if (consumedAny_ && !Tai64nAfter(timestamp, lastTimestamp_)) return HandshakeError::kReplay;
  if (consumedAny_ && nowNs - lastInitiationConsumedNs_ <= kInitiationMinIntervalNs) return HandshakeError::kFlood;

  WipeState();
  memcpy(chainKey_, ck, kHashSize);
  memcpy(hash_, h, kHashSize);
  memcpy(remoteEphemeral_, info.ephemeral, kKeySize);
  remoteIndex_ = info.senderIndex;
  memcpy(lastTimestamp_, timestamp, kTai64nSize);
  lastInitiationConsumedNs_ = nowNs;
  consumedAny_ = true;
  if (timestampOut != nullptr) memcpy(timestampOut, timestamp, kTai64nSize);
  state_ = HandshakeState::kInitiationConsumed;
  return HandshakeError::kNone;
}

HandshakeError Handshake::WriteNoiseMessage2(const uint8_t* payload, size_t n, uint8_t* out, size_t* outLen) {
  if (state_ != HandshakeState::kInitiationConsumed) return HandshakeError::kWrongState;
  if (n > kMaxNoisePayload) return HandshakeError::kBadMessage;
  uint8_t k[kKeySize], tau[kHashSize], dh[kKeySize];
  Scrub scrubK(k, sizeof k), scrubTau(tau, sizeof tau), scrubDh(dh, sizeof dh);
  // e
  uint8_t* ephemeralPublic = out;
  if (!NewEphemeral(localEphemeral_, ephemeralPublic)) return HandshakeError::kCrypto;
  bool ok = MixHash(hash_, ephemeralPublic, kKeySize) && MixKey(chainKey_, ephemeralPublic, kKeySize);
  // ee, se
  if (ok && !(X25519Shared(localEphemeral_, remoteEphemeral_, dh) && MixKey(chainKey_, dh, kKeySize) &&
              X25519Shared(localEphemeral_, remoteStatic_, dh) && MixKey(chainKey_, dh, kKeySize))) {
    WipeState();
    return HandshakeError::kBadKey;
  }
  // psk, payload
  ok = ok && Kdf3(chainKey_, tau, k, chainKey_, kHashSize, psk_, kKeySize) && MixHash(hash_, tau, kHashSize) &&
       SealAndHash(k, hash_, payload, n, out + kKeySize);
  if (!ok) {
    WipeState();
    return HandshakeError::kCrypto;
  }
  *outLen = kKeySize + n + kTagSize;
  state_ = HandshakeState::kResponseCreated;
  return HandshakeError::kNone;
}

HandshakeError Handshake::CreateResponse(uint32_t localIndex, uint8_t out[kResponseSize]) {
  memset(out, 0, kResponseSize);
  out[0] = kMessageResponse;
  WriteLe32(out + kSenderOffset, localIndex);
  WriteLe32(out + kResponseReceiverOffset, remoteIndex_);
  size_t bodyLen = 0;
  HandshakeError e = WriteNoiseMessage2(nullptr, 0, out + kResponseBodyOffset, &bodyLen);
  if (e != HandshakeError::kNone) {
    memset(out, 0, kResponseSize);
    return e;
  }
  localIndex_ = localIndex;
  return HandshakeError::kNone;
}

HandshakeError Handshake::ReadNoiseMessage2(const uint8_t* body, size_t len, uint8_t* payloadOut, size_t* payloadLen) {
  if (state_ != HandshakeState::kInitiationCreated) return HandshakeError::kWrongState;
  if (len < kKeySize + kTagSize || len > kKeySize + kMaxNoisePayload + kTagSize) return HandshakeError::kBadMessage;
  // Work on copies: a forged response must leave our initiation usable for the real one.
  uint8_t ck[kHashSize], h[kHashSize], k[kKeySize], tau[kHashSize], dh[kKeySize];
  Scrub scrubCk(ck, sizeof ck), scrubH(h, sizeof h), scrubK(k, sizeof k), scrubTau(tau, sizeof tau),
      scrubDh(dh, sizeof dh);
  memcpy(ck, chainKey_, kHashSize);
  memcpy(h, hash_, kHashSize);
  const uint8_t* ephemeral = body;
  if (!MixHash(h, ephemeral, kKeySize) || !MixKey(ck, ephemeral, kKeySize)) return HandshakeError::kCrypto;
  // ee, se
  if (!X25519Shared(localEphemeral_, ephemeral, dh)) return HandshakeError::kBadKey;
  if (!MixKey(ck, dh, kKeySize)) return HandshakeError::kCrypto;
  if (!local_->Dh(ephemeral, dh)) return HandshakeError::kBadKey;
  if (!MixKey(ck, dh, kKeySize)) return HandshakeError::kCrypto;
  // psk, payload
  if (!Kdf3(ck, tau, k, ck, kHashSize, psk_, kKeySize) || !MixHash(h, tau, kHashSize)) return HandshakeError::kCrypto;
  if (!OpenAndHash(k, h, body + kKeySize, len - kKeySize, payloadOut)) return HandshakeError::kDecrypt;
  *payloadLen = len - kKeySize - kTagSize;
  memcpy(chainKey_, ck, kHashSize);
  memcpy(hash_, h, kHashSize);
  memcpy(remoteEphemeral_, ephemeral, kKeySize);
  state_ = HandshakeState::kResponseConsumed;
  return HandshakeError::kNone;
}

HandshakeError Handshake::ConsumeResponse(const uint8_t* msg, size_t len) {
  if (MessageTypeOf(msg, len) != kMessageResponse) return HandshakeError::kBadMessage;
  if (state_ != HandshakeState::kInitiationCreated || ReadLe32(msg + kResponseReceiverOffset) != localIndex_) {
    return HandshakeError::kWrongState;
  }
  uint8_t none[1];
  size_t payloadLen = 0;
  HandshakeError e = ReadNoiseMessage2(msg + kResponseBodyOffset, kResponseBodySize, none, &payloadLen);
  if (e == HandshakeError::kNone) remoteIndex_ = ReadLe32(msg + kSenderOffset);
  return e;
}

bool Handshake::DeriveKeypair(Keypair* out) {
  bool initiator;
  if (state_ == HandshakeState::kResponseConsumed) {
    initiator = true;
  } else if (state_ == HandshakeState::kResponseCreated) {
    initiator = false;
  } else {
    return false;
  }
  // (T_send_i, T_recv_i) = KDF2(ck, empty); the responder's are the same two, swapped.
  bool ok = initiator ? Kdf2(out->sendKey, out->recvKey, chainKey_, kHashSize, nullptr, 0)
                      : Kdf2(out->recvKey, out->sendKey, chainKey_, kHashSize, nullptr, 0);
  out->localIndex = localIndex_;
  out->remoteIndex = remoteIndex_;
  out->initiator = initiator;
  WipeState();
  if (!ok) out->Clear();
  return ok;
}

}  // namespace wg
}  // namespace tund
