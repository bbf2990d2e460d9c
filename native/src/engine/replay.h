// WireGuard's sliding replay window (RFC 6479, as wireguard-go and the kernel module keep it): a
// ring of 128 64-bit blocks; counters up to 8128 behind the highest one seen are accepted once
// each, older ones never. One window per keypair, touched only by the thread that opens
// packets (no lock).
#pragma once

#include <cstdint>
#include <cstring>

namespace tund {
namespace engine {

class ReplayWindow {
 public:
  static constexpr uint64_t kBlockBits = 64;
  static constexpr uint64_t kRingBlocks = 128;
  static constexpr uint64_t kWindowSize = (kRingBlocks - 1) * kBlockBits;  // 8128

  // Could `counter` still be accepted? (before spending an AEAD open on it; nothing changes)
  bool MayAccept(uint64_t counter, uint64_t limit) const {
    if (counter >= limit) return false;
    if (counter > last_) return true;
    if (last_ - counter > kWindowSize) return false;
    return (ring_[(counter / kBlockBits) % kRingBlocks] & (1ULL << (counter % kBlockBits))) == 0;
  }

  // Accepts `counter` (of an authenticated packet) once: false for a replay, a counter too far
  // behind the window, or one at or past `limit` (REJECT_AFTER_MESSAGES).
  bool Accept(uint64_t counter, uint64_t limit) {
    if (counter >= limit) return false;
    uint64_t block = counter / kBlockBits;
    if (counter > last_) {
      // slide forward: clear the blocks between the old highest and the new one
      uint64_t current = last_ / kBlockBits;
      uint64_t diff = block - current;
      if (diff > kRingBlocks) diff = kRingBlocks;
      for (uint64_t i = current + 1; i <= current + diff; i++) ring_[i % kRingBlocks] = 0;
      last_ = counter;
    } else if (last_ - counter > kWindowSize) {
      return false;
    }
    uint64_t& word = ring_[block % kRingBlocks];
    uint64_t bit = 1ULL << (counter % kBlockBits);
    if (word & bit) return false;
    word |= bit;
    return true;
  }

  void Reset() {
    last_ = 0;
    std::memset(ring_, 0, sizeof ring_);
  }

 private:
  uint64_t last_ = 0;
  uint64_t ring_[kRingBlocks] = {};
};

}  // namespace engine
}  // namespace tund
