// Value parsers shared by the tund.conf parser and the vtund.conf importer. Each returns the value
// or a problem phrased to follow `KEY "value" ...` (e.g. `out of range (576-65535)`).
import net from 'node:net';
import { MAC_EXAMPLE, parseEndpoint, parseMac, parsePrefix, type Prefix } from '../net.js';
import { nameProblem } from '../names.js';
import type { Compression, Keepalive, MultiPolicy, PersistPolicy, VtunCipherName } from './types.js';
import { closest } from './suggest.js';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

const ok = <T>(value: T): Parsed<T> => ({ ok: true, value });
const bad = <T = never>(problem: string): Parsed<T> => ({ ok: false, problem });

function expected(choices: readonly string[], value: string, aliasNote = ''): string {
  const guess = closest(value, choices);
  return `invalid (expected ${choices.join('|')}${aliasNote}${guess && guess !== value ? `; did you mean "${guess}"?` : ''})`;
}

export function parseEnum<T extends string>(value: string, choices: readonly T[], aliases: Record<string, T> = {}): Parsed<T> {
  const v = value.toLowerCase();
  if ((choices as readonly string[]).includes(v)) return ok(v as T);
  if (v in aliases) return ok(aliases[v]!);
  return bad(expected(choices, v));
}

const TRUE = ['yes', 'true', 'on', '1'];
const FALSE = ['no', 'false', 'off', '0'];

export function parseBool(value: string): Parsed<boolean> {
  const v = value.toLowerCase();
  if (TRUE.includes(v)) return ok(true);
  if (FALSE.includes(v)) return ok(false);
  return bad(expected(['yes', 'no'], v));
}

export function parseInteger(value: string, min: number, max: number): Parsed<number> {
  if (!/^\d+$/.test(value)) return bad(`is not a whole number (expected ${min}-${max})`);
  const n = Number(value);
  if (n < min || n > max) return bad(`out of range (${min}-${max})`);
  return ok(n);
}

export const TIMEOUT_RANGE = [1, 3600] as const;
/** MaxHandshakes, MaxHandshakesPerSource (tund.conf(5)). */
export const HANDSHAKE_LIMIT_RANGE = [1, 65535] as const;
export const SPEED_MAX = 10_000_000; // kbit/s
export const KEEPALIVE_INTERVAL_RANGE = [1, 3600] as const;
export const KEEPALIVE_COUNT_RANGE = [1, 1000] as const;
export const HOST_MAX = 41;
export const DEFAULT_PORT = 5000;

export const CIPHERS: readonly VtunCipherName[] = [
  'no',
  'oldblowfish128ecb',
  'blowfish128ecb', 'blowfish128cbc', 'blowfish128cfb', 'blowfish128ofb',
  'blowfish256ecb', 'blowfish256cbc', 'blowfish256cfb', 'blowfish256ofb',
  'aes128ecb', 'aes128cbc', 'aes128cfb', 'aes128ofb',
  'aes256ecb', 'aes256cbc', 'aes256cfb', 'aes256ofb',
];

export function parseCipher(value: string): Parsed<VtunCipherName> {
  const v = value.toLowerCase();
  if (v === 'yes') return ok('blowfish128ecb');
  if ((CIPHERS as readonly string[]).includes(v)) return ok(v as VtunCipherName);
  const guess = closest(v, [...CIPHERS, 'yes']);
  return bad(`invalid (expected no, yes or a cipher: oldblowfish128ecb, blowfish{128,256}{ecb,cbc,cfb,ofb}, aes{128,256}{ecb,cbc,cfb,ofb}${guess ? `; did you mean "${guess}"?` : ''})`);
}

export function parseCompression(value: string): Parsed<Compression> {
  const v = value.toLowerCase();
  if (FALSE.includes(v)) return ok({ kind: 'none' });
  if (v === 'yes' || v === 'zlib') return ok({ kind: 'zlib', level: 1 });
  if (v === 'lzo') return bad('needs a level (expected lzo:1-9)');
  const m = /^(zlib|lzo):(.*)$/.exec(v);
  if (!m) return bad(expected(['no', 'zlib:N', 'lzo:N'], v, ' with N 1-9'));
  const level = parseInteger(m[2]!, 1, 9);
  if (!level.ok) return bad(`level "${m[2]}" out of range (expected ${m[1]}:1-9)`);
  return ok({ kind: m[1] as 'zlib' | 'lzo', level: level.value });
}

export function parseKeepalive(value: string): Parsed<Keepalive> {
  const v = value.toLowerCase();
  if (TRUE.includes(v)) return ok({ enabled: true, interval: 30, count: 4 });
  if (FALSE.includes(v)) return ok({ enabled: false, interval: 30, count: 4 });
  const m = /^([^:]*):([^:]*)$/.exec(v);
  if (!m) return bad('invalid (expected no, yes or INTERVAL:COUNT such as 30:4)');
  const interval = parseInteger(m[1]!, ...KEEPALIVE_INTERVAL_RANGE);
  if (!interval.ok) return bad(`interval "${m[1]}" out of range (expected ${KEEPALIVE_INTERVAL_RANGE.join('-')} seconds)`);
  const count = parseInteger(m[2]!, ...KEEPALIVE_COUNT_RANGE);
  if (!count.ok) return bad(`count "${m[2]}" out of range (expected ${KEEPALIVE_COUNT_RANGE.join('-')})`);
  return ok({ enabled: true, interval: interval.value, count: count.value });
}

