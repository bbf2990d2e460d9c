// vtund.conf -> tund.conf(5): turns every complete session of a vtund.conf into the text of
// NAME.conf and the password for NAME.secret, mapping what tund handles itself (addresses, peer,
// MTU, routes) and keeping the rest as [Hooks] commands. Pure: writing files is writeImport().
import { promises as fs } from 'node:fs';
import { writeFile0600 } from '../config/write.js';
import net from 'node:net';
import path from 'node:path';
import type { ConfigProblem } from '../errors.js';
import { errnoOf } from '../errors.js';
import { nameProblem } from '../names.js';
import { formatEndpoint } from '../net.js';
import { parseSessionConfig } from '../config/parse.js';
import { renderSessionConfig, type DraftEntry } from '../config/render.js';
import type { SessionConfig } from '../config/types.js';
import {
  DEFAULT_PORT, TIMEOUT_RANGE, parseCipher, parseKeepalive, parseMulti, parsePersist, parseSpeed,
} from '../config/values.js';
import { parseVtundConf, splitVtundArgs, type VtundCommand, type VtundConfig, type VtundSession } from './vtund-conf.js';

/** The environment tund gives to [Hooks] commands and Program (the vtund %-tokens they replace). */
export const HOOK_VARIABLES: Record<string, string> = {
  d: 'TUND_DEVICE', // %d and %%: the device (interface) name
  A: 'TUND_LOCAL_ADDR',
  P: 'TUND_LOCAL_PORT',
  a: 'TUND_REMOTE_ADDR',
  p: 'TUND_REMOTE_PORT',
  h: 'TUND_SESSION', // the session name
};

export interface ImportOptions {
  /** the vtund.conf path, for messages */
  file: string;
  /** import as clients of this server (HOST[:PORT]); otherwise as servers */
  client?: { host: string; port: number | null };
  /** the first IPv4 address of an interface (for bindaddr { iface NAME; }); default: none known */
  interfaceAddress?: (name: string) => string | null;
}

export interface ImportMessage {
  line: number;
  message: string;
}

export interface ImportedSession {
  name: string;
  line: number;
  /** null when the session cannot be imported (see errors) */
  conf: string | null;
  secret: string;
  config: SessionConfig | null;
  errors: ImportMessage[];
  warnings: ImportMessage[];
  /** remarks worth reading (something behaves differently or was dropped on purpose) */
  notes: ImportMessage[];
  /** what became what (shown with -v) */
  infos: ImportMessage[];
}

export interface ImportResult {
  /** the vtund.conf cannot be used at all (vtund itself would refuse it): nothing is imported */
  problems: ConfigProblem[];
  /** file-level warnings (skipped sessions, ...) */
  warnings: ConfigProblem[];
  sessions: ImportedSession[];
}

export function importVtundConf(text: string, opts: ImportOptions): ImportResult {
  const parsed = parseVtundConf(text);
  const problems = parsed.problems.map((p) => ({ file: opts.file, line: p.line, message: p.message }));
  const warnings = parsed.warnings.map((p) => ({ file: opts.file, line: p.line, message: p.message }));
  if (parsed.options.port) {
    const port = Number(parsed.options.port.value);
    if (!/^\d+$/.test(parsed.options.port.value) || port < 1 || port > 65535) {
      problems.push({ file: opts.file, line: parsed.options.port.line, message: `port "${parsed.options.port.value}" out of range (1-65535)` });
    }
  }
  if (problems.length > 0) return { problems: sortByLine(problems), warnings, sessions: [] };
  const sessions = parsed.sessions.map((s) => convertSession(parsed, s, opts));
  return { problems, warnings, sessions };
}

function sortByLine<T extends { line: number }>(list: T[]): T[] {
  return [...list].sort((a, b) => a.line - b.line);
}

// ---------------------------------------------------------------- one session

interface Draft {
  session: DraftEntry[];
  device: DraftEntry[];
  route: DraftEntry[];
  hooks: DraftEntry[];
  addresses: string[];
  peer: string | null;
  mtu: number | null;
  allowed: string[];
  program: string | null;
}

