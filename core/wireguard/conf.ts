// wg-quick(8) files: `[Interface]` and `[Peer]` sections as wg-quick and wg(8) read them, plus
// tund's additions (PrivateKeyFile, PresharedKeyFile, systemd credentials), into a typed
// structure. One validator per key, every problem at once as `file:line: problem`, did-you-mean
// for unknown keys; AllowedIPs, Address, DNS and the hook commands accumulate when repeated.
//
// Compatible on purpose where wg-quick is lenient: a "#" anywhere starts a comment (wg-quick
// strips from the first "#", commands included), keys are matched without regard to case (as
// wg(8) does), a key given twice keeps the last value (with a warning). Secrets: an inline
// PrivateKey/PresharedKey is held as a Buffer; key files are only read by readWgKeys().
import { constants as fsc, promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { ConfigFailure, errnoOf, type ConfigProblem } from '../errors.js';
import { ConfigLoadFailure, readConfigText } from '../config/load.js';
import { parseIni, type IniEntry } from '../config/ini.js';
import { closest, unknownKeyMessage } from '../config/suggest.js';
import { isHostname, parseBool, parseEnum, parseInteger, parsePrefixSetting, type Parsed } from '../config/values.js';
import { formatEndpoint, MTU_MAX, MTU_MIN, parseEndpoint, type Prefix } from '../net.js';
import { secretStatProblems, shellQuote } from '../auth/secret.js';
import { unreadableFileHint } from '../auth/account.js';
import { keyFromBase64, keyFromText, keyToBase64 } from './keys.js';
import type { WgEndpoint } from './types.js';
import { parseBasicAuthUser, parseProxyEndpoint, parseRequestPath, parseWsEndpoint, proxySecretFile, type ProxyEndpoint, type WsEndpoint } from '../vpnws/url.js';

/** Where a key comes from: written in the file, or a file of its own (read by readWgKeys). */
export type KeySource = { kind: 'inline'; key: Buffer; line: number } | { kind: 'file'; path: string; line: number };

/**
 * What carries the interface's messages: UDP datagrams, or between tund peers TCP or WebSocket
 * (ws:// or wss://, through HTTP proxies and reverse proxies) (docs/engine.md).
 */
export type WgTransport = 'udp' | 'tcp' | 'websocket';
export const WG_TRANSPORTS: readonly WgTransport[] = ['udp', 'tcp', 'websocket'];

/** Transport = websocket: the listening side's upgrade path and TLS, the dialing side's CA. */
export interface WgWebSocketSettings {
  /** accepted upgrades: only this path (null: any) */
  path: string | null;
  /** PEM files: this side's certificate chain and its key (wss on ListenPort, the client
   * certificate when dialing wss), the CA of client certificates to require, the CA to verify wss
   * peers with (null: the system CAs) */
  certificate: string | null;
  certificateKey: string | null;
  clientCa: string | null;
  ca: string | null;
  /** dialing: through this HTTP proxy (CONNECT) */
  proxy: ProxyEndpoint | null;
  /** Proxy-Authorization: Basic for it; the password is ProxySecretFile's content */
  proxyUser: string | null;
  proxySecretFile: string;
}

/** wg-quick's Table: auto (default), off (no routes), or a routing table by number or name. */
export type WgTable = { kind: 'auto' } | { kind: 'off' } | { kind: 'table'; table: number | string };

export interface WgQuickInterface {
  line: number;
  privateKey: KeySource | null;
  /** null: not set (a random port, as wg does). */
  listenPort: number | null;
  /** 0: off. */
  fwMark: number;
  /** ADDRESS/LEN, as written (a bare address gets /32 or /128). */
  addresses: string[];
  /** DNS servers (the IP addresses of DNS =). */
  dns: string[];
  /** Search domains (the names of DNS =, as wg-quick takes them). */
  dnsSearch: string[];
  mtu: number | null;
  table: WgTable;
  preUp: string[];
  postUp: string[];
  preDown: string[];
  postDown: string[];
  saveConfig: boolean;
  /** tund's addition: how the messages travel (udp as WireGuard does; tcp, websocket between tund peers). */
  transport: WgTransport;
  webSocket: WgWebSocketSettings;
}

export interface WgQuickPeer {
  line: number;
  /** base64, validated */
  publicKey: string;
  presharedKey: KeySource | null;
  endpoint: WgEndpoint | null;
  /** Transport = websocket: the peer's URL (Endpoint = ws://... or wss://...); endpoint is its host and port */
  webSocket: WsEndpoint | null;
  /** network/len, canonical, unique, in file order */
  allowedIps: string[];
  /** seconds, 0 = off */
  persistentKeepalive: number;
}

export interface WgQuickConfig {
  file: string;
  name: string;
  interface: WgQuickInterface;
  peers: WgQuickPeer[];
}

export interface WgParseResult {
  config: WgQuickConfig | null;
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
}

export type Section = 'Interface' | 'Peer';

interface KeySpec {
  name: string;
  /** values accumulate (comma lists, repeated lines) */
  list?: boolean;
  /** repeated lines accumulate, the value is kept whole (hook commands) */
  command?: boolean;
  parse: (value: string) => Parsed<unknown>;
}

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = (problem: string): Parsed<never> => ({ ok: false, problem });

// ---- one validator per key

function parseKeyValue(value: string): Parsed<Buffer> {
  const key = keyFromBase64(value);
  return key ? ok(key) : bad('is not a key (expected 44 characters of base64, as "wg genkey" prints)');
}

function parsePublicKey(value: string): Parsed<string> {
  const key = keyFromBase64(value);
  if (!key) return bad('is not a key (expected 44 characters of base64, as "wg pubkey" prints)');
  return ok(keyToBase64(key));
}

function parsePath(value: string): Parsed<string> {
  if (value.includes('\0')) return bad('is not a path');
  return ok(value);
}

function parseListenPort(value: string): Parsed<number> {
  return parseInteger(value, 0, 65535);
}

/** wg: "off", or a number in decimal or 0x hex (0 means off too). */
export function parseFwMark(value: string): Parsed<number> {
  const v = value.toLowerCase();
  if (v === 'off') return ok(0);
  const n = /^0x[0-9a-f]{1,8}$/.test(v) ? parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : NaN;
  if (!Number.isInteger(n) || n > 0xffffffff) return bad('invalid (expected off, or 0-4294967295 in decimal or 0x hex)');
  return ok(n);
}

function parseInterfaceAddress(value: string): Parsed<Prefix> {
  const r = parsePrefixSetting(value);
  if (!r.ok) return bad(`invalid: ${r.problem.replace(/^invalid: /, '')}`);
  return r;
}

/** An IP address is a DNS server, anything else a search domain (wg-quick's rule). */
function parseDns(value: string): Parsed<{ server?: string; search?: string }> {
  if (net.isIP(value) !== 0) return ok({ server: value });
  if (isHostname(value)) return ok({ search: value });
  return bad('is neither an IP address nor a domain name (expected a DNS server such as 198.18.0.53, or a search domain)');
}

function parseMtu(value: string): Parsed<number> {
  return parseInteger(value, MTU_MIN, MTU_MAX);
}

function parseTable(value: string): Parsed<WgTable> {
  const v = value.toLowerCase();
  if (v === 'auto') return ok({ kind: 'auto' });
  if (v === 'off') return ok({ kind: 'off' });
  if (/^\d+$/.test(v)) {
    const n = Number(v);
    if (n < 1 || n > 4294967295) return bad('out of range (expected auto, off, a table number 1-4294967295 or a name from rt_tables)');
    return ok({ kind: 'table', table: n });
  }
  if (/^[A-Za-z][A-Za-z0-9_.-]*$/.test(value)) return ok({ kind: 'table', table: value });
  return bad('invalid (expected auto, off, a table number or a table name such as main)');
}

function parseSaveConfig(value: string): Parsed<boolean> {
  return parseBool(value);
}

function parseTransport(value: string): Parsed<WgTransport> {
  return parseEnum(value, WG_TRANSPORTS);
}

/** HOST:PORT, or (Transport = websocket) a ws:// or wss:// URL. */
function parsePeerEndpoint(value: string): Parsed<WgEndpoint & { webSocket?: WsEndpoint }> {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(value)) {
    const url = parseWsEndpoint(value);
    if (!url.ok) return url;
    return ok({ host: url.value.host, port: url.value.port, webSocket: url.value });
  }
  if (!value.startsWith('[') && value.split(':').length > 2) {
    return bad('needs brackets around an IPv6 address (expected [IPv6]:PORT, such as [2001:2::1]:51820)');
  }
  const r = parseEndpoint(value, null);
  if (!r.ok && r.problem === 'port is missing') return bad('has no port (expected HOST:PORT or [IPv6]:PORT, such as 198.18.0.1:51820)');
  if (!r.ok) return bad(`invalid: ${r.problem} (expected HOST:PORT or [IPv6]:PORT, such as 198.18.0.1:51820)`);
  if (net.isIP(r.host) === 0 && !isHostname(r.host)) {
    return bad(`invalid: "${r.host}" is not an IP address or host name (expected HOST:PORT or [IPv6]:PORT)`);
  }
  return ok({ host: r.host, port: r.port });
}

