// Thin N-API bindings of the WebSocket framing (ws_frame.*), the HTTP upgrade (http_upgrade.*) and
// FastRandom, for tests and for the control plane. The data path uses the C++ classes directly
// on native threads; nothing here runs per packet in production.
//
//   new WsReader({role, maxMessage, readAhead?})  .push(buf) / .readFrom(fd) -> events
//   new WsEncoder({role})                          .frame(payload, opcode?, fin?) / .close(code, reason)
//                                                  / .frameInPlace(buf, len)
//   httpClientRequest(opts), httpParseUpgradeResponse(buf, key), httpConnectRequest(authority, user?, password?),
//   httpParseConnectResponse(buf), httpParseUpgradeRequest(buf, policy), wsAccept(key), wsNewKey(),
//   fastRandomBytes(n)
#include <napi.h>

#include <cerrno>
#include <map>
#include <memory>
#include <string>
#include <unistd.h>

#include "errors.h"
#include "fast_random.h"
#include "http_upgrade.h"
#include "napi_args.h"
#include "ws_frame.h"

namespace tund {
namespace {

bool RoleOf(Napi::Env env, const Napi::Object& o, ws::Role* role) {
  std::string r = StringOpt(o, "role");
  if (r == "client") *role = ws::Role::Client;
  else if (r == "server") *role = ws::Role::Server;
  else {
    ThrowTypeError(env, "role must be \"client\" or \"server\"");
    return false;
  }
  return true;
}

FastRandom& ThreadRandom() {
  thread_local FastRandom rng;
  return rng;
}

const char* OpcodeName(ws::Opcode op) {
  switch (op) {
    case ws::Opcode::Continuation: return "continuation";
    case ws::Opcode::Text: return "text";
    case ws::Opcode::Binary: return "binary";
    case ws::Opcode::Close: return "close";
    case ws::Opcode::Ping: return "ping";
    case ws::Opcode::Pong: return "pong";
  }
  return "binary";
}

bool OpcodeFrom(const std::string& name, ws::Opcode* op) {
  static const std::map<std::string, ws::Opcode> names = {
      {"continuation", ws::Opcode::Continuation}, {"text", ws::Opcode::Text}, {"binary", ws::Opcode::Binary},
      {"close", ws::Opcode::Close}, {"ping", ws::Opcode::Ping}, {"pong", ws::Opcode::Pong}};
  auto it = names.find(name);
  if (it == names.end()) return false;
  *op = it->second;
  return true;
}

Napi::Object EventObject(Napi::Env env, const ws::Event& e) {
  Napi::Object o = Napi::Object::New(env);
  switch (e.type) {
    case ws::EventType::Message:
      o.Set("type", "message");
      o.Set("opcode", OpcodeName(e.opcode));
      o.Set("data", Napi::Buffer<uint8_t>::Copy(env, e.data, e.len));
      o.Set("reassembled", e.reassembled);
      break;
    case ws::EventType::Ping:
    case ws::EventType::Pong:
      o.Set("type", e.type == ws::EventType::Ping ? "ping" : "pong");
      o.Set("data", Napi::Buffer<uint8_t>::Copy(env, e.data, e.len));
      break;
    case ws::EventType::Close:
      o.Set("type", "close");
      o.Set("code", e.code);
      o.Set("reason", std::string(reinterpret_cast<const char*>(e.data ? e.data : reinterpret_cast<const uint8_t*>("")), e.len));
      break;
    case ws::EventType::Error:
      o.Set("type", "error");
      o.Set("code", e.code);
      o.Set("message", e.error ? e.error : "protocol error");
      break;
    case ws::EventType::None:
      o.Set("type", "none");
      break;
  }
  return o;
}

class WsReaderWrap : public Napi::ObjectWrap<WsReaderWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "WsReader",
                       {InstanceMethod("push", &WsReaderWrap::Push), InstanceMethod("readFrom", &WsReaderWrap::ReadFrom),
                        InstanceMethod("counters", &WsReaderWrap::Counters), InstanceMethod("buffered", &WsReaderWrap::Buffered)});
  }

  explicit WsReaderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WsReaderWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      ThrowTypeError(env, "new WsReader({role, maxMessage, readAhead?})");
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    ws::Role role;
    if (!RoleOf(env, o, &role)) return;
    double max = NumberOpt(o, "maxMessage", 65536);
    double ahead = NumberOpt(o, "readAhead", 65536);
    if (max < 1 || max > (1 << 26) || ahead < 0 || ahead > (1 << 24)) {
      Napi::RangeError::New(env, "maxMessage must be 1..64 MiB and readAhead 0..16 MiB").ThrowAsJavaScriptException();
      return;
    }
    reader_.reset(new ws::FrameReader(role, static_cast<size_t>(max), static_cast<size_t>(ahead)));
  }

 private:
  // Drains every event the buffered bytes give; stops after a close or an error.
  void Drain(Napi::Env env, Napi::Array* out) {
    for (;;) {
      ws::Event e = reader_->Next();
      if (e.type == ws::EventType::None) return;
      out->Set(out->Length(), EventObject(env, e));
      if (e.type == ws::EventType::Error || e.type == ws::EventType::Close) return;
    }
  }

  // push(buf) -> events: appends the bytes (as much as fits, parsing in between)
  Napi::Value Push(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!reader_) return ThrowTypeError(env, "WsReader was not constructed");
    if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowTypeError(env, "push(buf: Buffer)");
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    Napi::Array out = Napi::Array::New(env);
    size_t off = 0;
    while (off < buf.Length()) {
      size_t took = reader_->Append(buf.Data() + off, buf.Length() - off);
      off += took;
      size_t before = out.Length();
      Drain(env, &out);
      if (reader_->Failed() || reader_->SawClose()) break;
      if (took == 0 && out.Length() == before) break;  // no room and nothing parsed: cannot happen within the limits
    }
    return out;
  }

  // readFrom(fd) -> events | null at end of stream: one recv() into the reader's own buffer (the
  // zero-copy path the engine uses), then every event. [] when nothing was ready (EAGAIN).
  Napi::Value ReadFrom(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!reader_) return ThrowTypeError(env, "WsReader was not constructed");
    if (info.Length() < 1 || !info[0].IsNumber()) return ThrowTypeError(env, "readFrom(fd: number)");
    int fd = info[0].As<Napi::Number>().Int32Value();
    size_t room = reader_->Writable();
    ssize_t n = room == 0 ? 0 : read(fd, reader_->WritePtr(), room);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Napi::Array::New(env);
      ThrowErrno(env, errno, "read");
      return env.Undefined();
    }
    if (n == 0 && room > 0) return env.Null();
    reader_->Commit(static_cast<size_t>(n));
    Napi::Array out = Napi::Array::New(env);
    Drain(env, &out);
    return out;
  }

  Napi::Value Counters(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!reader_) return o;
    const ws::ReaderCounters& c = reader_->Counters();
    o.Set("frames", static_cast<double>(c.frames));
    o.Set("messages", static_cast<double>(c.messages));
    o.Set("bytes", static_cast<double>(c.bytes));
    o.Set("pings", static_cast<double>(c.pings));
    o.Set("pongs", static_cast<double>(c.pongs));
    return o;
  }

  Napi::Value Buffered(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), reader_ ? static_cast<double>(reader_->Buffered()) : 0);
  }

  std::unique_ptr<ws::FrameReader> reader_;
};

