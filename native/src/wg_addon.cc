// N-API bindings of the WireGuard building blocks (wg_crypto, wg_noise, wg_cookie): thin argument
// checking and Buffer conversion, no logic of their own. Exported as `exports.wg` (native/index.ts
// describes every function). Used by the known-answer tests, tunauth (keys, probe) and the JS
// handshake driver; the packet path calls the C++ classes directly.
#include <napi.h>

#include <cstring>
#include <memory>
#include <string>

#include "wg_crypto.h"

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
class AeadObject : public Napi::ObjectWrap<AeadObject> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Aead",
                       {InstanceMethod("seal", &AeadObject::Seal), InstanceMethod("open", &AeadObject::Open),
                        InstanceMethod("sealInPlace", &AeadObject::SealInPlace),
                        InstanceMethod("openInPlace", &AeadObject::OpenInPlace)});
  }
  explicit AeadObject(const Napi::CallbackInfo& info) : Napi::ObjectWrap<AeadObject>(info) {
    Napi::Buffer<uint8_t> key;
    if (!BufferArg(info, 0, "Aead", "key", kKeySize, &key)) return;
    aead_.reset(new ChaCha20Poly1305(key.Data()));
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

  std::unique_ptr<ChaCha20Poly1305> aead_;
};

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
  exports.Set("wg", wg);
  return exports;
}

}  // namespace tund
