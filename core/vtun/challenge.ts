// VTun challenge/response (docs/vtun-protocol.md §4.5, §4.6): 16 random bytes written as 32 letters
// a..p (high nibble first); the response is Blowfish-ECB(key = MD5(password)) of the two 8-byte
// halves, or, with Debian's `sslauth no`, the challenge XORed with the password.
import { md5, randomBytes, timingSafeEqual } from '../crypto.js';
import { native } from '../../native/index.js';

export const CHALLENGE_SIZE = 16;

export function randomChallenge(): Buffer {
  return randomBytes(CHALLENGE_SIZE);
}

/** Bytes -> letters: each byte becomes two letters, 'a' + high nibble, then 'a' + low nibble. */
export function encodeLetters(bytes: Buffer): string {
  let s = '';
  for (const b of bytes) s += String.fromCharCode(97 + (b >> 4), 97 + (b & 15));
  return s;
}

/** Letters -> bytes; only a..p are accepted (vtund itself does not check, docs/vtun-protocol.md §4.5). */
export function decodeLetters(text: string): Buffer | null {
  if (text.length % 2 !== 0 || !/^[a-p]*$/.test(text)) return null;
  const out = Buffer.alloc(text.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = ((text.charCodeAt(2 * i) - 97) << 4) | (text.charCodeAt(2 * i + 1) - 97);
  return out;
}

/** The 16-byte key: MD5 of the password bytes. */
export function challengeKey(password: Buffer): Buffer {
  return md5(password);
}

export type BlowfishEcb = (key: Buffer, data: Buffer, encrypt: boolean) => Buffer;

let blowfishImpl: BlowfishEcb | undefined;

/** Blowfish-ECB from the addon (OpenSSL's BF_ecb_encrypt); tests may inject another. */
export function setBlowfish(impl: BlowfishEcb | undefined): void {
  blowfishImpl = impl;
}

function blowfish(): BlowfishEcb {
  return blowfishImpl ?? ((k, d, e) => native().blowfishEcb(k, d, e));
}

/** The response the client sends for a challenge. */
export function challengeResponse(challenge: Buffer, password: Buffer, sslAuth = true): Buffer {
  if (challenge.length !== CHALLENGE_SIZE) throw new RangeError('challenge must be 16 bytes');
  if (!sslAuth) {
    const out = Buffer.alloc(CHALLENGE_SIZE);
    for (let i = 0; i < CHALLENGE_SIZE; i++) out[i] = challenge[i]! ^ (password.length ? password[i % password.length]! : 0);
    return out;
  }
  return blowfish()(challengeKey(password), challenge, true);
}

/** Server side: does `response` answer `challenge` for this password? (constant time) */
export function checkResponse(challenge: Buffer, response: Buffer, password: Buffer, sslAuth = true): boolean {
  if (response.length !== CHALLENGE_SIZE) return false;
  return timingSafeEqual(challengeResponse(challenge, password, sslAuth), response);
}
