#include "wg_crypto.h"

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/params.h>
#include <openssl/rand.h>

#include <dlfcn.h>

#include <climits>
#include <cstdlib>
#include <cstring>
#include <ctime>

namespace tund {
namespace wg {
namespace {

// Algorithms fetched once per process (fetching by name takes a lock and a lookup each time).
const EVP_MD* Blake2sMd() {
  static const EVP_MD* md = EVP_MD_fetch(nullptr, "BLAKE2S-256", nullptr);
  return md;
}
EVP_MAC* Blake2sMac() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "BLAKE2SMAC", nullptr);
  return mac;
}
EVP_MAC* HmacMac() {
  static EVP_MAC* mac = EVP_MAC_fetch(nullptr, "HMAC", nullptr);
  return mac;
}
const EVP_CIPHER* ChaChaPolyCipher() {
  static const EVP_CIPHER* cipher = EVP_CIPHER_fetch(nullptr, "ChaCha20-Poly1305", nullptr);
  return cipher;
}

bool AllZero(const uint8_t* p, size_t n) {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; i++) acc |= p[i];
  return acc == 0;
}

void Store32Le(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v);
  p[1] = static_cast<uint8_t>(v >> 8);
  p[2] = static_cast<uint8_t>(v >> 16);
  p[3] = static_cast<uint8_t>(v >> 24);
}
uint32_t Load32Le(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | static_cast<uint32_t>(p[1]) << 8 | static_cast<uint32_t>(p[2]) << 16 |
         static_cast<uint32_t>(p[3]) << 24;
}

EVP_PKEY* LoadPrivate(const uint8_t priv[kKeySize]) {
  return EVP_PKEY_new_raw_private_key(EVP_PKEY_X25519, nullptr, priv, kKeySize);
}

bool Derive(EVP_PKEY* own, const uint8_t pub[kKeySize], uint8_t out[kKeySize]) {
  EVP_PKEY* peer = EVP_PKEY_new_raw_public_key(EVP_PKEY_X25519, nullptr, pub, kKeySize);
  if (peer == nullptr) return false;
  EVP_PKEY_CTX* ctx = EVP_PKEY_CTX_new(own, nullptr);
  size_t len = kKeySize;
  bool ok = ctx != nullptr && EVP_PKEY_derive_init(ctx) == 1 && EVP_PKEY_derive_set_peer(ctx, peer) == 1 &&
            EVP_PKEY_derive(ctx, out, &len) == 1 && len == kKeySize;
  EVP_PKEY_CTX_free(ctx);
  EVP_PKEY_free(peer);
  // OpenSSL already refuses an all-zero X25519 result; the check stays here so the contract does
  // not depend on that.
  if (!ok || AllZero(out, kKeySize)) {
    Wipe(out, kKeySize);
    return false;
  }
  return true;
}

bool MacOnce(EVP_MAC* mac, const OSSL_PARAM* params, uint8_t* out, size_t outLen, const uint8_t* key,
             size_t keyLen, const uint8_t* data, size_t n) {
  if (mac == nullptr) return false;
  EVP_MAC_CTX* ctx = EVP_MAC_CTX_new(mac);
  if (ctx == nullptr) return false;
  size_t got = 0;
  // EVP_MAC_update with no data is fine; a null pointer is not.
  static const uint8_t kEmpty = 0;
  bool ok = EVP_MAC_init(ctx, key, keyLen, params) == 1 && EVP_MAC_update(ctx, n ? data : &kEmpty, n) == 1 &&
            EVP_MAC_final(ctx, out, &got, outLen) == 1 && got == outLen;
  EVP_MAC_CTX_free(ctx);
  return ok;
}

// ChaCha20-Poly1305 on an initialised context: set the nonce, then AAD, data, tag.
bool SealWith(EVP_CIPHER_CTX* ctx, const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
              const uint8_t* in, size_t len, uint8_t* out) {
  if (ctx == nullptr || len > static_cast<size_t>(INT_MAX) - kTagSize || aadLen > static_cast<size_t>(INT_MAX)) {
    return false;
  }
  int outl = 0;
  if (EVP_EncryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) != 1) return false;
  if (aadLen > 0 && EVP_EncryptUpdate(ctx, nullptr, &outl, aad, static_cast<int>(aadLen)) != 1) return false;
  if (len > 0 && (EVP_EncryptUpdate(ctx, out, &outl, in, static_cast<int>(len)) != 1 ||
                  static_cast<size_t>(outl) != len)) {
    return false;
  }
  uint8_t none[16];  // a stream cipher's final step writes nothing
  int fin = 0;
  if (EVP_EncryptFinal_ex(ctx, none, &fin) != 1 || fin != 0) return false;
  return EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_GET_TAG, static_cast<int>(kTagSize), out + len) == 1;
}