function convertSession(cfg: VtundConfig, s: VtundSession, opts: ImportOptions): ImportedSession {
  const out: ImportedSession = { name: s.name, line: s.line, conf: null, secret: s.password ?? '', config: null, errors: [], warnings: [], notes: [], infos: [] };
  const err = (line: number, message: string) => out.errors.push({ line, message: `session "${s.name}": ${message}` });
  const warn = (line: number, message: string) => out.warnings.push({ line, message: `session "${s.name}": ${message}` });
  const note = (line: number, message: string) => out.notes.push({ line, message: `session "${s.name}": ${message}` });
  const info = (line: number, message: string) => out.infos.push({ line, message: `session "${s.name}": ${message}` });

  const problem = nameProblem(s.name);
  if (problem) {
    err(s.line, `cannot be a tund session name (${problem.replace(/ \(expected.*\)$/, '')}; expected 1-15 letters, digits or _ = + . -): rename the section in a copy of the file, then set "Host = ${s.name}" in [Session] so that the VTun peer still sees the old name`);
    return out;
  }
  const role = opts.client ? 'client' : 'server';
  const get = (k: string) => s.settings.get(k);
  const d: Draft = { session: [], device: [], route: [], hooks: [], addresses: [], peer: null, mtu: null, allowed: [], program: null };

  // ---- [Session]
  d.session.push({ key: 'Protocol', value: 'vtun' }, { key: 'Role', value: role });
  const port = cfg.options.port ? Number(cfg.options.port.value) : DEFAULT_PORT;
  if (opts.client) {
    const ep = opts.client;
    d.session.push({ key: 'Endpoint', value: formatEndpoint(ep.host, ep.port ?? port) });
  } else {
    let listenHost = '0.0.0.0';
    const b = cfg.options.bindAddr;
    if (b?.kind === 'addr') {
      if (net.isIP(b.value)) listenHost = b.value;
      else warn(b.line, `bindaddr "${b.value}" is not an IP address; listening on all addresses (set Listen by hand)`);
    } else if (b?.kind === 'iface') {
      const found = opts.interfaceAddress?.(b.value) ?? null;
      if (found) {
        listenHost = found;
        note(b.line, `bindaddr { iface ${b.value}; }: listening on ${found}, the address ${b.value} has now`);
      } else {
        warn(b.line, `bindaddr { iface ${b.value}; } cannot be expressed in tund.conf and ${b.value} has no address here; listening on all addresses (set Listen to that interface's address)`);
      }
    }
    d.session.push({ key: 'Listen', value: formatEndpoint(listenHost, port) });
    if (cfg.options.type?.value === 'inetd') {
      note(cfg.options.type.line, 'vtund ran from inetd: use tund.socket (Accept=yes) for the same set-up');
    }
  }

  const proto = get('proto');
  let transport = 'tcp';
  if (proto) {
    if (proto.value === 'tcp' || proto.value === 'udp') {
      transport = proto.value;
      // vtund's client ignores its own proto, encrypt and compress (the server decides); in tund a
      // client's Transport, Encrypt and Compress are requirements, so an import does not invent them
      if (role === 'server') d.session.push({ key: 'Transport', value: proto.value });
      else note(proto.line, 'proto is decided by the server; not set for a client (set Transport to require it)');
    } else err(proto.line, `proto "${proto.value}" invalid (expected tcp or udp)`);
  }
  const natHack = get('nat_hack');
  let natHackOn = false;
  if (natHack) {
    if (!['client', 'server', 'no'].includes(natHack.value)) err(natHack.line, `nat_hack "${natHack.value}" invalid (expected client, server or no)`);
    else natHackOn = natHack.value === role;
    if (natHack.value !== 'no' && !natHackOn) note(natHack.line, `nat_hack ${natHack.value} applies to the other side; not set for this ${role}`);
  }
  if (natHackOn && role === 'client' && (!proto || transport === 'udp')) {
    // the one transport a client writes down: NatHack needs it
    d.session.push({ key: 'Transport', value: 'udp', comment: 'nat_hack only works over udp (the server decides the transport)' });
    transport = 'udp';
  } else if (natHackOn && transport !== 'udp') err(natHack!.line, 'nat_hack needs proto udp');
  const encrypt = get('encrypt');
  if (encrypt) {
    const c = parseCipher(encrypt.value);
    if (!c.ok) err(encrypt.line, `encrypt "${encrypt.value}" ${c.problem}`);
    else if (role === 'server') d.session.push({ key: 'Encrypt', value: c.value });
    else note(encrypt.line, 'encrypt is decided by the server; not set for a client (set Encrypt to require it)');
  }
  const compress = get('compress');
  if (compress) {
    const c = convertCompress(compress.value);
    if ('problem' in c) err(compress.line, `compress "${compress.value}" ${c.problem}`);
    else {
      if (c.note) warn(compress.line, c.note);
      if (role === 'server') d.session.push({ key: 'Compress', value: c.value });
      else note(compress.line, 'compress is decided by the server; not set for a client');
    }
  }
  const keepalive = get('keepalive');
  if (keepalive) {
    const v = /^0:\d+$/.test(keepalive.value) ? 'no' : keepalive.value;
    const k = parseKeepalive(v);
    if (k.ok) d.session.push({ key: 'Keepalive', value: k.value.enabled ? (v.includes(':') ? `${k.value.interval}:${k.value.count}` : 'yes') : 'no' });
    else err(keepalive.line, `keepalive "${keepalive.value}" ${k.problem}`);
  }
  const persist = get('persist');
  if (persist) {
    const p = parsePersist(persist.value);
    if (p.ok) d.session.push({ key: 'Persist', value: p.value });
    else err(persist.line, `persist "${persist.value}" ${p.problem}`);
  }
  const multi = get('multi');
  if (multi) {
    const m = parseMulti(multi.value);
    if (!m.ok) err(multi.line, `multi "${multi.value}" ${m.problem}`);
    else if (role === 'server') d.session.push({ key: 'Multi', value: m.value });
    else note(multi.line, 'multi is decided by the server; not set for a client');
  }
  const timeout = get('timeout') ?? cfg.options.timeout ?? undefined;
  if (timeout) {
    const t = Number(timeout.value);
    if (!/^\d+$/.test(timeout.value) || t < TIMEOUT_RANGE[0] || t > TIMEOUT_RANGE[1]) {
      err(timeout.line, `timeout "${timeout.value}" out of range for tund (${TIMEOUT_RANGE.join('-')} seconds)`);
    } else d.session.push({ key: 'Timeout', value: String(t) });
  }
  if (natHackOn) d.session.push({ key: 'NatHack', value: 'yes' });
  const speed = get('speed');
  if (speed) {
    const sp = parseSpeed(speed.value);
    if (!sp.ok) err(speed.line, `speed "${speed.value}" ${sp.problem}`);
    else if (role === 'server') {
      if (sp.value.out !== 0 || sp.value.in !== 0) d.session.push({ key: 'Speed', value: sp.value.out === sp.value.in ? String(sp.value.out) : `${sp.value.out}:${sp.value.in}` });
    } else if (sp.value.out !== 0 || sp.value.in !== 0) note(speed.line, 'speed is decided by the server (the client sends at the rate the server gives); not set for a client');
  }
  const sslauth = get('sslauth');
  if (sslauth) {
    if (sslauth.value === 'yes' || sslauth.value === 'no') d.session.push({ key: 'SslAuth', value: sslauth.value });
    else err(sslauth.line, `sslauth "${sslauth.value}" invalid (expected yes or no)`);
  }
  const stat = get('stat');
  if (stat && stat.value !== 'no') warn(stat.line, 'stat is not supported; dropped (tunctl status shows the counters)');
  if (s.srcaddr) warn(s.srcaddr.line, `srcaddr { ${s.srcaddr.value} } is not supported; dropped (the system picks the source address)`);

  // ---- [Device]
  const type = get('type');
  let mode: 'tun' | 'tap' | 'pipe' | 'tty';
  if (type) {
    const map: Record<string, 'tun' | 'tap' | 'pipe' | 'tty'> = { tun: 'tun', ether: 'tap', pipe: 'pipe', tty: 'tty' };
    const m = map[type.value];
    if (!m) {
      err(type.line, `type "${type.value}" invalid (expected tun, ether, tty or pipe)`);
      mode = 'tun';
    } else mode = m;
  } else if (role === 'server') {
    mode = 'tty';
    note(s.line, 'no type: vtund\'s default is tty');
  } else {
    mode = 'tun';
    warn(s.line, 'no type (the server decides it): assuming tun; set [Device] Mode to match the server');
  }
  d.device.push({ key: 'Mode', value: mode });
  const device = get('device');
  let vtunDevice: string | null = null;
  if (device) {
    const p = nameProblem(device.value);
    if (p || mode === 'pipe' || mode === 'tty') {
      warn(device.line, `device "${device.value}" ${p ? `is not usable as an interface name (${p})` : `has no meaning for type ${mode}`}; using the default`);
    } else {
      vtunDevice = device.value;
      d.device.push({ key: 'Name', value: device.value });
    }
  }

  const ctx: CommandContext = { cfg, s, d, mode, vtunDevice, warn, note, info, err };
  for (const cmd of s.up) convertCommand(ctx, cmd, 'up');
  for (const cmd of s.down) convertCommand(ctx, cmd, 'down');
  if ((mode === 'pipe' || mode === 'tty') && d.program === null) {
    err(s.upLine ?? s.line, `type ${mode} needs a program or ppp command in up { } (it becomes [Device] Program)`);
  }
  for (const a of d.addresses) d.device.push({ key: 'Address', value: a });
  if (d.peer) d.device.push({ key: 'Peer', value: d.peer });
  if (d.mtu !== null) d.device.push({ key: 'MTU', value: String(d.mtu) });
  if (d.program !== null) d.device.push({ key: 'Program', value: d.program });
  if (d.allowed.length > 0) {
    d.route.push({ key: 'Mode', value: 'split' });
    for (const a of d.allowed) d.route.push({ key: 'AllowedIPs', value: a });
  }

  const sections = [
    { name: 'Session', entries: d.session },
    { name: 'Device', entries: d.device },
    { name: 'Route', entries: d.route },
    { name: 'Hooks', entries: d.hooks },
  ];
  // vtund keeps a carriage return inside a quoted string; a tund.conf value is one line (found by
  // the vtund_conf fuzz target: the renderer refused such a value with an exception)
  for (const section of sections) {
    for (const e of section.entries) {
      if (/[\r\n]/.test(e.value)) {
        err(s.line, `[${section.name}] ${e.key} would contain a line break (${JSON.stringify(e.value)}), which tund.conf cannot hold; remove it from vtund.conf`);
      }
    }
  }
  if (out.errors.length > 0) return out;

  const conf = renderSessionConfig({
    header: [
      `tund session "${s.name}", imported from ${path.resolve(opts.file)} (line ${s.line}) by "tund import-vtun".`,
      'See tund.conf(5). The password is in the secret file (SecretFile, default NAME.secret beside this file).',
    ],
    sections,
  });
  // the result must pass tund's own parser
  const check = parseSessionConfig(conf, `${s.name}.conf`, s.name);
  if (!check.config) {
    for (const p of check.problems) err(s.line, `the converted file would be invalid: ${p.message} (please report this)`);
    return out;
  }
  for (const w of check.warnings) warn(s.line, w.message);
  out.conf = conf;
  out.config = check.config;
  return out;
}

