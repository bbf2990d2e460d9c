// The VTun `OK FLAGS: <...>` string (docs/vtun-protocol.md §5): built by the server from its
// session config in the exact order vtund emits, parsed by the client with vtund's rules.
import type { SessionDeviceKind } from '../session/device.js';
import type { Compression, SessionConfig, Transport, VtunCipherName } from '../config/types.js';

export type VtunType = 'tty' | 'pipe' | 'ether' | 'tun';

export interface VtunFlags {
  transport: Transport;
  type: VtunType;
  compression: Compression;
  /** 0 none, 999 legacy Blowfish (bare "E"), 1..16 the cipher table of docs/vtun-protocol.md §10.2. */
  cipher: number;
  keepalive: boolean;
  /** kbit/s the client may send (S<n>); 0 = no shaping. */
  speed: number;
}

/** Cipher names -> numbers (docs/vtun-protocol.md §10.2). `yes` is blowfish128ecb (1). */
export const CIPHER_NUMBERS: Record<VtunCipherName, number> = {
  no: 0,
  oldblowfish128ecb: 999,
  blowfish128ecb: 1,
  blowfish128cbc: 2,
  blowfish128cfb: 3,
  blowfish128ofb: 4,
  blowfish256ecb: 5,
  blowfish256cbc: 6,
  blowfish256cfb: 7,
  blowfish256ofb: 8,
  aes128ecb: 9,
  aes128cbc: 10,
  aes128cfb: 11,
  aes128ofb: 12,
  aes256ecb: 13,
  aes256cbc: 14,
  aes256cfb: 15,
  aes256ofb: 16,
};

export function cipherName(n: number): VtunCipherName | 'unknown' {
  for (const [name, value] of Object.entries(CIPHER_NUMBERS)) if (value === n) return name as VtunCipherName;
  return 'unknown';
}

/** Key length of a cipher number: 32 for the *256* ciphers, else 16; 0 for none. */
export function cipherKeyLength(n: number): number {
  if (n === 0) return 0;
  return (n >= 5 && n <= 8) || (n >= 13 && n <= 16) ? 32 : 16;
}

const TYPE_CHAR: Record<VtunType, string> = { tty: 't', pipe: 'p', ether: 'e', tun: 'u' };

/** vtund's order: transport, type, S, C|L, K, E (docs/vtun-protocol.md §5.1). */
export function buildFlags(f: VtunFlags): string {
  let s = f.transport === 'udp' ? 'U' : 'T';
  s += TYPE_CHAR[f.type];
  if (f.speed > 0) s += `S${f.speed}`;
  if (f.compression.kind === 'zlib') s += `C${f.compression.level}`;
  else if (f.compression.kind === 'lzo') s += `L${f.compression.level}`;
  if (f.keepalive) s += 'K';
  if (f.cipher === 999) s += 'E';
  else if (f.cipher > 0) s += `E${f.cipher}`;
  return `<${s}>`;
}

export class FlagsError extends Error {}

/**
 * Parses a flags string as vtund's client does (docs/vtun-protocol.md §5.2): skip to the first "<", read until ">".
 * Starts from the defaults vtund uses before applying flags (tcp, tty, nothing else).
 */