bool OpenWith(EVP_CIPHER_CTX* ctx, const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
              const uint8_t* in, size_t len, uint8_t* out) {
  if (ctx == nullptr || len < kTagSize || len > static_cast<size_t>(INT_MAX) || aadLen > static_cast<size_t>(INT_MAX)) {
    return false;
  }
  size_t plainLen = len - kTagSize;
  // The tag is copied first: with out == in the plaintext never reaches it, but a copy keeps the
  // rule simple for any caller.
  uint8_t tag[kTagSize];
  memcpy(tag, in + plainLen, kTagSize);
  int outl = 0;
  bool ok = EVP_DecryptInit_ex(ctx, nullptr, nullptr, nullptr, nonce) == 1 &&
            (aadLen == 0 || EVP_DecryptUpdate(ctx, nullptr, &outl, aad, static_cast<int>(aadLen)) == 1) &&
            (plainLen == 0 || (EVP_DecryptUpdate(ctx, out, &outl, in, static_cast<int>(plainLen)) == 1 &&
                               static_cast<size_t>(outl) == plainLen)) &&
            EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_AEAD_SET_TAG, static_cast<int>(kTagSize), tag) == 1;
  uint8_t none[16];  // a stream cipher's final step writes nothing
  int fin = 0;
  ok = ok && EVP_DecryptFinal_ex(ctx, none, &fin) == 1 && fin == 0;
  if (!ok && plainLen > 0) Wipe(out, plainLen);
  return ok;
}

EVP_CIPHER_CTX* NewContext(const uint8_t key[kKeySize], bool encrypt) {
  const EVP_CIPHER* cipher = ChaChaPolyCipher();
  if (cipher == nullptr) return nullptr;
  EVP_CIPHER_CTX* ctx = EVP_CIPHER_CTX_new();
  if (ctx == nullptr) return nullptr;
  if (EVP_CipherInit_ex(ctx, cipher, nullptr, key, nullptr, encrypt ? 1 : 0) != 1) {
    EVP_CIPHER_CTX_free(ctx);
    return nullptr;
  }
  return ctx;
}

}  // namespace

void Wipe(void* p, size_t n) {
  if (p != nullptr && n > 0) OPENSSL_cleanse(p, n);
}

bool ConstantTimeEqual(const uint8_t* a, const uint8_t* b, size_t n) { return CRYPTO_memcmp(a, b, n) == 0; }

bool RandomBytes(uint8_t* out, size_t n) {
  if (n > static_cast<size_t>(INT_MAX)) return false;
  return RAND_bytes(out, static_cast<int>(n)) == 1;
}

// ---- X25519

void X25519Clamp(uint8_t key[kKeySize]) {
  key[0] &= 248;
  key[31] = (key[31] & 127) | 64;
}

bool X25519GeneratePrivate(uint8_t priv[kKeySize]) {
  if (!RandomBytes(priv, kKeySize)) return false;
  X25519Clamp(priv);
  return true;
}

bool X25519PublicFromPrivate(const uint8_t priv[kKeySize], uint8_t pub[kKeySize]) {
  EVP_PKEY* pkey = LoadPrivate(priv);
  size_t len = kKeySize;
  bool ok = pkey != nullptr && EVP_PKEY_get_raw_public_key(pkey, pub, &len) == 1 && len == kKeySize;
  EVP_PKEY_free(pkey);
  return ok;
}

bool X25519Shared(const uint8_t priv[kKeySize], const uint8_t pub[kKeySize], uint8_t out[kKeySize]) {
  EVP_PKEY* pkey = LoadPrivate(priv);
  if (pkey == nullptr) return false;
  bool ok = Derive(pkey, pub, out);
  EVP_PKEY_free(pkey);
  return ok;
}