function convertCompress(value: string): { value: string; note?: string } | { problem: string } {
  const v = value.toLowerCase();
  if (v === 'no' || v === '0') return { value: 'no' };
  if (v === 'yes' || v === 'zlib') return { value: 'zlib:1' };
  if (v === 'lzo') return { value: 'zlib:2', note: 'compress lzo without a level selects zlib level 2 in vtund (a vtund quirk); imported as zlib:2 to stay compatible (write lzo:N to get LZO)' };
  if (/^[1-9]$/.test(v)) return { value: `zlib:${v}` };
  const m = /^(zlib|lzo):(\d+)$/.exec(v);
  if (!m) return { problem: 'invalid (expected no, yes, zlib:N or lzo:N with N 1-9)' };
  const level = Number(m[2]);
  if (m[1] === 'lzo' && level === 0) return { value: 'lzo:1', note: 'lzo:0 behaves like lzo:1 in vtund; imported as lzo:1' };
  if (level < 1 || level > 9) return { problem: 'level out of range (expected 1-9)' };
  return { value: `${m[1]}:${level}` };
}

// ---------------------------------------------------------------- up {} / down {}

interface CommandContext {
  cfg: VtundConfig;
  s: VtundSession;
  d: Draft;
  mode: 'tun' | 'tap' | 'pipe' | 'tty';
  vtunDevice: string | null;
  warn: (line: number, message: string) => void;
  note: (line: number, message: string) => void;
  info: (line: number, message: string) => void;
  err: (line: number, message: string) => void;
}

