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

}  // namespace tund
