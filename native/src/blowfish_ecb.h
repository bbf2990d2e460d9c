// Blowfish in ECB mode over whole 8-byte blocks, several blocks at a time (pure C++, no N-API).
//
// VTun's "encrypt yes" (Blowfish-ECB, docs/vtun-protocol.md) seals every frame this way, and
// Blowfish is where that mode's CPU goes: 80% of both tunnel processes under one TCP stream with
// OpenSSL's BF_ecb_encrypt, one block per call. Each of Blowfish's 16 rounds waits for the one
// before it (four S-box lookups, then add/xor), so one block at a time leaves the CPU idle most
// of each round; ECB blocks are independent, so this runs four blocks' rounds side by side. The
// key schedule is still OpenSSL's (BF_set_key: the P-array and S-boxes in a BF_KEY); the blocks
// are the same bytes BF_ecb_encrypt makes (the fuzz target blowfish_ecb compares them).
#pragma once

#include <openssl/blowfish.h>
#include <stddef.h>
#include <stdint.h>

namespace tund {

// Encrypts (or decrypts) buf[0, len) in place, block by block; len is a multiple of 8 (a shorter
// tail is left as it is).
void BlowfishEcb(const BF_KEY& key, uint8_t* buf, size_t len, bool encrypt);

}  // namespace tund
