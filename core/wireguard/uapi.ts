// The cross-platform userspace API that wireguard-go serves on /run/wireguard/IFNAME.sock and
// that wg(8) speaks (wireguard.com/xplatform): the codec only, no I/O (uapi-server.ts serves it).
//
//   get=1\n\n             -> key=value lines of the device and its peers, then errno=0\n\n
//   set=1\nkey=value...\n\n -> errno=0\n\n, or errno=-N\n\n on failure (negative, as wireguard-go
//                           sends it; wg turns it into strerror(N))
//
// A set request is parsed whole before anything is applied: a malformed line refuses the request
// (EINVAL, or EPROTO for a line that is not key=value) and changes nothing, where wireguard-go
// would have applied the lines before it.
import net from 'node:net';
import { formatEndpoint, parseEndpoint, parsePrefix } from '../net.js';
import { keyFromHex, keyToHex, wipeDeviceKeys } from './keys.js';
import type { WgDeviceState, WgEndpoint } from './types.js';

export const EINVAL = 22;
export const EPROTO = 71;
export const EIO = 5;
export const EADDRINUSE = 98;
export const ENOANO = 55; // wireguard-go's "unknown error"

/** One peer's changes in a set request, in the order wg sent them. */
export interface UapiPeerChange {
  publicKey: Buffer;
  /** remove=true: the peer goes; nothing else of it applies. */
  remove: boolean;
  /** update_only=true: change the peer only if it exists (do not create it). */
  updateOnly: boolean;
  /** preshared_key: all zeros removes it. */
  presharedKey?: Buffer;
  endpoint?: WgEndpoint;
  /** persistent_keepalive_interval, seconds (0 = off). */
  persistentKeepalive?: number;
  /** replace_allowed_ips=true: drop the peer's allowed IPs before adding allowedIps. */
  replaceAllowedIps: boolean;
  /** allowed_ip lines, as network/len (host bits cleared, as wireguard-go stores them). */
  allowedIps: string[];
  /** protocol_version, when given (only 1 exists). */
  protocolVersion?: number;
}

/** A parsed set=1 request: device changes first, then peer changes (the wire order). */
export interface UapiSetRequest {
  /** private_key: all zeros removes it. */
  privateKey?: Buffer;
  listenPort?: number;
  /** fwmark: 0 removes it. */
  fwMark?: number;
  /** replace_peers=true: remove all existing peers first (the request's peers are then added). */
  replacePeers: boolean;
  peers: UapiPeerChange[];
}

export type UapiParseResult = { ok: true; request: UapiSetRequest } | { ok: false; errno: number; message: string };

/** What serves a device: a state snapshot for get, and set requests applied (0 or a positive errno). */
export interface UapiProvider {
  get(): WgDeviceState | Promise<WgDeviceState>;
  /** the request's keys are the caller's: it zeroes them once this returns (copy what you keep) */
  set(request: UapiSetRequest): number | Promise<number>;
}

// ---- get

/** The get=1 response body for a state (ends with errno=0 and the blank line). */
export function encodeGetResponse(state: WgDeviceState): string {
  const lines: string[] = [];
  if (state.privateKey && state.privateKey.some((b) => b !== 0)) lines.push(`private_key=${keyToHex(state.privateKey)}`);
  if (state.listenPort) lines.push(`listen_port=${state.listenPort}`);
  if (state.fwMark) lines.push(`fwmark=${state.fwMark}`);
  for (const p of state.peers) {
    lines.push(`public_key=${keyToHex(p.publicKey)}`);
    lines.push(`preshared_key=${keyToHex(p.presharedKey ?? Buffer.alloc(32))}`);
    lines.push('protocol_version=1');
    if (p.endpoint) lines.push(`endpoint=${formatEndpoint(p.endpoint.host, p.endpoint.port)}`);
    lines.push(`last_handshake_time_sec=${p.lastHandshake?.seconds ?? 0}`);
    lines.push(`last_handshake_time_nsec=${p.lastHandshake?.nanoseconds ?? 0}`);
    lines.push(`tx_bytes=${p.txBytes}`);
    lines.push(`rx_bytes=${p.rxBytes}`);
    lines.push(`persistent_keepalive_interval=${p.persistentKeepalive}`);
    for (const a of p.allowedIps) lines.push(`allowed_ip=${a}`);
  }
  lines.push('errno=0', '', '');
  return lines.join('\n');
}

/** The reply to a set request: errno=0, or errno=-N as wireguard-go sends it. */
export function encodeErrno(errno: number): string {
  return `errno=${errno === 0 ? 0 : -Math.abs(errno)}\n\n`;
}

// ---- set

const UINT = /^\d+$/;

function parseUint(value: string, max: number): number | null {
  if (!UINT.test(value)) return null;
  const n = Number(value);
  return n <= max ? n : null;
}

/** IP:PORT or [IPv6]:PORT, numeric (wg resolves names before it sends them). */
export function parseUapiEndpoint(value: string): WgEndpoint | null {
  const e = parseEndpoint(value, null);
  if (!e.ok) return null;
  const host = e.host.replace(/%.*$/, ''); // a zone index (fe80::1%eth0) is not kept
  if (net.isIP(host) === 0 || (net.isIPv6(host) && !value.startsWith('['))) return null;
  return { host, port: e.port };
}

