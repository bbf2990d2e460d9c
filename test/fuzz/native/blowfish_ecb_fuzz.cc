// blowfish_ecb: tund's Blowfish-ECB (native/src/blowfish_ecb.cc: four blocks side by side, then
// single blocks), which seals VTun's "encrypt yes" frames and the handshake's challenge, against
// OpenSSL's BF_ecb_encrypt one block at a time. Input: a key length (1..56 bytes, as BF_set_key
// takes), the key, then the data (whole blocks; a shorter tail must stay untouched). Checked: the
// same bytes as OpenSSL's for encryption and decryption, and decryption undoes encryption.
#include <fuzzer/FuzzedDataProvider.h>
#include <openssl/blowfish.h>

#include <cstring>
#include <vector>

#include "../../../native/src/blowfish_ecb.h"
#include "fuzz_common.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  FuzzedDataProvider in(data, size);
  const size_t keyLen = in.ConsumeIntegralInRange<size_t>(1, 56);
  std::vector<uint8_t> key = in.ConsumeBytes<uint8_t>(keyLen);
  if (key.empty()) return 0;
  std::vector<uint8_t> plain = in.ConsumeRemainingBytes<uint8_t>();
  BF_KEY bf;
  BF_set_key(&bf, static_cast<int>(key.size()), key.data());
  const size_t whole = plain.size() / 8 * 8;
  for (int enc = 0; enc < 2; enc++) {
    std::vector<uint8_t> ours = plain, theirs = plain;
    tund::BlowfishEcb(bf, ours.data(), ours.size(), enc != 0);
    for (size_t i = 0; i < whole; i += 8) BF_ecb_encrypt(theirs.data() + i, theirs.data() + i, &bf, enc ? BF_ENCRYPT : BF_DECRYPT);
    FUZZ_CHECK(ours == theirs, "%s of %zu bytes with a %zu-byte key differs from OpenSSL's", enc ? "encryption" : "decryption",
               plain.size(), key.size());
    tund::BlowfishEcb(bf, ours.data(), ours.size(), enc == 0);
    FUZZ_CHECK(ours == plain, "%s did not undo %s (%zu bytes)", enc ? "decryption" : "encryption", enc ? "encryption" : "decryption",
               plain.size());
  }
  return 0;
}
