// iov_advance: the step after a partial sendmsg on a stream (engine/iovec_advance.h), which the
// TCP transport and the WireGuard-over-TCP connections take after every write. Input: up to 16
// iovec lengths (empty ones too), then the byte counts successive writes return (any count from
// 0 to what is left, as a stream socket may). Checked against a model (the batch as one flat
// byte string and how much of it is written): after each step the iovecs from `first` on hold
// exactly the bytes not yet written, in order; `first` is never past `cnt`, and points at a
// non-empty iovec unless nothing is left, so that a finished batch ends the caller's loop.
#include <fuzzer/FuzzedDataProvider.h>

#include <algorithm>
#include <vector>

#include "../../../native/src/engine/iovec_advance.h"
#include "fuzz_common.h"

using tund::engine::AdvanceIovecs;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const int cnt = in.ConsumeIntegralInRange<int>(0, 16);
  std::vector<std::vector<uint8_t>> bufs(static_cast<size_t>(cnt));
  std::vector<uint8_t> flat;
  struct iovec iov[16];
  for (int i = 0; i < cnt; i++) {
    // lengths around the boundaries that matter: empty, one byte, a few, a prefix-sized run
    const size_t len = in.ConsumeBool() ? in.ConsumeIntegralInRange<size_t>(0, 3) : in.ConsumeIntegralInRange<size_t>(0, 300);
    auto& b = bufs[static_cast<size_t>(i)];
    b.resize(len);
    for (size_t k = 0; k < len; k++) b[k] = static_cast<uint8_t>(flat.size() + k);
    flat.insert(flat.end(), b.begin(), b.end());
    iov[i] = {b.data(), b.size()};
  }
  size_t written = 0;
  int first = 0;
  // the caller's loop: one sendmsg per round while something is left (bounded: a write may be 0)
  for (int round = 0; round < 64 && first < cnt; round++) {
    const size_t left = flat.size() - written;
    const size_t sent = in.remaining_bytes() > 0 ? in.ConsumeIntegralInRange<size_t>(0, left) : left;
    first = AdvanceIovecs(iov, cnt, first, sent);
    written += sent;
    FUZZ_CHECK(first >= 0 && first <= cnt, "first %d of %d", first, cnt);
    FUZZ_CHECK(first == cnt || iov[first].iov_len > 0, "first %d of %d is empty with %zu bytes left", first, cnt, flat.size() - written);
    std::vector<uint8_t> rest;
    for (int i = first; i < cnt; i++) {
      const auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
      rest.insert(rest.end(), p, p + iov[i].iov_len);
    }
    FUZZ_CHECK(rest.size() == flat.size() - written, "%zu bytes in the iovecs, %zu left to write", rest.size(), flat.size() - written);
    FUZZ_CHECK(std::equal(rest.begin(), rest.end(), flat.begin() + static_cast<std::ptrdiff_t>(written)),
               "the iovecs do not hold the %zu bytes after the first %zu", rest.size(), written);
  }
  return 0;
}
