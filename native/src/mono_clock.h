// The monotonic clock every part of the addon reads (CLOCK_MONOTONIC, the clock of
// std::chrono::steady_clock): one place, so that every timer, deadline and age counts on the same
// clock, read the cheapest way there is.
#pragma once

#include <cstdint>

namespace tund {

int64_t MonotonicNanos();
int64_t MonotonicMs();

}  // namespace tund