function programOf(ctx: CommandContext, cmd: VtundCommand): string {
  return cmd.kind === 'program' ? (cmd.path ?? '/bin/sh') : ctx.cfg.options.programs[cmd.kind];
}

/** The vtund statement as it was written, for messages. */
function describe(cmd: VtundCommand): string {
  if (cmd.kind === 'program') return `program${cmd.path ? ` ${cmd.path}` : ''}${cmd.args !== null ? ` "${cmd.args}"` : ''}${cmd.wait ? ' wait' : ''}`;
  return `${cmd.kind} "${cmd.args}"`;
}

function convertCommand(ctx: CommandContext, cmd: VtundCommand, phase: 'up' | 'down'): void {
  const { d, mode } = ctx;
  const byteStream = mode === 'pipe' || mode === 'tty';
  if (byteStream && phase === 'up' && d.program === null && (cmd.kind === 'program' || cmd.kind === 'ppp')) {
    d.program = toShell(ctx, cmd);
    ctx.info(cmd.line, `${describe(cmd)} becomes [Device] Program (its stdin/stdout or pty carries the ${mode} data)`);
    return;
  }
  if (!byteStream) {
    const mapped = cmd.kind === 'ip' ? mapIp(ctx, cmd, phase) : cmd.kind === 'ifconfig' ? mapIfconfig(ctx, cmd, phase) : cmd.kind === 'route' ? mapRoute(ctx, cmd, phase) : cmd.kind === 'program' ? mapProgram(ctx, cmd, phase) : false;
    if (mapped) return;
  }
  const shell = toShell(ctx, cmd);
  d.hooks.push({ key: phase === 'up' ? 'Up' : 'Down', value: shell });
  const extra = cmd.kind === 'program' && !cmd.wait ? ' (vtund did not wait for it; tund runs hooks in order and waits for each)' : '';
  ctx.warn(cmd.line, `${describe(cmd)} kept as a hook: ${phase === 'up' ? 'Up' : 'Down'} = ${shell}${extra}`);
}