class WsEncoderWrap : public Napi::ObjectWrap<WsEncoderWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "WsEncoder",
                       {InstanceMethod("frame", &WsEncoderWrap::Frame), InstanceMethod("close", &WsEncoderWrap::Close),
                        InstanceMethod("frameInPlace", &WsEncoderWrap::FrameInPlace)});
  }

  explicit WsEncoderWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WsEncoderWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      ThrowTypeError(env, "new WsEncoder({role})");
      return;
    }
    ws::Role role;
    if (!RoleOf(env, info[0].As<Napi::Object>(), &role)) return;
    try {
      if (role == ws::Role::Client) rng_.reset(new FastRandom());
    } catch (const std::exception& e) {
      Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
      return;
    }
    encoder_.reset(new ws::Encoder(role, rng_.get()));
  }

 private:
  // frame(payload, opcode = "binary", fin = true) -> Buffer
  Napi::Value Frame(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!encoder_) return ThrowTypeError(env, "WsEncoder was not constructed");
    if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowTypeError(env, "frame(payload: Buffer, opcode?, fin?)");
    auto payload = info[0].As<Napi::Buffer<uint8_t>>();
    ws::Opcode op = ws::Opcode::Binary;
    if (info.Length() > 1 && info[1].IsString() && !OpcodeFrom(info[1].As<Napi::String>().Utf8Value(), &op)) {
      return ThrowTypeError(env, "opcode must be continuation, text, binary, close, ping or pong");
    }
    bool fin = info.Length() > 2 && info[2].IsBoolean() ? info[2].As<Napi::Boolean>().Value() : true;
    std::vector<uint8_t> out;
    encoder_->AppendFrame(&out, payload.Data(), payload.Length(), op, fin);
    return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
  }

  // close(code = 0, reason = "") -> Buffer
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!encoder_) return ThrowTypeError(env, "WsEncoder was not constructed");
    uint32_t code = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Uint32Value() : 0;
    std::string reason = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
    std::vector<uint8_t> out;
    encoder_->AppendClose(&out, static_cast<uint16_t>(code), reason);
    return Napi::Buffer<uint8_t>::Copy(env, out.data(), out.size());
  }

  // frameInPlace(buf, len, opcode = "binary") -> offset: the payload is at buf[14 .. 14+len); the
  // header is written in front of it and the payload masked in place (client)
  Napi::Value FrameInPlace(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!encoder_) return ThrowTypeError(env, "WsEncoder was not constructed");
    if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) return ThrowTypeError(env, "frameInPlace(buf: Buffer, len: number)");
    auto buf = info[0].As<Napi::Buffer<uint8_t>>();
    double len = info[1].As<Napi::Number>().DoubleValue();
    if (len < 0 || ws::kMaxHeader + len > buf.Length()) {
      Napi::RangeError::New(env, "frameInPlace: the buffer needs 14 bytes of headroom plus len").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    ws::Opcode op = ws::Opcode::Binary;
    if (info.Length() > 2 && info[2].IsString() && !OpcodeFrom(info[2].As<Napi::String>().Utf8Value(), &op)) {
      return ThrowTypeError(env, "bad opcode");
    }
    size_t off = encoder_->FrameInPlace(buf.Data(), static_cast<size_t>(len), op);
    return Napi::Number::New(env, static_cast<double>(off));
  }

  std::unique_ptr<FastRandom> rng_;
  std::unique_ptr<ws::Encoder> encoder_;
};

