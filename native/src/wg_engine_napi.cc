// The JS face of WireGuard's transport (engine/wg_transform.h): the WgEngine class. It reads
// options, turns JS values into peers, prefixes, endpoints and keys, and reads counters; every
// packet is handled by the engine's threads. The handshake, timers and policy stay in JS
// (native/index.ts documents the API).
#include <napi.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"
#include "engine/peer_streams.h"
#include "engine/wg_cookie_gate.h"
#include "engine/wg_transform.h"
#include "engine_napi.h"

namespace tund {
int TakeWsConnection(Napi::Value v, std::unique_ptr<tls::Session>* tls, std::vector<uint8_t>* initial);  // vpnws_napi.cc

namespace {

constexpr int kWgBatch = 64;  // packets per round by default (see the engine's options below)

Napi::Value EndpointToJs(Napi::Env env, const Endpoint& ep) {
  if (ep.Empty()) return env.Null();
  Napi::Object o = Napi::Object::New(env);
  o.Set("address", ep.Address());
  o.Set("port", ep.Port());
  return o;
}

// {address, port} -> Endpoint; null/undefined -> empty when allowed. Throws otherwise.
bool EndpointFromJs(Napi::Env env, Napi::Value v, bool allowNull, Endpoint* out, const char* what) {
  *out = Endpoint{};
  if (allowNull && (v.IsNull() || v.IsUndefined())) return true;
  if (v.IsObject()) {
    Napi::Object o = v.As<Napi::Object>();
    Napi::Value a = o.Get("address"), p = o.Get("port");
    if (a.IsString() && p.IsNumber()) {
      std::string address = a.As<Napi::String>().Utf8Value();
      double port = p.As<Napi::Number>().DoubleValue();
      if (port >= 1 && port <= 65535 && port == static_cast<int>(port) &&
          Endpoint::Parse(address, static_cast<int>(port), out)) {
        return true;
      }
      Napi::TypeError::New(env, std::string(what) + ": bad endpoint \"" + address + "\" port " + std::to_string(port) +
                                    " (expected an IPv4/IPv6 address and a port 1..65535)")
          .ThrowAsJavaScriptException();
      return false;
    }
  }
  Napi::TypeError::New(env, std::string(what) + ": expected {address, port}" + (allowNull ? " or null" : ""))
      .ThrowAsJavaScriptException();
  return false;
}

bool PeerIdFromJs(const Napi::CallbackInfo& info, uint32_t* id, const char* what) {
  if (info.Length() < 1 || !info[0].IsNumber()) {
    Napi::TypeError::New(info.Env(), std::string(what) + ": expected a peer id (number)").ThrowAsJavaScriptException();
    return false;
  }
  double v = info[0].As<Napi::Number>().DoubleValue();
  if (v < 1 || v > 4294967295.0 || v != static_cast<double>(static_cast<uint32_t>(v))) {
    Napi::RangeError::New(info.Env(), std::string(what) + ": peer id " + std::to_string(v) + " (expected 1..4294967295)")
        .ThrowAsJavaScriptException();
    return false;
  }
  *id = static_cast<uint32_t>(v);
  return true;
}

// A 32-byte key: o[key], or o itself when key is null. Throws naming `what` otherwise.
bool KeyFromJs(Napi::Env env, Napi::Object o, const char* key, uint8_t out[wg::kKeySize], const char* what = "installKeypair") {
  Napi::Value v = key ? o.Get(key) : static_cast<Napi::Value>(o);
  if (!v.IsBuffer() || v.As<Napi::Buffer<uint8_t>>().Length() != wg::kKeySize) {
    Napi::TypeError::New(env, std::string(what) + ": " + (key ? key : "the key") + " must be a 32-byte Buffer").ThrowAsJavaScriptException();
    return false;
  }
  std::memcpy(out, v.As<Napi::Buffer<uint8_t>>().Data(), wg::kKeySize);
  return true;
}

bool IndexFromJs(Napi::Env env, Napi::Object o, const char* key, uint32_t* out) {
  Napi::Value v = o.Get(key);
  double d = v.IsNumber() ? v.As<Napi::Number>().DoubleValue() : -1;
  if (d < 0 || d > 4294967295.0 || d != static_cast<double>(static_cast<uint32_t>(d))) {
    Napi::TypeError::New(env, std::string("installKeypair: ") + key + " must be a 32-bit unsigned integer").ThrowAsJavaScriptException();
    return false;
  }
  *out = static_cast<uint32_t>(d);
  return true;
}

// A message count option: a number or a bigint.
bool CountOption(Napi::Env env, Napi::Object o, const char* key, uint64_t* out) {
  Napi::Value v = o.Get(key);
  if (v.IsUndefined()) return true;
  if (v.IsBigInt()) {
    bool lossless = true;
    *out = v.As<Napi::BigInt>().Uint64Value(&lossless);
    if (lossless) return true;
  } else if (v.IsNumber() && v.As<Napi::Number>().DoubleValue() >= 1) {
    *out = static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
    return true;
  }
  Napi::TypeError::New(env, std::string("WgEngine: limits.") + key + " must be a positive number or bigint").ThrowAsJavaScriptException();
  return false;
}

Napi::Value WgEventToJs(Napi::Env env, engine::Event& e) {
  if (e.type == "ended") return EndedToJs(env, e);
  Napi::Object ev = Napi::Object::New(env);
  ev.Set("type", e.type);
  if (e.type == "message") {
    ev.Set("data", Napi::Buffer<uint8_t>::Copy(env, e.data.data(), e.data.size()));
    ev.Set("from", EndpointToJs(env, e.from));
  } else if (e.type == "connection_closed") {
    ev.Set("remote", EndpointToJs(env, e.from));
    ev.Set("message", e.message);
  } else {
    ev.Set("peer", Napi::Number::New(env, e.peer));
    if (!e.reason.empty()) ev.Set("reason", e.reason);
    if (e.type == "keypair_confirmed") ev.Set("localIndex", Napi::Number::New(env, e.index));
  }
  return ev;
}

class WgEngine : public EngineObject<WgEngine> {
 public:
  static constexpr const char* kClass = "WgEngine";
  static Napi::Value EventToJs(Napi::Env env, engine::Event& e) { return WgEventToJs(env, e); }
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "WgEngine",
                       {InstanceMethod("start", &WgEngine::Start), InstanceMethod("stop", &WgEngine::Stop),
                        InstanceMethod("addPeer", &WgEngine::AddPeer), InstanceMethod("removePeer", &WgEngine::RemovePeer),
                        InstanceMethod("setEndpoint", &WgEngine::SetEndpoint),
                        InstanceMethod("setAllowedIps", &WgEngine::SetAllowedIps),
                        InstanceMethod("allowedIps", &WgEngine::AllowedIps),
                        InstanceMethod("installKeypair", &WgEngine::InstallKeypair),
                        InstanceMethod("clearKeypairs", &WgEngine::ClearKeypairs),
                        InstanceMethod("dropStaged", &WgEngine::DropStaged),
                        InstanceMethod("setPublicKey", &WgEngine::SetPublicKey),
                        InstanceMethod("forceUnderLoad", &WgEngine::ForceUnderLoad),
                        InstanceMethod("sendKeepalive", &WgEngine::SendKeepalive), InstanceMethod("send", &WgEngine::Send),
                        InstanceMethod("sendToPeer", &WgEngine::SendToPeer), InstanceMethod("peers", &WgEngine::Peers),
                        InstanceMethod("peerStats", &WgEngine::PeerStats), InstanceMethod("stats", &WgEngine::Stats),
                        InstanceMethod("addConnection", &WgEngine::AddConnection),
                        InstanceMethod("addDialed", &WgEngine::AddDialed)});
  }