const isDev = (ctx: CommandContext, token: string | undefined): boolean =>
  token === '%d' || token === '%%' || (ctx.vtunDevice !== null && token === ctx.vtunDevice);

function tokensOf(cmd: VtundCommand): string[] {
  return splitVtundArgs(cmd.args ?? '');
}

/** ip [-4|-6|-family F|-f F] OBJECT ... */
function mapIp(ctx: CommandContext, cmd: VtundCommand, phase: 'up' | 'down'): boolean {
  const t = tokensOf(cmd);
  while (t.length > 0 && /^-/.test(t[0]!)) {
    const opt = t.shift()!;
    if (opt === '-4' || opt === '-6') continue;
    if ((opt === '-family' || opt === '-f') && t.length > 0) {
      t.shift();
      continue;
    }
    return false;
  }
  const object = t.shift();
  const verb = t.shift();
  if (!object || !verb) return false;
  if (/^a(d(d(r(e(s(s)?)?)?)?)?)?$/.test(object) && object.length >= 1) {
    if (phase === 'up' && (verb === 'add' || verb === 'a' || verb === 'replace')) return mapIpAddrAdd(ctx, cmd, t);
    if (phase === 'down' && (verb === 'del' || verb === 'delete' || verb === 'flush')) return dropWithNote(ctx, cmd, 'tund removes the address with the device');
    return false;
  }
  if (/^l(i(n(k)?)?)?$/.test(object) && verb === 'set') return mapIpLinkSet(ctx, cmd, t, phase);
  if (/^r(o(u(t(e)?)?)?)?$/.test(object)) {
    if (phase === 'up' && (verb === 'add' || verb === 'a' || verb === 'replace')) return mapIpRouteAdd(ctx, cmd, t);
    if (phase === 'down' && (verb === 'del' || verb === 'delete')) return mapRouteDel(ctx, cmd, t[0] === 'to' ? t[1] : t[0]);
  }
  return false;
}

function mapIpAddrAdd(ctx: CommandContext, cmd: VtundCommand, t: string[]): boolean {
  let local: string | undefined;
  let peer: string | undefined;
  let dev: string | undefined;
  for (let i = 0; i < t.length; i++) {
    const k = t[i]!;
    if (k === 'local' && i + 1 < t.length) local = t[++i];
    else if ((k === 'peer' || k === 'remote') && i + 1 < t.length) peer = t[++i];
    else if (k === 'dev' && i + 1 < t.length) dev = t[++i];
    else if ((k === 'brd' || k === 'broadcast') && t[i + 1] === '+') i++;
    else if (local === undefined && !k.includes('=') && /^[0-9a-fA-F:.]+(\/\d+)?$/.test(k)) local = k;
    else return false;
  }
  if (!local || !isDev(ctx, dev)) return false;
  const addr = normalizeAddress(local);
  if (!addr) return false;
  if (peer !== undefined) {
    if (ctx.mode !== 'tun') return false;
    const p = peer.replace(/\/(32|128)$/, '');
    if (net.isIP(p) === 0 || (ctx.d.peer !== null && ctx.d.peer !== p)) return false;
    ctx.d.peer = p;
  }
  if (!ctx.d.addresses.includes(addr)) ctx.d.addresses.push(addr);
  ctx.info(cmd.line, `${describe(cmd)} becomes [Device] Address = ${addr}${peer !== undefined ? `, Peer = ${ctx.d.peer}` : ''}`);
  return true;
}