export function parseFlags(text: string): VtunFlags {
  const start = text.indexOf('<');
  if (start < 0) throw new FlagsError('no "<" in the flags');
  const f: VtunFlags = { transport: 'tcp', type: 'tty', compression: { kind: 'none' }, cipher: 0, keepalive: false, speed: 0 };
  let i = start + 1;
  // vtund reads these numbers into a C int: anything larger is not a value a server means
  const num = (): number | null => {
    const m = /^\d+/.exec(text.slice(i));
    if (!m) return null;
    i += m[0].length;
    const n = Number(m[0]);
    if (n > 2147483647) throw new FlagsError(`number "${m[0].length > 20 ? `${m[0].slice(0, 20)}...` : m[0]}" in the flags is too large`);
    return n;
  };
  for (;;) {
    if (i >= text.length) throw new FlagsError('missing ">" at the end of the flags');
    const c = text[i++]!;
    switch (c) {
      case '>':
        return f;
      case 'T': f.transport = 'tcp'; break;
      case 'U': f.transport = 'udp'; break;
      case 't': f.type = 'tty'; break;
      case 'p': f.type = 'pipe'; break;
      case 'e': f.type = 'ether'; break;
      case 'u': f.type = 'tun'; break;
      case 'K': f.keepalive = true; break;
      case 'F': break; // reserved, ignored
      case 'C': {
        const n = num();
        if (n === null) throw new FlagsError('"C" without a level');
        f.compression = { kind: 'zlib', level: n };
        break;
      }
      case 'L': {
        const n = num();
        if (n === null) throw new FlagsError('"L" without a level');
        f.compression = { kind: 'lzo', level: n };
        break;
      }
      case 'S': {
        const n = num();
        if (n === null) throw new FlagsError('"S" without a rate');
        f.speed = n;
        break;
      }
      case 'E': {
        const n = num();
        f.cipher = n === null || n === 0 ? 999 : n;
        break;
      }
      default:
        throw new FlagsError(`unexpected character "${c}" in the flags`);
    }
  }
}

/** The flags a server sends for one of its sessions (its own config decides everything). */
export function flagsFromConfig(config: SessionConfig): VtunFlags {
  const s = config.session;
  const mode = config.device.mode;
  return {
    transport: s.transport,
    type: mode === 'tap' ? 'ether' : mode,
    compression: s.compression.kind === 'none' ? { kind: 'none' } : { ...s.compression },
    cipher: CIPHER_NUMBERS[s.cipher] ?? 0,
    keepalive: s.keepalive.enabled,
    speed: s.speed.in,
  };
}

/** The session device a VTun type needs: tun, tap (ether), or a byte stream (pipe, tty). */
export function deviceKindFor(type: VtunType): SessionDeviceKind {
  if (type === 'tun') return 'tun';
  if (type === 'ether') return 'tap';
  return type; // pipe, tty: byte streams (core/session/stream-device.ts)
}

/** The flags decoded for people and for JSON (snake_case, every key present). */
export interface DecodedFlags {
  raw: string;
  transport: 'tcp' | 'udp';
  type: 'tty' | 'pipe' | 'ether' | 'tun';
  compression: 'none' | 'zlib' | 'lzo';
  compression_level: number | null;
  cipher: string;
  keepalive: boolean;
  /** kbit/s the client may send; null when the server sets no limit. */
  client_rate_kbps: number | null;
}

export function decodeFlags(f: VtunFlags, raw: string): DecodedFlags {
  const name = f.cipher === 0 ? 'no' : cipherName(f.cipher);
  return {
    raw,
    transport: f.transport,
    type: f.type,
    compression: f.compression.kind,
    compression_level: f.compression.kind === 'none' ? null : f.compression.level,
    cipher: name === 'unknown' ? `unknown (E${f.cipher})` : name,
    keepalive: f.keepalive,
    client_rate_kbps: f.speed > 0 ? f.speed : null,
  };
}

/** One line for people: "tcp, tun, no compression, no encryption, keepalive on". */
export function describeFlags(f: DecodedFlags): string {
  const parts = [
    f.transport,
    f.type === 'ether' ? 'ether (tap)' : f.type,
    f.compression === 'none' ? 'no compression' : `${f.compression} level ${f.compression_level}`,
    f.cipher === 'no' ? 'no encryption' : `cipher ${f.cipher}`,
    `keepalive ${f.keepalive ? 'on' : 'off'}`,
  ];
  if (f.client_rate_kbps !== null) parts.push(`client rate ${f.client_rate_kbps} kbit/s`);
  return parts.join(', ');
}

/** The flags text a session reports ("<TuL1KE10>") decoded, or null when it does not parse. */
export function decodeFlagsText(raw: string): DecodedFlags | null {
  try {
    return decodeFlags(parseFlags(raw), raw);
  } catch (error) {
    if (error instanceof FlagsError) return null;
    throw error;
  }
}