  explicit WgEngine(const Napi::CallbackInfo& info) : EngineObject<WgEngine>(info) {
    Napi::Env env = info.Env();
    Napi::Object o;
    int devFd, netFd;
    // transport: 'udp' (netFd: the socket), 'tcp' or 'websocket' (connections come by
    // addConnection, and for websocket the dialed ones by addDialed)
    if (!info[0].IsObject()) {
      Napi::TypeError::New(env, "new WgEngine(options, onEvent)").ThrowAsJavaScriptException();
      return;
    }
    const std::string kind = StringOption(info[0].As<Napi::Object>(), "transport");
    if (kind != "" && kind != "udp" && kind != "tcp" && kind != "websocket") {
      Napi::TypeError::New(env, "WgEngine: transport \"" + kind + "\" (expected udp, tcp or websocket)").ThrowAsJavaScriptException();
      return;
    }
    const bool streams = kind == "tcp" || kind == "websocket";
    if (!EngineArgs(info, "WgEngine", &o, &devFd, &netFd, !streams)) return;
    engine::WgOptions wo;
    wo.mtu = IntOption(o, "mtu", 1420);
    if (wo.mtu < 576 || wo.mtu > 65535) {
      Napi::RangeError::New(env, "WgEngine: mtu " + std::to_string(wo.mtu) + " out of range (expected 576..65535)").ThrowAsJavaScriptException();
      return;
    }
    wo.maxStaged = static_cast<size_t>(std::max(1, IntOption(o, "maxStagedPackets", 128)));
    wo.handshakeEventIntervalMs = IntOption(o, "handshakeEventIntervalMs", 1000);
    Napi::Value lv = o.Get("limits");
    if (lv.IsObject()) {
      Napi::Object l = lv.As<Napi::Object>();
      wo.limits.rekeyAfterTimeMs = IntOption(l, "rekeyAfterTimeMs", static_cast<int>(wo.limits.rekeyAfterTimeMs));
      wo.limits.rejectAfterTimeMs = IntOption(l, "rejectAfterTimeMs", static_cast<int>(wo.limits.rejectAfterTimeMs));
      wo.limits.keepaliveTimeoutMs = IntOption(l, "keepaliveTimeoutMs", static_cast<int>(wo.limits.keepaliveTimeoutMs));
      wo.limits.rekeyTimeoutMs = IntOption(l, "rekeyTimeoutMs", static_cast<int>(wo.limits.rekeyTimeoutMs));
      if (!CountOption(env, l, "rekeyAfterMessages", &wo.limits.rekeyAfterMessages)) return;
      if (!CountOption(env, l, "rejectAfterMessages", &wo.limits.rejectAfterMessages)) return;
    }
    engine::EngineOptions eo;
    // 64 packets a round: a whole TSO super-packet (64 KiB, up to 47 segments at a 1420 MTU) is
    // read and sealed in one round and handed to the send thread with one wake-up, not two (with
    // 32, about a quarter less CPU went to wake-ups per GB: docs/engine.md, Where the CPU goes)
    eo.batch = IntOption(o, "batchSize", kWgBatch);
    wg_ = std::make_unique<engine::WgTransform>(wo);
    auto gate = std::make_unique<engine::CookieGate>();
    gate_ = gate.get();
    wg_->SetHandshakeGate(std::move(gate));
    if (!o.Get("publicKey").IsUndefined()) {
      uint8_t pub[wg::kKeySize];
      if (!o.Get("publicKey").IsObject() || !KeyFromJs(env, o.Get("publicKey").As<Napi::Object>(), nullptr, pub, "WgEngine: publicKey")) {
        gate_ = nullptr;
        wg_.reset();
        return;
      }
      gate_->SetLocalPublicKey(pub);
    }
    std::unique_ptr<engine::Transport> net;
    if (streams) {
      engine::PeerStreamOptions po;
      po.maxPending = static_cast<size_t>(std::max(1, IntOption(o, "maxPendingConnections", 64)));
      po.pendingDeadlineMs = std::max(100, IntOption(o, "pendingDeadlineMs", 10000));
      po.webSocket = kind == "websocket";
      po.wsPath = StringOption(o, "path");
      // wss: accepted connections speak TLS with this certificate (and ask for a client's)
      std::string cert = StringOption(o, "certFile");
      if (po.webSocket && !cert.empty()) {
        tls::ServerConfig sc;
        sc.certFile = cert;
        sc.keyFile = StringOption(o, "keyFile");
        sc.clientCaFile = StringOption(o, "clientCaFile");
        std::string error;
        std::unique_ptr<tls::Context> ctx = tls::Context::NewServer(sc, &error);
        if (!ctx) {
          Napi::Error::New(env, "WgEngine: " + error).ThrowAsJavaScriptException();
          return;
        }
        po.tlsServer = std::move(ctx);
      }
      engine::WgTransform* wg = wg_.get();
      auto t = std::make_unique<engine::PeerStreamsTransport>(po, [wg](const Endpoint& ep) { return wg->HasPeerAt(ep); });
      if (!t->Ok()) {
        Napi::Error::New(env, "WgEngine: eventfd: " + std::string(strerror(errno))).ThrowAsJavaScriptException();
        return;
      }
      streams_ = t.get();
      net = std::move(t);
    } else {
      net = engine::MakeUdpTransport(netFd, wg_->RxSlotBytes(), eo.batch, true);
    }
    engine_.Init(info[1].As<Napi::Function>(),
                 std::make_unique<engine::Engine>(engine::MakePacketDevice(devFd), std::move(net), wg_.get(), eo));
  }

