// The JS face of a vpn-ws client link (docs/vpn-ws.md): the engine with the WebSocket transform
// (engine/ws_transform.h) over a TCP socket, or over TLS with a tls::Session that JS handshook
// (engine/tls_layer.h). JS does the connect, the TLS handshake and the HTTP upgrade (once per
// connection), then hands the fd, the TLS session and the bytes read past the 101 to the engine;
// from then on every frame stays on the engine's threads.
#include <napi.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "engine/tls_layer.h"
#include "vpnws_dial.h"
#include "vpnws_hub.h"
#include "engine/ws_transform.h"
#include "engine_napi.h"
#include "errors.h"

namespace tund {

std::unique_ptr<tls::Session> TakeTlsSession(Napi::Value v);  // tls_addon.cc

namespace {

constexpr size_t kMaxInitialRx = 256 * 1024;

// ---------------------------------------------------------------------------------------------
// A connection that finished its upgrade, until a WsLink takes it (or it is closed).

class WsConnection : public Napi::ObjectWrap<WsConnection> {
 public:
  static Napi::FunctionReference* constructor;
  static Napi::Function Define(Napi::Env env) {
    Napi::Function f = DefineClass(env, "WsConnection", {InstanceMethod("close", &WsConnection::Close)});
    constructor = new Napi::FunctionReference(Napi::Persistent(f));
    return f;
  }
  explicit WsConnection(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WsConnection>(info) {}
  ~WsConnection() override { Discard(); }

  static Napi::Object New(Napi::Env env, vpnws::Dialed&& d) {
    Napi::Object o = constructor->New({});
    WsConnection* c = Unwrap(o);
    o.Set("fd", Napi::Number::New(env, d.fd));
    o.Set("status", Napi::Number::New(env, d.response.status));
    o.Set("tlsProtocol", Napi::String::New(env, d.tlsProtocol));
    o.Set("tlsCipher", Napi::String::New(env, d.tlsCipher));
    o.Set("peerSubject", Napi::String::New(env, d.peerSubject));
    Napi::Object headers = Napi::Object::New(env);
    for (const http::Header& h : d.response.headers) headers.Set(h.name, Napi::String::New(env, h.value));
    o.Set("headers", headers);
    c->d_ = std::move(d);
    return o;
  }
  static WsConnection* From(Napi::Value v) {
    if (!v.IsObject() || !v.As<Napi::Object>().InstanceOf(constructor->Value())) return nullptr;
    return Unwrap(v.As<Napi::Object>());
  }
  // The link takes the socket, the TLS session and the early bytes; -1 when taken before.
  int Take(std::unique_ptr<tls::Session>* tls, std::vector<uint8_t>* initial) {
    int fd = d_.fd;
    d_.fd = -1;
    *tls = std::move(d_.tls);
    *initial = std::move(d_.initial);
    return fd;
  }

 private:
  void Discard() {
    d_.tls.reset();
    if (d_.fd >= 0) ::close(d_.fd);
    d_.fd = -1;
  }
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Discard();
    return info.Env().Undefined();
  }
  vpnws::Dialed d_;
};

Napi::FunctionReference* WsConnection::constructor = nullptr;

// wsDial(params, callback) -> {cancel()}: Dial on a worker thread; callback(error, connection).
// The error has .step ("connect", "proxy", "tls", "upgrade", "timeout", "cancelled") and .code
// (the errno name when there is one).
class DialWorker : public Napi::AsyncWorker {
 public:
  DialWorker(Napi::Function cb, vpnws::DialRequest req, int cancelFd)
      : Napi::AsyncWorker(cb), req_(std::move(req)), cancelFd_(cancelFd) {
    req_.cancelFd = cancelFd;
  }
  ~DialWorker() override { ::close(cancelFd_); }
  void Execute() override { ok_ = vpnws::Dial(req_, &out_); }
  void OnOK() override {
    Napi::Env env = Env();
    if (ok_) {
      Callback().Call({env.Null(), WsConnection::New(env, std::move(out_))});
      return;
    }
    Napi::Error e = Napi::Error::New(env, out_.error);
    e.Set("step", Napi::String::New(env, out_.failedStep));
    if (out_.errnoValue) e.Set("code", Napi::String::New(env, ErrnoName(out_.errnoValue)));
    Callback().Call({e.Value(), env.Null()});
  }

