// The few primitives a session's control plane needs (VTun's MD5 keys and challenge, random
// bytes for WireGuard's sender indices and preshared keys, temporary file names, a constant-time
// compare), from the OpenSSL inside the node binary: the same code node:crypto would call, without
// the fifteen modules node:crypto loads into every process that imports it (docs/benchmark.md,
// "Memory"). core/crypto.ts is their one user.
#include <napi.h>

#include "wg_crypto.h"

#include <openssl/evp.h>

namespace tund {
namespace {

bool BufferArg(const Napi::CallbackInfo& info, size_t i, const char* message) {
  if (info.Length() > i && info[i].IsBuffer()) return true;
  Napi::TypeError::New(info.Env(), message).ThrowAsJavaScriptException();
  return false;
}

// randomBytes(n): n bytes from OpenSSL's RAND_bytes (what crypto.randomBytes returns)
Napi::Value RandomBytesJs(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().DoubleValue() < 0 ||
      info[0].As<Napi::Number>().DoubleValue() > 65536) {
    Napi::TypeError::New(env, "randomBytes: expected a length from 0 to 65536").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  size_t n = info[0].As<Napi::Number>().Uint32Value();
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, n);
  if (n > 0 && !wg::RandomBytes(out.Data(), n)) {
    Napi::Error::New(env, "randomBytes: RAND_bytes failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return out;
}

// md5(data): the 16-byte digest
Napi::Value Md5(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!BufferArg(info, 0, "md5: expected a Buffer")) return env.Undefined();
  Napi::Buffer<uint8_t> data = info[0].As<Napi::Buffer<uint8_t>>();
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  if (EVP_Digest(data.Data(), data.Length(), md, &len, EVP_md5(), nullptr) != 1) {
    Napi::Error::New(env, "md5: EVP_Digest failed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return Napi::Buffer<uint8_t>::Copy(env, md, len);
}

// timingSafeEqual(a, b): equal contents in a time that does not depend on them (false for
// different lengths, which are not secret)
Napi::Value TimingSafeEqual(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (!BufferArg(info, 0, "timingSafeEqual: expected two Buffers") || !BufferArg(info, 1, "timingSafeEqual: expected two Buffers")) {
    return env.Undefined();
  }
  Napi::Buffer<uint8_t> a = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Buffer<uint8_t> b = info[1].As<Napi::Buffer<uint8_t>>();
  return Napi::Boolean::New(env, a.Length() == b.Length() && wg::ConstantTimeEqual(a.Data(), b.Data(), a.Length()));
}

}  // namespace

Napi::Object InitControlCrypto(Napi::Env env, Napi::Object exports) {
  exports.Set("randomBytes", Napi::Function::New(env, RandomBytesJs, "randomBytes"));
  exports.Set("md5", Napi::Function::New(env, Md5, "md5"));
  exports.Set("timingSafeEqual", Napi::Function::New(env, TimingSafeEqual, "timingSafeEqual"));
  return exports;
}

}  // namespace tund