 private:
  // The methods on one peer: reads the id (first argument), runs op(id, &error) and throws
  // "what: error" when it fails (op may also have thrown already, on a bad argument).
  template <typename Op>
  Napi::Value OnPeer(const Napi::CallbackInfo& info, const char* what, Op op) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (!wg_ || !PeerIdFromJs(info, &id, what)) return env.Undefined();
    std::string error;
    if (!op(id, &error) && !env.IsExceptionPending()) {
      Napi::Error::New(env, std::string(what) + ": " + error).ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }
  Napi::Value Arg(const Napi::CallbackInfo& info, size_t i) { return info.Length() > i ? info[i] : info.Env().Undefined(); }

  Napi::Value AddPeer(const Napi::CallbackInfo& info) {
    return OnPeer(info, "addPeer", [&](uint32_t id, std::string* error) {
      Napi::Env env = info.Env();
      Endpoint ep;
      std::vector<engine::Prefix> prefixes;
      Napi::Value o = Arg(info, 1);
      if (o.IsObject()) {
        Napi::Object opts = o.As<Napi::Object>();
        if (!EndpointFromJs(env, opts.Get("endpoint"), true, &ep, "addPeer")) return false;
        if (!opts.Get("allowedIps").IsUndefined() && !PrefixesFromJs(env, opts.Get("allowedIps"), &prefixes, "addPeer")) return false;
      }
      return wg_->AddPeer(id, error) && (ep.Empty() || wg_->SetEndpoint(id, ep, error)) &&
             (prefixes.empty() || wg_->SetAllowedIps(id, prefixes, error));
    });
  }

