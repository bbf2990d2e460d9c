// Prefixes as `ip -json` prints them, so that what we record can be compared with what the kernel
// reports. The parsing itself is core/net.ts's parsePrefix (its `dst` is this form).
import { parsePrefix } from '../net.js';

/** The "dst" of an `ip -json` route or rule object, in our canonical form. */
export function kernelDst(family: 4 | 6, dst: string | undefined, dstlen?: number): string {
  if (dst === undefined || dst === 'default' || dst === 'all') return 'default';
  const withLen = dstlen !== undefined && !dst.includes('/') ? `${dst}/${dstlen}` : dst;
  const p = parsePrefix(withLen);
  return p.ok && p.family === family ? p.dst : dst;
}
