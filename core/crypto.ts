// The primitives the control plane of a session needs, from the addon (native/src/control_crypto.cc:
// OpenSSL inside the node binary, the same code node:crypto calls). A session process keeps every
// module it loads for as long as it runs, and node:crypto loads some fifteen of its own (ciphers,
// keys, X.509, WebCrypto...) that no session uses: about 1.3 MiB per process (docs/benchmark.md,
// "Memory"). Commands and tests may use node:crypto; what a session imports uses this module.
import { native } from '../native/index.js';

/** n bytes from OpenSSL's RAND_bytes (what node:crypto's randomBytes returns). */
export function randomBytes(n: number): Buffer {
  return native().randomBytes(n);
}

/** A random unsigned 32-bit integer (every value equally likely). */
export function randomUint32(): number {
  return randomBytes(4).readUInt32LE(0);
}

/** MD5 of data (VTun's keys and challenge response; not for anything new). */
export function md5(data: Buffer): Buffer {
  return native().md5(data);
}

/** Equal contents, compared in a time that does not depend on them; false for other lengths. */
export function timingSafeEqual(a: Buffer, b: Buffer): boolean {
  return native().timingSafeEqual(a, b);
}