  Napi::Value RemovePeer(const Napi::CallbackInfo& info) {
    return OnPeer(info, "removePeer", [&](uint32_t id, std::string* error) { return wg_->RemovePeer(id, error); });
  }

  Napi::Value SetEndpoint(const Napi::CallbackInfo& info) {
    return OnPeer(info, "setEndpoint", [&](uint32_t id, std::string* error) {
      Endpoint ep;
      return EndpointFromJs(info.Env(), Arg(info, 1), true, &ep, "setEndpoint") && wg_->SetEndpoint(id, ep, error);
    });
  }

  // Every bad prefix is reported at once.
  static bool PrefixesFromJs(Napi::Env env, Napi::Value v, std::vector<engine::Prefix>* out, const char* what) {
    if (!v.IsArray()) {
      Napi::TypeError::New(env, std::string(what) + ": allowed IPs must be an array of strings").ThrowAsJavaScriptException();
      return false;
    }
    Napi::Array a = v.As<Napi::Array>();
    std::string problems;
    for (uint32_t i = 0; i < a.Length(); i++) {
      Napi::Value s = a.Get(i);
      engine::Prefix p;
      std::string error;
      if (!s.IsString()) error = "element " + std::to_string(i) + " is not a string";
      else if (engine::ParsePrefix(s.As<Napi::String>().Utf8Value(), &p, &error)) out->push_back(p);
      if (!error.empty()) problems += (problems.empty() ? "" : "; ") + error;
    }
    if (problems.empty()) return true;
    Napi::TypeError::New(env, std::string(what) + ": " + problems).ThrowAsJavaScriptException();
    return false;
  }

