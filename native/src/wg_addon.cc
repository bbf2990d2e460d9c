// N-API bindings of the WireGuard building blocks (wg_crypto, wg_noise, wg_cookie): thin argument
// checking and Buffer conversion, no logic of their own. Fallible handshake steps return the
// value on success and the error's name (HandshakeErrorName: "decrypt", "replay", ...) on
// failure. Times are milliseconds on the monotonic clock (monotonicMs()), optional everywhere. Exported as `exports.wg` (native/index.ts
// describes every function). Used by the known-answer tests, tunauth (keys, probe) and the JS
// handshake driver; the packet path calls the C++ classes directly.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>

#include <arpa/inet.h>

#include "mono_clock.h"
#include "wg_cookie.h"
#include "wg_crypto.h"
#include "wg_noise.h"

namespace tund {
namespace {

using namespace tund::wg;

// Throws a TypeError/RangeError naming the function; returns false so callers can `return`.
bool Fail(Napi::Env env, const std::string& message, bool range = false) {
  if (range) {
    Napi::RangeError::New(env, message).ThrowAsJavaScriptException();
  } else {
    Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  }
  return false;
}

// A Buffer argument, optionally of an exact length.
bool BufferArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, size_t exact,
               Napi::Buffer<uint8_t>* out) {
  if (info.Length() <= i || !info[i].IsBuffer()) {
    return Fail(info.Env(), std::string(fn) + ": " + what + " must be a Buffer");
  }
  *out = info[i].As<Napi::Buffer<uint8_t>>();
  if (exact != 0 && out->Length() != exact) {
    return Fail(info.Env(), std::string(fn) + ": " + what + " must be " + std::to_string(exact) + " bytes", true);
  }
  return true;
}

// An optional Buffer argument (undefined or null gives an empty view).
bool OptionalBufferArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what,
                       const uint8_t** data, size_t* len) {
  *data = nullptr;
  *len = 0;
  if (info.Length() <= i || info[i].IsUndefined() || info[i].IsNull()) return true;
  if (!info[i].IsBuffer()) return Fail(info.Env(), std::string(fn) + ": " + what + " must be a Buffer");
  auto b = info[i].As<Napi::Buffer<uint8_t>>();
  *data = b.Data();
  *len = b.Length();
  return true;
}

// A non-negative integer below 2^64 given as a number or bigint.
bool CounterArg(const Napi::CallbackInfo& info, size_t i, const char* fn, uint64_t* out) {
  if (info.Length() > i && info[i].IsBigInt()) {
    bool lossless = false;
    *out = info[i].As<Napi::BigInt>().Uint64Value(&lossless);
    if (!lossless) return Fail(info.Env(), std::string(fn) + ": counter out of range", true);
    return true;
  }
  if (info.Length() > i && info[i].IsNumber()) {
    double d = info[i].As<Napi::Number>().DoubleValue();
    if (d < 0 || d > 9007199254740991.0 || d != static_cast<double>(static_cast<uint64_t>(d))) {
      return Fail(info.Env(), std::string(fn) + ": counter must be a non-negative integer", true);
    }
    *out = static_cast<uint64_t>(d);
    return true;
  }
  return Fail(info.Env(), std::string(fn) + ": counter must be a number or bigint");
}

Napi::Value CryptoFailure(Napi::Env env, const char* fn) {
  Napi::Error::New(env, std::string(fn) + ": OpenSSL failed").ThrowAsJavaScriptException();
  return env.Undefined();
}

// ---- X25519

Napi::Value GeneratePrivateKey(const Napi::CallbackInfo& info) {
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), kKeySize);
  if (!X25519GeneratePrivate(out.Data())) return CryptoFailure(info.Env(), "generatePrivateKey");
  return out;
}

Napi::Value PublicKey(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> priv;
  if (!BufferArg(info, 0, "publicKey", "privateKey", kKeySize, &priv)) return info.Env().Undefined();
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), kKeySize);
  if (!X25519PublicFromPrivate(priv.Data(), out.Data())) return CryptoFailure(info.Env(), "publicKey");
  return out;
}

// x25519(priv, pub) -> shared secret, or null when it is all zeros.
Napi::Value SharedSecret(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> priv, pub;
  if (!BufferArg(info, 0, "x25519", "privateKey", kKeySize, &priv) ||
      !BufferArg(info, 1, "x25519", "publicKey", kKeySize, &pub)) {
    return info.Env().Undefined();
  }
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), kKeySize);
  if (!X25519Shared(priv.Data(), pub.Data(), out.Data())) return info.Env().Null();
  return out;
}

// ---- BLAKE2s, MAC, HMAC, KDF

Napi::Value Hash(const Napi::CallbackInfo& info) {
  // hash(...parts): BLAKE2s-256 over the concatenation, through the incremental interface.
  Blake2s h;
  for (size_t i = 0; i < info.Length(); i++) {
    Napi::Buffer<uint8_t> part;
    if (!BufferArg(info, i, "blake2s", "every part", 0, &part)) return info.Env().Undefined();
    if (!h.Update(part.Data(), part.Length())) return CryptoFailure(info.Env(), "blake2s");
  }
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), kHashSize);
  if (!h.Final(out.Data())) return CryptoFailure(info.Env(), "blake2s");
  return out;
}

Napi::Value HashOneShot(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> a;
  if (!BufferArg(info, 0, "blake2sOneShot", "data", 0, &a)) return info.Env().Undefined();
  const uint8_t* b;
  size_t bLen;
  if (!OptionalBufferArg(info, 1, "blake2sOneShot", "second part", &b, &bLen)) return info.Env().Undefined();
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), kHashSize);
  if (!Blake2s256(out.Data(), a.Data(), a.Length(), b, bLen)) return CryptoFailure(info.Env(), "blake2sOneShot");
  return out;
}

Napi::Value Mac(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> key, data;
  if (!BufferArg(info, 0, "mac", "key", 0, &key) || !BufferArg(info, 1, "mac", "data", 0, &data)) {
    return info.Env().Undefined();
  }
  if (key.Length() < 1 || key.Length() > 32) {
    Fail(info.Env(), "mac: key must be 1..32 bytes", true);
    return info.Env().Undefined();
  }
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), kMacSize);
  if (!Blake2sMac128(out.Data(), key.Data(), key.Length(), data.Data(), data.Length())) {
    return CryptoFailure(info.Env(), "mac");
  }
  return out;
}