function mapIpLinkSet(ctx: CommandContext, cmd: VtundCommand, t: string[], phase: 'up' | 'down'): boolean {
  let i = 0;
  if (t[i] === 'dev') i++;
  const dev = t[i++];
  if (!isDev(ctx, dev)) return false;
  const rest: string[] = [];
  const mapped: string[] = [];
  for (; i < t.length; i++) {
    const k = t[i]!;
    if (k === 'up' && phase === 'up') mapped.push('up (tund brings the device up)');
    else if (k === 'down' && phase === 'down') mapped.push('down (tund closes the device)');
    else if (k === 'mtu' && phase === 'up' && /^\d+$/.test(t[i + 1] ?? '')) {
      const mtu = Number(t[++i]);
      if (mtu < 576 || mtu > 65535) return false;
      ctx.d.mtu = mtu;
      mapped.push(`mtu (MTU = ${mtu})`);
    } else if (/^(multicast|arp|allmulticast|promisc|dynamic|txqueuelen|txqlen|qlen)$/.test(k) && t[i + 1] !== undefined) {
      rest.push(k, t[++i]!);
    } else return false;
  }
  if (mapped.length > 0) ctx.info(cmd.line, `${describe(cmd)}: ${mapped.join(', ')}`);
  if (rest.length > 0) {
    const shell = [shellWord(ctx, programOf(ctx, cmd)), 'link', 'set', 'dev', '"${TUND_DEVICE}"', ...rest.map((r) => shellWord(ctx, r))].join(' ');
    ctx.d.hooks.push({ key: phase === 'up' ? 'Up' : 'Down', value: shell });
    ctx.warn(cmd.line, `"${rest.join(' ')}" of ${describe(cmd)} kept as a hook: ${phase === 'up' ? 'Up' : 'Down'} = ${shell}`);
  }
  return true;
}

function mapIpRouteAdd(ctx: CommandContext, cmd: VtundCommand, t: string[]): boolean {
  let prefix: string | undefined;
  let dev: string | undefined;
  let via: string | undefined;
  for (let i = 0; i < t.length; i++) {
    const k = t[i]!;
    if (k === 'dev' && i + 1 < t.length) dev = t[++i];
    else if (k === 'via' && i + 1 < t.length) via = t[++i];
    else if (k === 'to' && i + 1 < t.length && prefix === undefined) prefix = t[++i];
    else if (prefix === undefined) prefix = k;
    else return false;
  }
  return addRoute(ctx, cmd, prefix, dev, via);
}

function addRoute(ctx: CommandContext, cmd: VtundCommand, prefix: string | undefined, dev: string | undefined, via: string | undefined): boolean {
  if (!prefix) return false;
  // through the tunnel: named device, or a gateway on a point-to-point tun link
  const throughTunnel = isDev(ctx, dev) ? via === undefined || ctx.mode === 'tun' : dev === undefined && via !== undefined && ctx.mode === 'tun' && via === ctx.d.peer;
  if (!throughTunnel) return false;
  const p = normalizePrefix(prefix);
  if (!p) return false;
  if (p === '0.0.0.0/0' || p === '::/0') {
    ctx.warn(cmd.line, 'a default route through the tunnel is a full tunnel: consider [Route] Mode = full (it keeps the route to the server), kept as a hook for now');
    return false;
  }
  if (!ctx.d.allowed.includes(p)) ctx.d.allowed.push(p);
  ctx.info(cmd.line, `${describe(cmd)} becomes [Route] Mode = split, AllowedIPs = ${p}`);
  return true;
}

function mapRouteDel(ctx: CommandContext, cmd: VtundCommand, prefix: string | undefined): boolean {
  const p = prefix ? normalizePrefix(prefix) : null;
  if (!p || !ctx.d.allowed.includes(p)) return false;
  return dropWithNote(ctx, cmd, 'tunroute removes the routes it added');
}

function dropWithNote(ctx: CommandContext, cmd: VtundCommand, why: string): boolean {
  ctx.info(cmd.line, `${describe(cmd)} dropped (${why})`);
  return true;
}