Napi::Value HeadersArray(Napi::Env env, const std::vector<http::Header>& headers) {
  Napi::Array a = Napi::Array::New(env, headers.size());
  for (size_t i = 0; i < headers.size(); i++) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, headers[i].name);
    pair.Set(1u, headers[i].value);
    a.Set(i, pair);
  }
  return a;
}

// httpClientRequest({path, host, key, mac?, bridge?, user?, password?, userAgent?}) -> string
Napi::Value HttpClientRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsObject()) return ThrowTypeError(env, "httpClientRequest({path, host, key, ...})");
  Napi::Object o = info[0].As<Napi::Object>();
  http::ClientRequest r;
  r.path = StringOpt(o, "path", "/");
  r.host = StringOpt(o, "host");
  r.key = StringOpt(o, "key");
  r.mac = StringOpt(o, "mac");
  r.bridge = BoolOpt(o, "bridge");
  r.user = StringOpt(o, "user");
  r.password = StringOpt(o, "password");
  r.userAgent = StringOpt(o, "userAgent", "tund");
  std::string error;
  std::string out = http::BuildClientRequest(r, &error);
  if (out.empty()) return ThrowTypeError(env, "httpClientRequest: " + error);
  return Napi::String::New(env, out);
}

Napi::Object ResponseObject(Napi::Env env, const http::ResponseResult& r, const std::string& problem) {
  Napi::Object o = Napi::Object::New(env);
  if (r.status == http::ParseStatus::NeedMore) {
    o.Set("status", "need_more");
    return o;
  }
  if (r.status == http::ParseStatus::Error) {
    o.Set("status", "error");
    o.Set("problem", r.error);
    return o;
  }
  o.Set("status", problem.empty() ? "ok" : "refused");
  o.Set("code", r.response.status);
  o.Set("reason", r.response.reason);
  o.Set("headers", HeadersArray(env, r.response.headers));
  o.Set("consumed", static_cast<double>(r.response.consumed));
  if (!problem.empty()) o.Set("problem", problem);
  return o;
}

