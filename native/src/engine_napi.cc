#include "engine_napi.h"

namespace tund {

namespace {

struct Drain {
  std::shared_ptr<engine::EventQueue> queue;
  JsEvents::ToJs toJs;
};

void CallJs(Napi::Env env, Napi::Function fn, Drain* d) {
  if (env != nullptr && fn != nullptr) {
    d->queue->Rearm();
    std::deque<engine::Event> events = d->queue->TakeAll();
    for (engine::Event& e : events) {
      fn.Call({d->toJs(env, e)});
      if (env.IsExceptionPending()) break;  // the callback threw: Node reports it
    }
  }
  delete d;
}

}  // namespace

void JsEvents::Open(Napi::Env env, Napi::Function callback, std::shared_ptr<engine::EventQueue> queue, ToJs toJs) {
  queue_ = std::move(queue);
  toJs_ = toJs;
  tsfn_ = Napi::ThreadSafeFunction::New(env, callback, "tund-engine", 0, 1);
  open_ = true;
}

void JsEvents::Notify() {
  if (!open_) return;
  auto* d = new Drain{queue_, toJs_};
  if (tsfn_.NonBlockingCall(d, CallJs) != napi_ok) delete d;
}

void JsEvents::Release() {
  if (!open_) return;
  open_ = false;
  tsfn_.Release();
}

JsEngine::~JsEngine() {
  engine_.reset();  // joins the threads (no event)
  events_.Release();
}

void JsEngine::Init(Napi::Function callback, std::unique_ptr<engine::Engine> engine) {
  callback_ = Napi::Persistent(callback);
  engine_ = std::move(engine);
}

void JsEngine::Start(Napi::Env env, const char* cls, JsEvents::ToJs toJs) {
  if (!engine_) return;
  if (engine_->Started() || engine_->Stopped()) {
    std::string why = engine_->Stopped() ? ": stopped (an engine runs once: make a new one)" : ": already started";
    Napi::Error::New(env, cls + why).ThrowAsJavaScriptException();
    return;
  }
  events_.Open(env, callback_.Value(), engine_->EventsPtr(), toJs);
  // From here the thread-safe function holds the callback until Stop() releases it. Our own
  // strong reference would root the callback, and through the closure (which usually holds the
  // JS object) this engine: it could never be collected, nor its memory freed.
  callback_.Reset();
  std::string error;
  if (!engine_->Start(&events_, &error)) {
    events_.Release();
    Napi::Error::New(env, std::string(cls) + ": " + error).ThrowAsJavaScriptException();
  }
}

void JsEngine::Stop() {
  if (!callback_.IsEmpty()) callback_.Reset();  // stopped before it started (see Start)
  if (!engine_ || engine_->Stopped()) return;
  engine_->Stop();
  events_.Release();
}

void JsEngine::CountersToJs(Napi::Env env, Napi::Object o, const char* unit) {
  if (!engine_) return;
  const engine::Counters& c = engine_->c;
  auto set = [&](const std::string& k, const std::atomic<uint64_t>& v) {
    o.Set(k, Napi::Number::New(env, static_cast<double>(v.load(std::memory_order_relaxed))));
  };
  set("rxBytes", c.rxBytes);
  set("txBytes", c.txBytes);
  set("rxPackets", c.rxPackets);
  set("txPackets", c.txPackets);
  set(std::string("rx") + unit, c.rxFrames);
  set(std::string("tx") + unit, c.txFrames);
  set("rxWireBytes", c.rxWireBytes);
  set("txWireBytes", c.txWireBytes);
  set(std::string("bad") + unit, c.badFrames);
  set("deviceDownDrops", c.deviceDownDrops);
  set("txDropped", c.txDropped);
  set("foreignDrops", c.foreignDrops);
  set("eventDrops", c.eventDrops);
  set("tunSuperReads", c.tunSuperReads);
  set("tunSuperWrites", c.tunSuperWrites);
  set("udpGsoSends", c.udpGsoSends);
  set("udpGroReads", c.udpGroReads);
  set("txBatches", c.txBatches);
  set("rxBatches", c.rxBatches);
  set("inlineSends", c.inlineSends);
  set("cutInlineSends", c.cutInlineSends);
  set("rxThreadSends", c.rxThreadSends);
  set("singleLoopRounds", c.singleLoopRounds);
  set("loopSwitches", c.loopSwitches);
  set("loneTx", c.loneTx);
  set("loneRx", c.loneRx);
  o.Set("loneCompact", Napi::Boolean::New(env, engine_->LoneCompact()));
  o.Set("running", Napi::Boolean::New(env, engine_->Running()));
}

Napi::Object EndedToJs(Napi::Env env, const engine::Event& e) {
  Napi::Object ev = Napi::Object::New(env);
  ev.Set("type", "ended");
  ev.Set("reason", e.reason);
  ev.Set("message", e.message);
  return ev;
}

int IntOption(Napi::Object o, const char* key, int def) {
  Napi::Value v = o.Get(key);
  return v.IsNumber() ? v.As<Napi::Number>().Int32Value() : def;
}

std::string StringOption(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  return v.IsString() ? v.As<Napi::String>().Utf8Value() : std::string();
}

bool InitialRxOption(Napi::Object o, const char* cls, size_t max, std::vector<uint8_t>* out) {
  Napi::Value v = o.Get("initialRx");
  if (!v.IsBuffer()) return true;
  auto b = v.As<Napi::Buffer<uint8_t>>();
  if (b.Length() > max) {
    Napi::RangeError::New(o.Env(), std::string(cls) + ": initialRx too large").ThrowAsJavaScriptException();
    return false;
  }
  out->assign(b.Data(), b.Data() + b.Length());
  return true;
}

bool EngineArgs(const Napi::CallbackInfo& info, const char* cls, Napi::Object* options, int* deviceFd, int* netFd,
                bool needNetFd) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) {
    Napi::TypeError::New(env, std::string("new ") + cls + "(options, onEvent)").ThrowAsJavaScriptException();
    return false;
  }
  *options = info[0].As<Napi::Object>();
  *deviceFd = IntOption(*options, "deviceFd", -1);
  *netFd = IntOption(*options, "netFd", -1);
  if (*deviceFd < 0 || (needNetFd && *netFd < 0)) {
    Napi::TypeError::New(env, std::string(cls) + (needNetFd ? ": deviceFd and netFd must be file descriptors" : ": deviceFd must be a file descriptor"))
        .ThrowAsJavaScriptException();
    return false;
  }
  return true;
}

}  // namespace tund