X25519PrivateKey::X25519PrivateKey(const uint8_t priv[kKeySize]) {
  EVP_PKEY* pkey = LoadPrivate(priv);
  size_t len = kKeySize;
  if (pkey != nullptr && EVP_PKEY_get_raw_public_key(pkey, pub_, &len) == 1 && len == kKeySize) {
    pkey_ = pkey;
  } else {
    EVP_PKEY_free(pkey);
  }
}

X25519PrivateKey::~X25519PrivateKey() { EVP_PKEY_free(static_cast<EVP_PKEY*>(pkey_)); }

bool X25519PrivateKey::Shared(const uint8_t pub[kKeySize], uint8_t out[kKeySize]) const {
  return pkey_ != nullptr && Derive(static_cast<EVP_PKEY*>(pkey_), pub, out);
}

// ---- BLAKE2s

Blake2s::Blake2s() : ctx_(EVP_MD_CTX_new()) {
  if (ctx_ != nullptr && !Reset()) {
    EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_));
    ctx_ = nullptr;
  }
}

Blake2s::~Blake2s() { EVP_MD_CTX_free(static_cast<EVP_MD_CTX*>(ctx_)); }

bool Blake2s::Reset() {
  return ctx_ != nullptr && Blake2sMd() != nullptr &&
         EVP_DigestInit_ex(static_cast<EVP_MD_CTX*>(ctx_), Blake2sMd(), nullptr) == 1;
}

bool Blake2s::Update(const uint8_t* data, size_t n) {
  if (ctx_ == nullptr) return false;
  return n == 0 || EVP_DigestUpdate(static_cast<EVP_MD_CTX*>(ctx_), data, n) == 1;
}

bool Blake2s::Final(uint8_t out[kHashSize]) {
  unsigned int len = 0;
  return ctx_ != nullptr && EVP_DigestFinal_ex(static_cast<EVP_MD_CTX*>(ctx_), out, &len) == 1 && len == kHashSize;
}

bool Blake2s256(uint8_t out[kHashSize], const uint8_t* a, size_t aLen) { return Blake2s256(out, a, aLen, nullptr, 0); }

bool Blake2s256(uint8_t out[kHashSize], const uint8_t* a, size_t aLen, const uint8_t* b, size_t bLen) {
  Blake2s h;
  return h.Update(a, aLen) && h.Update(b, bLen) && h.Final(out);
}

bool Blake2sMac128(uint8_t out[kMacSize], const uint8_t* key, size_t keyLen, const uint8_t* data, size_t n) {
  if (keyLen == 0 || keyLen > 32) return false;
  size_t size = kMacSize;
  OSSL_PARAM params[] = {OSSL_PARAM_construct_size_t(OSSL_MAC_PARAM_SIZE, &size), OSSL_PARAM_construct_end()};
  return MacOnce(Blake2sMac(), params, out, kMacSize, key, keyLen, data, n);
}

bool HmacBlake2s(uint8_t out[kHashSize], const uint8_t* key, size_t keyLen, const uint8_t* data, size_t n) {
  char digest[] = "BLAKE2S-256";
  OSSL_PARAM params[] = {OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest, 0),
                         OSSL_PARAM_construct_end()};
  // EVP_MAC_init refuses a null key even when its length is 0 (wireguard-go's KDF vectors use
  // an empty key): point at a byte instead.
  static const uint8_t kNoKey = 0;
  uint8_t result[kHashSize];
  bool ok = MacOnce(HmacMac(), params, result, kHashSize, keyLen ? key : &kNoKey, keyLen, data, n);
  if (ok) memcpy(out, result, kHashSize);
  Wipe(result, sizeof result);
  return ok;
}

bool Kdf3(uint8_t t1[kHashSize], uint8_t t2[kHashSize], uint8_t t3[kHashSize], const uint8_t* key, size_t keyLen,
          const uint8_t* input, size_t n) {
  uint8_t prk[kHashSize];
  uint8_t buf[kHashSize + 1];
  uint8_t out1[kHashSize], out2[kHashSize], out3[kHashSize];
  bool ok = HmacBlake2s(prk, key, keyLen, input, n);
  buf[0] = 0x1;
  ok = ok && HmacBlake2s(out1, prk, kHashSize, buf, 1);
  if (ok && (t2 != nullptr || t3 != nullptr)) {
    memcpy(buf, out1, kHashSize);
    buf[kHashSize] = 0x2;
    ok = HmacBlake2s(out2, prk, kHashSize, buf, sizeof buf);
  }
  if (ok && t3 != nullptr) {
    memcpy(buf, out2, kHashSize);
    buf[kHashSize] = 0x3;
    ok = HmacBlake2s(out3, prk, kHashSize, buf, sizeof buf);
  }
  // Outputs are written last: t1 may alias key.
  if (ok) {
    memcpy(t1, out1, kHashSize);
    if (t2 != nullptr) memcpy(t2, out2, kHashSize);
    if (t3 != nullptr) memcpy(t3, out3, kHashSize);
  }
  Wipe(prk, sizeof prk);
  Wipe(buf, sizeof buf);
  Wipe(out1, sizeof out1);
  Wipe(out2, sizeof out2);
  Wipe(out3, sizeof out3);
  return ok;
}