Napi::Value Hmac(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> key, data;
  if (!BufferArg(info, 0, "hmac", "key", 0, &key) || !BufferArg(info, 1, "hmac", "data", 0, &data)) {
    return info.Env().Undefined();
  }
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), kHashSize);
  if (!HmacBlake2s(out.Data(), key.Data(), key.Length(), data.Data(), data.Length())) {
    return CryptoFailure(info.Env(), "hmac");
  }
  return out;
}

// kdf(n, key, input) -> [t1..tn]
Napi::Value Kdf(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Fail(env, "kdf: n must be 1, 2 or 3");
    return env.Undefined();
  }
  int n = info[0].As<Napi::Number>().Int32Value();
  Napi::Buffer<uint8_t> key, input;
  if (n < 1 || n > 3) {
    Fail(env, "kdf: n must be 1, 2 or 3", true);
    return env.Undefined();
  }
  if (!BufferArg(info, 1, "kdf", "key", 0, &key) || !BufferArg(info, 2, "kdf", "input", 0, &input)) {
    return env.Undefined();
  }
  uint8_t t[3][kHashSize];
  bool ok = n == 1   ? Kdf1(t[0], key.Data(), key.Length(), input.Data(), input.Length())
            : n == 2 ? Kdf2(t[0], t[1], key.Data(), key.Length(), input.Data(), input.Length())
                     : Kdf3(t[0], t[1], t[2], key.Data(), key.Length(), input.Data(), input.Length());
  if (!ok) return CryptoFailure(env, "kdf");
  auto arr = Napi::Array::New(env, n);
  for (int i = 0; i < n; i++) arr.Set(i, Napi::Buffer<uint8_t>::Copy(env, t[i], kHashSize));
  Wipe(t, sizeof t);
  return arr;
}

// ---- TAI64N

// tai64n() -> now (whitened); tai64n(seconds, nanoseconds) -> that instant.
Napi::Value Tai64n(const Napi::CallbackInfo& info) {
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), kTai64nSize);
  if (info.Length() >= 2 && info[0].IsNumber() && info[1].IsNumber()) {
    Tai64nFromUnix(info[0].As<Napi::Number>().Int64Value(), info[1].As<Napi::Number>().Uint32Value(), out.Data());
  } else if (info.Length() == 0) {
    Tai64nNow(out.Data());
  } else {
    Fail(info.Env(), "tai64n(seconds?: number, nanoseconds?: number)");
    return info.Env().Undefined();
  }
  return out;
}

// ---- AEAD

// aeadSeal(key, nonceOrCounter, plaintext, aad?) / aeadOpen(...): nonce is a 12-byte Buffer or a
// counter (number | bigint, WireGuard's nonce). Open returns null when the tag does not verify.
Napi::Value AeadCommon(const Napi::CallbackInfo& info, bool seal, bool extended) {
  Napi::Env env = info.Env();
  const char* fn = extended ? (seal ? "xaeadSeal" : "xaeadOpen") : (seal ? "aeadSeal" : "aeadOpen");
  Napi::Buffer<uint8_t> key, in;
  if (!BufferArg(info, 0, fn, "key", kKeySize, &key)) return env.Undefined();
  uint8_t nonce[kXNonceSize];
  if (extended) {
    Napi::Buffer<uint8_t> n;
    if (!BufferArg(info, 1, fn, "nonce", kXNonceSize, &n)) return env.Undefined();
    memcpy(nonce, n.Data(), kXNonceSize);
  } else if (info.Length() > 1 && info[1].IsBuffer()) {
    Napi::Buffer<uint8_t> n;
    if (!BufferArg(info, 1, fn, "nonce", kNonceSize, &n)) return env.Undefined();
    memcpy(nonce, n.Data(), kNonceSize);
  } else {
    uint64_t counter;
    if (!CounterArg(info, 1, fn, &counter)) return env.Undefined();
    CounterNonce(counter, nonce);
  }
  if (!BufferArg(info, 2, fn, seal ? "plaintext" : "ciphertext", 0, &in)) return env.Undefined();
  const uint8_t* aad;
  size_t aadLen;
  if (!OptionalBufferArg(info, 3, fn, "aad", &aad, &aadLen)) return env.Undefined();
  if (!seal && in.Length() < kTagSize) return env.Null();
  size_t outLen = seal ? in.Length() + kTagSize : in.Length() - kTagSize;
  auto out = Napi::Buffer<uint8_t>::New(env, outLen);
  bool ok = extended ? (seal ? XAeadSeal : XAeadOpen)(key.Data(), nonce, aad, aadLen, in.Data(), in.Length(), out.Data())
                     : (seal ? AeadSeal : AeadOpen)(key.Data(), nonce, aad, aadLen, in.Data(), in.Length(), out.Data());
  if (!ok) return seal ? CryptoFailure(env, fn) : env.Null();
  return out;
}
Napi::Value AeadSealJs(const Napi::CallbackInfo& info) { return AeadCommon(info, true, false); }
Napi::Value AeadOpenJs(const Napi::CallbackInfo& info) { return AeadCommon(info, false, false); }
Napi::Value XAeadSealJs(const Napi::CallbackInfo& info) { return AeadCommon(info, true, true); }
Napi::Value XAeadOpenJs(const Napi::CallbackInfo& info) { return AeadCommon(info, false, true); }

Napi::Value HChaCha20Js(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> key, nonce;
  if (!BufferArg(info, 0, "hchacha20", "key", kKeySize, &key) ||
      !BufferArg(info, 1, "hchacha20", "nonce", kHChaChaNonceSize, &nonce)) {
    return info.Env().Undefined();
  }
  auto out = Napi::Buffer<uint8_t>::New(info.Env(), kKeySize);
  HChaCha20(key.Data(), nonce.Data(), out.Data());
  return out;
}

// The reusable per-key AEAD (what the transport uses): new Aead(key); seal(counter, buf, aad?) and
// open(counter, buf, aad?) return new Buffers; sealInPlace(counter, buf, len, aad?) encrypts
// buf[0:len] in place and writes the tag at buf[len:len+16] (the engine's usage), openInPlace
// likewise; both return the output length or -1.
// An optional backend argument: "evp" (also when absent) or "direct".
bool BackendArg(const Napi::CallbackInfo& info, size_t i, const char* fn, AeadBackend* backend) {
  *backend = AeadBackend::Evp;
  if (info.Length() <= i || info[i].IsUndefined()) return true;
  std::string name = info[i].IsString() ? info[i].As<Napi::String>().Utf8Value() : std::string();
  if (name == "evp" || name == "direct") {
    *backend = name == "direct" ? AeadBackend::Direct : AeadBackend::Evp;
    return true;
  }
  Fail(info.Env(), std::string(fn) + ": backend must be \"evp\" or \"direct\"");
  return false;
}