 private:
  vpnws::DialRequest req_;
  int cancelFd_;
  vpnws::Dialed out_;
  bool ok_ = false;
};

Napi::Value WsDial(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, "wsDial(params: object, callback: function)").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  Napi::Object o = info[0].As<Napi::Object>();
  vpnws::DialRequest r;
  r.address = StringOption(o, "address");
  r.port = IntOption(o, "port", 0);
  r.fwMark = o.Get("fwMark").IsNumber() ? o.Get("fwMark").As<Napi::Number>().Uint32Value() : 0;
  r.proxyAuthority = StringOption(o, "proxyAuthority");
  r.proxyUser = StringOption(o, "proxyUser");
  r.proxyPassword = StringOption(o, "proxyPassword");
  r.timeoutMs = IntOption(o, "timeoutMs", 10000);
  r.userTimeoutMs = static_cast<uint32_t>(IntOption(o, "userTimeoutMs", 0));
  Napi::Value t = o.Get("tls");
  if (t.IsObject()) {
    Napi::Object to = t.As<Napi::Object>();
    r.tls = true;
    r.tlsConfig.serverName = StringOption(to, "serverName");
    Napi::Value v = to.Get("verify");
    r.tlsConfig.verify = !v.IsBoolean() || v.As<Napi::Boolean>().Value();
    r.tlsConfig.caFile = StringOption(to, "caFile");
    r.tlsConfig.certFile = StringOption(to, "certFile");
    r.tlsConfig.keyFile = StringOption(to, "keyFile");
  }
  r.upgrade.path = StringOption(o, "path");
  r.upgrade.host = StringOption(o, "host");
  r.upgrade.mac = StringOption(o, "mac");
  Napi::Value b = o.Get("bridge");
  r.upgrade.bridge = b.IsBoolean() && b.As<Napi::Boolean>().Value();
  r.upgrade.user = StringOption(o, "user");
  r.upgrade.password = StringOption(o, "password");
  if (r.port <= 0 || r.port > 65535 || r.address.empty() || r.upgrade.path.empty() || r.upgrade.host.empty()) {
    Napi::TypeError::New(env, "wsDial: address, port (1-65535), host and path are needed").ThrowAsJavaScriptException();
    return env.Undefined();
  }
  int cancelFd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (cancelFd < 0) {
    ThrowErrno(env, errno, "eventfd");
    return env.Undefined();
  }
  auto* w = new DialWorker(info[1].As<Napi::Function>(), std::move(r), cancelFd);
  Napi::Object handle = Napi::Object::New(env);
  // cancel() may come after the worker ended and closed the fd: a dup stays valid
  int mine = dup(cancelFd);
  handle.Set("cancel", Napi::Function::New(env, [mine](const Napi::CallbackInfo& ci) -> Napi::Value {
    uint64_t one = 1;
    if (mine >= 0 && write(mine, &one, sizeof one) < 0) {
      // the counter is full: cancelled already
    }
    return ci.Env().Undefined();
  }));
  handle.Set("release", Napi::Function::New(env, [mine](const Napi::CallbackInfo& ci) -> Napi::Value {
    if (mine >= 0) ::close(mine);
    return ci.Env().Undefined();
  }));
  w->Queue();
  return handle;
}

class WsLink : public EngineObject<WsLink> {
 public:
  static constexpr const char* kClass = "WsLink";
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "WsLink",
                       {InstanceMethod("start", &WsLink::Start), InstanceMethod("stop", &WsLink::Stop),
                        InstanceMethod("ping", &WsLink::Ping), InstanceMethod("close", &WsLink::Close),
                        InstanceMethod("stats", &WsLink::Stats)});
  }

  explicit WsLink(const Napi::CallbackInfo& info) : EngineObject<WsLink>(info) {
    Napi::Env env = info.Env();
    Napi::Object o;
    int devFd, netFd;
    if (!EngineArgs(info, "WsLink", &o, &devFd, &netFd)) return;
    engine::WsOptions wo;
    std::string role = StringOption(o, "role");
    if (role != "" && role != "client" && role != "server") {
      Napi::TypeError::New(env, "WsLink: role must be 'client' or 'server'").ThrowAsJavaScriptException();
      return;
    }
    wo.role = role == "server" ? ws::Role::Server : ws::Role::Client;
    int maxMessage = IntOption(o, "maxMessage", 1518);
    if (maxMessage < 64 || maxMessage > 65535 + 18) {
      Napi::RangeError::New(env, "WsLink: maxMessage must be 64..65553").ThrowAsJavaScriptException();
      return;
    }
    wo.maxMessage = static_cast<size_t>(maxMessage);
    std::vector<uint8_t> initialRx;
    if (!InitialRxOption(o, "WsLink", kMaxInitialRx, &initialRx)) return;
    std::unique_ptr<engine::StreamLayer> layer;
    Napi::Value conn = o.Get("connection");
    Napi::Value tlsv = o.Get("tlsSession");
    if (WsConnection* c = WsConnection::From(conn)) {
      // a dialed connection: its fd, TLS session and early bytes (netFd is ignored)
      std::unique_ptr<tls::Session> s;
      std::vector<uint8_t> early;
      netFd = c->Take(&s, &early);
      if (netFd < 0) {
        Napi::TypeError::New(env, "WsLink: the connection was handed over or closed before").ThrowAsJavaScriptException();
        return;
      }
      initialRx.insert(initialRx.end(), early.begin(), early.end());
      if (s) layer = engine::MakeTlsLayer(std::move(s));
    } else if (!tlsv.IsUndefined() && !tlsv.IsNull()) {
      std::unique_ptr<tls::Session> s = TakeTlsSession(tlsv);
      if (!s) {
        Napi::TypeError::New(env, "WsLink: tlsSession must be a TlsSession that was not handed over before")
            .ThrowAsJavaScriptException();
        return;
      }
      layer = engine::MakeTlsLayer(std::move(s));
    }
    engine::EngineOptions eo;
    eo.batch = IntOption(o, "batchSize", 32);
    ws_ = std::make_unique<engine::WsTransform>(wo);
    auto net = engine::MakeTcpTransport(netFd, ws_->StreamFramer(), std::move(initialRx), std::move(layer));
    engine_.Init(info[1].As<Napi::Function>(),
                 std::make_unique<engine::Engine>(engine::MakePacketDevice(devFd), std::move(net), ws_.get(), eo));
  }

 private:
  Napi::Value Ping(const Napi::CallbackInfo& info) {
    if (engine_ && engine_->Running()) {
      ws_->QueuePing();
      engine_->WakeTx();
    }
    return info.Env().Undefined();
  }

  // close(code = 1000): an orderly close frame; the peer's answer ends the link.
  Napi::Value Close(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    int code = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().Int32Value() : 1000;
    if (!ws::IsValidCloseCode(static_cast<uint16_t>(code)) || code > 0xffff) {
      Napi::RangeError::New(env, "WsLink.close: not a close code that may be sent").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    if (engine_ && engine_->Running()) {
      ws_->QueueClose(static_cast<uint16_t>(code));
      engine_->WakeTx();
    }
    return env.Undefined();
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!engine_) return o;
    engine_.CountersToJs(env, o, "Frames");
    auto num = [&](const char* k, double v) { o.Set(k, Napi::Number::New(env, v)); };
    num("pingsSent", static_cast<double>(ws_->PingsSent()));
    num("pongsReceived", static_cast<double>(ws_->PongsReceived()));
    num("pingsReceived", static_cast<double>(ws_->PingsReceived()));
    num("peerCloseCode", ws_->PeerCloseCode());
    num("msSinceTraffic", static_cast<double>(ws_->MsSinceTraffic()));
    num("msSinceRx", static_cast<double>(ws_->MsSinceRx()));
    return o;
  }

  std::unique_ptr<engine::WsTransform> ws_;
  friend class EngineObject<WsLink>;
  JsEngine engine_;  // after ws_: destroyed (threads joined) before it
};


