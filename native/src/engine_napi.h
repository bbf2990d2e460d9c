// The N-API side of the packet engine (engine/engine.h), shared by the Pump (VTun) and the
// WireGuard engine classes: events to JS through one ThreadSafeFunction, option helpers.
// Kept thin: everything per packet is in engine/ (pure C++).
#pragma once

#include <napi.h>

#include <atomic>
#include <memory>
#include <string>

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

// {type: 'ended', reason, message} for an "ended" event; other types as the caller's ToJs says.
Napi::Object EndedToJs(Napi::Env env, const engine::Event& e);

// Option readers: an int field (default when absent), a string field ("" when absent).
int IntOption(Napi::Object o, const char* key, int def);
std::string StringOption(Napi::Object o, const char* key);

}  // namespace tund
