// FastRandom: unpredictable bytes without a system call per value, for WebSocket masking keys
// (RFC 6455 5.3 asks for a fresh, unpredictable key per frame) and Sec-WebSocket-Key nonces.
// A ChaCha20 keystream (OpenSSL EVP from the node binary) keyed once from getrandom(2), handed
// out from a 4 KiB buffer: one cipher call per 1024 masking keys. One instance per thread or
// connection; not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace tund {

class FastRandom {
 public:
  // Throws std::runtime_error when getrandom(2) or the cipher fails.
  FastRandom();
  ~FastRandom();
  FastRandom(const FastRandom&) = delete;
  FastRandom& operator=(const FastRandom&) = delete;

  void Fill(uint8_t* out, size_t n);
  uint32_t Next32();

 private:
  void Refill();

  EVP_CIPHER_CTX* ctx_ = nullptr;
  uint8_t buf_[4096];
  size_t pos_ = sizeof buf_;
};

}  // namespace tund