/** ifconfig DEV [ADDR[/LEN]] [netmask M] [pointopoint|dstaddr P] [mtu N] [up|down] */
function mapIfconfig(ctx: CommandContext, cmd: VtundCommand, phase: 'up' | 'down'): boolean {
  const t = tokensOf(cmd);
  if (!isDev(ctx, t.shift())) return false;
  if (phase === 'down') return t.length === 1 && t[0] === 'down' ? dropWithNote(ctx, cmd, 'tund closes the device') : false;
  let addr: string | undefined;
  let mask: string | undefined;
  let peer: string | undefined;
  let mtu: number | undefined;
  for (let i = 0; i < t.length; i++) {
    const k = t[i]!;
    if (k === 'up') continue;
    if (k === 'netmask' && i + 1 < t.length) mask = t[++i];
    else if ((k === 'pointopoint' || k === 'dstaddr') && i + 1 < t.length) peer = t[++i];
    else if (k === 'mtu' && /^\d+$/.test(t[i + 1] ?? '')) mtu = Number(t[++i]);
    else if (addr === undefined && /^[0-9.]+(\/\d+)?$/.test(k)) addr = k;
    else return false;
  }
  if (mtu !== undefined && (mtu < 576 || mtu > 65535)) return false;
  if (peer !== undefined && (ctx.mode !== 'tun' || net.isIPv4(peer) === false || (ctx.d.peer !== null && ctx.d.peer !== peer))) return false;
  let cidr: string | undefined;
  if (addr !== undefined) {
    const [a, len] = addr.split('/') as [string, string | undefined];
    if (!net.isIPv4(a)) return false;
    let prefixLength: number;
    if (len !== undefined) prefixLength = Number(len);
    else if (mask !== undefined) {
      const l = maskLength(mask);
      if (l === null) return false;
      prefixLength = l;
    } else if (peer !== undefined) prefixLength = 32;
    else {
      prefixLength = classfulLength(a);
      ctx.note(cmd.line, `ifconfig without netmask uses the classful mask: /${prefixLength}`);
    }
    if (prefixLength > 32) return false;
    cidr = `${a}/${prefixLength}`;
  }
  if (cidr && !ctx.d.addresses.includes(cidr)) ctx.d.addresses.push(cidr);
  if (peer !== undefined) ctx.d.peer = peer;
  if (mtu !== undefined) ctx.d.mtu = mtu;
  const parts = [cidr && `Address = ${cidr}`, peer && `Peer = ${peer}`, mtu !== undefined && `MTU = ${mtu}`].filter(Boolean);
  ctx.info(cmd.line, parts.length > 0 ? `${describe(cmd)} becomes [Device] ${parts.join(', ')}` : `${describe(cmd)} dropped (tund brings the device up)`);
  return true;
}

/** route add|del [-net|-host] TARGET [netmask M] [gw G] [dev D] */
function mapRoute(ctx: CommandContext, cmd: VtundCommand, phase: 'up' | 'down'): boolean {
  const t = tokensOf(cmd);
  const verb = t.shift();
  let host = false;
  let target: string | undefined;
  let mask: string | undefined;
  let gw: string | undefined;
  let dev: string | undefined;
  for (let i = 0; i < t.length; i++) {
    const k = t[i]!;
    if (k === '-net') continue;
    if (k === '-host') host = true;
    else if (k === 'netmask' && i + 1 < t.length) mask = t[++i];
    else if ((k === 'gw' || k === 'gateway') && i + 1 < t.length) gw = t[++i];
    else if (k === 'dev' && i + 1 < t.length) dev = t[++i];
    else if (target === undefined) target = k;
    else if (dev === undefined && isDev(ctx, k)) dev = k; // "route add -net N netmask M %d"
    else return false;
  }
  if (!target) return false;
  let prefix = target === 'default' ? '0.0.0.0/0' : target;
  if (!prefix.includes('/')) {
    if (host) prefix = `${prefix}/32`;
    else if (mask !== undefined) {
      const l = maskLength(mask);
      if (l === null) return false;
      prefix = `${prefix}/${l}`;
    } else prefix = `${prefix}/32`;
  }
  if (verb === 'add' && phase === 'up') return addRoute(ctx, cmd, prefix, dev, gw);
  if ((verb === 'del' || verb === 'delete') && phase === 'down') return mapRouteDel(ctx, cmd, prefix);
  return false;
}