class AeadObject : public Napi::ObjectWrap<AeadObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Aead",
                       {InstanceMethod("seal", &AeadObject::Seal), InstanceMethod("open", &AeadObject::Open),
                        InstanceMethod("sealInPlace", &AeadObject::SealInPlace),
                        InstanceMethod("openInPlace", &AeadObject::OpenInPlace),
                        InstanceMethod("sealWithScratch", &AeadObject::SealWithScratch)});
  }
  explicit AeadObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AeadObject>(info) {
    Napi::Buffer<uint8_t> key;
    if (!BufferArg(info, 0, "Aead", "key", kKeySize, &key)) return;
    AeadBackend backend = AeadBackend::Evp;
    if (!BackendArg(info, 1, "Aead", &backend)) return;
    aead_.reset(new ChaCha20Poly1305(key.Data(), backend));
    if (!aead_->Ok()) CryptoFailure(info.Env(), "Aead");
  }

 private:
  Napi::Value Seal(const Napi::CallbackInfo& info) { return Copying(info, true); }
  Napi::Value Open(const Napi::CallbackInfo& info) { return Copying(info, false); }
  Napi::Value SealInPlace(const Napi::CallbackInfo& info) { return InPlace(info, true); }
  Napi::Value OpenInPlace(const Napi::CallbackInfo& info) { return InPlace(info, false); }

  Napi::Value Copying(const Napi::CallbackInfo& info, bool seal) {
    Napi::Env env = info.Env();
    const char* fn = seal ? "Aead.seal" : "Aead.open";
    uint64_t counter;
    Napi::Buffer<uint8_t> in;
    const uint8_t* aad;
    size_t aadLen;
    if (!aead_ || !CounterArg(info, 0, fn, &counter) || !BufferArg(info, 1, fn, "data", 0, &in) ||
        !OptionalBufferArg(info, 2, fn, "aad", &aad, &aadLen)) {
      return env.Undefined();
    }
    if (!seal && in.Length() < kTagSize) return env.Null();
    auto out = Napi::Buffer<uint8_t>::New(env, seal ? in.Length() + kTagSize : in.Length() - kTagSize);
    bool ok = seal ? aead_->Seal(counter, aad, aadLen, in.Data(), in.Length(), out.Data())
                   : aead_->Open(counter, aad, aadLen, in.Data(), in.Length(), out.Data());
    if (!ok) return seal ? CryptoFailure(env, fn) : env.Null();
    return out;
  }

  Napi::Value InPlace(const Napi::CallbackInfo& info, bool seal) {
    Napi::Env env = info.Env();
    const char* fn = seal ? "Aead.sealInPlace" : "Aead.openInPlace";
    uint64_t counter;
    Napi::Buffer<uint8_t> buf;
    const uint8_t* aad;
    size_t aadLen;
    if (!aead_ || !CounterArg(info, 0, fn, &counter) || !BufferArg(info, 1, fn, "buffer", 0, &buf)) {
      return env.Undefined();
    }
    if (info.Length() < 3 || !info[2].IsNumber()) {
      Fail(env, std::string(fn) + ": length must be a number");
      return env.Undefined();
    }
    int64_t len = info[2].As<Napi::Number>().Int64Value();
    if (!OptionalBufferArg(info, 3, fn, "aad", &aad, &aadLen)) return env.Undefined();
    size_t need = seal ? static_cast<size_t>(len) + kTagSize : static_cast<size_t>(len);
    if (len < 0 || need > buf.Length() || (!seal && static_cast<size_t>(len) < kTagSize)) {
      Fail(env, std::string(fn) + ": length does not fit the buffer", true);
      return env.Undefined();
    }
    bool ok = seal ? aead_->Seal(counter, aad, aadLen, buf.Data(), static_cast<size_t>(len), buf.Data())
                   : aead_->Open(counter, aad, aadLen, buf.Data(), static_cast<size_t>(len), buf.Data());
    if (!ok) return Napi::Number::New(env, -1);
    return Napi::Number::New(env, static_cast<double>(seal ? len + kTagSize : len - kTagSize));
  }

  // sealWithScratch(counter, buffer, offset, length) -> length + 16: the engine's seal, in place at
  // offset with the 64 bytes before it as scratch (wiped).
  Napi::Value SealWithScratch(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    const char* fn = "Aead.sealWithScratch";
    uint64_t counter;
    Napi::Buffer<uint8_t> buf;
    if (!aead_ || !CounterArg(info, 0, fn, &counter) || !BufferArg(info, 1, fn, "buffer", 0, &buf)) {
      return env.Undefined();
    }
    if (info.Length() < 4 || !info[2].IsNumber() || !info[3].IsNumber()) {
      Fail(env, std::string(fn) + ": offset and length must be numbers");
      return env.Undefined();
    }
    int64_t offset = info[2].As<Napi::Number>().Int64Value(), len = info[3].As<Napi::Number>().Int64Value();
    if (offset < static_cast<int64_t>(ChaCha20Poly1305::kSealScratch) || len < 0 ||
        static_cast<uint64_t>(offset + len) + kTagSize > buf.Length()) {
      Fail(env, std::string(fn) + ": offset and length do not fit the buffer (64 bytes of scratch before)", true);
      return env.Undefined();
    }
    if (!aead_->SealWithScratch(counter, buf.Data() + offset, static_cast<size_t>(len))) return CryptoFailure(env, fn);
    return Napi::Number::New(env, static_cast<double>(len + kTagSize));
  }

  std::unique_ptr<ChaCha20Poly1305> aead_;
};


// ---- handshake and cookies

// Optional time argument in monotonic milliseconds -> nanoseconds (default: now).
bool NowArg(const Napi::CallbackInfo& info, size_t i, const char* fn, int64_t* out) {
  if (info.Length() <= i || info[i].IsUndefined()) {
    *out = MonotonicNanos();
    return true;
  }
  if (!info[i].IsNumber()) return Fail(info.Env(), std::string(fn) + ": now must be a number (monotonic ms)");
  *out = static_cast<int64_t>(info[i].As<Napi::Number>().DoubleValue() * 1e6);
  return true;
}

