// tund.conf(5) parser: text -> SessionConfig, one validator per key, every problem at once as
// `file:line: problem`, warnings (that do not fail) separately.
import path from 'node:path';
import type { ConfigProblem } from '../errors.js';
import { nameProblem } from '../names.js';
import { parseIni, type IniEntry } from './ini.js';
import { closest, unknownKeyMessage } from './suggest.js';
import { MTU_MAX, MTU_MIN, type Prefix } from '../net.js';
import { DEFAULT_HANDSHAKE_LIMITS, type Compression, type DeviceMode, type Keepalive, type MultiPolicy, type PersistPolicy, type Role, type SessionConfig, type Transport, type VtunCipherName } from './types.js';
import {
  DEFAULT_PORT, HANDSHAKE_LIMIT_RANGE, TIMEOUT_RANGE, parseAddress, parseBool, parseCipher, parseCompression, parseDeviceName, parseDomain, parseEnum, parseMacValue,
  parseHostPort, parseInteger, parseKeepalive, parseMulti, parsePersist, parsePrefixSetting, parseSpeed, parseTable, parseVtunHost,
  type Parsed,
} from './values.js';
import { parseBasicAuthUser, parseProxyEndpoint, parseRequestPath, parseWsEndpoint, proxySecretFile, type ProxyEndpoint, type WsEndpoint } from '../vpnws/url.js';

/** User = name for HTTP basic auth (the password is in the secret file). */
function parseFilePath(v: string): Parsed<string> {
  if (v.includes('\0') || v === '') return { ok: false, problem: 'invalid path' };
  return { ok: true, value: v };
}

export interface ParseResult {
  config: SessionConfig | null;
  problems: ConfigProblem[];
  warnings: ConfigProblem[];
}

interface KeySpec {
  /** the key as documented (PascalCase) */
  name: string;
  /** may appear more than once; values accumulate */
  repeatable?: boolean;
  /** a value may be a comma-separated list (implies repeatable) */
  list?: boolean;
  /** a command for /bin/sh: the value is kept whole (no inline comment stripping) */
  command?: boolean;
  parse: (value: string) => Parsed<unknown>;
}

const str = (value: string): Parsed<string> => ({ ok: true, value });

const SECTIONS: Record<string, KeySpec[]> = {
  Session: [
    { name: 'Protocol', parse: (v) => parseEnum(v, ['vtun', 'vpn-ws'] as const) },
    { name: 'Role', parse: (v) => parseEnum(v, ['client', 'server'] as const) },
    { name: 'Endpoint', parse: (v) => (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) ? parseWsEndpoint(v) : parseHostPort(v, 'endpoint')) },
    { name: 'Listen', parse: (v) => parseHostPort(v, 'listen') },
    { name: 'Host', parse: parseVtunHost },
    { name: 'Transport', parse: (v) => parseEnum(v, ['tcp', 'udp'] as const) },
    { name: 'Encrypt', parse: parseCipher },
    { name: 'Compress', parse: parseCompression },
    { name: 'Keepalive', parse: parseKeepalive },
    { name: 'Persist', parse: parsePersist },
    { name: 'Multi', parse: parseMulti },
    { name: 'Timeout', parse: (v) => parseInteger(v, ...TIMEOUT_RANGE) },
    { name: 'MaxHandshakes', parse: (v) => parseInteger(v, ...HANDSHAKE_LIMIT_RANGE) },
    { name: 'MaxHandshakesPerSource', parse: (v) => parseInteger(v, ...HANDSHAKE_LIMIT_RANGE) },
    { name: 'NatHack', parse: parseBool },
    { name: 'Speed', parse: parseSpeed },
    { name: 'SslAuth', parse: parseBool },
    { name: 'Path', parse: parseRequestPath },
    { name: 'Proxy', parse: parseProxyEndpoint },
    { name: 'User', parse: parseBasicAuthUser },
    { name: 'ProxyUser', parse: parseBasicAuthUser },
    { name: 'ProxySecretFile', parse: parseFilePath },
    { name: 'CA', parse: parseFilePath },
    { name: 'Certificate', parse: parseFilePath },
    { name: 'PrivateKey', parse: parseFilePath },
    { name: 'ClientCA', parse: parseFilePath },
    { name: 'SecretFile', parse: (v) => (v.includes('\0') ? { ok: false, problem: 'invalid path' } : str(v)) },
  ],
  Device: [
    { name: 'Mode', parse: (v) => parseEnum(v, ['tun', 'tap', 'ether', 'pipe', 'tty'] as const) },
    { name: 'Name', parse: parseDeviceName },
    { name: 'Address', list: true, parse: parsePrefixSetting },
    { name: 'Peer', parse: parseAddress },
    { name: 'MTU', parse: (v) => parseInteger(v, MTU_MIN, MTU_MAX) },
    { name: 'MultiQueue', parse: parseBool },
    { name: 'MAC', parse: parseMacValue },
    { name: 'Bridge', parse: parseDeviceName },
    { name: 'Program', command: true, parse: str },
  ],
  Route: [
    { name: 'Mode', parse: (v) => parseEnum(v, ['none', 'split', 'full'] as const) },
    { name: 'AllowedIPs', list: true, parse: parsePrefixSetting },
    { name: 'Exclude', list: true, parse: parsePrefixSetting },
    { name: 'Table', parse: parseTable },
    { name: 'Metric', parse: (v) => parseInteger(v, 0, 4294967295) },
    { name: 'DNS', list: true, parse: parseAddress },
    { name: 'DNSDomains', list: true, parse: parseDomain },
  ],
  Hooks: [
    { name: 'Up', repeatable: true, command: true, parse: str },
    { name: 'Down', repeatable: true, command: true, parse: str },
  ],
};

