// Fixed identities for the WireGuard targets: the fuzzed side's static key (R, the device that
// receives initiations) and a peer's (I). Test keys, made for these targets only; the seed
// capture (test/fuzz/seeds/capture-wg.sh) gives the same keys to wireguard-go and to the helper,
// so the captured messages open here.
#pragma once

#include <cstring>
#include <memory>
#include <set>
#include <utility>
#include <vector>

#include <fuzzer/FuzzedDataProvider.h>

#include "../../../native/src/wg_cookie.h"
#include "../../../native/src/wg_noise.h"
#include "fuzz_common.h"

namespace fuzz {

// R: "ULsSbJ1PqhOc8x5P0hlAL0w0pvl1lXlSa2LCm8yk0m0=" (base64, as wg(8) writes keys)
constexpr uint8_t kResponderPrivate[32] = {0x50, 0xbb, 0x12, 0x6c, 0x9d, 0x4f, 0xaa, 0x13, 0x9c, 0xf3, 0x1e,
                                           0x4f, 0xd2, 0x19, 0x40, 0x2f, 0x4c, 0x34, 0xa6, 0xf9, 0x75, 0x95,
                                           0x79, 0x52, 0x6b, 0x62, 0xc2, 0x9b, 0xcc, 0xa4, 0xd2, 0x6d};
// I: "cA7mEYGx0R2kkC1nBPtnHpJ0vNHCU6Q5pO6xTxpvM1s="
constexpr uint8_t kInitiatorPrivate[32] = {0x70, 0x0e, 0xe6, 0x11, 0x81, 0xb1, 0xd1, 0x1d, 0xa4, 0x90, 0x2d,
                                           0x67, 0x04, 0xfb, 0x67, 0x1e, 0x92, 0x74, 0xbc, 0xd1, 0xc2, 0x53,
                                           0xa4, 0x39, 0xa4, 0xee, 0xb1, 0x4f, 0x1a, 0x6f, 0x33, 0x5b};

inline std::shared_ptr<const tund::wg::StaticIdentity> Responder() {
  static auto id = std::make_shared<const tund::wg::StaticIdentity>(kResponderPrivate);
  return id;
}
inline std::shared_ptr<const tund::wg::StaticIdentity> Initiator() {
  static auto id = std::make_shared<const tund::wg::StaticIdentity>(kInitiatorPrivate);
  return id;
}

// The initiator's own message, made the same way for every run: what the captured responses
// answer (the capture sends exactly this initiation).
constexpr uint32_t kInitiatorIndex = 0x1e2d3c4b;
constexpr uint8_t kInitiatorEphemeral[32] = {0x28, 0x1a, 0x3b, 0x4c, 0x5d, 0x6e, 0x7f, 0x80, 0x91, 0xa2, 0xb3,
                                             0xc4, 0xd5, 0xe6, 0xf7, 0x08, 0x19, 0x2a, 0x3b, 0x4c, 0x5d, 0x6e,
                                             0x7f, 0x80, 0x91, 0xa2, 0xb3, 0xc4, 0xd5, 0xe6, 0xf7, 0x48};
// TAI64N of 2026-01-01T00:00:00Z
constexpr uint8_t kInitiatorTimestamp[12] = {0x40, 0x00, 0x00, 0x00, 0x69, 0x55, 0xb9, 0x00, 0, 0, 0, 0};

// XORs the input's mutations into msg: up to three pairs (offset % len, value); returns the
// offsets whose bytes differ afterwards (two changes of one byte may cancel out).
inline std::set<size_t> Mutate(FuzzedDataProvider& in, uint8_t* msg, size_t len) {
  std::vector<uint8_t> before(msg, msg + len);
  int n = in.ConsumeIntegralInRange<int>(0, 3);
  for (int i = 0; i < n; i++) {
    size_t at = in.ConsumeIntegral<uint16_t>() % len;
    msg[at] ^= in.ConsumeIntegral<uint8_t>();
  }
  std::set<size_t> touched;
  for (size_t i = 0; i < len; i++) {
    if (msg[i] != before[i]) touched.insert(i);
  }
  return touched;
}

inline bool TouchesRange(const std::set<size_t>& t, size_t from, size_t to) {
  auto it = t.lower_bound(from);
  return it != t.end() && *it < to;
}

inline const char* Err(tund::wg::HandshakeError e) { return tund::wg::HandshakeErrorName(e); }

// The two kinds of input of the WireGuard targets: first byte even, the rest is one datagram as
// it arrived (raw); odd, the rest is a recipe read through a FuzzedDataProvider (built).
template <typename Raw, typename Built>
int TwoModes(const uint8_t* data, size_t size, Raw raw, Built built) {
  if (size < 1) return 0;
  if ((data[0] & 1) == 0) {
    raw(data + 1, size - 1);
  } else {
    FuzzedDataProvider in(data + 1, size - 1);
    built(in);
  }
  return 0;
}

}  // namespace fuzz