  Napi::Value SetAllowedIps(const Napi::CallbackInfo& info) {
    return OnPeer(info, "setAllowedIps", [&](uint32_t id, std::string* error) {
      std::vector<engine::Prefix> prefixes;
      return PrefixesFromJs(info.Env(), Arg(info, 1), &prefixes, "setAllowedIps") && wg_->SetAllowedIps(id, prefixes, error);
    });
  }

  Napi::Value AllowedIps(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (!wg_ || !PeerIdFromJs(info, &id, "allowedIps")) return env.Undefined();
    std::vector<engine::Prefix> prefixes = wg_->AllowedIpsOf(id);
    Napi::Array a = Napi::Array::New(env, prefixes.size());
    for (size_t i = 0; i < prefixes.size(); i++) a.Set(static_cast<uint32_t>(i), prefixes[i].ToString());
    return a;
  }

  Napi::Value InstallKeypair(const Napi::CallbackInfo& info) {
    return OnPeer(info, "installKeypair", [&](uint32_t id, std::string* error) {
      Napi::Env env = info.Env();
      Napi::Value v = Arg(info, 1);
      if (!v.IsObject()) {
        *error = "expected (peer, {sendKey, recvKey, localIndex, remoteIndex, initiator})";
        return false;
      }
      Napi::Object o = v.As<Napi::Object>();
      engine::WgKeypairSpec spec;
      if (!KeyFromJs(env, o, "sendKey", spec.sendKey) || !KeyFromJs(env, o, "recvKey", spec.receiveKey) ||
          !IndexFromJs(env, o, "localIndex", &spec.localIndex) || !IndexFromJs(env, o, "remoteIndex", &spec.remoteIndex)) {
        return false;
      }
      Napi::Value init = o.Get("initiator");
      if (!init.IsBoolean()) {
        *error = "initiator must be a boolean";
        return false;
      }
      spec.initiator = init.As<Napi::Boolean>().Value();
      bool ok = wg_->InstallKeypair(id, spec, error);
      wg::Wipe(spec.sendKey, sizeof spec.sendKey);
      wg::Wipe(spec.receiveKey, sizeof spec.receiveKey);
      return ok;
    });
  }

  Napi::Value ClearKeypairs(const Napi::CallbackInfo& info) {
    return OnPeer(info, "clearKeypairs", [&](uint32_t id, std::string* error) { return wg_->ClearKeypairs(id, error); });
  }

  Napi::Value DropStaged(const Napi::CallbackInfo& info) {
    return OnPeer(info, "dropStaged", [&](uint32_t id, std::string* error) { return wg_->DropStaged(id, error); });
  }

  // setPublicKey(key): the device's public key; from now on mac1 must be ours.
  Napi::Value SetPublicKey(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint8_t pub[wg::kKeySize];
    Napi::Value v = Arg(info, 0);
    if (!gate_) return env.Undefined();
    if (!v.IsObject()) {
      Napi::TypeError::New(env, "setPublicKey: the key must be a 32-byte Buffer").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (!KeyFromJs(env, v.As<Napi::Object>(), nullptr, pub, "setPublicKey")) return env.Undefined();
    gate_->SetLocalPublicKey(pub);
    return env.Undefined();
  }

  // forceUnderLoad(true | false | null): the cookie gate acts as if (not) under load; null measures.
  Napi::Value ForceUnderLoad(const Napi::CallbackInfo& info) {
    Napi::Value v = Arg(info, 0);
    if (!gate_) return info.Env().Undefined();
    if (v.IsBoolean()) gate_->ForceLoad(v.As<Napi::Boolean>().Value());
    else gate_->UnforceLoad();
    return info.Env().Undefined();
  }

  Napi::Value SendKeepalive(const Napi::CallbackInfo& info) {
    return OnPeer(info, "sendKeepalive", [&](uint32_t id, std::string* error) { return wg_->QueueKeepalive(id, error); });
  }

  static bool DataFromJs(Napi::Env env, Napi::Value v, std::vector<uint8_t>* out, const char* what) {
    if (!v.IsBuffer() || v.As<Napi::Buffer<uint8_t>>().Length() == 0 || v.As<Napi::Buffer<uint8_t>>().Length() > 65507) {
      Napi::TypeError::New(env, std::string(what) + ": data must be a Buffer of 1..65507 bytes").ThrowAsJavaScriptException();
      return false;
    }
    auto b = v.As<Napi::Buffer<uint8_t>>();
    out->assign(b.Data(), b.Data() + b.Length());
    return true;
  }

  // send(data, endpoint): any message to any endpoint, through the engine's socket.
  Napi::Value Send(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!engine_) return env.Undefined();
    engine::Outgoing out;
    if (!DataFromJs(env, Arg(info, 0), &out.data, "send")) return env.Undefined();
    if (!EndpointFromJs(env, Arg(info, 1), false, &out.to, "send")) return env.Undefined();
    return Napi::Boolean::New(env, engine_->QueueOutgoing(std::move(out)));
  }

