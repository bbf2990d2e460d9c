// Small argument helpers shared by the vpn-ws bindings (ws_addon.cc, l2switch_addon.cc,
// tls_addon.cc): optional fields of an options object, and a TypeError that a binding returns
// right after throwing it.
#pragma once

#include <napi.h>

#include <string>

namespace tund {

inline Napi::Value ThrowTypeError(Napi::Env env, const std::string& message) {
  Napi::TypeError::New(env, message).ThrowAsJavaScriptException();
  return env.Undefined();
}

inline std::string StringOpt(const Napi::Object& o, const char* key, const std::string& fallback = "") {
  if (!o.Has(key)) return fallback;
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : fallback;
}

inline double NumberOpt(const Napi::Object& o, const char* key, double fallback) {
  if (!o.Has(key)) return fallback;
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : fallback;
}

inline bool BoolOpt(const Napi::Object& o, const char* key, bool fallback = false) {
  if (!o.Has(key)) return fallback;
  Napi::Value v = o.Get(key);
  return v.IsBoolean() ? v.As<Napi::Boolean>().Value() : fallback;
}

}  // namespace tund