bool Kdf1(uint8_t t1[kHashSize], const uint8_t* key, size_t keyLen, const uint8_t* input, size_t n) {
  return Kdf3(t1, nullptr, nullptr, key, keyLen, input, n);
}

bool Kdf2(uint8_t t1[kHashSize], uint8_t t2[kHashSize], const uint8_t* key, size_t keyLen, const uint8_t* input,
          size_t n) {
  return Kdf3(t1, t2, nullptr, key, keyLen, input, n);
}

// ---- TAI64N

void Tai64nFromUnix(int64_t seconds, uint32_t nanoseconds, uint8_t out[kTai64nSize]) {
  uint64_t label = (uint64_t{1} << 62) + static_cast<uint64_t>(seconds);
  for (int i = 0; i < 8; i++) out[i] = static_cast<uint8_t>(label >> (56 - 8 * i));
  for (int i = 0; i < 4; i++) out[8 + i] = static_cast<uint8_t>(nanoseconds >> (24 - 8 * i));
}

void Tai64nNow(uint8_t out[kTai64nSize]) {
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  constexpr uint32_t kWhitenerMask = 0x1000000 - 1;
  Tai64nFromUnix(ts.tv_sec, static_cast<uint32_t>(ts.tv_nsec) & ~kWhitenerMask, out);
}

bool Tai64nAfter(const uint8_t a[kTai64nSize], const uint8_t b[kTai64nSize]) { return memcmp(a, b, kTai64nSize) > 0; }

// ---- ChaCha20-Poly1305

void CounterNonce(uint64_t counter, uint8_t nonce[kNonceSize]) {
  memset(nonce, 0, 4);
  for (int i = 0; i < 8; i++) nonce[4 + i] = static_cast<uint8_t>(counter >> (8 * i));
}

// ---- the Direct backend: OpenSSL's own ChaCha20 and Poly1305 functions, as the `node` binary
// exports them (OpenSSL's include/crypto/chacha.h and poly1305.h declare them; they are not part
// of the public headers, hence the run-time lookup and the known-answer check).