bool IndexArg(const Napi::CallbackInfo& info, size_t i, const char* fn, uint32_t* out) {
  if (info.Length() <= i || !info[i].IsNumber()) return Fail(info.Env(), std::string(fn) + ": index must be a number");
  double d = info[i].As<Napi::Number>().DoubleValue();
  if (d < 0 || d > 4294967295.0 || d != static_cast<double>(static_cast<uint32_t>(d))) {
    return Fail(info.Env(), std::string(fn) + ": index must be an integer 0..2^32-1", true);
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

// An IP address text and a port -> SourceAddress.
bool SourceArg(const Napi::CallbackInfo& info, size_t i, const char* fn, SourceAddress* out) {
  if (info.Length() <= i + 1 || !info[i].IsString() || !info[i + 1].IsNumber()) {
    return Fail(info.Env(), std::string(fn) + ": expected an address string and a port");
  }
  std::string addr = info[i].As<Napi::String>().Utf8Value();
  int port = info[i + 1].As<Napi::Number>().Int32Value();
  uint8_t ip[16];
  bool ok = false;
  if (port >= 0 && port <= 65535) {
    if (inet_pton(AF_INET, addr.c_str(), ip) == 1) {
      ok = SourceFromBytes(ip, 4, static_cast<uint16_t>(port), out);
    } else if (inet_pton(AF_INET6, addr.c_str(), ip) == 1) {
      ok = SourceFromBytes(ip, 16, static_cast<uint16_t>(port), out);
    }
  }
  if (!ok) return Fail(info.Env(), std::string(fn) + ": bad address \"" + addr + "\" or port", true);
  return true;
}

Napi::Value ErrorName(Napi::Env env, HandshakeError e) { return Napi::String::New(env, HandshakeErrorName(e)); }

const char* StateName(HandshakeState s) {
  switch (s) {
    case HandshakeState::kZeroed: return "zeroed";
    case HandshakeState::kInitiationCreated: return "initiation_created";
    case HandshakeState::kInitiationConsumed: return "initiation_consumed";
    case HandshakeState::kResponseCreated: return "response_created";
    case HandshakeState::kResponseConsumed: return "response_consumed";
  }
  return "unknown";
}

// Type tags tell our wrapped objects apart when they come back as arguments.
const napi_type_tag kIdentityTag = {0x7e1a6c1e5b9d4c01ULL, 0x9a3f0c2d4b5e6f71ULL};
const napi_type_tag kInitiationTag = {0x7e1a6c1e5b9d4c02ULL, 0x9a3f0c2d4b5e6f72ULL};

class IdentityObject : public Napi::ObjectWrap<IdentityObject> {
 public:
  static Napi::Function Define(Napi::Env env);
  explicit IdentityObject(const Napi::CallbackInfo& info);
  std::shared_ptr<const StaticIdentity> identity;

 private:
  Napi::Value PublicKeyGetter(const Napi::CallbackInfo& info) {
    if (!identity) return info.Env().Undefined();
    return Napi::Buffer<uint8_t>::Copy(info.Env(), identity->PublicKey(), kKeySize);
  }
  Napi::Value ReadInitiation(const Napi::CallbackInfo& info);
  Napi::Value ReadNoiseMessage1(const Napi::CallbackInfo& info);
  std::shared_ptr<const Protocol> protocol_;
};

// The opaque result of Identity.readInitiation: the initiator's static key and sender index in
// the open, the rest (handshake secrets) stays native and is wiped when consumed or collected.
class InitiationObject : public Napi::ObjectWrap<InitiationObject> {
 public:
  static Napi::FunctionReference* constructor;
  static Napi::Function Define(Napi::Env env) {
    Napi::Function f = DefineClass(env, "Initiation",
                                   {InstanceAccessor("peerPublicKey", &InitiationObject::Peer, nullptr),
                                    InstanceAccessor("senderIndex", &InitiationObject::Sender, nullptr)});
    constructor = new Napi::FunctionReference(Napi::Persistent(f));
    return f;
  }
  explicit InitiationObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<InitiationObject>(info) {
    info.This().As<Napi::Object>().TypeTag(&kInitiationTag);
  }
  ~InitiationObject() { data.Clear(); }
  InitiationInfo data;
  bool used = false;

 private:
  Napi::Value Peer(const Napi::CallbackInfo& info) {
    return Napi::Buffer<uint8_t>::Copy(info.Env(), data.peerStatic, kKeySize);
  }
  Napi::Value Sender(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), data.senderIndex); }
};
Napi::FunctionReference* InitiationObject::constructor = nullptr;

Napi::Function IdentityObject::Define(Napi::Env env) {
  return DefineClass(env, "Identity",
                     {InstanceAccessor("publicKey", &IdentityObject::PublicKeyGetter, nullptr),
                      InstanceMethod("readInitiation", &IdentityObject::ReadInitiation),
                      InstanceMethod("readNoiseMessage1", &IdentityObject::ReadNoiseMessage1)});
}

// new Identity(privateKey, prologue?): prologue only for the Noise test vectors.
IdentityObject::IdentityObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IdentityObject>(info) {
  Napi::Buffer<uint8_t> priv;
  if (!BufferArg(info, 0, "Identity", "privateKey", kKeySize, &priv)) return;
  protocol_ = Protocol::WireGuard();
  if (info.Length() > 1 && info[1].IsString()) {
    protocol_ = std::make_shared<Protocol>(info[1].As<Napi::String>().Utf8Value());
  }
  auto id = std::make_shared<StaticIdentity>(priv.Data());
  if (!id->Ok()) {
    CryptoFailure(info.Env(), "Identity");
    return;
  }
  identity = id;
  info.This().As<Napi::Object>().TypeTag(&kIdentityTag);
}

Napi::Value IdentityObject::ReadInitiation(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> msg;
  if (!BufferArg(info, 0, "readInitiation", "message", 0, &msg)) return info.Env().Undefined();
  Napi::Object obj = InitiationObject::constructor->New({});
  InitiationObject* init = InitiationObject::Unwrap(obj);
  HandshakeError e = wg::ReadInitiation(*identity, msg.Data(), msg.Length(), &init->data, *protocol_);
  if (e != HandshakeError::kNone) return ErrorName(info.Env(), e);
  return obj;
}

