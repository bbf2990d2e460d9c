// Address and prefix parsing (IPv4 and IPv6), used by validators and by the config parser.
import net from 'node:net';

export interface Cidr {
  family: 4 | 6;
  address: string;
  prefixLength: number;
  /** true when bits are set beyond the prefix (198.18.0.1/24): allowed for addresses, warned for routes */
  hostBitsSet: boolean;
}

export type CidrResult = ({ ok: true } & Cidr) | { ok: false; problem: string };

/** Parses "ADDR" or "ADDR/LEN"; without LEN the prefix is the full length (32 or 128). */
export function parseCidr(text: string): CidrResult {
  const slash = text.indexOf('/');
  const address = slash < 0 ? text : text.slice(0, slash);
  const family = net.isIPv4(address) ? 4 : net.isIPv6(address) ? 6 : 0;
  if (family === 0) return { ok: false, problem: `"${address}" is not an IPv4 or IPv6 address` };
  const max = family === 4 ? 32 : 128;
  let prefixLength = max;
  if (slash >= 0) {
    const lenText = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) {
      return { ok: false, problem: `prefix length "${lenText}" out of range (0-${max})` };
    }
    prefixLength = Number(lenText);
  }
  return { ok: true, family, address, prefixLength, hostBitsSet: hostBits(family, address, prefixLength) };
}

function addressBytes(family: 4 | 6, address: string): number[] {
  if (family === 4) return address.split('.').map(Number);
  // Expand "::" into the missing zero groups.
  const [head, tail] = address.includes('::') ? address.split('::') : [address, undefined];
  const h = head ? head.split(':') : [];
  const tl = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - tl.length).fill('0'), ...tl];
  const out: number[] = [];
  for (const g of groups) {
    if (g.includes('.')) {
      out.push(...g.split('.').map(Number));
    } else {
      const v = parseInt(g || '0', 16);
      out.push(v >> 8, v & 0xff);
    }
  }
  return out;
}

function hostBits(family: 4 | 6, address: string, prefixLength: number): boolean {
  const bytes = addressBytes(family, address);
  for (let bit = prefixLength; bit < bytes.length * 8; bit++) {
    if ((bytes[bit >> 3]! >> (7 - (bit & 7))) & 1) return true;
  }
  return false;
}

/** Splits "HOST:PORT" / "[V6]:PORT" / "HOST" (port defaulted). */
export function parseEndpoint(text: string, defaultPort: number): { host: string; port: number } | { problem: string } {
  let host = text;
  let portText: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (v6) {
    host = v6[1]!;
    portText = v6[2];
  } else if (text.split(':').length === 2) {
    [host, portText] = text.split(':') as [string, string];
  }
  if (host === '') return { problem: 'host is empty' };
  if (portText === undefined) return { host, port: defaultPort };
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) return { problem: `port "${portText}" out of range (1-65535)` };
  return { host, port };
}

/** "::ffff:198.18.0.1" (an IPv4 peer of a dual-stack socket) -> "198.18.0.1"; anything else unchanged. */
export function plainAddress(address: string): string {
  return /^::ffff:\d+\.\d+\.\d+\.\d+$/i.test(address) ? address.slice(7) : address;
}

/** One way to print an address and port: "198.18.0.1:5000", "[2001:2::1]:5000" (v4-mapped as plain IPv4). */
export function formatEndpoint(address: string, port: number): string {
  const a = plainAddress(address);
  return a.includes(':') ? `[${a}]:${port}` : `${a}:${port}`;
}