// ---------------------------------------------------------------------------------------------
// The hub (vpnws_hub.h): its own thread; events (connected, closed, refused, ended) go to JS.

class WsHub : public Napi::ObjectWrap<WsHub> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "WsHub",
                       {InstanceMethod("start", &WsHub::Start), InstanceMethod("stop", &WsHub::Stop),
                        InstanceMethod("clients", &WsHub::Clients), InstanceMethod("stats", &WsHub::Stats)});
  }

  explicit WsHub(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WsHub>(info) {
    Napi::Env env = info.Env();
    if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
      Napi::TypeError::New(env, "new WsHub(options, onEvent)").ThrowAsJavaScriptException();
      return;
    }
    Napi::Object o = info[0].As<Napi::Object>();
    vpnws::HubOptions ho;
    ho.listenFd = IntOption(o, "listenFd", -1);
    ho.tapFd = IntOption(o, "tapFd", -1);
    if (ho.listenFd < 0) {
      Napi::TypeError::New(env, "WsHub: listenFd must be a listening socket").ThrowAsJavaScriptException();
      return;
    }
    ho.path = StringOption(o, "path");
    std::string cert = StringOption(o, "certFile"), key = StringOption(o, "keyFile"), clientCa = StringOption(o, "clientCaFile");
    if (!cert.empty()) {
      tls::ServerConfig sc;
      sc.certFile = cert;
      sc.keyFile = key;
      sc.clientCaFile = clientCa;
      std::string error;
      ho.tls = tls::Context::NewServer(sc, &error);
      if (!ho.tls) {
        Napi::Error::New(env, error).ThrowAsJavaScriptException();
        return;
      }
    }
    ho.maxMessage = static_cast<size_t>(IntOption(o, "maxMessage", 1518));
    ho.queueFrames = static_cast<size_t>(IntOption(o, "queueFrames", 512));
    ho.queueBytes = static_cast<size_t>(IntOption(o, "queueBytes", 1 << 20));
    ho.handshakeTimeoutMs = IntOption(o, "handshakeTimeoutMs", 10000);
    Napi::Value b = o.Get("broadcast"), m = o.Get("multicast");
    ho.switchOptions.broadcast = !b.IsBoolean() || b.As<Napi::Boolean>().Value();
    ho.switchOptions.multicast = !m.IsBoolean() || m.As<Napi::Boolean>().Value();
    hub_ = std::make_unique<vpnws::Hub>(std::move(ho));
    callback_ = Napi::Persistent(info[1].As<Napi::Function>());
  }

  ~WsHub() override {
    if (hub_) hub_->Stop();
    if (tsfnOpen_) tsfn_.Release();
  }

 private:
  Napi::Value Start(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    if (!hub_ || started_) {
      Napi::Error::New(env, "WsHub: already started").ThrowAsJavaScriptException();
      return env.Undefined();
    }
    started_ = true;
    tsfn_ = Napi::ThreadSafeFunction::New(env, callback_.Value(), "WsHub", 0, 1);
    tsfnOpen_ = true;
    vpnws::Hub* hub = hub_.get();
    Napi::ThreadSafeFunction tsfn = tsfn_;
    std::string error;
    bool ok = hub_->Start(
        [hub, tsfn]() mutable {
          tsfn.NonBlockingCall([hub](Napi::Env env, Napi::Function cb) {
            for (vpnws::HubEvent& e : hub->TakeEvents()) {
              Napi::Object o = Napi::Object::New(env);
              o.Set("type", e.type);
              o.Set("id", Napi::Number::New(env, e.id));
              o.Set("remote", e.remote);
              o.Set("message", e.message);
              cb.Call({o});
            }
          });
        },
        &error);
    if (!ok) {
      tsfn_.Release();
      tsfnOpen_ = false;
      Napi::Error::New(env, "WsHub: " + error).ThrowAsJavaScriptException();
    }
    return env.Undefined();
  }

  Napi::Value Stop(const Napi::CallbackInfo& info) {
    if (hub_) hub_->Stop();
    if (tsfnOpen_) {
      tsfn_.Release();
      tsfnOpen_ = false;
    }
    return info.Env().Undefined();
  }

  Napi::Value Clients(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Array a = Napi::Array::New(env);
    if (!hub_) return a;
    uint32_t i = 0;
    for (const vpnws::HubClient& c : hub_->Clients()) {
      Napi::Object o = Napi::Object::New(env);
      o.Set("id", Napi::Number::New(env, c.id));
      o.Set("remote", c.remote);
      Napi::Array macs = Napi::Array::New(env, c.macs.size());
      for (uint32_t k = 0; k < c.macs.size(); k++) macs.Set(k, c.macs[k]);
      o.Set("macs", macs);
      o.Set("bridge", Napi::Boolean::New(env, c.bridge));
      o.Set("tlsSubject", c.tlsSubject);
      o.Set("user", c.user);
      o.Set("path", c.path);
      o.Set("connectedMs", Napi::Number::New(env, static_cast<double>(c.connectedMs)));
      auto num = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
      num("rxFrames", c.counters.rxFrames);
      num("rxBytes", c.counters.rxBytes);
      num("rxDropped", c.counters.rxDropped);
      num("txFrames", c.counters.txFrames);
      num("txBytes", c.counters.txBytes);
      num("txDropped", c.counters.txDropped);
      num("rxWireBytes", c.rxWireBytes);
      num("txWireBytes", c.txWireBytes);
      num("queued", c.queued);
      a.Set(i++, o);
    }
    return a;
  }

  Napi::Value Stats(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    Napi::Object o = Napi::Object::New(env);
    if (!hub_) return o;
    vpnws::HubStats s = hub_->Stats();
    auto num = [&](const char* k, uint64_t v) { o.Set(k, Napi::Number::New(env, static_cast<double>(v))); };
    num("accepted", s.accepted);
    num("refused", s.refused);
    num("closed", s.closed);
    num("tlsFailures", s.tlsFailures);
    num("tapRxFrames", s.tapRxFrames);
    num("tapTxFrames", s.tapTxFrames);
    num("tapTxDropped", s.tapTxDropped);
    num("switchDrops", s.switchDrops);
    num("clients", s.clients);
    o.Set("running", Napi::Boolean::New(env, s.running));
    return o;
  }

  std::unique_ptr<vpnws::Hub> hub_;
  Napi::FunctionReference callback_;
  Napi::ThreadSafeFunction tsfn_;
  bool tsfnOpen_ = false;
  bool started_ = false;
};

}  // namespace

// A WireGuard engine over websocket takes a dialed connection (wg_engine_napi.cc): its fd (-1 when
// `v` is none or was taken), TLS session and early bytes.
int TakeWsConnection(Napi::Value v, std::unique_ptr<tls::Session>* tls, std::vector<uint8_t>* initial) {
  WsConnection* c = WsConnection::From(v);
  return c ? c->Take(tls, initial) : -1;
}

Napi::Object InitWsLink(Napi::Env env, Napi::Object exports) {
  exports.Set("WsLink", WsLink::Define(env));
  exports.Set("WsConnection", WsConnection::Define(env));
  exports.Set("wsDial", Napi::Function::New(env, WsDial, "wsDial"));
  exports.Set("WsHub", WsHub::Define(env));
  return exports;
}

}  // namespace tund