function parseAllowedIp(value: string): Parsed<Prefix> {
  return parseInterfaceAddress(value);
}

/** "off", or 0-65535 seconds (0 = off), as wg. */
function parsePersistentKeepalive(value: string): Parsed<number> {
  if (value.toLowerCase() === 'off') return ok(0);
  return parseInteger(value, 0, 65535);
}

const str = (value: string): Parsed<string> => ok(value);

const SPECS: Record<Section, KeySpec[]> = {
  Interface: [
    { name: 'PrivateKey', parse: parseKeyValue },
    { name: 'PrivateKeyFile', parse: parsePath },
    { name: 'ListenPort', parse: parseListenPort },
    { name: 'FwMark', parse: parseFwMark },
    { name: 'Address', list: true, parse: parseInterfaceAddress },
    { name: 'DNS', list: true, parse: parseDns },
    { name: 'MTU', parse: parseMtu },
    { name: 'Table', parse: parseTable },
    { name: 'PreUp', command: true, parse: str },
    { name: 'PostUp', command: true, parse: str },
    { name: 'PreDown', command: true, parse: str },
    { name: 'PostDown', command: true, parse: str },
    { name: 'SaveConfig', parse: parseSaveConfig },
    { name: 'Transport', parse: parseTransport },
    { name: 'WebSocketPath', parse: parseRequestPath },
    { name: 'Certificate', parse: parsePath },
    { name: 'CertificateKey', parse: parsePath },
    { name: 'ClientCA', parse: parsePath },
    { name: 'CA', parse: parsePath },
    { name: 'Proxy', parse: parseProxyEndpoint },
    { name: 'ProxyUser', parse: parseBasicAuthUser },
    { name: 'ProxySecretFile', parse: parsePath },
  ],
  Peer: [
    { name: 'PublicKey', parse: parsePublicKey },
    { name: 'PresharedKey', parse: parseKeyValue },
    { name: 'PresharedKeyFile', parse: parsePath },
    { name: 'Endpoint', parse: parsePeerEndpoint },
    { name: 'AllowedIPs', list: true, parse: parseAllowedIp },
    { name: 'PersistentKeepalive', parse: parsePersistentKeepalive },
  ],
};