// httpParseUpgradeResponse(buf, key) -> {status: need_more|ok|refused|error, code, reason, headers, consumed, problem}
Napi::Value HttpParseUpgradeResponse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsString()) return ThrowTypeError(env, "httpParseUpgradeResponse(buf, key)");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  http::ResponseResult r = http::ParseResponse(buf.Data(), buf.Length());
  std::string problem;
  if (r.status == http::ParseStatus::Ok) problem = http::CheckUpgradeResponse(r.response, info[1].As<Napi::String>().Utf8Value());
  return ResponseObject(env, r, problem);
}

// httpConnectRequest(authority, user?, password?) -> string
Napi::Value HttpConnectRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowTypeError(env, "httpConnectRequest(authority, user?, password?)");
  std::string user = info.Length() > 1 && info[1].IsString() ? info[1].As<Napi::String>().Utf8Value() : "";
  std::string password = info.Length() > 2 && info[2].IsString() ? info[2].As<Napi::String>().Utf8Value() : "";
  std::string error;
  std::string out = http::BuildConnectRequest(info[0].As<Napi::String>().Utf8Value(), user, password, &error);
  if (out.empty()) return ThrowTypeError(env, "httpConnectRequest: " + error);
  return Napi::String::New(env, out);
}

// httpParseConnectResponse(buf) -> as httpParseUpgradeResponse
Napi::Value HttpParseConnectResponse(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowTypeError(env, "httpParseConnectResponse(buf)");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  http::ResponseResult r = http::ParseResponse(buf.Data(), buf.Length());
  std::string problem;
  if (r.status == http::ParseStatus::Ok) problem = http::CheckConnectResponse(r.response);
  return ResponseObject(env, r, problem);
}

// httpParseUpgradeRequest(buf, {path?, credentials?: {user: password}, maxBytes?, maxHeaders?})
//   -> {status: need_more} | {status: ok, consumed, upgrade, response} | {status: refused, refusal, response}
Napi::Value HttpParseUpgradeRequest(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsBuffer()) return ThrowTypeError(env, "httpParseUpgradeRequest(buf, policy?)");
  auto buf = info[0].As<Napi::Buffer<uint8_t>>();
  Napi::Object policyObj = info.Length() > 1 && info[1].IsObject() ? info[1].As<Napi::Object>() : Napi::Object::New(env);
  http::Limits limits;
  limits.maxBytes = static_cast<size_t>(NumberOpt(policyObj, "maxBytes", 8192));
  limits.maxHeaders = static_cast<size_t>(NumberOpt(policyObj, "maxHeaders", 64));
  http::AcceptPolicy policy;
  policy.path = StringOpt(policyObj, "path");
  std::map<std::string, std::string> credentials;
  if (policyObj.Has("credentials") && policyObj.Get("credentials").IsObject()) {
    Napi::Object c = policyObj.Get("credentials").As<Napi::Object>();
    Napi::Array names = c.GetPropertyNames();
    for (uint32_t i = 0; i < names.Length(); i++) {
      std::string user = names.Get(i).As<Napi::String>().Utf8Value();
      credentials[user] = c.Get(user).ToString().Utf8Value();
    }
    policy.checkCredentials = [&credentials](const std::string& user, const std::string& password) {
      auto it = credentials.find(user);
      // compare anyway, so that an unknown user takes as long as a wrong password
      bool ok = http::SecureEquals(it == credentials.end() ? std::string(password.size(), '\0') : it->second, password);
      return ok && it != credentials.end();
    };
  }
  Napi::Object o = Napi::Object::New(env);
  http::RequestResult r = http::ParseRequest(buf.Data(), buf.Length(), limits);
  if (r.status == http::ParseStatus::NeedMore) {
    o.Set("status", "need_more");
    return o;
  }
  http::Refusal refusal;
  http::Upgrade up;
  bool ok = r.status == http::ParseStatus::Ok;
  if (!ok) refusal = r.refusal;
  if (ok) ok = http::ReadUpgrade(r.request, &up, &refusal) && http::Authorize(up, policy, &refusal);
  if (!ok) {
    Napi::Object ref = Napi::Object::New(env);
    ref.Set("status", refusal.status);
    ref.Set("reason", refusal.reason);
    ref.Set("detail", refusal.detail);
    o.Set("status", "refused");
    o.Set("refusal", ref);
    o.Set("response", http::BuildRefusal(refusal));
    return o;
  }
  Napi::Object u = Napi::Object::New(env);
  u.Set("method", r.request.method);
  u.Set("path", up.path);
  u.Set("query", up.query);
  u.Set("host", up.host);
  u.Set("key", up.key);
  u.Set("mac", up.mac.empty() ? env.Null() : Napi::String::New(env, up.mac));
  u.Set("bridge", up.bridge);
  u.Set("user", up.hasCredentials ? Napi::String::New(env, up.user) : env.Null());
  u.Set("headers", HeadersArray(env, r.request.headers));
  o.Set("status", "ok");
  o.Set("consumed", static_cast<double>(r.request.consumed));
  o.Set("upgrade", u);
  o.Set("response", http::BuildUpgradeResponse(up.key));
  return o;
}

