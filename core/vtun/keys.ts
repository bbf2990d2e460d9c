// The VTun data key (docs/vtun-protocol.md §10.1): MD5(password) for the 128-bit ciphers, and
// MD5(first half) || MD5(second half) for the 256-bit ones (the first half is floor(len/2) bytes).
import { md5 } from '../crypto.js';
import { cipherKeyLength } from './flags.js';

export function dataKey(cipher: number, password: Buffer): Buffer {
  const len = cipherKeyLength(cipher);
  if (len === 0) return Buffer.alloc(0);
  if (len === 16) return md5(password);
  const half = Math.floor(password.length / 2);
  return Buffer.concat([md5(password.subarray(0, half)), md5(password.subarray(half))]);
}