Napi::Value IdentityObject::ReadNoiseMessage1(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> body;
  if (!BufferArg(info, 0, "readNoiseMessage1", "message", 0, &body)) return info.Env().Undefined();
  Napi::Object obj = InitiationObject::constructor->New({});
  InitiationObject* init = InitiationObject::Unwrap(obj);
  HandshakeError e = wg::ReadNoiseMessage1(*identity, body.Data(), body.Length(), &init->data, *protocol_);
  if (e != HandshakeError::kNone) return ErrorName(info.Env(), e);
  return obj;
}

bool IdentityArg(const Napi::CallbackInfo& info, size_t i, const char* fn, IdentityObject** out) {
  if (info.Length() <= i || !info[i].IsObject() || !info[i].As<Napi::Object>().CheckTypeTag(&kIdentityTag)) {
    return Fail(info.Env(), std::string(fn) + ": expected a wg.Identity");
  }
  *out = IdentityObject::Unwrap(info[i].As<Napi::Object>());
  return true;
}

bool InitiationArg(const Napi::CallbackInfo& info, size_t i, const char* fn, InitiationObject** out) {
  if (info.Length() <= i || !info[i].IsObject() || !info[i].As<Napi::Object>().CheckTypeTag(&kInitiationTag)) {
    return Fail(info.Env(), std::string(fn) + ": expected the result of readInitiation");
  }
  *out = InitiationObject::Unwrap(info[i].As<Napi::Object>());
  return true;
}

// Optional 32-byte key: undefined/null -> nullptr.
bool OptionalKeyArg(const Napi::CallbackInfo& info, size_t i, const char* fn, const char* what, const uint8_t** out) {
  const uint8_t* data;
  size_t len;
  if (!OptionalBufferArg(info, i, fn, what, &data, &len)) return false;
  if (data != nullptr && len != kKeySize) return Fail(info.Env(), std::string(fn) + ": " + what + " must be 32 bytes", true);
  *out = data;
  return true;
}