  Napi::Value SendToPeer(const Napi::CallbackInfo& info) {
    return OnPeer(info, "sendToPeer", [&](uint32_t id, std::string* error) {
      std::vector<uint8_t> data;
      return DataFromJs(info.Env(), Arg(info, 1), &data, "sendToPeer") && wg_->QueueToPeer(id, std::move(data), error);
    });
  }

  Napi::Value Peers(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    std::vector<uint32_t> ids = wg_ ? wg_->PeerIds() : std::vector<uint32_t>();
    Napi::Array a = Napi::Array::New(env, ids.size());
    for (size_t i = 0; i < ids.size(); i++) a.Set(static_cast<uint32_t>(i), Napi::Number::New(env, ids[i]));
    return a;
  }

  static Napi::Value KeypairToJs(Napi::Env env, const engine::WgKeypairInfo& k) {
    if (!k.present) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("localIndex", Napi::Number::New(env, k.localIndex));
    o.Set("remoteIndex", Napi::Number::New(env, k.remoteIndex));
    o.Set("sendCounter", Napi::BigInt::New(env, k.sendCounter));
    o.Set("ageMs", Napi::Number::New(env, static_cast<double>(k.ageMs)));
    o.Set("initiator", Napi::Boolean::New(env, k.initiator));
    return o;
  }

