// WireGuard's cryptographic primitives (whitepaper section 5.4), over the OpenSSL that the `node`
// binary exports (the addon is built against Node's headers and never links -lcrypto, so there is
// one OpenSSL in the process). Pure C++, no N-API: used by the handshake (wg_noise), the cookies
// (wg_cookie), the native transport engine and the N-API bindings (wg_addon.cc).
//
//  - X25519: public key from a private key, shared secret (all-zero results refused).
//  - BLAKE2s-256 (HASH), keyed BLAKE2s with a 16-byte output (MAC, mac1/mac2/cookies),
//    HMAC over BLAKE2s (HMAC) and the KDF1/KDF2/KDF3 built on it.
//  - TAI64N timestamps (12 bytes, big-endian, compare with memcmp).
//  - ChaCha20-Poly1305 with WireGuard's nonce (4 zero bytes || 64-bit little-endian counter):
//    ChaCha20Poly1305 keeps its cipher contexts for one key and seals/opens without allocating
//    (the transport's hot path); AeadSeal/AeadOpen are one-shot with a 12-byte nonce (handshake).
//  - HChaCha20 (the only primitive written here: OpenSSL 3.0 has no XChaCha20) and
//    XChaCha20-Poly1305 on top of it (cookie replies).
//
// Every function that can fail returns false (a library failure, an authentication failure, an
// all-zero shared secret) and leaves no partial secret in its outputs.
#pragma once

#include <cstddef>
#include <cstdint>

typedef struct evp_cipher_ctx_st EVP_CIPHER_CTX;

namespace tund {
namespace wg {

constexpr size_t kKeySize = 32;        // X25519 keys, ChaCha20 keys, preshared keys
constexpr size_t kHashSize = 32;       // BLAKE2s-256 output, chaining keys, hashes
constexpr size_t kMacSize = 16;        // keyed BLAKE2s-128 output: mac1, mac2, cookies
constexpr size_t kTagSize = 16;        // Poly1305 tag appended by every seal
constexpr size_t kNonceSize = 12;      // ChaCha20-Poly1305 nonce
constexpr size_t kXNonceSize = 24;     // XChaCha20-Poly1305 nonce
constexpr size_t kHChaChaNonceSize = 16;
constexpr size_t kTai64nSize = 12;

// Overwrites secrets in a way the compiler keeps (OPENSSL_cleanse).
void Wipe(void* p, size_t n);
// Constant-time equality of two byte strings of length n.
bool ConstantTimeEqual(const uint8_t* a, const uint8_t* b, size_t n);
// n bytes from OpenSSL's CSPRNG.
bool RandomBytes(uint8_t* out, size_t n);

// ---- X25519 (RFC 7748)
// Clamps 32 bytes into an X25519 private key as `wg genkey` does (the scalar OpenSSL uses either
// way; clamping makes the stored key canonical).
void X25519Clamp(uint8_t key[kKeySize]);
// A new random private key, clamped.
bool X25519GeneratePrivate(uint8_t priv[kKeySize]);
bool X25519PublicFromPrivate(const uint8_t priv[kKeySize], uint8_t pub[kKeySize]);
// DH(priv, pub) into out; false when the result is all zeros (a low-order public key) or on failure.
bool X25519Shared(const uint8_t priv[kKeySize], const uint8_t pub[kKeySize], uint8_t out[kKeySize]);

// A private key loaded once for many DH operations (a device's static key): OpenSSL derives the
// public key when a private key is loaded, so keeping the loaded key halves the cost of each DH.
// Shared() is safe to call from several threads at once.
class X25519PrivateKey {
 public:
  explicit X25519PrivateKey(const uint8_t priv[kKeySize]);
  ~X25519PrivateKey();
  X25519PrivateKey(const X25519PrivateKey&) = delete;
  X25519PrivateKey& operator=(const X25519PrivateKey&) = delete;
  bool Ok() const { return pkey_ != nullptr; }
  const uint8_t* PublicKey() const { return pub_; }
  bool Shared(const uint8_t pub[kKeySize], uint8_t out[kKeySize]) const;

