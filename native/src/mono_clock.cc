#include "mono_clock.h"

#include <dlfcn.h>
#include <time.h>

#include <atomic>

namespace tund {

namespace {

using ClockFn = int (*)(clockid_t, struct timespec*);

// The kernel's vDSO clock_gettime, called directly. A packet's round reads the clock once, and
// after an idle spell every page on the way costs a page walk (docs/engine.md, "The path after
// idle"): libc's wrapper reaches the vDSO through its own code and a pointer in ld.so's data, two
// pages more than this pointer in the addon's. Where the vDSO or the symbol is missing (a kernel
// without one, another libc), clock_gettime itself: the same clock either way.
ClockFn Resolve() {
  void* vdso = dlopen("linux-vdso.so.1", RTLD_NOW | RTLD_NOLOAD);
  if (vdso != nullptr) {
    void* fn = dlsym(vdso, "__vdso_clock_gettime");
    if (fn != nullptr) return reinterpret_cast<ClockFn>(fn);
  }
  return &clock_gettime;
}

std::atomic<ClockFn> g_clock{nullptr};

// (inlined: a lone packet's clock read is one function of the ordered hot path, native/hot-order.txt)
__attribute__((always_inline)) inline struct timespec Now() {
  ClockFn fn = g_clock.load(std::memory_order_relaxed);
  if (fn == nullptr) {
    fn = Resolve();  // (two threads may both resolve: the same answer)
    g_clock.store(fn, std::memory_order_relaxed);
  }
  struct timespec t;
  if (fn(CLOCK_MONOTONIC, &t) != 0) clock_gettime(CLOCK_MONOTONIC, &t);
  return t;
}

}  // namespace

int64_t MonotonicNanos() {
  struct timespec t = Now();
  return static_cast<int64_t>(t.tv_sec) * 1000000000 + t.tv_nsec;
}

int64_t MonotonicMs() {
  struct timespec t = Now();
  return static_cast<int64_t>(t.tv_sec) * 1000 + t.tv_nsec / 1000000;
}

}  // namespace tund
