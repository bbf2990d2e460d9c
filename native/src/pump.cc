// The JS face of VTun's packet path (docs/vtun-protocol.md §6-§11): the Pump class is the protocol-neutral
// engine (engine/engine.h: two native threads per session, batches, counters, end events) with
// the VTun transform (engine/vtun_transform.h: framing, codec, control frames, nat_hack). This
// file only reads options, starts/stops the engine and reports its counters.
//
// Lifecycle: start() once; stop() joins the threads, closes netFd (never the device fd), sends
// nothing itself (a CONN_CLOSE queued with sendControl() just before stop() is still flushed),
// emits 'stopped' unless the pump had already ended, and releases the ThreadSafeFunction.
// stop() before start() leaves nothing running; start() after stop() throws.
//
// Also exported here: VtunCodec (the same module chain, synchronous, for tests and tools),
// vtunKey (the VTun key derivation, docs/vtun-protocol.md §10.1) and socketPair.
#include <napi.h>

#include <openssl/md5.h>
#include <string.h>
#include <sys/socket.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/vtun_transform.h"
#include "engine_napi.h"
#include "errors.h"
#include "vtun_codec.h"

namespace tund {
namespace {

using vtun::CodecConfig;
using vtun::Compression;
using vtun::DecodeResult;
using vtun::VtunDecoder;
using vtun::VtunEncoder;

// Reads {compression, cipher, key} (the PumpOptions / VtunCodec options). Throws on error.
bool ParseCodecConfig(Napi::Env env, Napi::Object o, CodecConfig* cfg) {
  cfg->compression = Compression::None;
  Napi::Value comp = o.Get("compression");
  if (comp.IsObject()) {
    Napi::Object c = comp.As<Napi::Object>();
    std::string kind = c.Get("kind").IsString() ? c.Get("kind").As<Napi::String>().Utf8Value() : "";
    if (kind == "zlib") cfg->compression = Compression::Zlib;
    else if (kind == "lzo") cfg->compression = Compression::Lzo;
    else if (kind != "none") {
      Napi::TypeError::New(env, "compression.kind must be 'none', 'zlib' or 'lzo'").ThrowAsJavaScriptException();
      return false;
    }
    if (cfg->compression != Compression::None) {
      Napi::Value lv = c.Get("level");
      cfg->level = lv.IsNumber() ? lv.As<Napi::Number>().Int32Value() : 1;
    }
  } else if (!comp.IsUndefined() && !comp.IsNull()) {
    Napi::TypeError::New(env, "compression must be {kind, level}").ThrowAsJavaScriptException();
    return false;
  }
  Napi::Value ci = o.Get("cipher");
  cfg->cipher = ci.IsNumber() ? ci.As<Napi::Number>().Int32Value() : 0;
  Napi::Value k = o.Get("key");
  cfg->key.clear();
  if (k.IsBuffer()) {
    auto b = k.As<Napi::Buffer<uint8_t>>();
    cfg->key.assign(reinterpret_cast<const char*>(b.Data()), b.Length());
  }
  std::string problem = vtun::ValidateConfig(*cfg);
  if (!problem.empty()) {
    Napi::RangeError::New(env, problem).ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

// ---------------------------------------------------------------------------------------------
// VtunCodec: the synchronous module chain.

class VtunCodecWrap : public Napi::ObjectWrap<VtunCodecWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "VtunCodec",
                       {InstanceMethod("encode", &VtunCodecWrap::Encode), InstanceMethod("decode", &VtunCodecWrap::Decode)});
  }
  explicit VtunCodecWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<VtunCodecWrap>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 1 || !info[0].IsObject()) {
      Napi::TypeError::New(env, "new VtunCodec({compression, cipher, key})").ThrowAsJavaScriptException();
      return;
    }
    CodecConfig cfg;
    if (!ParseCodecConfig(env, info[0].As<Napi::Object>(), &cfg)) return;
    auto sync = std::make_shared<vtun::ResyncSignal>();
    enc_ = std::make_unique<VtunEncoder>(cfg, sync);
    dec_ = std::make_unique<VtunDecoder>(cfg, sync);
    out_.resize(vtun::kMaxEncoded + 64);
    in_.resize(vtun::kMaxFramePayload + 64);
  }

 private:
  Napi::Value Encode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!enc_) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      Napi::TypeError::New(env, "encode(packet: Buffer)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto b = info[0].As<Napi::Buffer<uint8_t>>();
    std::string err;
    int n = enc_->Encode(b.Data(), b.Length(), out_.data(), &err);
    if (n < 0) {
      Napi::RangeError::New(env, "VtunCodec.encode: " + err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    return Napi::Buffer<uint8_t>::Copy(env, out_.data(), static_cast<size_t>(n));
  }
  Napi::Value Decode(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!dec_) return env.Undefined();
    if (info.Length() < 1 || !info[0].IsBuffer()) {
      Napi::TypeError::New(env, "decode(payload: Buffer)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    auto b = info[0].As<Napi::Buffer<uint8_t>>();
    if (b.Length() == 0 || b.Length() > vtun::kMaxFramePayload) return env.Null();  // the pump drops these too
    std::memcpy(in_.data(), b.Data(), b.Length());
    const uint8_t* p = nullptr;
    size_t n = 0;
    std::string err;
    DecodeResult r = dec_->Decode(in_.data(), b.Length(), &p, &n, &err);
    if (r == DecodeResult::Error) {
      Napi::Error::New(env, "VtunCodec.decode: " + err).ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (r == DecodeResult::Drop) return env.Null();
    return Napi::Buffer<uint8_t>::Copy(env, p, n);
  }

  std::unique_ptr<VtunEncoder> enc_;
  std::unique_ptr<VtunDecoder> dec_;
  std::vector<uint8_t> out_;
  std::vector<uint8_t> in_;
};

// vtunKey(password, 16|32): MD5(password), or MD5(first floor(len/2) bytes) || MD5(the rest).
Napi::Value VtunKey(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsBuffer() || !info[1].IsNumber()) {
    Napi::TypeError::New(env, "vtunKey(password: Buffer, bytes: 16 | 32)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto pw = info[0].As<Napi::Buffer<uint8_t>>();
  int bytes = info[1].As<Napi::Number>().Int32Value();
  if (bytes != 16 && bytes != 32) {
    Napi::RangeError::New(env, "vtunKey: bytes must be 16 or 32").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  auto out = Napi::Buffer<uint8_t>::New(env, static_cast<size_t>(bytes));
  if (bytes == 16) {
    MD5(pw.Data(), pw.Length(), out.Data());
  } else {
    size_t half = pw.Length() / 2;
    MD5(pw.Data(), half, out.Data());
    MD5(pw.Data() + half, pw.Length() - half, out.Data() + 16);
  }
  return out;
}

// socketPair('stream' | 'dgram' | 'seqpacket'): an AF_UNIX socketpair (close-on-exec), e.g. for
// VTun's `pipe` type or as a stand-in device/transport in tests.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  std::string kind = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "stream";
  int type = kind == "stream" ? SOCK_STREAM : kind == "dgram" ? SOCK_DGRAM : kind == "seqpacket" ? SOCK_SEQPACKET : -1;
  if (type < 0) {
    Napi::TypeError::New(env, "socketPair('stream' | 'dgram' | 'seqpacket')").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) {
    ThrowErrno(env, errno, "socketpair");
    return env.Undefined();
  }
  Napi::Array a = Napi::Array::New(env, 2);
  a.Set(0u, Napi::Number::New(env, sv[0]));
  a.Set(1u, Napi::Number::New(env, sv[1]));
  return a;
}

// ---------------------------------------------------------------------------------------------
// The pump: the engine with the VTun transform.

class Pump : public EngineObject<Pump> {
 public:
  static constexpr const char* kClass = "Pump";
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "Pump",
                       {InstanceMethod("start", &Pump::Start), InstanceMethod("stop", &Pump::Stop),
                        InstanceMethod("sendControl", &Pump::SendControl), InstanceMethod("stats", &Pump::Stats)});
  }

  explicit Pump(const Napi::CallbackInfo& info) : EngineObject<Pump>(info) {
    Napi::Env env = info.Env();
    Napi::Object o;
    int devFd, netFd;
    if (!EngineArgs(info, "Pump", &o, &devFd, &netFd)) return;
    std::string kind = StringOption(o, "deviceKind");
    if (kind != "" && kind != "packet" && kind != "stream") {
      Napi::TypeError::New(env, "Pump: deviceKind must be 'packet' or 'stream'").ThrowAsJavaScriptException();
      return;
    }
    std::string transport = StringOption(o, "transport");
    if (transport != "tcp" && transport != "udp") {
      Napi::TypeError::New(env, "Pump: transport must be 'tcp' or 'udp'").ThrowAsJavaScriptException();
      return;
    }
    engine::VtunOptions vo;
    vo.streamDevice = kind == "stream";
    vo.tcp = transport == "tcp";
    Napi::Value nh = o.Get("natHack");
    vo.natHack = !vo.tcp && nh.IsBoolean() && nh.As<Napi::Boolean>().Value();
    std::vector<uint8_t> initialRx;
    if (!InitialRxOption(o, "Pump", kMaxInitialRx, &initialRx)) return;
    if (!ParseCodecConfig(env, o, &vo.codec)) return;
    engine::EngineOptions eo;
    eo.batch = IntOption(o, "batchSize", 32);
    eo.holdMs = IntOption(o, "sendDelayMs", 0);
    int speedKbps = IntOption(o, "speedKbps", 0);
    // vtund's shaping: at most speed*1024/8 + 400 bytes per second
    if (speedKbps > 0) eo.txBytesPerSecond = static_cast<int64_t>(speedKbps) * 1024 / 8 + 400;
    vtun_ = std::make_unique<engine::VtunTransform>(vo);
    auto device = vo.streamDevice ? engine::MakeStreamDevice(devFd) : engine::MakePacketDevice(devFd);
    auto net = vo.tcp ? engine::MakeTcpTransport(netFd, vtun_->StreamFramer(), std::move(initialRx))
                      : engine::MakeUdpTransport(netFd, vtun_->RxSlotBytes(), eo.batch, false);
    engine_.Init(info[1].As<Napi::Function>(),
                 std::make_unique<engine::Engine>(std::move(device), std::move(net), vtun_.get(), eo));
  }

 private:
  static constexpr size_t kMaxInitialRx = 128 * 1024;

  Napi::Value SendControl(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::string kind = info.Length() > 0 && info[0].IsString() ? info[0].As<Napi::String>().Utf8Value() : "";
    if (kind != "echo_req" && kind != "conn_close") {
      Napi::TypeError::New(env, "sendControl('echo_req' | 'conn_close')").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!engine_ || !engine_->Running()) return env.Undefined();
    if (kind == "echo_req") vtun_->QueueEchoRequest();
    else vtun_->QueueClose();
    engine_->WakeTx();
    return env.Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!engine_) return o;
    engine_.CountersToJs(env, o, "Frames");
    o.Set("echoRequestsReceived", Napi::Number::New(env, static_cast<double>(vtun_->EchoRequestsReceived())));
    o.Set("echoRepliesReceived", Napi::Number::New(env, static_cast<double>(vtun_->EchoRepliesReceived())));
    o.Set("echoRequestsSent", Napi::Number::New(env, static_cast<double>(vtun_->EchoRequestsSent())));
    o.Set("msSinceEchoReply", Napi::Number::New(env, static_cast<double>(vtun_->MsSinceEchoReply())));
    o.Set("msSinceRx", Napi::Number::New(env, static_cast<double>(vtun_->MsSinceRx())));
    return o;
  }

  std::unique_ptr<engine::VtunTransform> vtun_;
  friend class EngineObject<Pump>;
  JsEngine engine_;  // after vtun_: destroyed (threads joined) before it
};

}  // namespace

Napi::Object InitPump(Napi::Env env, Napi::Object exports) {
  exports.Set("Pump", Pump::Define(env));
  exports.Set("VtunCodec", VtunCodecWrap::Define(env));
  exports.Set("vtunKey", Napi::Function::New(env, VtunKey, "vtunKey"));
  exports.Set("socketPair", Napi::Function::New(env, SocketPair, "socketPair"));
  return exports;
}

}  // namespace tund