export const SECTION_NAMES = Object.keys(SECTIONS);

/** Every documented key, per section (for completion, docs and tests). */
export function knownKeys(): Record<string, string[]> {
  return Object.fromEntries(Object.entries(SECTIONS).map(([s, keys]) => [s, keys.map((k) => k.name)]));
}

interface Value<T = unknown> {
  value: T;
  line: number;
}

type Collected = Map<string, Value[]>; // key (documented spelling) -> values in order

export function parseSessionConfig(text: string, file: string, name: string): ParseResult {
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  const problem = (line: number, message: string) => problems.push({ file, line, message });
  const warning = (line: number, message: string) => warnings.push({ file, line, message });

  const nameIssue = nameProblem(name);
  if (nameIssue) problem(0, `session name ${JSON.stringify(name)} ${nameIssue} (expected 1-15 letters, digits or _ = + . -)`);

  const doc = parseIni(text);
  for (const p of doc.problems) problem(p.line, p.message);

  const sectionOf = (key: string): string | undefined =>
    Object.entries(SECTIONS).find(([, keys]) => keys.some((k) => k.name.toLowerCase() === key.toLowerCase()))?.[0];

  for (const e of doc.orphans) {
    const home = sectionOf(e.key);
    problem(e.line, `key ${JSON.stringify(e.key)} outside of a section${home ? ` (expected it under [${home}])` : ' (expected [Session], [Device], [Route] or [Hooks] first)'}`);
  }

  const collected: Record<string, Collected> = {};
  const headerLine: Record<string, number> = {};
  for (const section of doc.sections) {
    const canonical = SECTION_NAMES.find((s) => s.toLowerCase() === section.name.toLowerCase());
    if (!canonical) {
      if (section.name === '') continue;
      const guess = closest(section.name, SECTION_NAMES);
      problem(section.line, `unknown section [${section.name}] (${guess ? `did you mean [${guess}]?` : `expected ${SECTION_NAMES.map((s) => `[${s}]`).join(', ')}`})`);
      continue;
    }
    headerLine[canonical] ??= section.line;
    const into = (collected[canonical] ??= new Map());
    for (const entry of section.entries) collectEntry(canonical, entry, into);
  }

  function collectEntry(section: string, entry: IniEntry, into: Collected): void {
    const specs = SECTIONS[section]!;
    const spec = specs.find((k) => k.name.toLowerCase() === entry.key.toLowerCase());
    if (!spec) {
      const elsewhere = (key: string) => {
        const other = closest(key, Object.values(SECTIONS).flat().map((k) => k.name));
        return other ? { key: other, section: sectionOf(other)! } : undefined;
      };
      problem(entry.line, unknownKeyMessage(entry.key, section, specs.map((k) => k.name), sectionOf(entry.key), elsewhere));
      return;
    }
    const values = into.get(spec.name) ?? [];
    if (!spec.repeatable && !spec.list && values.length > 0) {
      problem(entry.line, `${spec.name} set twice (first at line ${values[0]!.line}; only Address, AllowedIPs, Exclude, DNS, DNSDomains, Up and Down may repeat)`);
      return;
    }
    // `Key = value  # comment`: a "#" after whitespace starts a comment, except in commands, which
    // go to /bin/sh whole (where an unquoted " #" starts a comment anyway)
    const value = spec.command ? entry.value : entry.value.replace(/(^|\s)#.*$/, '').trim();
    const parts = spec.list ? value.split(',').map((p) => p.trim()) : [value];
    for (const part of parts) {
      if (part === '') {
        problem(entry.line, `${spec.name} has an empty value${spec.list && parts.length > 1 ? ' in its list' : ''}`);
        continue;
      }
      const r = spec.parse(part);
      if (!r.ok) {
        problem(entry.line, `${spec.name} ${JSON.stringify(part)} ${r.problem}`);
        continue;
      }
      values.push({ value: r.value, line: entry.line });
    }
    // even when the value was bad, remember the key was set (duplicate detection, cross checks)
    if (values.length === 0 && !spec.repeatable && !spec.list) values.push({ value: undefined, line: entry.line });
    into.set(spec.name, values);
  }

  const get = <T>(section: string, key: string): Value<T> | undefined => {
    const v = collected[section]?.get(key)?.[0];
    return v && v.value !== undefined ? (v as Value<T>) : undefined;
  };
  const lineOf = (section: string, key: string): number | undefined => collected[section]?.get(key)?.[0]?.line;
  const all = <T>(section: string, key: string): Value<T>[] => (collected[section]?.get(key) ?? []).filter((v) => v.value !== undefined) as Value<T>[];
  const isSet = (section: string, key: string) => lineOf(section, key) !== undefined;

  // ---- [Session]
  if (!collected.Session) problem(0, 'no [Session] section (expected at least "[Session]" with "Role = client" or "Role = server")');
  const role = get<Role>('Session', 'Role');
  if (collected.Session && !isSet('Session', 'Role')) problem(headerLine.Session!, 'missing Role in [Session] (expected client or server)');
  const transport = get<Transport>('Session', 'Transport')?.value ?? 'tcp';
  const endpointValue = get<{ host: string; port: number } | WsEndpoint>('Session', 'Endpoint');
  const wsEndpoint = endpointValue && 'secure' in endpointValue.value ? (endpointValue.value as WsEndpoint) : null;
  const endpoint = endpointValue ? { value: { host: endpointValue.value.host, port: endpointValue.value.port }, line: endpointValue.line } : undefined;
  const protocol = get<'vtun' | 'vpn-ws'>('Session', 'Protocol')?.value ?? 'vtun';
  const vpnws = protocol === 'vpn-ws';
  const listen = get<{ host: string; port: number }>('Session', 'Listen');
  const cipher = get<VtunCipherName>('Session', 'Encrypt');
  const compression = get<Compression>('Session', 'Compress');
  const natHack = get<boolean>('Session', 'NatHack');

  if (role?.value === 'client' && !isSet('Session', 'Endpoint')) {
    problem(role.line, vpnws ? 'Role = client needs an Endpoint in [Session] (expected ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH)' : 'Role = client needs an Endpoint in [Session] (expected HOST[:PORT], such as 198.18.0.2:5000)');
  }
  if (endpointValue && vpnws && !wsEndpoint) {
    problem(endpointValue.line, 'Protocol = vpn-ws needs a ws:// or wss:// URL as Endpoint (expected ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH)');
  }
  if (endpointValue && !vpnws && wsEndpoint) {
    problem(endpointValue.line, `a ${wsEndpoint.secure ? 'wss' : 'ws'}:// Endpoint needs Protocol = vpn-ws in [Session] (the protocol is ${protocol})`);
  }
  const vpnwsOnly: Record<string, string> = { Path: 'server', Proxy: 'client', ProxyUser: 'client', ProxySecretFile: 'client', User: 'client', CA: 'client', Certificate: '', PrivateKey: '', ClientCA: 'server' };
  for (const [key, onlyRole] of Object.entries(vpnwsOnly)) {
    const line = lineOf('Session', key);
    if (line === undefined) continue;
    if (!vpnws) problem(line, `${key} is only used with Protocol = vpn-ws (the protocol is ${protocol})`);
    else if (onlyRole && role && role.value !== onlyRole) warning(line, `${key} is only used by Role = ${onlyRole}; ignored for a ${role.value}`);
  }
  if (vpnws && isSet('Session', 'ProxyUser') && !isSet('Session', 'Proxy')) {
    problem(lineOf('Session', 'ProxyUser')!, 'ProxyUser needs Proxy = http://HOST:PORT (the credentials are for that proxy)');
  }
  if (vpnws && isSet('Session', 'ProxySecretFile') && !isSet('Session', 'ProxyUser')) {
    problem(lineOf('Session', 'ProxySecretFile')!, 'ProxySecretFile needs ProxyUser (the user whose password the file holds)');
  }
  if (vpnws && (isSet('Session', 'Certificate') !== isSet('Session', 'PrivateKey'))) {
    problem(lineOf('Session', 'Certificate') ?? lineOf('Session', 'PrivateKey')!, 'Certificate and PrivateKey go together (a certificate chain and its key)');
  }
  if (vpnws && role?.value === 'server' && isSet('Session', 'ClientCA') && !isSet('Session', 'Certificate')) {
    problem(lineOf('Session', 'ClientCA')!, 'ClientCA needs Certificate and PrivateKey (client certificates are checked in the hub\'s own TLS)');
  }
  if (vpnws && role?.value === 'client' && wsEndpoint && !wsEndpoint.secure) {
    for (const key of ['CA', 'Certificate', 'PrivateKey']) {
      if (isSet('Session', key)) warning(lineOf('Session', key)!, `${key} is only used with a wss:// Endpoint; ignored for ${wsEndpoint.hostHeader} over ws://`);
    }
  }
  if (vpnws && get<Keepalive>('Session', 'Keepalive')?.value.enabled === false) {
    problem(lineOf('Session', 'Keepalive')!, 'Protocol = vpn-ws always pings a silent hub (expected yes or INTERVAL:COUNT; unset: 17:3, as vpn-ws)');
  }
  if (vpnws) {
    for (const key of ['Transport', 'Encrypt', 'Compress', 'NatHack', 'Speed', 'SslAuth', 'Host', 'Multi']) {
      if (isSet('Session', key)) problem(lineOf('Session', key)!, `${key} is a VTun key; Protocol = vpn-ws does not use it`);
    }
  }
  if (role?.value === 'server' && isSet('Session', 'Endpoint')) {
    warning(lineOf('Session', 'Endpoint')!, 'Endpoint is only used by Role = client; ignored for a server');
  }
  if (role?.value === 'client' && isSet('Session', 'Listen')) {
    warning(lineOf('Session', 'Listen')!, 'Listen is only used by Role = server; ignored for a client');
  }
  const maxHs = get<number>('Session', 'MaxHandshakes');
  const maxHsSource = get<number>('Session', 'MaxHandshakesPerSource');
  if (maxHs && maxHsSource && maxHsSource.value > maxHs.value) {
    problem(maxHsSource.line, `MaxHandshakesPerSource (${maxHsSource.value}) is more than MaxHandshakes (${maxHs.value})`);
  }
  if (role?.value === 'client') {
    for (const v of [maxHs, maxHsSource]) if (v) warning(v.line, 'MaxHandshakes and MaxHandshakesPerSource are only used by Role = server; ignored for a client');
  }
  if (natHack?.value === true && transport !== 'udp') {
    problem(natHack.line, `NatHack = yes needs Transport = udp (the transport is ${transport})`);
  }
  if (compression && compression.value.kind === 'zlib' && transport === 'udp') {
    warning(compression.line, 'zlib compression over udp is fragile: one lost or reordered datagram breaks the stream and ends the session (prefer lzo:N over udp)');
  }
  if (cipher) {
    if (/^blowfish(128|256)(cbc|cfb|ofb)$/.test(cipher.value)) {
      warning(cipher.line, `Encrypt "${cipher.value}" does not work with vtund on 64-bit systems (it corrupts the first bytes of every packet); prefer an aes cipher`);
    } else if (/^blowfish(128|256)ecb$/.test(cipher.value)) {
      warning(cipher.line, `Encrypt "${cipher.value}" needs the OpenSSL legacy provider in Debian's vtund (without it vtund crashes); prefer an aes cipher or oldblowfish128ecb`);
    }
  }

  // ---- [Device]
  const modeValue = get<string>('Device', 'Mode');
  const mode: DeviceMode = modeValue ? (modeValue.value === 'ether' ? 'tap' : (modeValue.value as DeviceMode)) : vpnws ? 'tap' : 'tun';
  if (vpnws && modeValue && mode !== 'tap') problem(modeValue.line, `Protocol = vpn-ws carries Ethernet frames: it needs Mode = tap (the mode is ${mode})`);
  const byteStream = mode === 'pipe' || mode === 'tty';
  const program = get<string>('Device', 'Program');
  if (byteStream && !isSet('Device', 'Program')) {
    problem(modeValue!.line, `Mode = ${mode} needs a Program in [Device] (the command that carries the data)`);
  }
  if (!byteStream && isSet('Device', 'Program')) {
    problem(lineOf('Device', 'Program')!, `Program is only used with Mode = pipe or tty (the mode is ${mode})`);
  }
  if (isSet('Device', 'Peer') && mode !== 'tun') {
    problem(lineOf('Device', 'Peer')!, `Peer is only used with Mode = tun (the mode is ${mode}); use Address with a prefix length instead`);
  }
  if (isSet('Device', 'Peer') && mode === 'tun' && !isSet('Device', 'Address')) {
    problem(lineOf('Device', 'Peer')!, 'Peer needs an Address (the local end of the point-to-point link)');
  }
  for (const key of ['MAC', 'Bridge']) {
    const line = lineOf('Device', key);
    if (line === undefined) continue;
    if (mode !== 'tap') {
      problem(line, `${key} needs Mode = tap (the mode is ${mode}${mode === 'tun' ? ', which carries IP packets, not Ethernet frames' : ''})`);
    } else {
      // applied by the session's device set-up (core/session/device.ts)
    }
  }
  if (byteStream) {
    for (const key of ['Address', 'MTU', 'MultiQueue']) {
      if (isSet('Device', key)) problem(lineOf('Device', key)!, `${key} needs a network device (the mode is ${mode}, which has none)`);
    }
  }

  // ---- [Route]
  const routeMode = get<'none' | 'split' | 'full'>('Route', 'Mode');
  const allowed = all<Prefix>('Route', 'AllowedIPs');
  const exclude = all<Prefix>('Route', 'Exclude');
  for (const [key, list] of [['AllowedIPs', allowed], ['Exclude', exclude]] as const) {
    for (const p of list) {
      if (p.value.hostBitsSet) warning(p.line, `${key} "${p.value.text}" has host bits set (using ${p.value.cidr})`);
    }
  }
  const rmode = routeMode?.value ?? 'none';
  if (rmode === 'split' && allowed.length === 0 && !isSet('Route', 'AllowedIPs')) {
    problem(routeMode!.line, 'Mode = split needs AllowedIPs (the prefixes to route into the tunnel)');
  }
  if (rmode === 'none' && allowed.length > 0) warning(allowed[0]!.line, 'AllowedIPs is ignored because [Route] Mode is none (set Mode = split to route them)');
  if (rmode !== 'full' && exclude.length > 0) warning(exclude[0]!.line, 'Exclude is only used with [Route] Mode = full; ignored');
  if (rmode !== 'none' && byteStream) problem(routeMode!.line, `[Route] Mode = ${rmode} needs a network device (the mode is ${mode}, which has none)`);

  problems.sort((a, b) => a.line - b.line);
  warnings.sort((a, b) => a.line - b.line);
  if (problems.length > 0) return { config: null, problems, warnings };

  const config: SessionConfig = {
    name,
    file,
    session: {
      protocol,
      role: role!.value,
      endpoint: endpoint?.value ?? null,
      listen: listen?.value ?? { host: '0.0.0.0', port: DEFAULT_PORT },
      host: get<string>('Session', 'Host')?.value ?? name,
      transport,
      cipher: cipher?.value ?? 'no',
      compression: compression?.value ?? { kind: 'none' },
      keepalive: get<Keepalive>('Session', 'Keepalive')?.value ?? { enabled: false, interval: 30, count: 4 },
      persist: get<PersistPolicy>('Session', 'Persist')?.value ?? 'no',
      multi: get<MultiPolicy>('Session', 'Multi')?.value ?? 'yes',
      timeout: get<number>('Session', 'Timeout')?.value ?? 30,
      natHack: natHack?.value ?? false,
      speed: get<{ out: number; in: number }>('Session', 'Speed')?.value ?? { out: 0, in: 0 },
      sslAuth: get<boolean>('Session', 'SslAuth')?.value ?? true,
      vpnws: {
        url: wsEndpoint,
        path: get<string>('Session', 'Path')?.value ?? null,
        proxy: get<ProxyEndpoint>('Session', 'Proxy')?.value ?? null,
        user: get<string>('Session', 'User')?.value ?? null,
        proxyUser: get<string>('Session', 'ProxyUser')?.value ?? null,
        proxySecretFile: proxySecretFile(file, name, get<string>('Session', 'ProxySecretFile')?.value),
        ca: resolveBeside(file, get<string>('Session', 'CA')?.value),
        certificate: resolveBeside(file, get<string>('Session', 'Certificate')?.value),
        privateKey: resolveBeside(file, get<string>('Session', 'PrivateKey')?.value),
        clientCa: resolveBeside(file, get<string>('Session', 'ClientCA')?.value),
        ownDevice: protocol === 'vpn-ws' && role!.value === 'server' && collected.Device !== undefined,
      },
      secretFile: resolveSecretFile(file, name, get<string>('Session', 'SecretFile')?.value),
      handshakeLimits: {
        total: get<number>('Session', 'MaxHandshakes')?.value ?? DEFAULT_HANDSHAKE_LIMITS.total,
        perSource: get<number>('Session', 'MaxHandshakesPerSource')?.value ?? DEFAULT_HANDSHAKE_LIMITS.perSource,
      },
      // what a client's file sets is what it requires of the server (core/vtun/requirements.ts);
      // a server decides these itself, so nothing is recorded for it
      explicit: role!.value === 'client'
        ? { encrypt: cipher !== undefined, compress: compression !== undefined, transport: isSet('Session', 'Transport'), mode: modeValue !== undefined }
        : { encrypt: false, compress: false, transport: false, mode: false },
    },
    device: {
      mode,
      name: get<string>('Device', 'Name')?.value ?? name,
      addresses: all<Prefix>('Device', 'Address').map((a) => a.value.text),
      peer: get<string>('Device', 'Peer')?.value ?? null,
      mtu: get<number>('Device', 'MTU')?.value ?? null,
      multiQueue: get<boolean>('Device', 'MultiQueue')?.value ?? false,
      mac: get<string>('Device', 'MAC')?.value ?? null,
      bridge: get<string>('Device', 'Bridge')?.value ?? null,
      program: program?.value ?? null,
    },
    route: {
      mode: rmode,
      allowedIps: unique(allowed.map((p) => p.value.cidr)),
      exclude: unique(exclude.map((p) => p.value.cidr)),
      table: get<'auto' | 'off' | number>('Route', 'Table')?.value ?? 'auto',
      metric: get<number>('Route', 'Metric')?.value ?? null,
      dns: unique(all<string>('Route', 'DNS').map((d) => d.value)),
      dnsDomains: unique(all<string>('Route', 'DNSDomains').map((d) => d.value)),
    },
    hooks: {
      up: all<string>('Hooks', 'Up').map((h) => h.value),
      down: all<string>('Hooks', 'Down').map((h) => h.value),
    },
  };
  return { config, problems, warnings };
}

/** SecretFile: absolute, or relative to the directory of the config file; default NAME.secret there. */
export function resolveSecretFile(file: string, name: string, value: string | undefined): string {
  const dir = path.dirname(path.resolve(file));
  if (value === undefined) return path.join(dir, `${name}.secret`);
  return path.isAbsolute(value) ? value : path.join(dir, value);
}

/** A file named in the config: absolute, or relative to the config file's directory. */
function resolveBeside(file: string, value: string | undefined): string | null {
  if (value === undefined) return null;
  return path.isAbsolute(value) ? value : path.join(path.dirname(path.resolve(file)), value);
}

function unique(list: string[]): string[] {
  return [...new Set(list)];
}
