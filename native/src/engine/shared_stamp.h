// Time stamps that one data thread writes with every packet or round and another thread (the
// other data thread, or JS through stats) reads. Pure C++, no N-API.
#pragma once

#include <atomic>
#include <cstdint>

namespace tund {
namespace engine {

// Stored only when it changes: a round's packets share one `now`, so under load the cache line is
// written once per millisecond, not pulled from the reading thread with every packet.
inline void StoreIfChanged(std::atomic<int64_t>& a, int64_t v) {
  if (a.load(std::memory_order_relaxed) != v) a.store(v, std::memory_order_relaxed);
}

// `a` becomes `v` if it is unset (-1); the compare-exchange (a locked instruction) only then.
inline void SetIfUnset(std::atomic<int64_t>& a, int64_t v) {
  int64_t none = -1;
  if (a.load(std::memory_order_relaxed) == none) a.compare_exchange_strong(none, v, std::memory_order_relaxed);
}

}  // namespace engine
}  // namespace tund
