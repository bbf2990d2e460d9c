// Module entry point: each part of the addon registers its own functions.
#include <napi.h>

namespace tund {
Napi::Object InitTun(Napi::Env env, Napi::Object exports);
Napi::Object InitPump(Napi::Env env, Napi::Object exports);
Napi::Object InitAuth(Napi::Env env, Napi::Object exports);
Napi::Object InitPty(Napi::Env env, Napi::Object exports);
Napi::Object InitWireGuard(Napi::Env env, Napi::Object exports);
Napi::Object InitWgEngine(Napi::Env env, Napi::Object exports);
Napi::Object InitSocket(Napi::Env env, Napi::Object exports);
Napi::Object InitOffload(Napi::Env env, Napi::Object exports);
Napi::Object InitWs(Napi::Env env, Napi::Object exports);
Napi::Object InitL2Switch(Napi::Env env, Napi::Object exports);
Napi::Object InitTls(Napi::Env env, Napi::Object exports);
Napi::Object InitWsLink(Napi::Env env, Napi::Object exports);
Napi::Object InitCaps(Napi::Env env, Napi::Object exports);
Napi::Object InitMemory(Napi::Env env, Napi::Object exports);
Napi::Object InitControlCrypto(Napi::Env env, Napi::Object exports);
}  // namespace tund

static Napi::Object Init(Napi::Env env, Napi::Object exports) {
  tund::InitTun(env, exports);
  tund::InitPump(env, exports);
  tund::InitAuth(env, exports);
  tund::InitPty(env, exports);
  tund::InitWireGuard(env, exports);
  tund::InitWgEngine(env, exports);
  tund::InitSocket(env, exports);
  tund::InitOffload(env, exports);
  tund::InitWs(env, exports);
  tund::InitL2Switch(env, exports);
  tund::InitTls(env, exports);
  tund::InitWsLink(env, exports);
  tund::InitCaps(env, exports);
  tund::InitMemory(env, exports);
  tund::InitControlCrypto(env, exports);
  return exports;
}

NODE_API_MODULE(tund_native, Init)
