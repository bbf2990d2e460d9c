#include <napi.h>
namespace tund {
Napi::Object InitTun(Napi::Env env, Napi::Object exports) { return exports; }
}