const SECTIONS = Object.keys(SPECS) as Section[];

/** Every key a wg-quick file may hold, per section (docs drift tests, completion). */
export function wgQuickKeys(): Record<Section, string[]> {
  return { Interface: SPECS.Interface.map((k) => k.name), Peer: SPECS.Peer.map((k) => k.name) };
}

/**
 * Why VALUE is not a valid KEY of SECTION, as the file parser would say it (without file:line),
 * or null: the one validator per key, for the command-line options that write these keys.
 */
export function wgSettingProblem(section: Section, key: string, value: string): string | null {
  const spec = SPECS[section].find((k) => k.name === key);
  if (!spec) throw new Error(`internal error: no ${section} key ${key}`);
  if (value.includes('#') || /[\r\n]/.test(value)) return `${JSON.stringify(value)} cannot hold "#" or a line break`;
  for (const part of spec.list ? value.split(',').map((p) => p.trim()) : [value]) {
    if (part === '') return `${key} has an empty value${spec.list ? ' in its list' : ''}`;
    const r = spec.parse(part);
    if (!r.ok) return `${JSON.stringify(part)} ${r.problem}`;
  }
  return null;
}

/** A session file with an [Interface] section is a WireGuard (wg-quick) file. */
export function isWgQuickText(text: string): boolean {
  return /^\s*\[\s*interface\s*\]\s*(#.*)?$/im.test(text);
}

interface Value<T = unknown> {
  value: T;
  line: number;
}

/** One section's parsed values: key (documented spelling) -> values in order. */
class Collected {
  readonly values = new Map<string, Value[]>();
  constructor(readonly line: number) {}
  first<T>(key: string): Value<T> | undefined {
    return this.values.get(key)?.find((v) => v.value !== undefined) as Value<T> | undefined;
  }
  last<T>(key: string): Value<T> | undefined {
    const all = (this.values.get(key) ?? []).filter((v) => v.value !== undefined);
    return all[all.length - 1] as Value<T> | undefined;
  }
  all<T>(key: string): Value<T>[] {
    return (this.values.get(key) ?? []).filter((v) => v.value !== undefined) as Value<T>[];
  }
  has(key: string): boolean {
    return this.values.has(key);
  }
  lineOf(key: string): number {
    return this.values.get(key)?.[0]?.line ?? this.line;
  }
}

export function parseWgQuick(text: string, file: string, name: string): WgParseResult {
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const problem = (line: number, message: string) => problems.push({ file, line, message });
  const warning = (line: number, message: string) => warnings.push({ file, line, message });

  // wg-quick strips everything from the first "#" of every line, commands and headers included
  const uncommented = text
    .split('\n')
    .map((l) => (l.includes('#') ? l.slice(0, l.indexOf('#')) : l))
    .join('\n');
  const doc = parseIni(uncommented, { expectedSections: '[Interface] or [Peer]' });
  for (const p of doc.problems) problem(p.line, p.message);
  const homeOf = (key: string): Section | undefined =>
    SECTIONS.find((s) => SPECS[s].some((k) => k.name.toLowerCase() === key.toLowerCase()));
  for (const e of doc.orphans) {
    const home = homeOf(e.key);
    problem(e.line, `key ${JSON.stringify(e.key)} outside of a section (expected it under ${home ? `[${home}]` : '[Interface] or [Peer]'})`);
  }

  let iface: Collected | null = null;
  const peers: Collected[] = [];
  for (const section of doc.sections) {
    const canonical = SECTIONS.find((s) => s.toLowerCase() === section.name.toLowerCase());
    if (!canonical) {
      if (section.name === '') continue;
      const guess = closest(section.name, SECTIONS);
      // tund's own session files have [Device] Name; here the interface is the file's name
      const why = section.name.toLowerCase() === 'device' ? `the interface takes the file's name, "${name}": rename the file to rename it; ` : '';
      problem(section.line, `unknown section [${section.name}] (${why}${guess ? `did you mean [${guess}]?` : 'expected [Interface] or [Peer]'})`);
      continue;
    }
    const into = new Collected(section.line);
    if (canonical === 'Interface') {
      if (iface) {
        problem(section.line, `a second [Interface] section (the first is at line ${iface.line}; a file describes one interface)`);
        continue;
      }
      iface = into;
    } else {
      peers.push(into);
    }
    for (const entry of section.entries) collect(canonical, entry, into);
  }

  function collect(section: Section, entry: IniEntry, into: Collected): void {
    const specs = SPECS[section];
    const spec = specs.find((k) => k.name.toLowerCase() === entry.key.toLowerCase());
    if (!spec) {
      problem(entry.line, unknownKeyMessage(entry.key, section, specs.map((k) => k.name), homeOf(entry.key)));
      return;
    }
    const value = entry.value;
    const values = into.values.get(spec.name) ?? [];
    if (!spec.list && !spec.command && values.length > 0) {
      warning(entry.line, `${spec.name} set twice (first at line ${values[0]!.line}); the last one is used, as wg(8) does`);
    }
    const parts = spec.list ? value.split(',').map((p) => p.trim()) : [value];
    let added = false;
    for (const part of parts) {
      if (part === '') {
        // "AllowedIPs =" with nothing is wg's way to say "none": fine for lists, an error otherwise
        if (spec.list && parts.length === 1) continue;
        problem(entry.line, `${spec.name} has an empty value${spec.list ? ' in its list' : ''}`);
        continue;
      }
      const r = spec.parse(part);
      if (!r.ok) {
        // (a key is never repeated, nor the credentials of a URL)
        const shown = part.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/@]*@/i, '$1...@');
        problem(entry.line, `${spec.name} ${spec.name.endsWith('Key') ? '' : `${JSON.stringify(shown)} `}${r.problem}`);
        continue;
      }
      values.push({ value: r.value, line: entry.line });
      added = true;
    }
    // a bad value still counts as "set" (for the checks that need to know)
    if (!added && !spec.list) values.push({ value: undefined, line: entry.line });
    into.values.set(spec.name, values);
  }

  if (!iface) problem(0, 'no [Interface] section (expected "[Interface]" with the PrivateKey of this side)');

  // ---- [Interface]
  const i = iface ?? new Collected(0);
  if (i.has('PrivateKey') && i.has('PrivateKeyFile')) {
    problem(i.lineOf('PrivateKeyFile'), `PrivateKey and PrivateKeyFile both set (line ${i.lineOf('PrivateKey')}); keep one`);
  }
  const addresses = i.all<Prefix>('Address');
  const dns = i.all<{ server?: string; search?: string }>('DNS');
  const table = i.last<WgTable>('Table')?.value ?? { kind: 'auto' };
  if (dns.length > 0 && addresses.length === 0) warning(dns[0]!.line, 'DNS without an Address: wg-quick would set DNS for an interface without addresses');

  const transport = i.last<WgTransport>('Transport');

  // ---- [Peer]
  const seenKeys = new Map<string, number>();
  const allowedOwner = new Map<string, { line: number; key: string }>();
  const peerConfigs: WgQuickPeer[] = [];
  for (const p of peers) {
    const publicKey = p.last<string>('PublicKey');
    if (!p.has('PublicKey')) problem(p.line, '[Peer] without PublicKey (expected "PublicKey = ..." of that peer)');
    if (p.has('PresharedKey') && p.has('PresharedKeyFile')) {
      problem(p.lineOf('PresharedKeyFile'), `PresharedKey and PresharedKeyFile both set (line ${p.lineOf('PresharedKey')}); keep one`);
    }
    if (publicKey) {
      const first = seenKeys.get(publicKey.value);
      if (first !== undefined) problem(publicKey.line, `peer ${publicKey.value} is already defined at line ${first} (one [Peer] per public key)`);
      else seenKeys.set(publicKey.value, publicKey.line);
    }
    const allowed = p.all<Prefix>('AllowedIPs');
    for (const a of allowed) {
      if (a.value.hostBitsSet) warning(a.line, `AllowedIPs "${a.value.text}" has host bits set (using ${a.value.cidr})`);
      const owner = allowedOwner.get(a.value.cidr);
      if (owner && publicKey && owner.key !== publicKey.value) {
        warning(a.line, `AllowedIPs ${a.value.cidr} is also given to the peer at line ${owner.line}; the last peer gets it, as in wg(8)`);
      }
      if (publicKey) allowedOwner.set(a.value.cidr, { line: p.line, key: publicKey.value });
    }
    if (!publicKey) continue;
    peerConfigs.push({
      line: p.line,
      publicKey: publicKey.value,
      presharedKey: keySource(p, 'PresharedKey', 'PresharedKeyFile'),
      endpoint: endpointOf(p.last<WgEndpoint & { webSocket?: WsEndpoint }>('Endpoint')?.value),
      webSocket: p.last<WgEndpoint & { webSocket?: WsEndpoint }>('Endpoint')?.value?.webSocket ?? null,
      allowedIps: [...new Set(allowed.map((a) => a.value.cidr))],
      persistentKeepalive: p.last<number>('PersistentKeepalive')?.value ?? 0,
    });
  }

  // over TCP only the side with ListenPort can be reached: a peer without an Endpoint must dial it
  const kind = transport?.value ?? 'udp';
  if (transport && kind !== 'udp' && !i.has('ListenPort')) {
    const answered = peerConfigs.find((p) => p.endpoint === null);
    if (answered) {
      problem(transport.line, `Transport = ${kind} without ListenPort: the peer at line ${answered.line} has no Endpoint, so it must connect here (expected "ListenPort = PORT", the TCP port to listen on)`);
    }
  }
  // a WebSocket peer is dialed by its URL, any other by HOST:PORT
  for (const p of peerConfigs) {
    if (!p.endpoint) continue;
    const line = peers.find((c) => c.line === p.line)?.lineOf('Endpoint') ?? p.line;
    if (kind === 'websocket' && !p.webSocket) {
      problem(line, `Endpoint "${formatEndpoint(p.endpoint.host, p.endpoint.port)}" is no WebSocket URL (Transport = websocket dials ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH)`);
    } else if (kind !== 'websocket' && p.webSocket) {
      problem(line, `Endpoint "${p.webSocket.secure ? 'wss' : 'ws'}://..." is a WebSocket URL, which needs "Transport = websocket" in [Interface] (expected HOST:PORT for ${kind})`);
    }
  }
  const webSocketKeys = ['WebSocketPath', 'Certificate', 'CertificateKey', 'ClientCA', 'CA', 'Proxy', 'ProxyUser', 'ProxySecretFile'];
  if (kind !== 'websocket') {
    for (const key of webSocketKeys.filter((k) => i.has(k))) problem(i.lineOf(key), `${key} applies to Transport = websocket only (the transport is ${kind})`);
  } else {
    if (i.has('Certificate') !== i.has('CertificateKey')) {
      const [has, lacks] = i.has('Certificate') ? ['Certificate', 'CertificateKey'] : ['CertificateKey', 'Certificate'];
      problem(i.lineOf(has), `${has} without ${lacks} (expected both: the certificate chain and its private key, PEM files)`);
    }
    if (i.has('ProxyUser') && !i.has('Proxy')) problem(i.lineOf('ProxyUser'), 'ProxyUser needs Proxy = http://HOST:PORT (the credentials are for that proxy)');
    if (i.has('ProxySecretFile') && !i.has('ProxyUser')) problem(i.lineOf('ProxySecretFile'), 'ProxySecretFile needs ProxyUser (the user whose password the file holds)');
    if (i.has('ClientCA') && !i.has('Certificate')) {
      problem(i.lineOf('ClientCA'), 'ClientCA without Certificate (client certificates are asked for on wss only: set Certificate and CertificateKey)');
    }
  }

  problems.sort((a, b) => a.line - b.line);
  warnings.sort((a, b) => a.line - b.line);
  if (problems.length > 0 || !iface) return { config: null, problems, warnings };

  const config: WgQuickConfig = {
    file,
    name,
    interface: {
      line: i.line,
      privateKey: keySource(i, 'PrivateKey', 'PrivateKeyFile'),
      listenPort: i.last<number>('ListenPort')?.value ?? null,
      fwMark: i.last<number>('FwMark')?.value ?? 0,
      addresses: [...new Set(addresses.map((a) => a.value.text))],
      dns: [...new Set(dns.flatMap((d) => (d.value.server ? [d.value.server] : [])))],
      dnsSearch: [...new Set(dns.flatMap((d) => (d.value.search ? [d.value.search] : [])))],
      mtu: i.last<number>('MTU')?.value ?? null,
      table,
      preUp: i.all<string>('PreUp').map((v) => v.value),
      postUp: i.all<string>('PostUp').map((v) => v.value),
      preDown: i.all<string>('PreDown').map((v) => v.value),
      postDown: i.all<string>('PostDown').map((v) => v.value),
      saveConfig: i.last<boolean>('SaveConfig')?.value ?? false,
      transport: kind,
      webSocket: {
        path: i.last<string>('WebSocketPath')?.value ?? null,
        certificate: i.last<string>('Certificate')?.value ?? null,
        certificateKey: i.last<string>('CertificateKey')?.value ?? null,
        clientCa: i.last<string>('ClientCA')?.value ?? null,
        ca: i.last<string>('CA')?.value ?? null,
        proxy: i.last<ProxyEndpoint>('Proxy')?.value ?? null,
        proxyUser: i.last<string>('ProxyUser')?.value ?? null,
        proxySecretFile: proxySecretFile(file, name, i.last<string>('ProxySecretFile')?.value),
      },
    },
    peers: peerConfigs,
  };
  return { config, problems, warnings };
}