class HandshakeObject : public Napi::ObjectWrap<HandshakeObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(
        env, "Handshake",
        {InstanceAccessor("valid", &HandshakeObject::ValidGetter, nullptr),
         InstanceAccessor("state", &HandshakeObject::StateGetter, nullptr),
         InstanceAccessor("remotePublicKey", &HandshakeObject::RemoteGetter, nullptr),
         InstanceAccessor("localIndex", &HandshakeObject::LocalIndexGetter, nullptr),
         InstanceAccessor("remoteIndex", &HandshakeObject::RemoteIndexGetter, nullptr),
         InstanceMethod("setIdentity", &HandshakeObject::SetIdentity),
         InstanceMethod("setPresharedKey", &HandshakeObject::SetPsk),
         InstanceMethod("createInitiation", &HandshakeObject::CreateInitiation),
         InstanceMethod("consumeInitiation", &HandshakeObject::ConsumeInitiation),
         InstanceMethod("createResponse", &HandshakeObject::CreateResponse),
         InstanceMethod("consumeResponse", &HandshakeObject::ConsumeResponse),
         InstanceMethod("deriveKeypair", &HandshakeObject::DeriveKeypair),
         InstanceMethod("clear", &HandshakeObject::Clear),
         InstanceMethod("handshakeHash", &HandshakeObject::HashGetter),
         InstanceMethod("setNextEphemeral", &HandshakeObject::SetNextEphemeral),
         InstanceMethod("writeNoiseMessage1", &HandshakeObject::WriteNoise1),
         InstanceMethod("consumeNoiseMessage1", &HandshakeObject::ConsumeNoise1),
         InstanceMethod("writeNoiseMessage2", &HandshakeObject::WriteNoise2),
         InstanceMethod("readNoiseMessage2", &HandshakeObject::ReadNoise2)});
  }

  // new Handshake(identity, remotePublicKey, presharedKey?, prologue?)
  explicit HandshakeObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<HandshakeObject>(info) {
    IdentityObject* id;
    Napi::Buffer<uint8_t> remote;
    const uint8_t* psk = nullptr;
    if (!IdentityArg(info, 0, "Handshake", &id) || !BufferArg(info, 1, "Handshake", "remotePublicKey", kKeySize, &remote) ||
        !OptionalKeyArg(info, 2, "Handshake", "presharedKey", &psk)) {
      return;
    }
    auto protocol = Protocol::WireGuard();
    if (info.Length() > 3 && info[3].IsString()) {
      protocol = std::make_shared<Protocol>(info[3].As<Napi::String>().Utf8Value());
    }
    hs_.reset(new Handshake(id->identity, remote.Data(), psk, protocol));
  }

 private:
  bool Ready(const Napi::CallbackInfo& info) {
    if (hs_) return true;
    return Fail(info.Env(), "Handshake: not constructed");
  }
  Napi::Value ValidGetter(const Napi::CallbackInfo& info) { return Napi::Boolean::New(info.Env(), hs_ && hs_->Valid()); }
  Napi::Value StateGetter(const Napi::CallbackInfo& info) {
    return Napi::String::New(info.Env(), hs_ ? StateName(hs_->State()) : "zeroed");
  }
  Napi::Value RemoteGetter(const Napi::CallbackInfo& info) {
    if (!Ready(info)) return info.Env().Undefined();
    return Napi::Buffer<uint8_t>::Copy(info.Env(), hs_->RemoteStatic(), kKeySize);
  }
  Napi::Value LocalIndexGetter(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), hs_ ? hs_->LocalIndex() : 0); }
  Napi::Value RemoteIndexGetter(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), hs_ ? hs_->RemoteIndex() : 0); }
  Napi::Value HashGetter(const Napi::CallbackInfo& info) {
    if (!Ready(info)) return info.Env().Undefined();
    return Napi::Buffer<uint8_t>::Copy(info.Env(), hs_->HandshakeHash(), kHashSize);
  }

  Napi::Value SetIdentity(const Napi::CallbackInfo& info) {
    IdentityObject* id;
    if (Ready(info) && IdentityArg(info, 0, "setIdentity", &id)) hs_->SetLocalIdentity(id->identity);
    return info.Env().Undefined();
  }
  Napi::Value SetPsk(const Napi::CallbackInfo& info) {
    const uint8_t* psk = nullptr;
    if (Ready(info) && OptionalKeyArg(info, 0, "setPresharedKey", "presharedKey", &psk)) hs_->SetPresharedKey(psk);
    return info.Env().Undefined();
  }

  // createInitiation(localIndex, timestamp?) -> 148-byte message (mac1/mac2 zero) | error name
  Napi::Value CreateInitiation(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t index;
    const uint8_t* ts = nullptr;
    size_t tsLen = 0;
    if (!Ready(info) || !IndexArg(info, 0, "createInitiation", &index) ||
        !OptionalBufferArg(info, 1, "createInitiation", "timestamp", &ts, &tsLen)) {
      return env.Undefined();
    }
    if (ts != nullptr && tsLen != kTai64nSize) {
      Fail(env, "createInitiation: timestamp must be 12 bytes", true);
      return env.Undefined();
    }
    auto out = Napi::Buffer<uint8_t>::New(env, kInitiationSize);
    HandshakeError e = hs_->CreateInitiation(index, out.Data(), ts);
    if (e != HandshakeError::kNone) return ErrorName(env, e);
    return out;
  }

  // consumeInitiation(initiation, nowMs?) -> the TAI64N timestamp | error name
  Napi::Value ConsumeInitiation(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    InitiationObject* init;
    int64_t now;
    if (!Ready(info) || !InitiationArg(info, 0, "consumeInitiation", &init) || !NowArg(info, 1, "consumeInitiation", &now)) {
      return env.Undefined();
    }
    uint8_t ts[kTai64nSize];
    HandshakeError e = hs_->ConsumeInitiation(init->data, now, ts);
    if (e != HandshakeError::kNone) return ErrorName(env, e);
    return Napi::Buffer<uint8_t>::Copy(env, ts, kTai64nSize);
  }

  Napi::Value CreateResponse(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t index;
    if (!Ready(info) || !IndexArg(info, 0, "createResponse", &index)) return env.Undefined();
    auto out = Napi::Buffer<uint8_t>::New(env, kResponseSize);
    HandshakeError e = hs_->CreateResponse(index, out.Data());
    if (e != HandshakeError::kNone) return ErrorName(env, e);
    return out;
  }

  // consumeResponse(message) -> null | error name
  Napi::Value ConsumeResponse(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Buffer<uint8_t> msg;
    if (!Ready(info) || !BufferArg(info, 0, "consumeResponse", "message", 0, &msg)) return env.Undefined();
    HandshakeError e = hs_->ConsumeResponse(msg.Data(), msg.Length());
    if (e != HandshakeError::kNone) return ErrorName(env, e);
    return env.Null();
  }

  // deriveKeypair() -> { sendKey, recvKey, localIndex, remoteIndex, initiator } | null
  Napi::Value DeriveKeypair(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!Ready(info)) return env.Undefined();
    Keypair kp;
    if (!hs_->DeriveKeypair(&kp)) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("sendKey", Napi::Buffer<uint8_t>::Copy(env, kp.sendKey, kKeySize));
    o.Set("recvKey", Napi::Buffer<uint8_t>::Copy(env, kp.recvKey, kKeySize));
    o.Set("localIndex", Napi::Number::New(env, kp.localIndex));
    o.Set("remoteIndex", Napi::Number::New(env, kp.remoteIndex));
    o.Set("initiator", Napi::Boolean::New(env, kp.initiator));
    kp.Clear();
    return o;
  }

  Napi::Value Clear(const Napi::CallbackInfo& info) {
    if (Ready(info)) hs_->Clear();
    return info.Env().Undefined();
  }

  Napi::Value SetNextEphemeral(const Napi::CallbackInfo& info) {
    Napi::Buffer<uint8_t> priv;
    if (Ready(info) && BufferArg(info, 0, "setNextEphemeral", "privateKey", kKeySize, &priv)) hs_->SetNextEphemeral(priv.Data());
    return info.Env().Undefined();
  }

  Napi::Value WriteNoise(const Napi::CallbackInfo& info, bool first) {
    Napi::Env env = info.Env();
    const char* fn = first ? "writeNoiseMessage1" : "writeNoiseMessage2";
    Napi::Buffer<uint8_t> payload;
    if (!Ready(info) || !BufferArg(info, 0, fn, "payload", 0, &payload)) return env.Undefined();
    uint8_t out[kKeySize + kKeySize + kTagSize + kMaxNoisePayload + kTagSize];
    size_t outLen = 0;
    HandshakeError e = first ? hs_->WriteNoiseMessage1(payload.Data(), payload.Length(), out, &outLen)
                             : hs_->WriteNoiseMessage2(payload.Data(), payload.Length(), out, &outLen);
    if (e != HandshakeError::kNone) return ErrorName(env, e);
    return Napi::Buffer<uint8_t>::Copy(env, out, outLen);
  }
  Napi::Value WriteNoise1(const Napi::CallbackInfo& info) { return WriteNoise(info, true); }
  Napi::Value WriteNoise2(const Napi::CallbackInfo& info) { return WriteNoise(info, false); }

  Napi::Value ConsumeNoise1(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    InitiationObject* init;
    if (!Ready(info) || !InitiationArg(info, 0, "consumeNoiseMessage1", &init)) return env.Undefined();
    uint8_t payload[kMaxNoisePayload];
    size_t n = 0;
    HandshakeError e = hs_->ConsumeNoiseMessage1(init->data, payload, &n);
    if (e != HandshakeError::kNone) return ErrorName(env, e);
    return Napi::Buffer<uint8_t>::Copy(env, payload, n);
  }

  Napi::Value ReadNoise2(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Buffer<uint8_t> body;
    if (!Ready(info) || !BufferArg(info, 0, "readNoiseMessage2", "message", 0, &body)) return env.Undefined();
    uint8_t payload[kMaxNoisePayload];
    size_t n = 0;
    HandshakeError e = hs_->ReadNoiseMessage2(body.Data(), body.Length(), payload, &n);
    if (e != HandshakeError::kNone) return ErrorName(env, e);
    return Napi::Buffer<uint8_t>::Copy(env, payload, n);
  }

  std::unique_ptr<Handshake> hs_;
};

