// Blowfish-ECB, four blocks at a time (blowfish_ecb.h). Blowfish (Schneier, 1993): a block is two
// big-endian 32-bit halves; each of 16 rounds XORs a P-array word into one half and F of that
// half into the other, F(x) = ((S0[x>>24] + S1[x>>16 & 255]) ^ S2[x>>8 & 255]) + S3[x & 255];
// after the rounds the halves are whitened with P[16] and P[17] and come out swapped. Decryption
// runs the P-array backwards. Written here as pairs of rounds, so that no swap is needed.
#include "blowfish_ecb.h"

namespace tund {
namespace {

constexpr int kLanes = 4;

inline uint32_t Load(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | uint32_t{p[3]};
}

inline void Store(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

inline uint32_t F(const BF_LONG* s, uint32_t x) {
  return ((s[x >> 24] + s[256 + ((x >> 16) & 0xff)]) ^ s[512 + ((x >> 8) & 0xff)]) + s[768 + (x & 0xff)];
}

// N blocks at p, side by side: the rounds of one block do not wait for another's. k: the P-array
// in the order the rounds take it (backwards to decrypt).
template <int N>
inline void Blocks(const uint32_t* k, const BF_LONG* s, uint8_t* p) {
  uint32_t l[N], r[N];
#pragma GCC unroll 4
  for (int j = 0; j < N; j++) {
    l[j] = Load(p + 8 * j);
    r[j] = Load(p + 8 * j + 4);
  }
#pragma GCC unroll 8
  for (int i = 0; i < 16; i += 2) {
#pragma GCC unroll 4
    for (int j = 0; j < N; j++) {
      l[j] ^= k[i];
      r[j] ^= F(s, l[j]);
    }
#pragma GCC unroll 4
    for (int j = 0; j < N; j++) {
      r[j] ^= k[i + 1];
      l[j] ^= F(s, r[j]);
    }
  }
#pragma GCC unroll 4
  for (int j = 0; j < N; j++) {
    Store(p + 8 * j, r[j] ^ k[17]);
    Store(p + 8 * j + 4, l[j] ^ k[16]);
  }
}

}  // namespace

void BlowfishEcb(const BF_KEY& key, uint8_t* buf, size_t len, bool encrypt) {
  uint32_t k[18];
  for (int i = 0; i < 18; i++) k[i] = key.P[encrypt ? i : 17 - i];
  size_t i = 0;
  for (; i + 8 * kLanes <= len; i += 8 * kLanes) Blocks<kLanes>(k, key.S, buf + i);
  for (; i + 8 <= len; i += 8) Blocks<1>(k, key.S, buf + i);
}

}  // namespace tund
