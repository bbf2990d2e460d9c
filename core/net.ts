// The one parser of addresses with prefix (CIDR) and the one parser of endpoints (HOST:PORT,
// [V6]:PORT) for the whole project: the config parser, the command-line validators, tunroute and
// the session all read and write them through here.
import net from 'node:net';

// ---- prefixes

export interface Prefix {
  family: 4 | 6;
  /** the address as written, in canonical text (IPv6 compressed, lower case) */
  address: string;
  length: number;
  /** bits set beyond the prefix (198.18.0.1/24): fine for an interface address, warned for a route */
  hostBitsSet: boolean;
  /** ADDRESS/LENGTH: what an interface address is */
  text: string;
  /** the network address (host bits cleared), canonical */
  network: string;
  /** NETWORK/LENGTH: what a route is */
  cidr: string;
  /** the form `ip -json` reports as "dst": default, NETWORK for a host route, else NETWORK/LENGTH */
  dst: string;
}

export type PrefixResult = ({ ok: true } & Prefix) | { ok: false; problem: string };

/**
 * Parses "ADDR/LEN" or "ADDR" (the full length, /32 or /128). With `allowDefault`, also "default"
 * (0.0.0.0/0) and "default6" (::/0), as `ip route` takes them.
 */
export function parsePrefix(text: string, { allowDefault = false } = {}): PrefixResult {
  const input = text.trim();
  if (allowDefault && (input === 'default' || input === 'default4')) return parsePrefix('0.0.0.0/0');
  if (allowDefault && input === 'default6') return parsePrefix('::/0');
  const slash = input.indexOf('/');
  const given = slash < 0 ? input : input.slice(0, slash);
  const family = net.isIPv4(given) ? 4 : net.isIPv6(given) ? 6 : 0;
  if (family === 0) return { ok: false, problem: `"${given}" is not an IPv4 or IPv6 address` };
  const max = family === 4 ? 32 : 128;
  let length = max;
  if (slash >= 0) {
    const lenText = input.slice(slash + 1);
    if (!/^\d{1,3}$/.test(lenText) || Number(lenText) > max) return { ok: false, problem: `prefix length "${lenText}" out of range (0-${max})` };
    length = Number(lenText);
  }
  const bytes = addressBytes(family, given);
  const networkBytes = [...bytes];
  for (let bit = length; bit < max; bit++) networkBytes[bit >> 3]! &= ~(1 << (7 - (bit & 7))) & 0xff;
  const address = bytesText(family, bytes);
  const network = bytesText(family, networkBytes);
  return {
    ok: true,
    family,
    address,
    length,
    hostBitsSet: networkBytes.some((b, i) => b !== bytes[i]),
    text: `${address}/${length}`,
    network,
    cidr: `${network}/${length}`,
    dst: length === 0 ? 'default' : length === max ? network : `${network}/${length}`,
  };
}

/** Canonical text of an IP address (compressed IPv6, lower case); anything else unchanged. */
export function canonicalAddress(address: string): string {
  const family = net.isIPv4(address) ? 4 : net.isIPv6(address) ? 6 : 0;
  return family === 0 ? address : bytesText(family, addressBytes(family, address));
}

function addressBytes(family: 4 | 6, address: string): number[] {
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

/** inet_ntop's form: IPv6 with the longest run (two or more) of zero groups as "::". */
function bytesText(family: 4 | 6, bytes: number[]): string {
  if (family === 4) return bytes.join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((bytes[i]! << 8) | bytes[i + 1]!);
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

// ---- endpoints

export interface Endpoint {
  host: string;
  port: number;
}

export type EndpointResult = ({ ok: true; portGiven: boolean } & Endpoint) | { ok: false; problem: string };

/**
 * Splits "HOST:PORT", "[V6]:PORT", "HOST" and a bare IPv6 address. Without a port the port is
 * `defaultPort` (null: the port is required). "::ffff:198.18.0.1:5000", as a socket's address and
 * port are sometimes joined, is read as that address and port.
 */
export function parseEndpoint(text: string, defaultPort: number | null): EndpointResult {
  let host = text;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]*)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
    if (!net.isIPv6(host)) return { ok: false, problem: `"${host}" in brackets is not an IPv6 address` };
  } else if (!net.isIPv6(text)) {
    const colon = text.lastIndexOf(':');
    if (colon >= 0) {
      host = text.slice(0, colon);
      portText = text.slice(colon + 1);
      if (host.includes(':') && !net.isIPv6(host)) return { ok: false, problem: `"${text}" has more than one ":" (write an IPv6 address as [ADDR]:PORT)` };
    }
  }
  if (host === '') return { ok: false, problem: 'host is empty' };
  if (portText === undefined) {
    if (defaultPort === null) return { ok: false, problem: 'port is missing' };
    return { ok: true, host, port: defaultPort, portGiven: false };
  }
  const port = Number(portText);
  if (!/^\d+$/.test(portText) || port < 1 || port > 65535) return { ok: false, problem: `port "${portText}" out of range (1-65535)` };
  return { ok: true, host, port, portGiven: true };
}

export type MacResult = { ok: true; mac: string } | { ok: false; problem: string };

export const MAC_EXAMPLE = '02:00:5e:10:00:01';

export const MTU_MIN = 576; // smallest MTU an IPv4 host must accept
export const MTU_MAX = 65535;

/**
 * Parses an Ethernet address "aa:bb:cc:dd:ee:ff" (any case) to lower case. Only unicast,
 * non-zero addresses are accepted: a device (and a vpn-ws peer) must own one of those. The
 * problem reads after the value: `"01:..." is a multicast address`.
 */
export function parseMac(text: string): MacResult {
  if (!/^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/i.test(text)) return { ok: false, problem: 'is not an Ethernet address (six hex pairs separated by ":")' };
  const mac = text.toLowerCase();
  if (mac === '00:00:00:00:00:00') return { ok: false, problem: 'is the zero address' };
  if (parseInt(mac.slice(0, 2), 16) & 1) return { ok: false, problem: 'is a multicast address (its first octet is odd)' };
  return { ok: true, mac };
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

/**
 * getaddrinfo(3) for a host name, through node:dns/promises loaded on the first name: a session
 * whose endpoints are addresses never loads it (its modules would stay in the process:
 * docs/benchmark.md, "Memory").
 */
export async function lookupHost(host: string): Promise<string>;
export async function lookupHost(host: string, all: true): Promise<string[]>;
export async function lookupHost(host: string, all?: true): Promise<string | string[]> {
  const { lookup } = await import('node:dns/promises');
  return all ? (await lookup(host, { all: true })).map((a) => a.address) : (await lookup(host)).address;
}