namespace {

struct DirectFunctions {
  void (*chacha20)(unsigned char* out, const unsigned char* in, size_t len, const unsigned int key[8],
                   const unsigned int counter[4]) = nullptr;
  size_t (*polyCtxSize)() = nullptr;
  void (*polyInit)(void* ctx, const unsigned char key[32]) = nullptr;
  void (*polyUpdate)(void* ctx, const unsigned char* in, size_t len) = nullptr;
  void (*polyFinal)(void* ctx, unsigned char mac[16]) = nullptr;
  size_t polyBytes = 0;  // the context's size, rounded up to a multiple of 64
  bool ok = false;
};

template <typename F>
bool Lookup(F* fn, const char* name) {
  *fn = reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
  return *fn != nullptr;
}

const DirectFunctions& Direct() {
  static const DirectFunctions fns = [] {
    DirectFunctions f;
    // EVP first: it makes sure OpenSSL has set up its CPU capability flags, which the assembly
    // behind ChaCha20_ctr32 and Poly1305_Init dispatches on.
    if (ChaChaPolyCipher() == nullptr) return f;
    if (!Lookup(&f.chacha20, "ChaCha20_ctr32") || !Lookup(&f.polyCtxSize, "Poly1305_ctx_size") ||
        !Lookup(&f.polyInit, "Poly1305_Init") || !Lookup(&f.polyUpdate, "Poly1305_Update") ||
        !Lookup(&f.polyFinal, "Poly1305_Final")) {
      return f;
    }
    size_t size = f.polyCtxSize();
    if (size == 0 || size > 4096) return f;
    f.polyBytes = (size + 63) / 64 * 64;
    f.ok = true;
    return f;
  }();
  return fns;
}

// OpenSSL's AVX-512 ChaCha20 and Poly1305 code can return with the upper halves of the vector
// registers in use; the next SSE instruction after it (a copy, the checksum loop, the endpoint's
// copy) then stalls on them: about 3% of a WireGuard stream's CPU here, charged to whatever ran
// next. vzeroupper on the way out of each Direct seal and open clears them (it needs AVX: with
// an older CPU OpenSSL takes other paths anyway).
struct ClearUpperVectors {
  ~ClearUpperVectors() {
#if defined(__x86_64__) || defined(__i386__)
    static const bool avx = __builtin_cpu_supports("avx");
    if (avx) asm volatile("vzeroupper" ::: "memory");
#endif
  }
};

void Pad16(const DirectFunctions& f, void* poly, size_t len) {
  static const uint8_t kZeros[16] = {};
  if (len % 16 != 0) f.polyUpdate(poly, kZeros, 16 - len % 16);
}

// The tag over aad and the ciphertext (RFC 8439 2.8) under a Poly1305 one-time key. The
// ciphertext's whole blocks go in one update, its last partial block, zero padded, and the lengths
// in another: one call of OpenSSL's block function for the end of the message instead of two.
void DirectMac(void* poly, const uint8_t polyKey[32], const uint8_t* aad, size_t aadLen, const uint8_t* ct,
               size_t len, uint8_t tag[kTagSize]) {
  const DirectFunctions& f = Direct();
  f.polyInit(poly, polyKey);
  if (aadLen > 0) {
    f.polyUpdate(poly, aad, aadLen);
    Pad16(f, poly, aadLen);
  }
  const size_t whole = len & ~size_t{15};
  if (whole > 0) f.polyUpdate(poly, ct, whole);
  uint8_t last[32] = {};  // ciphertext (public): nothing to wipe
  const size_t partial = len - whole;
  if (partial > 0) std::memcpy(last, ct + whole, partial);
  uint8_t* lengths = partial > 0 ? last + 16 : last;
  for (int i = 0; i < 8; i++) {
    lengths[i] = static_cast<uint8_t>(static_cast<uint64_t>(aadLen) >> (8 * i));
    lengths[8 + i] = static_cast<uint8_t>(static_cast<uint64_t>(len) >> (8 * i));
  }
  f.polyUpdate(poly, last, static_cast<size_t>(lengths + 16 - last));
  f.polyFinal(poly, tag);  // also cleanses the context
}

// The Poly1305 one-time key (RFC 8439 2.6: block 0 of the key stream, `state` with counter 0)
// and the tag.
void DirectTag(const uint32_t key[8], void* poly, const uint32_t state[4], const uint8_t* aad, size_t aadLen,
               const uint8_t* ct, size_t len, uint8_t tag[kTagSize]) {
  uint8_t block[64] = {};
  Direct().chacha20(block, block, sizeof block, key, state);
  DirectMac(poly, block, aad, aadLen, ct, len, tag);
  Wipe(block, sizeof block);
}

// ChaCha20's block counter and nonce words (RFC 8439 2.3): counter, then the nonce little-endian.
// ChaCha20_ctr32 counts in 32 bits: a packet (at most 64 KiB, 1025 blocks from 1) never wraps.
void DirectState(const uint8_t nonce[kNonceSize], uint32_t counter, uint32_t state[4]) {
  state[0] = counter;
  state[1] = Load32Le(nonce);
  state[2] = Load32Le(nonce + 4);
  state[3] = Load32Le(nonce + 8);
}
constexpr size_t kDirectMaxLen = 64 * 1024 * 1024;  // far above any packet; keeps the counter in 32 bits

bool DirectSeal(const uint32_t key[8], void* poly, const uint8_t nonce[kNonceSize], const uint8_t* aad,
                size_t aadLen, const uint8_t* in, size_t len, uint8_t* out) {
  if (len > kDirectMaxLen || (aadLen > 0 && aad == nullptr)) return false;
  ClearUpperVectors clear;
  uint32_t state[4];
  DirectState(nonce, 1, state);
  if (len > 0) Direct().chacha20(out, in, len, key, state);
  state[0] = 0;
  DirectTag(key, poly, state, aad, aadLen, out, len, out + len);
  return true;
}

// out = in ^ stream, 16 bytes a step (the compiler's vector registers; SSE2 at least on x86-64)
void XorStream(uint8_t* out, const uint8_t* in, const uint8_t* stream, size_t len) {
  typedef uint8_t Block16 __attribute__((vector_size(16)));
  size_t i = 0;
  for (; i + 16 <= len; i += 16) {
    Block16 a, b;
    std::memcpy(&a, in + i, 16);
    std::memcpy(&b, stream + i, 16);
    a ^= b;
    std::memcpy(out + i, &a, 16);
  }
  for (; i < len; i++) out[i] = static_cast<uint8_t>(in[i] ^ stream[i]);
}

// Opens of up to this many plaintext bytes (a jumbo frame) make block 0 and the data's key stream
// in one ChaCha20 call; longer ones take two.
constexpr size_t kOpenOneCallMax = 9216;

bool DirectOpen(const uint32_t key[8], void* poly, const uint8_t nonce[kNonceSize], const uint8_t* aad,
                size_t aadLen, const uint8_t* in, size_t len, uint8_t* out) {
  if (len < kTagSize || len - kTagSize > kDirectMaxLen || (aadLen > 0 && aad == nullptr)) return false;
  const size_t plainLen = len - kTagSize;
  ClearUpperVectors clear;
  uint32_t state[4];
  DirectState(nonce, 0, state);
  uint8_t tag[kTagSize];
  // The tag needs block 0 of the key stream before the ciphertext may be decrypted (in place it
  // would be gone), and a ChaCha20 call of its own for that one block costs about as much as the
  // data's (OpenSSL's short path). So up to kOpenOneCallMax the key stream for block 0 and the
  // data comes from one call into this scratch, and decrypting is an XOR with it once the tag
  // verified. Block 0 (the one-time key) is wiped; the data's key stream is left, worth no more
  // than the plaintext it gives, which the caller keeps.
  const bool oneCall = plainLen <= kOpenOneCallMax;
  alignas(64) uint8_t stream[64 + kOpenOneCallMax];
  if (oneCall) {
    std::memset(stream, 0, 64 + plainLen);
    Direct().chacha20(stream, stream, 64 + plainLen, key, state);
    DirectMac(poly, stream, aad, aadLen, in, plainLen, tag);
    Wipe(stream, 64);
  } else {
    DirectTag(key, poly, state, aad, aadLen, in, plainLen, tag);
  }
  if (CRYPTO_memcmp(tag, in + plainLen, kTagSize) != 0) {
    if (plainLen > 0) Wipe(out, plainLen);
    return false;
  }
  if (oneCall) {
    XorStream(out, in, stream + 64, plainLen);
  } else {
    state[0] = 1;
    Direct().chacha20(out, in, plainLen, key, state);
  }
  return true;
}

void KeyWords(const uint8_t key[kKeySize], uint32_t words[8]) {
  for (int i = 0; i < 8; i++) words[i] = Load32Le(key + 4 * i);
}

// RFC 8439 section 2.8.2 through the Direct functions, sealed and opened: a lookup that found
// functions with other signatures or semantics (another OpenSSL) fails this and is not used.
bool DirectKnownAnswer() {
  static const uint8_t kKey[kKeySize] = {
      0x80, 0x81, 0x82, 0x83, 0x84, 0x85, 0x86, 0x87, 0x88, 0x89, 0x8a, 0x8b, 0x8c, 0x8d, 0x8e, 0x8f,
      0x90, 0x91, 0x92, 0x93, 0x94, 0x95, 0x96, 0x97, 0x98, 0x99, 0x9a, 0x9b, 0x9c, 0x9d, 0x9e, 0x9f};
  static const uint8_t kNonce[kNonceSize] = {0x07, 0x00, 0x00, 0x00, 0x40, 0x41, 0x42, 0x43, 0x44, 0x45, 0x46, 0x47};
  static const uint8_t kAad[12] = {0x50, 0x51, 0x52, 0x53, 0xc0, 0xc1, 0xc2, 0xc3, 0xc4, 0xc5, 0xc6, 0xc7};
  static const char kPlain[] =
      "Ladies and Gentlemen of the class of '99: If I could offer you only one tip for the future, sunscreen "
      "would be it.";
  static const uint8_t kTag[kTagSize] = {0x1a, 0xe1, 0x0b, 0x59, 0x4f, 0x09, 0xe2, 0x6a,
                                         0x7e, 0x90, 0x2e, 0xcb, 0xd0, 0x60, 0x06, 0x91};
  static const uint8_t kCipherStart[8] = {0xd3, 0x1a, 0x8d, 0x34, 0x64, 0x8e, 0x60, 0xdb};
  constexpr size_t n = sizeof kPlain - 1;  // 114 bytes
  void* poly = std::aligned_alloc(64, Direct().polyBytes);
  if (poly == nullptr) return false;
  uint32_t key[8];
  KeyWords(kKey, key);
  uint8_t buf[n + kTagSize];
  bool ok = DirectSeal(key, poly, kNonce, kAad, sizeof kAad, reinterpret_cast<const uint8_t*>(kPlain), n, buf) &&
            memcmp(buf, kCipherStart, sizeof kCipherStart) == 0 && memcmp(buf + n, kTag, kTagSize) == 0 &&
            DirectOpen(key, poly, kNonce, kAad, sizeof kAad, buf, sizeof buf, buf) && memcmp(buf, kPlain, n) == 0;
  if (ok) {
    buf[3] ^= 1;  // and a forgery is refused
    ok = !DirectOpen(key, poly, kNonce, kAad, sizeof kAad, buf, sizeof buf, buf);
  }
  std::free(poly);
  return ok;
}

}  // namespace