function endpointOf(e: (WgEndpoint & { webSocket?: WsEndpoint }) | undefined): WgEndpoint | null {
  return e ? { host: e.host, port: e.port } : null;
}

function keySource(c: Collected, inlineKey: string, fileKey: string): KeySource | null {
  const inline = c.last<Buffer>(inlineKey);
  if (inline) return { kind: 'inline', key: inline.value, line: inline.line };
  const file = c.last<string>(fileKey);
  if (file) return { kind: 'file', path: file.value, line: file.line };
  return null;
}

// ---- files

/** Reads and validates a wg-quick file as session NAME (default: the file stem). */
export async function loadWgQuickFile(file: string, name = path.basename(file).replace(/\.conf$/, '')): Promise<{ config: WgQuickConfig; warnings: ConfigProblem[] }> {
  const { text, modeWarning, stat } = await readConfigText(file);
  const result = parseWgQuick(text, file, name);
  // A key written in the file makes it a secret file: the one secret-file rule's mode and owner
  // (core/auth/secret.ts) are errors then. Without one, a loose mode is a warning (as wg-quick).
  const inline = result.config ? inlineKeyLine(result.config) : 0;
  const unsafe = inline ? secretStatProblems(name, file, stat).filter((p) => p.kind === 'mode' || p.kind === 'owner') : [];
  const warnings: ConfigProblem[] = modeWarning && unsafe.length === 0 ? [modeWarning] : [];
  warnings.push(...result.warnings);
  if (unsafe.length > 0) {
    throw new ConfigLoadFailure(unsafe.map((p) => ({ file, line: inline, message: `holds a key, and the ${p.message}; run "${p.fix}"` })), warnings);
  }
  if (!result.config) throw new ConfigLoadFailure(result.problems, warnings);
  return { config: result.config, warnings };
}

