#include <napi.h>
namespace tund {
Napi::Object InitPump(Napi::Env env, Napi::Object exports) { return exports; }
}
