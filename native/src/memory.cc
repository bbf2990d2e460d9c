// Memory a long-lived session process can give back once it is set up (docs/benchmark.md,
// "Memory"). Start-up leaves garbage behind: the module loader's, the configuration parser's, the
// first handshake's; V8's own memory reducer collects it only about 8 s after the allocations
// stop, and leaves the young generation at the size start-up grew it to. A session asks for the
// same collection right after it is connected, when nothing else is running.
#include <napi.h>
#include <v8.h>  // Isolate::LowMemoryNotification: public embedder API, not reachable through N-API

#include <malloc.h>

namespace tund {
namespace {

// releaseMemory(): a full, memory-reducing collection of the V8 heap (garbage, the young
// generation shrunk back, unused pages returned), then malloc_trim(0): free pages inside glibc's
// arenas back to the kernel (start-up frees much of what it allocated, the brk heap keeps it).
// A few milliseconds of the main thread; the packet threads do not wait for it.
Napi::Value ReleaseMemory(const Napi::CallbackInfo& info) {
  v8::Isolate* isolate = v8::Isolate::GetCurrent();
  if (isolate != nullptr) isolate->LowMemoryNotification();
  malloc_trim(0);
  return info.Env().Undefined();
}

}  // namespace

Napi::Object InitMemory(Napi::Env env, Napi::Object exports) {
  exports.Set("releaseMemory", Napi::Function::New(env, ReleaseMemory, "releaseMemory"));
  return exports;
}

}  // namespace tund