function parseAllowedIp(value: string): string | null {
  if (!value.includes('/')) return null; // wg always sends the prefix length
  const c = parsePrefix(value);
  return c.ok ? c.cidr : null;
}

/**
 * Parses the lines of a set request (without "set=1" and without the final blank line). Device
 * keys are accepted until the first public_key; after it, only peer keys. A refused request's keys
 * parsed so far are zeroed.
 */
export function parseSetRequest(lines: string[]): UapiParseResult {
  const request: UapiSetRequest = { replacePeers: false, peers: [] };
  let peer: UapiPeerChange | null = null;
  const refuse = (errno: number, message: string): UapiParseResult => {
    wipeDeviceKeys(request);
    return { ok: false, errno, message };
  };
  const invalid = (message: string): UapiParseResult => refuse(EINVAL, message);
  for (const line of lines) {
    const eq = line.indexOf('=');
    if (eq <= 0) return refuse(EPROTO, `line is not key=value: ${JSON.stringify(line.slice(0, 80))}`);
    const key = line.slice(0, eq);
    const value = line.slice(eq + 1);
    if (key === 'public_key') {
      const k = keyFromHex(value);
      if (!k) return invalid('public_key is not 64 hex digits');
      peer = { publicKey: k, remove: false, updateOnly: false, replaceAllowedIps: false, allowedIps: [] };
      request.peers.push(peer);
      continue;
    }
    if (!peer) {
      switch (key) {
        case 'private_key': {
          const k = keyFromHex(value);
          if (!k) return invalid('private_key is not 64 hex digits');
          request.privateKey = k;
          break;
        }
        case 'listen_port': {
          const n = parseUint(value, 65535);
          if (n === null) return invalid(`listen_port "${value}" is not 0-65535`);
          request.listenPort = n;
          break;
        }
        case 'fwmark': {
          const n = parseUint(value, 0xffffffff);
          if (n === null) return invalid(`fwmark "${value}" is not 0-4294967295`);
          request.fwMark = n;
          break;
        }
        case 'replace_peers':
          if (value !== 'true') return invalid(`replace_peers "${value}" (expected true)`);
          request.replacePeers = true;
          break;
        default:
          return invalid(`unknown device key "${key}"`);
      }
      continue;
    }
    switch (key) {
      case 'remove':
        if (value !== 'true') return invalid(`remove "${value}" (expected true)`);
        peer.remove = true;
        break;
      case 'update_only':
        if (value !== 'true') return invalid(`update_only "${value}" (expected true)`);
        peer.updateOnly = true;
        break;
      case 'preshared_key': {
        const k = keyFromHex(value);
        if (!k) return invalid('preshared_key is not 64 hex digits');
        peer.presharedKey = k;
        break;
      }
      case 'endpoint': {
        const e = parseUapiEndpoint(value);
        if (!e) return invalid(`endpoint "${value}" (expected IP:PORT or [IPv6]:PORT)`);
        peer.endpoint = e;
        break;
      }
      case 'persistent_keepalive_interval': {
        const n = parseUint(value, 65535);
        if (n === null) return invalid(`persistent_keepalive_interval "${value}" is not 0-65535`);
        peer.persistentKeepalive = n;
        break;
      }
      case 'replace_allowed_ips':
        if (value !== 'true') return invalid(`replace_allowed_ips "${value}" (expected true)`);
        peer.replaceAllowedIps = true;
        break;
      case 'allowed_ip': {
        const a = parseAllowedIp(value);
        if (!a) return invalid(`allowed_ip "${value}" (expected ADDRESS/LEN)`);
        peer.allowedIps.push(a);
        break;
      }
      case 'protocol_version':
        if (value !== '1') return invalid(`protocol_version "${value}" (only 1 exists)`);
        peer.protocolVersion = 1;
        break;
      default:
        return invalid(`unknown peer key "${key}"`);
    }
  }
  return { ok: true, request };
}

// ---- framing: a stream of requests

export type UapiRequest = { kind: 'get' } | { kind: 'set'; lines: string[] };

export type UapiFrame = { request: UapiRequest; rest: string } | { error: string } | null;

/**
 * Takes the next whole request off the front of a connection's input: null when more input is
 * needed; an error for an unknown operation or a malformed get (the connection is then closed,
 * as wireguard-go does).
 */
export function nextRequest(input: string): UapiFrame {
  const nl = input.indexOf('\n');
  // the same answer whether or not the line break has arrived yet
  if ((nl < 0 ? input.length : nl) > 64) return { error: 'operation line too long' };
  if (nl < 0) return null;
  const op = input.slice(0, nl);
  if (op === 'get=1') {
    if (input.length < nl + 2) return null;
    if (input[nl + 1] !== '\n') return { error: 'get=1 must be followed by an empty line' };
    return { request: { kind: 'get' }, rest: input.slice(nl + 2) };
  }
  if (op === 'set=1') {
    const end = input.indexOf('\n\n', nl);
    // "set=1\n\n": a set request with no lines
    if (input.startsWith('\n', nl + 1)) return { request: { kind: 'set', lines: [] }, rest: input.slice(nl + 2) };
    if (end < 0) return null;
    return { request: { kind: 'set', lines: input.slice(nl + 1, end).split('\n') }, rest: input.slice(end + 2) };
  }
  return { error: `unknown operation ${JSON.stringify(op.slice(0, 40))}` };
}