 private:
  void* pkey_ = nullptr;  // EVP_PKEY
  uint8_t pub_[kKeySize] = {};
};

// ---- BLAKE2s (RFC 7693)
// Incremental BLAKE2s-256. Not copyable; Final() may be called once, then Reset() to reuse.
class Blake2s {
 public:
  Blake2s();
  ~Blake2s();
  Blake2s(const Blake2s&) = delete;
  Blake2s& operator=(const Blake2s&) = delete;
  bool Ok() const { return ctx_ != nullptr; }
  bool Reset();
  bool Update(const uint8_t* data, size_t n);
  bool Final(uint8_t out[kHashSize]);

 private:
  void* ctx_;  // EVP_MD_CTX
};
// HASH(a) and HASH(a || b), the forms the handshake uses. out may alias a or b.
bool Blake2s256(uint8_t out[kHashSize], const uint8_t* a, size_t aLen);
bool Blake2s256(uint8_t out[kHashSize], const uint8_t* a, size_t aLen, const uint8_t* b, size_t bLen);
// Keyed BLAKE2s with a 16-byte output (EVP_MAC "BLAKE2SMAC", size 16): WireGuard's MAC(key, data).
// keyLen 1..32 (32 for mac1 keys, 16 for cookies used as mac2 keys).
bool Blake2sMac128(uint8_t out[kMacSize], const uint8_t* key, size_t keyLen, const uint8_t* data, size_t n);
// HMAC(key, data) over BLAKE2s-256 (block size 64). out may alias key or data.
bool HmacBlake2s(uint8_t out[kHashSize], const uint8_t* key, size_t keyLen, const uint8_t* data, size_t n);
// WireGuard's KDFn(key, input): t0 = HMAC(key, input); t1 = HMAC(t0, 0x1);
// t2 = HMAC(t0, t1 || 0x2); t3 = HMAC(t0, t2 || 0x3); outputs t1..tn. Outputs may alias key.
bool Kdf1(uint8_t t1[kHashSize], const uint8_t* key, size_t keyLen, const uint8_t* input, size_t n);
bool Kdf2(uint8_t t1[kHashSize], uint8_t t2[kHashSize], const uint8_t* key, size_t keyLen,
          const uint8_t* input, size_t n);
bool Kdf3(uint8_t t1[kHashSize], uint8_t t2[kHashSize], uint8_t t3[kHashSize], const uint8_t* key,
          size_t keyLen, const uint8_t* input, size_t n);

// ---- TAI64N (12 bytes: 2^62 + seconds as big-endian u64, nanoseconds as big-endian u32)
void Tai64nFromUnix(int64_t seconds, uint32_t nanoseconds, uint8_t out[kTai64nSize]);
// The current wall-clock time, nanoseconds rounded down to a multiple of 2^24 (about 16.8 ms) as
// wireguard-go does, so the timestamp does not leak a precise clock to a passive observer.
void Tai64nNow(uint8_t out[kTai64nSize]);
// a > b (later timestamp). Byte order makes this a plain memcmp.
bool Tai64nAfter(const uint8_t a[kTai64nSize], const uint8_t b[kTai64nSize]);

// ---- ChaCha20-Poly1305 (RFC 8439)
// WireGuard's nonce for a counter: 4 zero bytes || counter, little-endian.
void CounterNonce(uint64_t counter, uint8_t nonce[kNonceSize]);

// How ChaCha20Poly1305 reaches OpenSSL.
//  - Evp: OpenSSL's EVP interface (EVP_CIPHER_CTX, one context per direction).
//  - Direct: the ChaCha20 and Poly1305 functions of the same OpenSSL (ChaCha20_ctr32,
//    Poly1305_Init/Update/Final, the assembly EVP itself runs), put together as RFC 8439 section
//    2.8 does, without EVP's per-call layers (parameter lookups by name, provider dispatch, state
//    resets), about 0.4 us per packet. The `node` binary exports these symbols; they are found
//    at run time (dlsym) and checked against RFC 8439's test vector once per process: where they
//    are missing or wrong, Direct falls back to Evp.
enum class AeadBackend { Evp, Direct };
// True when the Direct backend is usable in this process (found and known-answer tested).
bool DirectAeadAvailable();

// One key, its two cipher contexts kept for the key's lifetime: Seal/Open do no allocation and no
// key schedule. Not thread-safe: one object per thread that uses the key (a keypair's send key on
// the tx thread, its receive key on the rx thread). Evp: the key is not kept in this object beyond
// the OpenSSL contexts, which are cleansed when freed. Direct: the object holds the key (the
// ChaCha20 input) and wipes it when destroyed.
class ChaCha20Poly1305 {
 public:
  explicit ChaCha20Poly1305(const uint8_t key[kKeySize], AeadBackend backend = AeadBackend::Evp);
  ~ChaCha20Poly1305();
  ChaCha20Poly1305(const ChaCha20Poly1305&) = delete;
  ChaCha20Poly1305& operator=(const ChaCha20Poly1305&) = delete;
  // False when OpenSSL could not build the contexts; Seal/Open then fail.
  bool Ok() const { return direct_ || (enc_ != nullptr && dec_ != nullptr); }
  // The backend in use (Direct asked for where it is not available gives Evp).
  AeadBackend Backend() const { return direct_ ? AeadBackend::Direct : AeadBackend::Evp; }