  Napi::Value PeerStats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    uint32_t id;
    if (!wg_ || !PeerIdFromJs(info, &id, "peerStats")) return env.Undefined();
    engine::WgPeerStats s;
    if (!wg_->PeerStats(id, &s)) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    const std::pair<const char*, double> numbers[] = {
        {"rxBytes", static_cast<double>(s.rxBytes)},
        {"txBytes", static_cast<double>(s.txBytes)},
        {"rxPackets", static_cast<double>(s.rxPackets)},
        {"txPackets", static_cast<double>(s.txPackets)},
        {"keepalivesReceived", static_cast<double>(s.keepalivesReceived)},
        {"keepalivesSent", static_cast<double>(s.keepalivesSent)},
        {"msSinceTx", static_cast<double>(s.msSinceTx)},
        {"msSinceTxData", static_cast<double>(s.msSinceTxData)},
        {"msSinceRx", static_cast<double>(s.msSinceRx)},
        {"msSinceRxData", static_cast<double>(s.msSinceRxData)},
        {"msSinceFirstRxDataSinceTx", static_cast<double>(s.msSinceFirstRxDataSinceTx)},
        {"msSinceFirstTxDataSinceRx", static_cast<double>(s.msSinceFirstTxDataSinceRx)},
        {"staged", static_cast<double>(s.staged)},
        {"stagedDrops", static_cast<double>(s.stagedDrops)},
        {"replayDrops", static_cast<double>(s.replayDrops)},
        {"authFailures", static_cast<double>(s.authFailures)},
        {"sourceDrops", static_cast<double>(s.sourceDrops)},
        {"expiredDrops", static_cast<double>(s.expiredDrops)},
        {"noEndpointDrops", static_cast<double>(s.noEndpointDrops)},
    };
    for (const auto& n : numbers) o.Set(n.first, Napi::Number::New(env, n.second));
    o.Set("endpoint", EndpointToJs(env, s.endpoint));
    o.Set("current", KeypairToJs(env, s.current));
    o.Set("previous", KeypairToJs(env, s.previous));
    o.Set("next", KeypairToJs(env, s.next));
    return o;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!engine_) return o;
    engine_.CountersToJs(env, o, "Messages");
    const engine::WgCounters& w = wg_->Counters();
    const std::pair<const char*, const std::atomic<uint64_t>*> counters[] = {
        {"noRoute", &w.noRoute},           {"unknownIndex", &w.unknownIndex},
        {"authFailures", &w.authFailures}, {"replayDrops", &w.replayDrops},
        {"expiredDrops", &w.expiredDrops}, {"sourceDrops", &w.sourceDrops},
        {"invalidPackets", &w.invalidPackets}, {"shortMessages", &w.shortMessages},
        {"unknownTypes", &w.unknownTypes}, {"handshakeMessages", &w.handshakeMessages},
        {"handshakeDrops", &w.handshakeDrops}, {"cookieReplies", &w.cookieReplies},
    };
    for (const auto& c : counters) {
      o.Set(c.first, Napi::Number::New(env, static_cast<double>(c.second->load(std::memory_order_relaxed))));
    }
    if (streams_) {
      const engine::PeerStreamCounters& p = streams_->Counters();
      Napi::Object cs = Napi::Object::New(env);
      const std::pair<const char*, const std::atomic<uint64_t>*> conns[] = {
          {"open", &p.open}, {"accepted", &p.accepted}, {"refused", &p.refused}, {"closed", &p.closed}, {"expired", &p.expired}};
      for (const auto& c : conns) cs.Set(c.first, Napi::Number::New(env, static_cast<double>(c.second->load(std::memory_order_relaxed))));
      o.Set("connections", cs);
    }
    return o;
  }

  // addConnection(fd): a connected TCP socket for a 'tcp' engine (the engine owns it from now
  // on). Returns null when taken, or why it was refused (and closed).
  Napi::Value AddConnection(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!streams_) {
      Napi::Error::New(env, "addConnection: not a tcp engine").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (info.Length() < 1 || !info[0].IsNumber() || info[0].As<Napi::Number>().Int32Value() < 0) {
      Napi::TypeError::New(env, "addConnection: expected a file descriptor").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string why;
    if (streams_->Add(info[0].As<Napi::Number>().Int32Value(), &why)) return env.Null();
    return Napi::String::New(env, why);
  }

  // addDialed(connection, name?): a websocket connection this side dialed and upgraded (wsDial's),
  // taken from the connection object, named by `name` ({address, port}; null: its peer address). Returns null when taken, or why it was refused (and closed).
  Napi::Value AddDialed(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!streams_) {
      Napi::Error::New(env, "addDialed: not a websocket engine").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    // (through an HTTP proxy the socket's peer is the proxy: the connection is named by the
    // peer's endpoint instead)
    Endpoint name;
    if (!EndpointFromJs(env, Arg(info, 1), true, &name, "addDialed")) return env.Undefined();
    std::unique_ptr<tls::Session> tls;
    std::vector<uint8_t> initial;
    int fd = TakeWsConnection(info.Length() > 0 ? info[0] : env.Undefined(), &tls, &initial);
    if (fd < 0) {
      Napi::TypeError::New(env, "addDialed: expected a connection from wsDial (not taken before)").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    std::string why;
    if (streams_->AddDialed(fd, std::move(tls), std::move(initial), name, &why)) return env.Null();
    return Napi::String::New(env, why);
  }

  std::unique_ptr<engine::WgTransform> wg_;
  engine::CookieGate* gate_ = nullptr;  // owned by wg_
  engine::PeerStreamsTransport* streams_ = nullptr;  // owned by the engine (tcp only)
  friend class EngineObject<WgEngine>;
  JsEngine engine_;  // after wg_: destroyed (threads joined) before it
};

}  // namespace

Napi::Object InitWgEngine(Napi::Env env, Napi::Object exports) {
  exports.Set("WgEngine", WgEngine::Define(env));
  return exports;
}

}  // namespace tund
