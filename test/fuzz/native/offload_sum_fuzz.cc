// offload_sum: the Internet checksum's sum (engine/offload.h, Sum and Fold) that the tun
// offloads compute for every segment they cut and verify before coalescing: a wide (SIMD) loop
// over 32-byte steps, then 16-, 8-, 2- and 1-byte tails. Input: a start offset (any alignment),
// a starting accumulator, then the bytes. Checked against a model that adds the bytes as 16-bit
// words one at a time: the folded result is the same one's complement sum (equal modulo 0xffff),
// for every length and alignment, and summing in two pieces (split at an even offset) equals
// summing at once.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstring>
#include <vector>

#include "../../../native/src/engine/offload.h"
#include "fuzz_common.h"

using tund::engine::offload::Fold;
using tund::engine::offload::Sum;

namespace {
// The sum modulo 0xffff (one's complement arithmetic), 16-bit words in native byte order as Sum
// reads them, an odd last byte padded with a zero byte.
uint32_t Model(const uint8_t* p, size_t len, uint64_t acc) {
  uint64_t m = acc % 0xffff;
  size_t i = 0;
  for (; i + 1 < len; i += 2) {
    uint16_t w;
    std::memcpy(&w, p + i, 2);
    m = (m + w) % 0xffff;
  }
  if (i < len) {
    uint8_t b[2] = {p[i], 0};
    uint16_t w;
    std::memcpy(&w, b, 2);
    m = (m + w) % 0xffff;
  }
  return static_cast<uint32_t>(m);
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const size_t offset = in.ConsumeIntegralInRange<size_t>(0, 31);
  // small accumulators (a pseudo-header's sum) and any 64-bit value
  const uint64_t acc = in.ConsumeBool() ? in.ConsumeIntegralInRange<uint64_t>(0, 0x3fffc) : in.ConsumeIntegral<uint64_t>();
  std::vector<uint8_t> bytes = in.ConsumeRemainingBytes<uint8_t>();
  // the bytes at `offset` in a buffer of exactly their size past it (ASan sees any overread)
  std::vector<uint8_t> buf(offset + bytes.size());
  if (!bytes.empty()) std::memcpy(buf.data() + offset, bytes.data(), bytes.size());
  const uint8_t* p = buf.data() + offset;
  const size_t len = bytes.size();
  const uint16_t got = Fold(Sum(p, len, acc));
  FUZZ_CHECK(got % 0xffff == Model(p, len, acc), "len %zu offset %zu: folded %04x, model %04x", len, offset, got,
             Model(p, len, acc));
  if (len >= 2) {
    const size_t split = (len / 2) & ~static_cast<size_t>(1);
    const uint16_t twice = Fold(Sum(p + split, len - split, Sum(p, split, acc)));
    FUZZ_CHECK(twice % 0xffff == got % 0xffff, "len %zu split %zu: %04x vs %04x", len, split, twice, got);
  }
  return 0;
}
