// Shared by the libFuzzer targets in this directory (see docs/fuzzing.md).
#pragma once

#include <openssl/md5.h>

#include <cstdio>
#include <cstdlib>
#include <string>

#include "../../../native/src/vtun_codec.h"

// A property of the code under test does not hold: print why and abort, which libFuzzer reports
// as a crash and saves the input for.
#define FUZZ_CHECK(cond, ...)                                                   \
  do {                                                                          \
    if (!(cond)) {                                                              \
      std::fprintf(stderr, "\nfuzz: property failed: %s (%s:%d)\n  ", #cond,    \
                   __FILE__, __LINE__);                                         \
      std::fprintf(stderr, __VA_ARGS__);                                        \
      std::fprintf(stderr, "\n");                                               \
      std::abort();                                                             \
    }                                                                           \
  } while (0)

namespace fuzz {

// Every cipher number vtun_codec knows and every compression: 18 x 3 module chains. The first
// input byte of the VTun targets picks one (byte % 54), so the seeds say which chain they are for.
constexpr int kCiphers[] = {0, 999, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
constexpr int kCipherCount = sizeof kCiphers / sizeof kCiphers[0];
constexpr int kChains = kCipherCount * 3;

// The password of the captured sessions the seeds come from (test/fixtures vtun vectors).
constexpr char kPassword[] = "interop-pw";

// VTun's key from a password (vtunKey in pump.cc): MD5(password) for 16 bytes; for 32 bytes
// MD5 of the first half || MD5 of the rest.
inline std::string VtunKey(const std::string& pw, size_t bytes) {
  unsigned char out[32];
  const auto* p = reinterpret_cast<const unsigned char*>(pw.data());
  if (bytes == 16) {
    MD5(p, pw.size(), out);
  } else if (bytes == 32) {
    size_t half = pw.size() / 2;
    MD5(p, half, out);
    MD5(p + half, pw.size() - half, out + 16);
  }
  return std::string(reinterpret_cast<char*>(out), bytes);
}

// The module chain for selector byte b; level from the second byte (zlib 1..9, lzo 1 or 9).
inline tund::vtun::CodecConfig ChainConfig(uint8_t b, uint8_t levelByte) {
  tund::vtun::CodecConfig cfg;
  int chain = b % kChains;
  cfg.cipher = kCiphers[chain % kCipherCount];
  switch (chain / kCipherCount) {
    case 0: cfg.compression = tund::vtun::Compression::None; break;
    case 1: cfg.compression = tund::vtun::Compression::Zlib; cfg.level = 1 + levelByte % 9; break;
    default: cfg.compression = tund::vtun::Compression::Lzo; cfg.level = (levelByte & 1) ? 9 : 1; break;
  }
  cfg.key = VtunKey(kPassword, tund::vtun::CipherKeyBytes(cfg.cipher));
  return cfg;
}

inline std::string Describe(const tund::vtun::CodecConfig& cfg) {
  const char* comp = cfg.compression == tund::vtun::Compression::None ? "none"
                     : cfg.compression == tund::vtun::Compression::Zlib ? "zlib" : "lzo";
  return "cipher " + std::to_string(cfg.cipher) + ", compression " + comp + ":" + std::to_string(cfg.level);
}

}  // namespace fuzz