// new CookieChecker(localPublicKey?): one per device; owns the RateLimiter its vet() uses and a
// LoadTracker that force(true) can hold "under load" (tests, the interop suite).
class CookieCheckerObject : public Napi::ObjectWrap<CookieCheckerObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CookieChecker",
                       {InstanceMethod("setLocalPublicKey", &CookieCheckerObject::SetKey),
                        InstanceMethod("checkMac1", &CookieCheckerObject::CheckMac1),
                        InstanceMethod("checkMac2", &CookieCheckerObject::CheckMac2),
                        InstanceMethod("createReply", &CookieCheckerObject::CreateReply),
                        InstanceMethod("vet", &CookieCheckerObject::Vet)});
  }
  explicit CookieCheckerObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CookieCheckerObject>(info) {
    if (info.Length() > 0 && !info[0].IsUndefined()) SetKey(info);
  }

 private:
  Napi::Value SetKey(const Napi::CallbackInfo& info) {
    Napi::Buffer<uint8_t> pub;
    if (BufferArg(info, 0, "CookieChecker.setLocalPublicKey", "publicKey", kKeySize, &pub)) checker_.SetLocalPublicKey(pub.Data());
    return info.Env().Undefined();
  }
  Napi::Value CheckMac1(const Napi::CallbackInfo& info) {
    Napi::Buffer<uint8_t> msg;
    if (!BufferArg(info, 0, "checkMac1", "message", 0, &msg)) return info.Env().Undefined();
    return Napi::Boolean::New(info.Env(), checker_.CheckMac1(msg.Data(), msg.Length()));
  }
  // checkMac2(message, address, port, nowMs?)
  Napi::Value CheckMac2(const Napi::CallbackInfo& info) {
    Napi::Buffer<uint8_t> msg;
    SourceAddress src;
    int64_t now;
    if (!BufferArg(info, 0, "checkMac2", "message", 0, &msg) || !SourceArg(info, 1, "checkMac2", &src) ||
        !NowArg(info, 3, "checkMac2", &now)) {
      return info.Env().Undefined();
    }
    return Napi::Boolean::New(info.Env(), checker_.CheckMac2(msg.Data(), msg.Length(), src, now));
  }
  // createReply(message, address, port, nowMs?) -> 64-byte type-3 message | null
  Napi::Value CreateReply(const Napi::CallbackInfo& info) {
    Napi::Buffer<uint8_t> msg;
    SourceAddress src;
    int64_t now;
    if (!BufferArg(info, 0, "createReply", "message", 0, &msg) || !SourceArg(info, 1, "createReply", &src) ||
        !NowArg(info, 3, "createReply", &now)) {
      return info.Env().Undefined();
    }
    auto out = Napi::Buffer<uint8_t>::New(info.Env(), kCookieReplySize);
    if (!checker_.CreateReply(msg.Data(), msg.Length(), src, now, out.Data())) return info.Env().Null();
    return out;
  }
  // vet(message, address, port, underLoad, nowMs?) -> { verdict, reply? }
  Napi::Value Vet(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Buffer<uint8_t> msg;
    SourceAddress src;
    int64_t now;
    if (!BufferArg(info, 0, "vet", "message", 0, &msg) || !SourceArg(info, 1, "vet", &src)) return env.Undefined();
    if (info.Length() < 4 || !info[3].IsBoolean()) {
      Fail(env, "vet: underLoad must be a boolean");
      return env.Undefined();
    }
    if (!NowArg(info, 4, "vet", &now)) return env.Undefined();
    uint8_t reply[kCookieReplySize];
    auto verdict = checker_.Vet(msg.Data(), msg.Length(), src, info[3].As<Napi::Boolean>().Value(), &limiter_, now, reply);
    Napi::Object o = Napi::Object::New(env);
    const char* name = "drop";
    switch (verdict) {
      case CookieChecker::Verdict::kDrop: name = "drop"; break;
      case CookieChecker::Verdict::kAccept: name = "accept"; break;
      case CookieChecker::Verdict::kCookieReply: name = "cookie_reply"; break;
      case CookieChecker::Verdict::kRateLimited: name = "rate_limited"; break;
    }
    o.Set("verdict", Napi::String::New(env, name));
    if (verdict == CookieChecker::Verdict::kCookieReply) o.Set("reply", Napi::Buffer<uint8_t>::Copy(env, reply, kCookieReplySize));
    return o;
  }

  CookieChecker checker_;
  RateLimiter limiter_;
};

class CookieGeneratorObject : public Napi::ObjectWrap<CookieGeneratorObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "CookieGenerator",
                       {InstanceMethod("addMacs", &CookieGeneratorObject::AddMacs),
                        InstanceMethod("consumeReply", &CookieGeneratorObject::ConsumeReply),
                        InstanceMethod("hasFreshCookie", &CookieGeneratorObject::HasFresh)});
  }
  // new CookieGenerator(remotePublicKey)
  explicit CookieGeneratorObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CookieGeneratorObject>(info) {
    Napi::Buffer<uint8_t> pub;
    if (BufferArg(info, 0, "CookieGenerator", "remotePublicKey", kKeySize, &pub)) gen_.reset(new CookieGenerator(pub.Data()));
  }

 private:
  // addMacs(message, nowMs?): mac1 (and mac2 with a fresh cookie) written into the message in place.
  Napi::Value AddMacs(const Napi::CallbackInfo& info) {
    Napi::Buffer<uint8_t> msg;
    int64_t now;
    if (!gen_ || !BufferArg(info, 0, "addMacs", "message", 0, &msg) || !NowArg(info, 1, "addMacs", &now)) {
      return info.Env().Undefined();
    }
    if (!gen_->AddMacs(msg.Data(), msg.Length(), now)) {
      Fail(info.Env(), "addMacs: not a handshake initiation or response", true);
      return info.Env().Undefined();
    }
    return info.Env().Undefined();
  }
  Napi::Value ConsumeReply(const Napi::CallbackInfo& info) {
    Napi::Buffer<uint8_t> msg;
    int64_t now;
    if (!gen_ || !BufferArg(info, 0, "consumeReply", "message", 0, &msg) || !NowArg(info, 1, "consumeReply", &now)) {
      return info.Env().Undefined();
    }
    return Napi::Boolean::New(info.Env(), gen_->ConsumeReply(msg.Data(), msg.Length(), now));
  }
  Napi::Value HasFresh(const Napi::CallbackInfo& info) {
    int64_t now;
    if (!gen_ || !NowArg(info, 0, "hasFreshCookie", &now)) return info.Env().Undefined();
    return Napi::Boolean::New(info.Env(), gen_->HasFreshCookie(now));
  }
  std::unique_ptr<CookieGenerator> gen_;
};

