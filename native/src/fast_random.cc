// FastRandom: see fast_random.h.
#include "fast_random.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <sys/random.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace tund {

namespace {

void GetRandom(uint8_t* out, size_t n) {
  size_t done = 0;
  while (done < n) {
    ssize_t r = getrandom(out + done, n - done, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      throw std::runtime_error(std::string("getrandom: ") + strerror(errno));
    }
    done += static_cast<size_t>(r);
  }
}

}  // namespace

FastRandom::FastRandom() {
  uint8_t seed[32 + 16];
  GetRandom(seed, sizeof seed);
  ctx_ = EVP_CIPHER_CTX_new();
  // key 32 bytes; the 16-byte IV is OpenSSL's counter || nonce
  bool ok = ctx_ != nullptr && EVP_EncryptInit_ex(ctx_, EVP_chacha20(), nullptr, seed, seed + 32) == 1;
  OPENSSL_cleanse(seed, sizeof seed);
  if (!ok) {
    if (ctx_) EVP_CIPHER_CTX_free(ctx_);
    ctx_ = nullptr;
    throw std::runtime_error("FastRandom: cannot set up ChaCha20");
  }
}

FastRandom::~FastRandom() {
  OPENSSL_cleanse(buf_, sizeof buf_);
  if (ctx_) EVP_CIPHER_CTX_free(ctx_);
}

void FastRandom::Refill() {
  memset(buf_, 0, sizeof buf_);
  int outl = 0;
  if (EVP_EncryptUpdate(ctx_, buf_, &outl, buf_, static_cast<int>(sizeof buf_)) != 1 || outl != static_cast<int>(sizeof buf_)) {
    throw std::runtime_error("FastRandom: ChaCha20 failed");
  }
  pos_ = 0;
}

void FastRandom::Fill(uint8_t* out, size_t n) {
  while (n > 0) {
    if (pos_ == sizeof buf_) Refill();
    size_t take = sizeof buf_ - pos_ < n ? sizeof buf_ - pos_ : n;
    memcpy(out, buf_ + pos_, take);
    // bytes handed out are not kept
    memset(buf_ + pos_, 0, take);
    pos_ += take;
    out += take;
    n -= take;
  }
}

uint32_t FastRandom::Next32() {
  uint8_t b[4];
  Fill(b, 4);
  uint32_t v;
  memcpy(&v, b, 4);
  return v;
}

}  // namespace tund