  // Encrypts len bytes of in into out and appends the 16-byte tag: out needs len + 16 bytes.
  // out == in (in place) is allowed; other overlaps are not. aad may be null when aadLen is 0.
  bool Seal(uint64_t counter, const uint8_t* aad, size_t aadLen, const uint8_t* in, size_t len, uint8_t* out);
  bool SealNonce(const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen, const uint8_t* in,
                 size_t len, uint8_t* out);
  // Seal(counter, no aad, data, len, data) in place, with the kSealScratch bytes before data as
  // scratch (overwritten, wiped afterwards): with the Direct backend the Poly1305 key block and the
  // data then come from one ChaCha20 call instead of two (the transport's hot path).
  static constexpr size_t kSealScratch = 64;
  bool SealWithScratch(uint64_t counter, uint8_t* data, size_t len);
  // Opens len bytes of in (ciphertext || tag, len >= 16) into out (len - 16 bytes); out == in is
  // allowed. False when the tag does not verify: out is then zeroed, never half-decrypted.
  bool Open(uint64_t counter, const uint8_t* aad, size_t aadLen, const uint8_t* in, size_t len, uint8_t* out);
  bool OpenNonce(const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen, const uint8_t* in,
                 size_t len, uint8_t* out);

 private:
  EVP_CIPHER_CTX* enc_ = nullptr;
  EVP_CIPHER_CTX* dec_ = nullptr;
  bool direct_ = false;
  uint32_t key_[8] = {};  // Direct: the key as ChaCha20's eight little-endian words
  void* poly_ = nullptr;  // Direct: a POLY1305 context (size from OpenSSL), reused per packet
};

// One-shot ChaCha20-Poly1305 with a 12-byte nonce (the handshake's AEAD(k, 0, ...) uses
// CounterNonce(0)). Same buffer rules as ChaCha20Poly1305.
bool AeadSeal(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
              const uint8_t* in, size_t len, uint8_t* out);
bool AeadOpen(const uint8_t key[kKeySize], const uint8_t nonce[kNonceSize], const uint8_t* aad, size_t aadLen,
              const uint8_t* in, size_t len, uint8_t* out);

// ---- XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03)
// HChaCha20(key, nonce16) -> 32-byte subkey (section 2.2). out may alias key.
void HChaCha20(const uint8_t key[kKeySize], const uint8_t nonce[kHChaChaNonceSize], uint8_t out[kKeySize]);
// ChaCha20-Poly1305 under HChaCha20(key, nonce[0:16]) with nonce 00000000 || nonce[16:24].
bool XAeadSeal(const uint8_t key[kKeySize], const uint8_t nonce[kXNonceSize], const uint8_t* aad, size_t aadLen,
               const uint8_t* in, size_t len, uint8_t* out);
bool XAeadOpen(const uint8_t key[kKeySize], const uint8_t nonce[kXNonceSize], const uint8_t* aad, size_t aadLen,
               const uint8_t* in, size_t len, uint8_t* out);

}  // namespace wg
}  // namespace tund