class RateLimiterObject : public Napi::ObjectWrap<RateLimiterObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "RateLimiter", {InstanceMethod("allow", &RateLimiterObject::Allow),
                                            InstanceAccessor("size", &RateLimiterObject::Size, nullptr)});
  }
  // new RateLimiter(maxEntries?)
  explicit RateLimiterObject(const Napi::CallbackInfo& info)
      : Napi::ObjectWrap<RateLimiterObject>(info),
        limiter_(info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 65536) {}

 private:
  // allow(address, nowMs?)
  Napi::Value Allow(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsString()) {
      Fail(env, "allow: address must be a string");
      return env.Undefined();
    }
    std::string addr = info[0].As<Napi::String>().Utf8Value();
    int64_t now;
    if (!NowArg(info, 1, "allow", &now)) return env.Undefined();
    uint8_t ip[16];
    if (inet_pton(AF_INET, addr.c_str(), ip) == 1) return Napi::Boolean::New(env, limiter_.Allow(ip, 4, now));
    if (inet_pton(AF_INET6, addr.c_str(), ip) == 1) return Napi::Boolean::New(env, limiter_.Allow(ip, 16, now));
    Fail(env, "allow: bad address \"" + addr + "\"", true);
    return env.Undefined();
  }
  Napi::Value Size(const Napi::CallbackInfo& info) { return Napi::Number::New(info.Env(), static_cast<double>(limiter_.Size())); }
  RateLimiter limiter_;
};

Napi::Value MessageTypeJs(const Napi::CallbackInfo& info) {
  Napi::Buffer<uint8_t> msg;
  if (!BufferArg(info, 0, "messageType", "message", 0, &msg)) return info.Env().Undefined();
  return Napi::Number::New(info.Env(), MessageTypeOf(msg.Data(), msg.Length()));
}

Napi::Value MonotonicMsJs(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(MonotonicNanos()) / 1e6);
}


// benchmarkAead(packetSize, packets, direction: "seal" | "open") -> nanoseconds: the transport's
// hot path as the engine runs it (one ChaCha20Poly1305 per key, in place, counter nonces, no
// allocation), in a native loop, for bench/wg-crypto.mjs. Not used by tund itself.
Napi::Value BenchmarkAead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsString()) {
    Fail(env, "benchmarkAead(packetSize: number, packets: number, direction: 'seal' | 'open')");
    return env.Undefined();
  }
  int64_t size = info[0].As<Napi::Number>().Int64Value();
  int64_t packets = info[1].As<Napi::Number>().Int64Value();
  bool open = info[2].As<Napi::String>().Utf8Value() == "open";
  AeadBackend backend = AeadBackend::Evp;
  if (!BackendArg(info, 3, "benchmarkAead", &backend)) return env.Undefined();
  if (size < 0 || size > 65535 || packets < 1 || packets > 100000000) {
    Fail(env, "benchmarkAead: packetSize 0..65535, packets 1..1e8", true);
    return env.Undefined();
  }
  uint8_t key[kKeySize];
  RandomBytes(key, sizeof key);
  ChaCha20Poly1305 aead(key, backend);
  Wipe(key, sizeof key);
  std::unique_ptr<uint8_t[]> buf(new uint8_t[ChaCha20Poly1305::kSealScratch + size + kTagSize]());
  // for "open": one sealed packet per counter would need a copy each time; open the same
  // ciphertext under its own counter instead, restoring it after each in-place open
  std::unique_ptr<uint8_t[]> sealed(new uint8_t[size + kTagSize]());
  aead.Seal(0, nullptr, 0, buf.get(), size, sealed.get());
  int64_t start = MonotonicNanos();
  bool ok = true;
  for (int64_t i = 0; i < packets && ok; i++) {
    if (open) {
      memcpy(buf.get(), sealed.get(), size + kTagSize);
      ok = aead.Open(0, nullptr, 0, buf.get(), size + kTagSize, buf.get());
    } else {
      ok = aead.SealWithScratch(static_cast<uint64_t>(i), buf.get() + ChaCha20Poly1305::kSealScratch, size);
    }
  }
  int64_t elapsed = MonotonicNanos() - start;
  if (!ok) return CryptoFailure(env, "benchmarkAead");
  return Napi::Number::New(env, static_cast<double>(elapsed));
}

}  // namespace

Napi::Object InitWireGuard(Napi::Env env, Napi::Object exports) {
  Napi::Object wg = Napi::Object::New(env);
  wg.Set("generatePrivateKey", Napi::Function::New(env, GeneratePrivateKey, "generatePrivateKey"));
  wg.Set("publicKey", Napi::Function::New(env, PublicKey, "publicKey"));
  wg.Set("x25519", Napi::Function::New(env, SharedSecret, "x25519"));
  wg.Set("blake2s", Napi::Function::New(env, Hash, "blake2s"));
  wg.Set("blake2sOneShot", Napi::Function::New(env, HashOneShot, "blake2sOneShot"));
  wg.Set("mac", Napi::Function::New(env, Mac, "mac"));
  wg.Set("hmac", Napi::Function::New(env, Hmac, "hmac"));
  wg.Set("kdf", Napi::Function::New(env, Kdf, "kdf"));
  wg.Set("tai64n", Napi::Function::New(env, Tai64n, "tai64n"));
  wg.Set("aeadSeal", Napi::Function::New(env, AeadSealJs, "aeadSeal"));
  wg.Set("aeadOpen", Napi::Function::New(env, AeadOpenJs, "aeadOpen"));
  wg.Set("hchacha20", Napi::Function::New(env, HChaCha20Js, "hchacha20"));
  wg.Set("xaeadSeal", Napi::Function::New(env, XAeadSealJs, "xaeadSeal"));
  wg.Set("xaeadOpen", Napi::Function::New(env, XAeadOpenJs, "xaeadOpen"));
  wg.Set("Aead", AeadObject::Define(env));
  wg.Set("directAeadAvailable", Napi::Function::New(
                                    env, [](const Napi::CallbackInfo& info) -> Napi::Value {
                                      return Napi::Boolean::New(info.Env(), DirectAeadAvailable());
                                    },
                                    "directAeadAvailable"));
  wg.Set("Identity", IdentityObject::Define(env));
  wg.Set("Initiation", InitiationObject::Define(env));
  wg.Set("Handshake", HandshakeObject::Define(env));
  wg.Set("CookieChecker", CookieCheckerObject::Define(env));
  wg.Set("CookieGenerator", CookieGeneratorObject::Define(env));
  wg.Set("RateLimiter", RateLimiterObject::Define(env));
  wg.Set("messageType", Napi::Function::New(env, MessageTypeJs, "messageType"));
  wg.Set("monotonicMs", Napi::Function::New(env, MonotonicMsJs, "monotonicMs"));
  wg.Set("benchmarkAead", Napi::Function::New(env, BenchmarkAead, "benchmarkAead"));
  exports.Set("wg", wg);
  return exports;
}

}  // namespace tund