function mapProgram(ctx: CommandContext, cmd: VtundCommand, phase: 'up' | 'down'): boolean {
  const t = tokensOf(cmd);
  const prog = cmd.path ? path.basename(cmd.path) : null;
  if (phase === 'up' && prog === 'sysctl' && t.some((a) => /^net\.ipv6\.conf\.(%d|%%)\.disable_ipv6=1$/.test(a))) {
    // keeps IPv6 router solicitations off the tunnel, which a vtund peer can choke on (docs/vtun-protocol.md §6.5)
    const shell = toShell(ctx, cmd);
    ctx.d.hooks.push({ key: 'Up', value: shell });
    ctx.note(cmd.line, `${describe(cmd)} kept as Up = ${shell} (it keeps IPv6 traffic off the tunnel; remove it if you want IPv6 there)`);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------- shell conversion

/** A vtund command as a /bin/sh command line, with %-tokens replaced by tund's hook variables. */
function toShell(ctx: CommandContext, cmd: VtundCommand): string {
  const prog = programOf(ctx, cmd);
  if (cmd.kind === 'program' && cmd.path === null) {
    // program "ARGS": vtund runs /bin/sh -c ARGS, so ARGS is already a shell command
    return substituteInShell(cmd.args ?? '');
  }
  return [shellWord(ctx, prog), ...tokensOf(cmd).map((a) => shellWord(ctx, a))].join(' ');
}

const SAFE = /^[A-Za-z0-9_@%+=:,./-]+$/;

function quoteLiteral(s: string): string {
  if (s === '') return '';
  return SAFE.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** One argument as a shell word: literal parts quoted, %X as "${TUND_...}". */
function shellWord(_ctx: CommandContext, arg: string): string {
  if (arg === '') return "''";
  let out = '';
  let lit = '';
  for (let i = 0; i < arg.length; i++) {
    const c = arg[i]!;
    if (c === '%' && i + 1 < arg.length) {
      const n = arg[++i]!;
      const v = n === '%' ? HOOK_VARIABLES.d : HOOK_VARIABLES[n];
      if (v) {
        out += quoteLiteral(lit) + `"\${${v}}"`;
        lit = '';
      } else lit += n;
    } else lit += c;
  }
  return out + quoteLiteral(lit);
}

/** %-tokens inside a shell command string, quoted for where they stand. */
function substituteInShell(script: string): string {
  let out = '';
  let quote: '' | "'" | '"' = '';
  for (let i = 0; i < script.length; i++) {
    const c = script[i]!;
    if (c === '%' && i + 1 < script.length) {
      const n = script[++i]!;
      const v = n === '%' ? HOOK_VARIABLES.d : HOOK_VARIABLES[n];
      if (!v) {
        out += n;
        continue;
      }
      out += quote === "'" ? `'"\${${v}}"'` : quote === '"' ? `\${${v}}` : `"\${${v}}"`;
      continue;
    }
    if (c === '\\' && quote !== "'" && i + 1 < script.length) {
      out += c + script[++i];
      continue;
    }
    if (c === "'" && quote !== '"') quote = quote === "'" ? '' : "'";
    else if (c === '"' && quote !== "'") quote = quote === '"' ? '' : '"';
    out += c;
  }
  return out;
}

// ---------------------------------------------------------------- addresses

function normalizeAddress(text: string): string | null {
  const [a, len] = text.split('/') as [string, string | undefined];
  const fam = net.isIP(a);
  if (fam === 0) return null;
  const max = fam === 4 ? 32 : 128;
  if (len === undefined) return `${a}/${max}`;
  if (!/^\d+$/.test(len) || Number(len) > max) return null;
  return `${a}/${Number(len)}`;
}

function normalizePrefix(text: string): string | null {
  return normalizeAddress(text);
}

function maskLength(mask: string): number | null {
  if (!net.isIPv4(mask)) return null;
  const n = mask.split('.').reduce((acc, o) => acc * 256 + Number(o), 0);
  const bits = n.toString(2).padStart(32, '0');
  if (!/^1*0*$/.test(bits)) return null;
  return bits.indexOf('0') < 0 ? 32 : bits.indexOf('0');
}

function classfulLength(addr: string): number {
  const first = Number(addr.split('.')[0]);
  return first < 128 ? 8 : first < 192 ? 16 : 24;
}

// ---------------------------------------------------------------- writing

export interface WriteOutcome {
  name: string;
  conf: string;
  secret: string;
  /** null when written; otherwise why not */
  error: string | null;
}

/**
 * Writes NAME.conf and NAME.secret (both 0600) into dir. Without force, a session whose files
 * already exist is left alone (error), so nothing is ever lost; with force they are replaced
 * atomically.
 */
export async function writeImportedSession(dir: string, s: ImportedSession, force: boolean): Promise<WriteOutcome> {
  const conf = path.join(dir, `${s.name}.conf`);
  const secret = path.join(dir, `${s.name}.secret`);
  const outcome: WriteOutcome = { name: s.name, conf, secret, error: null };
  if (s.conf === null) throw new Error('writeImportedSession: session has errors');
  if (!force) {
    const existing: string[] = [];
    for (const f of [conf, secret]) {
      try {
        await fs.lstat(f);
        existing.push(f);
      } catch (error) {
        if (errnoOf(error) !== 'ENOENT') throw error;
      }
    }
    if (existing.length > 0) {
      outcome.error = `${existing.join(' and ')} already exist${existing.length === 1 ? 's' : ''}; not overwritten (use --force to replace)`;
      return outcome;
    }
  }
  await fs.mkdir(dir, { recursive: true, mode: 0o700 });
  // secret first: a conf without its secret would fail to start, a secret alone is harmless
  const secretOk = await writeFile0600(secret, Buffer.from(`${s.secret}\n`), force);
  if (!secretOk) {
    outcome.error = `${secret} appeared while importing; not overwritten (use --force to replace)`;
    return outcome;
  }
  const confOk = await writeFile0600(conf, Buffer.from(s.conf), force);
  if (!confOk) outcome.error = `${conf} appeared while importing; not overwritten (use --force to replace)`;
  return outcome;
}
