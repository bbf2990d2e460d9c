// Thin N-API binding of the hub's layer-2 switch (l2switch.*), for tests and for status: the hub
// itself runs the C++ Switch on its native threads.
//
//   new L2Switch({broadcast?, multicast?, agingMs?, maxMacsPerPort?, maxMacs?})
//     .addPort({kind: "peer"|"tap", bridge}) -> id      .removePort(id) -> boolean
//     .setPortMac(id, mac) -> {ok, displaced}            .forward(id, frame, nowMs) -> decision
//     .age(nowMs) -> removed   .noteTxDropped(id, bytes)  .port(id) -> info | null
//     .ports() -> ids          .lookup(mac, nowMs) -> id | 0   .drops() -> {reason: count}
#include <napi.h>

#include <memory>

#include "l2switch.h"
#include "napi_args.h"

namespace tund {
namespace {

bool ArgPort(const Napi::CallbackInfo& info, size_t i, l2::PortId* id) {
  if (info.Length() <= i || !info[i].IsNumber()) return false;
  *id = info[i].As<Napi::Number>().Uint32Value();
  return true;
}

bool ArgMac(const Napi::CallbackInfo& info, size_t i, l2::Mac* mac) {
  if (info.Length() <= i || !info[i].IsString()) return false;
  return l2::ParseMac(info[i].As<Napi::String>().Utf8Value(), mac);
}

class L2SwitchWrap : public Napi::ObjectWrap<L2SwitchWrap> {
 public:
  static Napi::Function Define(Napi::Env env) {
    return DefineClass(env, "L2Switch",
                       {InstanceMethod("addPort", &L2SwitchWrap::AddPort), InstanceMethod("removePort", &L2SwitchWrap::RemovePort),
                        InstanceMethod("setPortMac", &L2SwitchWrap::SetPortMac), InstanceMethod("forward", &L2SwitchWrap::Forward),
                        InstanceMethod("age", &L2SwitchWrap::Age), InstanceMethod("noteTxDropped", &L2SwitchWrap::NoteTxDropped),
                        InstanceMethod("port", &L2SwitchWrap::Port), InstanceMethod("ports", &L2SwitchWrap::Ports),
                        InstanceMethod("lookup", &L2SwitchWrap::Lookup), InstanceMethod("drops", &L2SwitchWrap::Drops),
                        InstanceMethod("macCount", &L2SwitchWrap::MacCount)});
  }

  explicit L2SwitchWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<L2SwitchWrap>(info) {
    l2::SwitchOptions o;
    if (info.Length() > 0 && info[0].IsObject()) {
      Napi::Object opts = info[0].As<Napi::Object>();
      o.broadcast = BoolOpt(opts, "broadcast", o.broadcast);
      o.multicast = BoolOpt(opts, "multicast", o.multicast);
      o.agingMs = static_cast<uint64_t>(NumberOpt(opts, "agingMs", static_cast<double>(o.agingMs)));
      o.maxMacsPerPort = static_cast<size_t>(NumberOpt(opts, "maxMacsPerPort", static_cast<double>(o.maxMacsPerPort)));
      o.maxMacs = static_cast<size_t>(NumberOpt(opts, "maxMacs", static_cast<double>(o.maxMacs)));
    }
    switch_.reset(new l2::Switch(o));
  }

 private:
  Napi::Value AddPort(const Napi::CallbackInfo& info) {
    l2::PortOptions o;
    if (info.Length() > 0 && info[0].IsObject()) {
      Napi::Object opts = info[0].As<Napi::Object>();
      std::string kind = StringOpt(opts, "kind", "peer");
      if (kind == "tap") o.kind = l2::PortKind::Tap;
      else if (kind != "peer") return ThrowTypeError(info.Env(), "kind must be \"peer\" or \"tap\"");
      o.bridge = BoolOpt(opts, "bridge");
    }
    return Napi::Number::New(info.Env(), switch_->AddPort(o));
  }

  Napi::Value RemovePort(const Napi::CallbackInfo& info) {
    l2::PortId id;
    if (!ArgPort(info, 0, &id)) return ThrowTypeError(info.Env(), "removePort(id: number)");
    return Napi::Boolean::New(info.Env(), switch_->RemovePort(id));
  }

  Napi::Value SetPortMac(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    l2::PortId id;
    l2::Mac mac;
    if (!ArgPort(info, 0, &id)) return ThrowTypeError(env, "setPortMac(id: number, mac: string)");
    Napi::Object o = Napi::Object::New(env);
    if (!ArgMac(info, 1, &mac)) {
      o.Set("ok", false);
      o.Set("displaced", 0);
      return o;
    }
    l2::Claim c = switch_->SetPortMac(id, mac);
    o.Set("ok", c.ok);
    o.Set("displaced", c.displaced);
    return o;
  }