bool DirectAeadAvailable() {
  static const bool available = Direct().ok && DirectKnownAnswer();
  return available;
}

ChaCha20Poly1305::ChaCha20Poly1305(const uint8_t key[kKeySize], AeadBackend backend) {
  if (backend == AeadBackend::Direct && DirectAeadAvailable() &&
      (poly_ = std::aligned_alloc(64, Direct().polyBytes)) != nullptr) {
    KeyWords(key, key_);
    direct_ = true;
    return;
  }
  enc_ = NewContext(key, true);
  dec_ = NewContext(key, false);
}

ChaCha20Poly1305::~ChaCha20Poly1305() {
  EVP_CIPHER_CTX_free(enc_);  // frees (and cleanses) the key schedule too
  EVP_CIPHER_CTX_free(dec_);
  Wipe(key_, sizeof key_);
  if (poly_ != nullptr) {
    Wipe(poly_, Direct().polyBytes);
    std::free(poly_);
  }
}

bool ChaCha20Poly1305::Seal(uint64_t counter, const uint8_t* aad, size_t aadLen, const uint8_t* in, size_t len,
                            uint8_t* out) {
  uint8_t nonce[kNonceSize];
  CounterNonce(counter, nonce);
  return SealNonce(nonce, aad, aadLen, in, len, out);
}