export function parsePersist(value: string): Parsed<PersistPolicy> {
  return parseEnum(value, ['no', 'yes', 'keep'] as const);
}

export function parseMulti(value: string): Parsed<MultiPolicy> {
  return parseEnum(value, ['yes', 'no', 'killold'] as const, { allow: 'yes', deny: 'no' });
}

export function parseSpeed(value: string): Parsed<{ out: number; in: number }> {
  const parts = value.split(':');
  if (parts.length > 2) return bad(`invalid (expected KBITS or OUT:IN, 0-${SPEED_MAX} kbit/s)`);
  const nums: number[] = [];
  for (const p of parts) {
    const what = parts.length > 1 ? `part "${p}" ` : '';
    if (!/^\d+$/.test(p)) return bad(`${what}is not a whole number (expected KBITS or OUT:IN, 0-${SPEED_MAX} kbit/s)`);
    if (Number(p) > SPEED_MAX) return bad(`${what}out of range (expected 0-${SPEED_MAX} kbit/s)`);
    nums.push(Number(p));
  }
  return ok({ out: nums[0]!, in: nums[1] ?? nums[0]! });
}

const HOSTNAME = /^(?=.{1,253}\.?$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?$/;

export function isHostname(text: string): boolean {
  return HOSTNAME.test(text);
}

export function parseHostPort(value: string, what: 'endpoint' | 'listen'): Parsed<{ host: string; port: number }> {
  if (what === 'listen' && /^\d+$/.test(value)) {
    const port = parseInteger(value, 1, 65535);
    return port.ok ? ok({ host: '0.0.0.0', port: port.value }) : bad('port out of range (expected 1-65535)');
  }
  const r = parseEndpoint(value, DEFAULT_PORT);
  const form = what === 'endpoint' ? 'HOST[:PORT], such as 198.18.0.2:5000' : 'ADDR[:PORT], such as 0.0.0.0:5000';
  if (!r.ok) return bad(`invalid: ${r.problem} (expected ${form})`);
  if (what === 'listen' && net.isIP(r.host) === 0) return bad(`invalid: "${r.host}" is not an IP address (expected ${form})`);
  if (what === 'endpoint' && net.isIP(r.host) === 0 && !isHostname(r.host)) {
    return bad(`invalid: "${r.host}" is not an IP address or host name (expected ${form})`);
  }
  return ok({ host: r.host, port: r.port });
}

export function parseVtunHost(value: string): Parsed<string> {
  if (value.length > HOST_MAX) return bad(`is ${value.length} characters long (expected 1-${HOST_MAX} characters)`);
  if (!/^[\x21-\x7e]+$/.test(value) || value.includes(':')) return bad('invalid (expected printable characters without spaces or ":")');
  return ok(value);
}

export function parseDeviceName(value: string): Parsed<string> {
  const p = nameProblem(value);
  return p ? bad(`${p} (expected 1-15 letters, digits or _ = + . -)`) : ok(value);
}

/** A prefix setting (Address, AllowedIPs, Exclude): the one prefix parser, with the config's wording. */
export function parsePrefixSetting(value: string): Parsed<Prefix> {
  const p = parsePrefix(value);
  if (!p.ok) return bad(`invalid: ${p.problem} (expected an address with prefix length such as 198.18.0.0/15)`);
  return ok(p);
}

export function parseMacValue(value: string): Parsed<string> {
  const r = parseMac(value);
  return r.ok ? ok(r.mac) : bad(`${r.problem} (expected a unicast Ethernet address such as ${MAC_EXAMPLE})`);
}

export function parseAddress(value: string): Parsed<string> {
  if (net.isIP(value) === 0) return bad('is not an IP address (expected an address such as 198.18.0.2, without prefix length)');
  return ok(value);
}

export function parseDomain(value: string): Parsed<string> {
  if (value === '~.' || value === '~') return ok('~.');
  const name = value.startsWith('~') ? value.slice(1) : value;
  if (!isHostname(name)) return bad('is not a domain name (expected a name such as corp.example, or ~corp.example for a routing-only domain)');
  return ok(value);
}

export function parseTable(value: string): Parsed<'auto' | 'off' | number> {
  const v = value.toLowerCase();
  if (v === 'auto' || v === 'off') return ok(v);
  if (!/^\d+$/.test(v)) return bad(expected(['auto', 'off', 'N'], v, ' with N 1-4294967294 but not 253-255'));
  const n = Number(v);
  if (n < 1 || n > 4294967294 || (n >= 253 && n <= 255)) return bad('out of range (expected 1-252 or 256-4294967294; 253-255 are the default/main/local tables)');
  return ok(n);
}
