// wg_replay: WireGuard's replay window (engine/replay.h, RFC 6479 as wireguard-go keeps it), the
// check every transport message's counter goes through. Input: a list of operations: a counter
// (a step forward or back from the highest one seen, small or large, or any 64-bit value) to
// MayAccept and then Accept, with REJECT_AFTER_MESSAGES or a smaller limit; now and then Reset.
// Checked against a model (every counter accepted so far, and the highest): a counter is
// accepted exactly when it is below the limit, was never accepted before, and is at most
// kWindowSize (8128) behind the highest accepted; MayAccept says the same without changing
// anything.
#include <fuzzer/FuzzedDataProvider.h>

#include <set>

#include "../../../native/src/engine/replay.h"
#include "fuzz_common.h"

using tund::engine::ReplayWindow;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  ReplayWindow w;
  std::set<uint64_t> seen;
  uint64_t highest = 0;
  const uint64_t kLimit = UINT64_MAX - (1ULL << 13);  // REJECT_AFTER_MESSAGES (wg_transform.h)
  for (int op = 0; op < 512 && in.remaining_bytes() > 0; op++) {
    uint64_t c = 0;
    switch (in.ConsumeIntegralInRange<int>(0, 6)) {
      case 0: c = highest + in.ConsumeIntegralInRange<uint64_t>(0, 130); break;
      case 1: c = highest + in.ConsumeIntegralInRange<uint64_t>(0, 3 * ReplayWindow::kWindowSize); break;
      case 2: c = highest - std::min(highest, in.ConsumeIntegralInRange<uint64_t>(0, 130)); break;
      case 3: c = highest - std::min(highest, in.ConsumeIntegralInRange<uint64_t>(ReplayWindow::kWindowSize - 70, ReplayWindow::kWindowSize + 70)); break;
      case 4: c = in.ConsumeIntegral<uint64_t>(); break;
      case 5: c = kLimit - in.ConsumeIntegralInRange<uint64_t>(0, 3); break;
      case 6:
        w.Reset();
        seen.clear();
        highest = 0;
        continue;
    }
    const uint64_t limit = in.ConsumeBool() ? kLimit : in.ConsumeIntegral<uint64_t>();
    const bool expect = c < limit && !seen.count(c) && (c >= highest || highest - c <= ReplayWindow::kWindowSize);
    const bool may = w.MayAccept(c, limit);
    FUZZ_CHECK(may == expect, "MayAccept(%llu, limit %llu) = %d with highest %llu (model: %d)", static_cast<unsigned long long>(c),
               static_cast<unsigned long long>(limit), may, static_cast<unsigned long long>(highest), expect);
    if (in.ConsumeBool()) {
      const bool got = w.Accept(c, limit);
      FUZZ_CHECK(got == expect, "Accept(%llu, limit %llu) = %d with highest %llu (model: %d)", static_cast<unsigned long long>(c),
                 static_cast<unsigned long long>(limit), got, static_cast<unsigned long long>(highest), expect);
      if (got) {
        seen.insert(c);
        if (c > highest) highest = c;
        // the model only needs the counters still inside the window
        while (!seen.empty() && highest - *seen.begin() > ReplayWindow::kWindowSize) seen.erase(seen.begin());
      }
    }
  }
  return 0;
}