/** The line of the first key written in the file itself (PrivateKey, PresharedKey), or 0. */
function inlineKeyLine(config: WgQuickConfig): number {
  const sources = [config.interface.privateKey, ...config.peers.map((p) => p.presharedKey)];
  return sources.find((s) => s?.kind === 'inline')?.line ?? 0;
}

export interface WgKeys {
  privateKey: Buffer | null;
  /** by peer, in config order; null for a peer without a preshared key */
  presharedKeys: (Buffer | null)[];
}

export interface KeyEnvironment {
  /** $CREDENTIALS_DIRECTORY (systemd LoadCredential=): looked in first. */
  credentialsDirectory?: string | undefined;
}

/**
 * Reads the keys of a parsed file. Key files: a bare name is looked up in the credentials
 * directory first; otherwise absolute, or relative to the config file's directory. Without
 * PrivateKey or PrivateKeyFile, the credential NAME.key is used when it exists. A key file must be
 * one base64 key (surrounding whitespace allowed) and, outside the credentials directory, not
 * accessible by group or others. Every problem is reported at once (ConfigFailure, exit 78).
 */
export async function readWgKeys(config: WgQuickConfig, env: KeyEnvironment = { credentialsDirectory: process.env.CREDENTIALS_DIRECTORY }): Promise<WgKeys> {
  const problems: ConfigProblem[] = [];
  const creds = env.credentialsDirectory || undefined;
  const dir = path.dirname(path.resolve(config.file));

  async function exists(p: string): Promise<boolean> {
    try {
      await fs.access(p);
      return true;
    } catch {
      return false;
    }
  }

  async function locate(p: string): Promise<{ file: string; credential: boolean }> {
    if (creds && !p.includes('/') && (await exists(path.join(creds, p)))) return { file: path.join(creds, p), credential: true };
    return { file: path.isAbsolute(p) ? p : path.join(dir, p), credential: false };
  }

  async function readKeyFile(file: string, credential: boolean, key: string, line: number): Promise<Buffer | null> {
    const where = `${key} "${file}"`;
    try {
      // the one secret-file rule (core/auth/secret.ts), as for a VTun password; systemd's
      // credentials are its own business
      if (!credential) {
        const remake = `tunauth ${key === 'PresharedKeyFile' ? 'genpsk' : 'genkey'} --output ${shellQuote(file)}`;
        const unsafe = secretStatProblems(config.name, file, await fs.lstat(file), { remake }).filter((p) => p.kind !== 'empty');
        if (unsafe.length > 0) {
          for (const p of unsafe) problems.push({ file: config.file, line, message: `${where}: ${p.message}; run "${p.fix}"` });
          return null;
        }
      }
      // O_NOFOLLOW: a link swapped in after the check above is refused (ELOOP), not followed
      const handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
      try {
        const st = await handle.stat();
        if (!st.isFile()) {
          problems.push({ file: config.file, line, message: `${where} is not a regular file` });
          return null;
        }
        const data = await handle.readFile();
        const k = keyFromText(data.toString('latin1'));
        data.fill(0);
        if (!k) problems.push({ file: config.file, line, message: `${where} does not hold a key (expected one base64 key, as "tunauth genkey" writes)` });
        return k;
      } finally {
        await handle.close();
      }
    } catch (error) {
      const code = errnoOf(error);
      const why = code === 'ENOENT' ? 'does not exist' : code === 'EACCES' || code === 'EPERM' ? `cannot be read (permission denied); ${unreadableFileHint(file)}` : `cannot be read (${code ?? String(error)})`;
      problems.push({ file: config.file, line, message: `${where} ${why}` });
      return null;
    }
  }

  async function fromSource(src: KeySource | null, key: string): Promise<Buffer | null> {
    if (!src) return null;
    if (src.kind === 'inline') return Buffer.from(src.key);
    const at = await locate(src.path);
    return readKeyFile(at.file, at.credential, key, src.line);
  }

  let privateKey = await fromSource(config.interface.privateKey, 'PrivateKeyFile');
  if (!config.interface.privateKey && creds) {
    const candidate = path.join(creds, `${config.name}.key`);
    if (await exists(candidate)) privateKey = await readKeyFile(candidate, true, 'credential', config.interface.line);
  }
  const presharedKeys: (Buffer | null)[] = [];
  for (const peer of config.peers) presharedKeys.push(await fromSource(peer.presharedKey, 'PresharedKeyFile'));
  if (problems.length > 0) {
    privateKey?.fill(0);
    for (const k of presharedKeys) k?.fill(0);
    throw new ConfigFailure(problems);
  }
  return { privateKey, presharedKeys };
}
