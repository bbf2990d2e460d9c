// The N-API side of the packet engine (engine/engine.h), shared by the Pump (VTun) and the
// WireGuard engine classes: events to JS through one ThreadSafeFunction, option helpers.
// Kept thin: everything per packet is in engine/ (pure C++).
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace tund {

// Delivers the engine's events to a JS callback: Notify (any thread) schedules one call on the
// JS thread, which drains the queue and calls the callback once per event. The
// ThreadSafeFunction keeps the event loop alive from Open until Release.
class JsEvents : public engine::EventSink {
 public:
  using ToJs = Napi::Value (*)(Napi::Env env, engine::Event& e);

  ~JsEvents() override { Release(); }
  void Open(Napi::Env env, Napi::Function callback, std::shared_ptr<engine::EventQueue> queue, ToJs toJs);
  void Notify() override;
  // After the engine's threads are gone: events still queued are delivered, then the loop may exit.
  void Release();

 private:
  Napi::ThreadSafeFunction tsfn_;
  std::shared_ptr<engine::EventQueue> queue_;
  ToJs toJs_ = nullptr;
  std::atomic<bool> open_{false};
};

// What every engine class (Pump, WgEngine) holds: the engine, its event sink and the JS callback,
// with start()/stop() as JS sees them. Declare it after the transform the engine uses: it is
// destroyed first (the engine's threads are joined before the transform goes).
class JsEngine {
 public:
  ~JsEngine();
  void Init(Napi::Function callback, std::unique_ptr<engine::Engine> engine);
  // Throws "cls: already started", "cls: stopped (...)" or why the threads did not start.
  void Start(Napi::Env env, const char* cls, JsEvents::ToJs toJs);
  void Stop();
  engine::Engine* operator->() { return engine_.get(); }
  explicit operator bool() const { return engine_ != nullptr; }
  // The engine-wide counters into o; the protocol names its wire units ("Frames", "Messages").
  void CountersToJs(Napi::Env env, Napi::Object o, const char* unit);

 private:
  Napi::FunctionReference callback_;
  JsEvents events_;
  std::unique_ptr<engine::Engine> engine_;
};

// {type: 'ended', reason, message} for an "ended" event; other types as the caller's ToJs says.
Napi::Object EndedToJs(Napi::Env env, const engine::Event& e);

// The JS class of an engine (Pump, WsLink, WgEngine): start() and stop() as JS sees them, once.
// T has a member `JsEngine engine_` (declared after its transform; T befriends this class) and
// `static constexpr const char* kClass`; T::EventToJs turns its events (this one: only "ended").
template <typename T>
class EngineObject : public Napi::ObjectWrap<T> {
 public:
  using Napi::ObjectWrap<T>::ObjectWrap;

  Napi::Value Start(const Napi::CallbackInfo& info) {
    static_cast<T&>(*this).engine_.Start(info.Env(), T::kClass, &T::EventToJs);
    return info.Env().Undefined();
  }
  Napi::Value Stop(const Napi::CallbackInfo& info) {
    static_cast<T&>(*this).engine_.Stop();
    return info.Env().Undefined();
  }
  static Napi::Value EventToJs(Napi::Env env, engine::Event& e) { return EndedToJs(env, e); }
};

// Option readers: an int field (default when absent), a string field ("" when absent).
int IntOption(Napi::Object o, const char* key, int def);
std::string StringOption(Napi::Object o, const char* key);
// options.initialRx (bytes read before the engine took over) into *out, at most `max` bytes;
// false with a RangeError naming `cls` when it is larger.
bool InitialRxOption(Napi::Object o, const char* cls, size_t max, std::vector<uint8_t>* out);

// The constructor arguments every engine class takes: (options, onEvent) with options.deviceFd
// and options.netFd (optional with needNetFd false: -1 when absent). Throws a TypeError naming
// `cls` and returns false when they are not there.
bool EngineArgs(const Napi::CallbackInfo& info, const char* cls, Napi::Object* options, int* deviceFd, int* netFd,
                bool needNetFd = true);

}  // namespace tund