  Napi::Value Forward(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    l2::PortId id;
    if (!ArgPort(info, 0, &id) || info.Length() < 3 || !info[1].IsBuffer() || !info[2].IsNumber()) {
      return ThrowTypeError(env, "forward(id: number, frame: Buffer, nowMs: number)");
    }
    auto frame = info[1].As<Napi::Buffer<uint8_t>>();
    uint64_t now = static_cast<uint64_t>(info[2].As<Napi::Number>().Int64Value());
    l2::Decision d = switch_->Forward(id, frame.Data(), frame.Length(), now);
    Napi::Object o = Napi::Object::New(env);
    o.Set("drop", d.drop == l2::Drop::None ? env.Null() : Napi::String::New(env, l2::DropName(d.drop)));
    Napi::Array ports = Napi::Array::New(env, d.count);
    for (size_t i = 0; i < d.count; i++) ports.Set(i, d.ports[i]);
    o.Set("ports", ports);
    o.Set("registered", d.registered);
    return o;
  }

  Napi::Value Age(const Napi::CallbackInfo& info) {
    if (info.Length() < 1 || !info[0].IsNumber()) return ThrowTypeError(info.Env(), "age(nowMs: number)");
    return Napi::Number::New(info.Env(), static_cast<double>(switch_->Age(static_cast<uint64_t>(info[0].As<Napi::Number>().Int64Value()))));
  }

  Napi::Value NoteTxDropped(const Napi::CallbackInfo& info) {
    l2::PortId id;
    if (!ArgPort(info, 0, &id) || info.Length() < 2 || !info[1].IsNumber()) return ThrowTypeError(info.Env(), "noteTxDropped(id, bytes)");
    switch_->NoteTxDropped(id, static_cast<size_t>(info[1].As<Napi::Number>().Int64Value()));
    return info.Env().Undefined();
  }

  Napi::Value Port(const Napi::CallbackInfo& info) {
    Napi::Env env = info.Env();
    l2::PortId id;
    if (!ArgPort(info, 0, &id)) return ThrowTypeError(env, "port(id: number)");
    l2::PortInfo p;
    if (!switch_->Info(id, &p)) return env.Null();
    Napi::Object o = Napi::Object::New(env);
    o.Set("id", p.id);
    o.Set("kind", p.kind == l2::PortKind::Tap ? "tap" : "peer");
    o.Set("bridge", p.bridge);
    o.Set("mac", p.mac == 0 ? env.Null() : Napi::String::New(env, l2::MacToString(p.mac)));
    o.Set("lostMac", p.lostMac);
    std::vector<l2::Mac> macs = switch_->MacsOf(id);
    Napi::Array list = Napi::Array::New(env, macs.size());
    for (size_t i = 0; i < macs.size(); i++) list.Set(i, l2::MacToString(macs[i]));
    o.Set("macs", list);
    Napi::Object c = Napi::Object::New(env);
    c.Set("rxFrames", static_cast<double>(p.counters.rxFrames));
    c.Set("rxBytes", static_cast<double>(p.counters.rxBytes));
    c.Set("rxDropped", static_cast<double>(p.counters.rxDropped));
    c.Set("txFrames", static_cast<double>(p.counters.txFrames));
    c.Set("txBytes", static_cast<double>(p.counters.txBytes));
    c.Set("txDropped", static_cast<double>(p.counters.txDropped));
    c.Set("learnLimited", static_cast<double>(p.counters.learnLimited));
    o.Set("counters", c);
    return o;
  }

  Napi::Value Ports(const Napi::CallbackInfo& info) {
    std::vector<l2::PortId> ids = switch_->Ports();
    Napi::Array a = Napi::Array::New(info.Env(), ids.size());
    for (size_t i = 0; i < ids.size(); i++) a.Set(i, ids[i]);
    return a;
  }

  Napi::Value Lookup(const Napi::CallbackInfo& info) {
    l2::Mac mac;
    if (!ArgMac(info, 0, &mac) || info.Length() < 2 || !info[1].IsNumber()) return ThrowTypeError(info.Env(), "lookup(mac: string, nowMs: number)");
    return Napi::Number::New(info.Env(), switch_->Lookup(mac, static_cast<uint64_t>(info[1].As<Napi::Number>().Int64Value())));
  }

  Napi::Value Drops(const Napi::CallbackInfo& info) {
    Napi::Object o = Napi::Object::New(info.Env());
    for (size_t i = 1; i < static_cast<size_t>(l2::Drop::kCount); i++) {
      l2::Drop d = static_cast<l2::Drop>(i);
      o.Set(l2::DropName(d), static_cast<double>(switch_->Dropped(d)));
    }
    return o;
  }

  Napi::Value MacCount(const Napi::CallbackInfo& info) {
    return Napi::Number::New(info.Env(), static_cast<double>(switch_->MacCount()));
  }

  std::unique_ptr<l2::Switch> switch_;
};

}  // namespace

Napi::Object InitL2Switch(Napi::Env env, Napi::Object exports) {
  exports.Set("L2Switch", L2SwitchWrap::Define(env));
  return exports;
}

}  // namespace tund
