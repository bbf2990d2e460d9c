// WireGuard keys as people and wg(8) write them: 32 bytes in base64 (44 characters ending in
// "="), and as the UAPI writes them: 64 lowercase hex digits. Parsing is exact, as in
// wireguard-tools (encoding.c): the right length, the right alphabet, no stray bits in the last
// character, so a key that tund accepts is one `wg` accepts too.
import { randomBytes } from '../crypto.js';
import { native } from '../../native/index.js';

export const KEY_BYTES = 32;

/** 32 bytes from a base64 key, or null when it is not exactly one. */
export function keyFromBase64(text: string): Buffer | null {
  if (text.length !== 44 || text[43] !== '=' || !/^[A-Za-z0-9+/]{43}=$/.test(text)) return null;
  const key = Buffer.from(text, 'base64');
  // Buffer.from ignores stray low bits of the last character; the round trip refuses them.
  if (key.length !== KEY_BYTES || key.toString('base64') !== text) {
    key.fill(0);
    return null;
  }
  return key;
}

export function keyToBase64(key: Buffer): string {
  return key.toString('base64');
}

/** 32 bytes from 64 hex digits (either case, as wg's key_from_hex), or null. */
export function keyFromHex(text: string): Buffer | null {
  if (!/^[0-9a-fA-F]{64}$/.test(text)) return null;
  return Buffer.from(text, 'hex');
}

export function keyToHex(key: Buffer): string {
  return key.toString('hex');
}

export function isZeroKey(key: Buffer): boolean {
  return key.every((b) => b === 0);
}

/**
 * Zeroes the keys of a device state, an interface spec or a set request (the private key and
 * every peer's preshared key): for copies that have been handed on, so that no readable copy
 * waits for the garbage collector. The addon keeps its own copies and wipes them natively.
 */
export function wipeDeviceKeys(keys: { privateKey?: Buffer | null; peers: { presharedKey?: Buffer | null }[] }): void {
  keys.privateKey?.fill(0);
  for (const p of keys.peers) p.presharedKey?.fill(0);
}

/** A new private key (clamped, as `wg genkey`). */
export function generatePrivateKey(): Buffer {
  return native().wg.generatePrivateKey();
}

/** The public key of a private key (`wg pubkey`). */
export function publicKeyOf(privateKey: Buffer): Buffer {
  return native().wg.publicKey(privateKey);
}

/** A new preshared key: 32 random bytes (`wg genpsk`). */
export function generatePresharedKey(): Buffer {
  return randomBytes(KEY_BYTES);
}

/**
 * Reads a key from the text of a key file or of stdin: surrounding whitespace (a trailing
 * newline) is allowed, anything else is not. Returns null when it is not a base64 key.
 */
export function keyFromText(text: string): Buffer | null {
  return keyFromBase64(text.trim());
}

/** For messages: "abcd…wxyz" of a public key (never used for private keys). */
export function shortKey(publicKeyBase64: string): string {
  return publicKeyBase64.length > 10 ? `${publicKeyBase64.slice(0, 4)}…${publicKeyBase64.slice(-5, -1)}` : publicKeyBase64;
}
