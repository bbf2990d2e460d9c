// Keys in and out of the key commands (tunauth genkey/pubkey/genpsk), as wg(8) does it: one base64
// key and a newline on stdout, a warning when stdout is a file others can read, keys read from
// stdin (never from argv). `--output FILE` writes the key atomically with mode 0600 instead.
import fs from 'node:fs';
import type { Readable, Writable } from 'node:stream';
import { readAll } from '../auth/prompt.js';
import { writeSecretFile } from '../auth/secret.js';
import { TundError } from '../errors.js';
import { keyFromText, keyToBase64 } from './keys.js';

/** Why a stdout file would expose a key: "readable by group and others", or null when fine. */
export function exposedStdout(fd = 1): string | null {
  let st: fs.Stats;
  try {
    st = fs.fstatSync(fd);
  } catch {
    return null;
  }
  if (!st.isFile()) return null;
  const who = [st.mode & 0o070 ? 'group' : '', st.mode & 0o007 ? 'others' : ''].filter(Boolean);
  return who.length ? `accessible by ${who.join(' and ')} (mode ${(st.mode & 0o777).toString(8).padStart(4, '0')})` : null;
}

/**
 * Writes a key: to `output` (0600, atomic) or to stdout. The key buffer is zeroed afterwards.
 * `warn` gets the stdout warning (hint included).
 */
export function emitKey(key: Buffer, stdout: Writable, output: string | undefined, warn: (message: string) => void): void {
  const text = Buffer.from(keyToBase64(key));
  try {
    if (output !== undefined) {
      writeSecretFile(output, text);
      return;
    }
    const exposed = exposedStdout();
    if (exposed) warn(`stdout is a file ${exposed}: the key is exposed\nhint: set "umask 077" first, or use --output FILE`);
    stdout.write(`${text.toString()}\n`);
  } finally {
    text.fill(0);
    key.fill(0);
  }
}

/** One base64 key from stdin (surrounding whitespace allowed). */
export async function readKeyFromStdin(stdin: Readable, what: string): Promise<Buffer> {
  const data = await readAll(stdin, 4096);
  try {
    const key = keyFromText(data.toString('latin1'));
    if (!key) throw new TundError(`${what} on stdin is not a WireGuard key (expected 44 characters of base64, as "wg genkey" prints)`);
    return key;
  } finally {
    data.fill(0);
  }
}