bool ChaCha20Poly1305::SealNonce(const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
                                 const uint8_t* in, size_t len, uint8_t* out) {
  if (direct_) return DirectSeal(key_, poly_, nonce, aad, aadLen, in, len, out);
  return SealWith(enc_, nonce, aad, aadLen, in, len, out);
}

bool ChaCha20Poly1305::SealWithScratch(uint64_t counter, uint8_t* data, size_t len) {
  if (!direct_) return Seal(counter, nullptr, 0, data, len, data);
  if (len > kDirectMaxLen) return false;
  ClearUpperVectors clear;
  uint8_t nonce[kNonceSize];
  CounterNonce(counter, nonce);
  uint32_t state[4];
  DirectState(nonce, 0, state);
  // block 0 (the one-time key) over the scratch, the data from block 1 on: one ChaCha20 call,
  // whose wide path has lanes to spare for the extra block
  uint8_t* block = data - kSealScratch;
  std::memset(block, 0, kSealScratch);
  Direct().chacha20(block, block, kSealScratch + len, key_, state);
  DirectMac(poly_, block, nullptr, 0, data, len, data + len);
  Wipe(block, kSealScratch);
  return true;
}

bool ChaCha20Poly1305::Open(uint64_t counter, const uint8_t* aad, size_t aadLen, const uint8_t* in, size_t len,
                            uint8_t* out) {
  uint8_t nonce[kNonceSize];
  CounterNonce(counter, nonce);
  return OpenNonce(nonce, aad, aadLen, in, len, out);
}

