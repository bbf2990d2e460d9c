// Prefixes as `ip -json` prints them, so that what we record can be compared with what the kernel
// reports: "default" for /0, the bare address for a host route (/32, /128), otherwise
// "NETWORK/LEN" with the host bits cleared and IPv6 in its compressed form (inet_ntop's).
import net from 'node:net';
import { parseCidr } from '../net.js';

export interface Prefix {
  family: 4 | 6;
  /** the network address, host bits cleared, canonical text */
  address: string;
  length: number;
  /** the form `ip -json` uses in "dst": default | ADDR | ADDR/LEN */
  dst: string;
  /** always ADDR/LEN (for messages and `ip rule to`) */
  cidr: string;
  /** the input had host bits set (198.18.0.1/24) */
  hostBitsSet: boolean;
}

export type PrefixResult = ({ ok: true } & Prefix) | { ok: false; problem: string };

function toBytes(family: 4 | 6, address: string): number[] {
  if (family === 4) return address.split('.').map(Number);
  let text = address;
  // an embedded IPv4 tail (::ffff:198.18.0.1) becomes two hex groups
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    text = text.slice(0, v4.index) + `${((b[0]! << 8) | b[1]!).toString(16)}:${((b[2]! << 8) | b[3]!).toString(16)}`;
  }
  const [head, tail] = text.includes('::') ? (text.split('::') as [string, string]) : [text, undefined];
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array<string>(8 - h.length - t.length).fill('0'), ...t];
  const out: number[] = [];
  for (const g of groups) {
    const v = parseInt(g || '0', 16);
    out.push((v >> 8) & 0xff, v & 0xff);
  }
  return out;
}

function fromBytes(family: 4 | 6, bytes: number[]): string {
  if (family === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
  // compress the longest run (at least two) of zero groups, the first one on a tie
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** Canonical text of an address (compressed IPv6, lower case). */
export function canonicalAddress(address: string): string {
  const family = net.isIPv4(address) ? 4 : net.isIPv6(address) ? 6 : 0;
  if (family === 0) return address;
  return fromBytes(family, toBytes(family, address));
}

/** Parses a prefix ("default" and "default6"/"::/0" accepted) into its canonical forms. */
export function parsePrefix(text: string): PrefixResult {
  const input = text.trim();
  if (input === 'default' || input === 'default4') return parsePrefix('0.0.0.0/0');
  if (input === 'default6') return parsePrefix('::/0');
  const parsed = parseCidr(input);
  if (!parsed.ok) return { ok: false, problem: parsed.problem };
  const family = parsed.family;
  const max = family === 4 ? 32 : 128;
  const bytes = toBytes(family, parsed.address);
  for (let bit = parsed.prefixLength; bit < max; bit++) bytes[bit >> 3]! &= ~(1 << (7 - (bit & 7))) & 0xff;
  const address = fromBytes(family, bytes);
  const length = parsed.prefixLength;
  const dst = length === 0 ? 'default' : length === max ? address : `${address}/${length}`;
  return { ok: true, family, address, length, dst, cidr: `${address}/${length}`, hostBitsSet: parsed.hostBitsSet };
}

/** The "dst" of an `ip -json` route or rule object, in our canonical form. */
export function kernelDst(family: 4 | 6, dst: string | undefined, dstlen?: number): string {
  if (dst === undefined || dst === 'default' || dst === 'all') return 'default';
  const withLen = dstlen !== undefined && !dst.includes('/') ? `${dst}/${dstlen}` : dst;
  const p = parsePrefix(withLen);
  return p.ok && p.family === family ? p.dst : dst;
}