Napi::Value WsAccept(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsString()) return ThrowTypeError(env, "wsAccept(key: string)");
  return Napi::String::New(env, http::WebSocketAccept(info[0].As<Napi::String>().Utf8Value()));
}

Napi::Value WsNewKey(const Napi::CallbackInfo& info) {
  try {
    return Napi::String::New(info.Env(), http::NewWebSocketKey(ThreadRandom()));
  } catch (const std::exception& e) {
    Napi::Error::New(info.Env(), e.what()).ThrowAsJavaScriptException();
    return info.Env().Undefined();
  }
}

Napi::Value FastRandomBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) return ThrowTypeError(env, "fastRandomBytes(n: number)");
  double n = info[0].As<Napi::Number>().DoubleValue();
  if (n < 0 || n > (1 << 24)) {
    Napi::RangeError::New(env, "fastRandomBytes: 0..16 MiB").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto out = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(n));
  try {
    ThreadRandom().Fill(out.Data(), out.Length());
  } catch (const std::exception& e) {
    Napi::Error::New(env, e.what()).ThrowAsJavaScriptException();
    return env.Undefined();
  }
  return out;
}

}  // namespace

Napi::Object InitWs(Napi::Env env, Napi::Object exports) {
  exports.Set("WsReader", WsReaderWrap::Define(env));
  exports.Set("WsEncoder", WsEncoderWrap::Define(env));
  exports.Set("httpClientRequest", Napi::Function::New(env, HttpClientRequest, "httpClientRequest"));
  exports.Set("httpParseUpgradeResponse", Napi::Function::New(env, HttpParseUpgradeResponse, "httpParseUpgradeResponse"));
  exports.Set("httpConnectRequest", Napi::Function::New(env, HttpConnectRequest, "httpConnectRequest"));
  exports.Set("httpParseConnectResponse", Napi::Function::New(env, HttpParseConnectResponse, "httpParseConnectResponse"));
  exports.Set("httpParseUpgradeRequest", Napi::Function::New(env, HttpParseUpgradeRequest, "httpParseUpgradeRequest"));
  exports.Set("wsAccept", Napi::Function::New(env, WsAccept, "wsAccept"));
  exports.Set("wsNewKey", Napi::Function::New(env, WsNewKey, "wsNewKey"));
  exports.Set("fastRandomBytes", Napi::Function::New(env, FastRandomBytes, "fastRandomBytes"));
  return exports;
}

}  // namespace tund