bool ChaCha20Poly1305::OpenNonce(const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
                                 const uint8_t* in, size_t len, uint8_t* out) {
  if (direct_) return DirectOpen(key_, poly_, nonce, aad, aadLen, in, len, out);
  return OpenWith(dec_, nonce, aad, aadLen, in, len, out);
}

bool AeadSeal(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
              const uint8_t* in, size_t len, uint8_t* out) {
  EVP_CIPHER_CTX* ctx = NewContext(key, true);
  bool ok = SealWith(ctx, nonce, aad, aadLen, in, len, out);
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

bool AeadOpen(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
              const uint8_t* in, size_t len, uint8_t* out) {
  EVP_CIPHER_CTX* ctx = NewContext(key, false);
  bool ok = OpenWith(ctx, nonce, aad, aadLen, in, len, out);
  EVP_CIPHER_CTX_free(ctx);
  return ok;
}

// ---- HChaCha20 / XChaCha20-Poly1305

namespace {
inline uint32_t Rotl(uint32_t v, int n) { return (v << n) | (v >> (32 - n)); }
inline void QuarterRound(uint32_t* x, int a, int b, int c, int d) {
  x[a] += x[b]; x[d] = Rotl(x[d] ^ x[a], 16);
  x[c] += x[d]; x[b] = Rotl(x[b] ^ x[c], 12);
  x[a] += x[b]; x[d] = Rotl(x[d] ^ x[a], 8);
  x[c] += x[d]; x[b] = Rotl(x[b] ^ x[c], 7);
}
}  // namespace

void HChaCha20(const uint8_t key[kKeySize], const uint8_t nonce[kHChaChaNonceSize], uint8_t out[kKeySize]) {
  // The ChaCha20 state with the 16-byte nonce in place of counter || nonce; 20 rounds; the first
  // and last rows are the subkey (no final addition of the input state).
  uint32_t x[16] = {0x61707865, 0x3320646e, 0x79622d32, 0x6b206574};
  for (int i = 0; i < 8; i++) x[4 + i] = Load32Le(key + 4 * i);
  for (int i = 0; i < 4; i++) x[12 + i] = Load32Le(nonce + 4 * i);
  for (int round = 0; round < 10; round++) {
    QuarterRound(x, 0, 4, 8, 12);
    QuarterRound(x, 1, 5, 9, 13);
    QuarterRound(x, 2, 6, 10, 14);
    QuarterRound(x, 3, 7, 11, 15);
    QuarterRound(x, 0, 5, 10, 15);
    QuarterRound(x, 1, 6, 11, 12);
    QuarterRound(x, 2, 7, 8, 13);
    QuarterRound(x, 3, 4, 9, 14);
  }
  for (int i = 0; i < 4; i++) Store32Le(out + 4 * i, x[i]);
  for (int i = 0; i < 4; i++) Store32Le(out + 16 + 4 * i, x[12 + i]);
  Wipe(x, sizeof x);
}

namespace {
// ChaCha20-Poly1305 under HChaCha20(key, xnonce[0:16]) with nonce 00000000 || xnonce[16:24].
bool XAead(bool seal, const uint8_t key[kKeySize], const uint8_t xnonce[kXNonceSize], const uint8_t* aad,
           size_t aadLen, const uint8_t* in, size_t len, uint8_t* out) {
  uint8_t subkey[kKeySize], nonce[kNonceSize];
  HChaCha20(key, xnonce, subkey);
  memset(nonce, 0, 4);
  memcpy(nonce + 4, xnonce + 16, 8);
  bool ok = (seal ? AeadSeal : AeadOpen)(subkey, nonce, aad, aadLen, in, len, out);
  Wipe(subkey, sizeof subkey);
  return ok;
}
}  // namespace

bool XAeadSeal(const uint8_t key[kKeySize], const uint8_t xnonce[kXNonceSize], const uint8_t* aad, size_t aadLen,
               const uint8_t* in, size_t len, uint8_t* out) {
  return XAead(true, key, xnonce, aad, aadLen, in, len, out);
}

bool XAeadOpen(const uint8_t key[kKeySize], const uint8_t xnonce[kXNonceSize], const uint8_t* aad, size_t aadLen,
               const uint8_t* in, size_t len, uint8_t* out) {
  return XAead(false, key, xnonce, aad, aadLen, in, len, out);
}

}  // namespace wg
}  // namespace tund
