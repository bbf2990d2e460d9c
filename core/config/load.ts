// Reading session files from disk: /etc/tund/NAME.conf (TUND_CONFIG_DIR), the secret file, and the
// list of sessions. Problems are ConfigFailure (exit 78) with `file:line:` messages.
import { constants as fsc, promises as fs, type Stats } from 'node:fs';
import path from 'node:path';
import { ConfigFailure, UsageFailure, errnoOf, type ConfigProblem } from '../errors.js';
import { configDir, sessionConfigPath } from '../paths.js';
import { NAME_PATTERN, checkName, nameProblem } from '../names.js';
import { isWgQuickText, parseWgQuick } from '../wireguard/conf.js';
import { sessionConfigFromWgQuick, wgSecret } from '../wireguard/session-config.js';
import { parseSessionConfig, type ParseResult } from './parse.js';
import { secretStatProblems } from '../auth/secret.js';
import { unreadableFileHint } from '../auth/account.js';
import type { SessionConfig } from './types.js';

/** A ConfigFailure that also carries the warnings found on the way (print them before the problems). */
export class ConfigLoadFailure extends ConfigFailure {
  readonly warnings: ConfigProblem[];

  constructor(problems: ConfigProblem[], warnings: ConfigProblem[], hint?: string) {
    super(problems, hint);
    this.warnings = warnings;
  }
}

export interface LoadedConfig {
  config: SessionConfig;
  warnings: ConfigProblem[];
}

export interface ConfigText {
  text: string;
  /** "readable or writable by group/others" when the mode is looser than 0600 (a warning). */
  modeWarning: ConfigProblem | null;
  /** the file's fstat(), for a caller that finds a secret written in it */
  stat: Stats;
}

/**
 * Reads a session file as text (any protocol's): a regular file, readable, with a warning when
 * group or others may read or write it. Problems are ConfigFailure (78) naming the file.
 */
export async function readConfigText(file: string): Promise<ConfigText> {
  let text: string;
  let mode: number;
  let stat: Stats;
  try {
    const handle = await fs.open(file, 'r');
    try {
      const st = await handle.stat();
      if (!st.isFile()) throw new ConfigFailure([{ file, line: 0, message: 'not a regular file' }]);
      mode = st.mode;
      stat = st;
      text = await handle.readFile('utf8');
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof ConfigFailure) throw error;
    const code = errnoOf(error);
    if (code === 'ENOENT') {
      throw new ConfigFailure([{ file, line: 0, message: `no such session (expected ${file})` }], `create it, or import one with "tund import-vtun /etc/vtund.conf"`);
    }
    if (code === 'EACCES' || code === 'EPERM') {
      throw new ConfigFailure([{ file, line: 0, message: 'cannot read the file (permission denied)' }], unreadableFileHint(file));
    }
    throw new ConfigFailure([{ file, line: 0, message: `cannot read the file (${code ?? String(error)})` }]);
  }
  const modeWarning =
    (mode & 0o077) !== 0
      ? { file, line: 0, message: `readable or writable by group/others (mode ${octal(mode)}; expected 0600: run "chmod 600 ${file}")` }
      : null;
  return { text, modeWarning, stat };
}

/** A session file's text as a SessionConfig: tund.conf(5), or a wg-quick file (an [Interface] section). */
export function parseAnySessionConfig(text: string, file: string, name: string): ParseResult {
  if (!isWgQuickText(text)) return parseSessionConfig(text, file, name);
  const wg = parseWgQuick(text, file, name);
  const nameIssue = nameProblem(name);
  const problems = [...wg.problems];
  if (nameIssue) problems.unshift({ file, line: 0, message: `session name ${JSON.stringify(name)} ${nameIssue} (expected 1-15 letters, digits or _ = + . -)` });
  if (!wg.config || problems.length > 0) return { config: null, problems, warnings: wg.warnings };
  const derived = sessionConfigFromWgQuick(wg.config);
  return { config: derived.config, problems: derived.problems, warnings: wg.warnings };
}

/** Reads and validates FILE as session NAME (NAME defaults to the file stem). */
export async function loadSessionConfigFile(file: string, name = path.basename(file).replace(/\.conf$/, '')): Promise<LoadedConfig> {
  const { text, modeWarning } = await readConfigText(file);
  const result = parseAnySessionConfig(text, file, name);
  const warnings: ConfigProblem[] = modeWarning ? [modeWarning] : [];
  warnings.push(...result.warnings);
  if (!result.config) throw new ConfigLoadFailure(result.problems, warnings);
  return { config: result.config, warnings };
}

/** Reads and validates CONFIG_DIR/NAME.conf. An invalid NAME is a usage error (exit 2), never a path. */
export async function loadSessionConfig(name: string): Promise<LoadedConfig> {
  checkName(name, 'session');
  return loadSessionConfigFile(sessionConfigPath(name), name);
}

/**
 * The session of a command that takes NAME or `--file PATH` (exactly one): `tund check`,
 * `tund showconf`. Giving both or neither is a usage error naming the command.
 */
export async function loadSessionNamedOrFile(command: string, name: string | undefined, file: string | undefined): Promise<LoadedConfig> {
  if ((name === undefined) === (file === undefined)) {
    throw new UsageFailure(`${command}: give a session NAME or --file PATH (one of them)`, `run "tund ${command} NAME" or "tund ${command} --file PATH"`);
  }
  return file !== undefined ? loadSessionConfigFile(file) : loadSessionConfig(name!);
}

/** Names of the sessions configured in CONFIG_DIR (*.conf with a valid name), sorted. */
export async function listSessions(): Promise<string[]> {
  let entries: string[];
  try {
    entries = await fs.readdir(configDir());
  } catch (error) {
    if (errnoOf(error) === 'ENOENT' || errnoOf(error) === 'ENOTDIR') return [];
    throw error;
  }
  return entries
    .filter((f) => f.endsWith('.conf'))
    .map((f) => f.slice(0, -'.conf'.length))
    .filter((n) => NAME_PATTERN.test(n))
    .sort();
}

export interface SecretLocation {
  file: string;
  /** true when it comes from $CREDENTIALS_DIRECTORY (systemd LoadCredential) */
  credential: boolean;
}

/** Where the secret of this session is read from: $CREDENTIALS_DIRECTORY/NAME.secret when it exists. */
export async function locateSecret(config: SessionConfig): Promise<SecretLocation> {
  const credDir = process.env.CREDENTIALS_DIRECTORY;
  if (credDir) {
    const candidate = path.join(credDir, `${config.name}.secret`);
    try {
      await fs.access(candidate);
      return { file: candidate, credential: true };
    } catch {
      // fall back to SecretFile
    }
  }
  return { file: config.session.secretFile, credential: false };
}

export function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, '0')}`;
}

/**
 * The session's password (VTun shared secret). The file must pass the one secret-file rule
 * (core/auth/secret.ts: regular file, not a link, 0600, owned by root or us), the same that
 * `tunauth check` applies; one trailing newline is stripped. The secret itself never appears in
 * any message.
 */
/** VTun always has a password; vpn-ws only for a client's HTTP basic auth (User =). */
export function needsSecret(config: SessionConfig): boolean {
  if (config.session.protocol !== 'vpn-ws') return true;
  return config.session.role === 'client' && config.session.vpnws.user !== null;
}

export async function readSecret(config: SessionConfig): Promise<Buffer> {
  if (config.wireguard) return wgSecret(config);
  if (!needsSecret(config)) return Buffer.alloc(0);
  const { file } = await locateSecret(config);
  return readSecretFile(config.name, file, {
    missing: `no secret file for session "${config.name}" (expected ${file})`,
    hint: `set the password with "tunauth passwd ${config.name}"`,
  });
}

/**
 * A secret file's content without its final line end: the one way tund reads a password (the
 * session's secret, an HTTP proxy's password). The file must pass the one secret-file rule
 * (core/auth/secret.ts); `missing` is the message when it does not exist or is empty, `hint`
 * how to make one. The secret never appears in any message.
 */
export async function readSecretFile(session: string, file: string, what: { missing: string; hint: string }): Promise<Buffer> {
  let data: Buffer;
  try {
    // O_NOFOLLOW, then the rule on what was opened: no window in which a link swapped in after a
    // check could point the daemon at another file
    let handle: fs.FileHandle;
    try {
      handle = await fs.open(file, fsc.O_RDONLY | fsc.O_NOFOLLOW);
    } catch (error) {
      if (errnoOf(error) !== 'ELOOP') throw error;
      const [link] = secretStatProblems(session, file, await fs.lstat(file));
      throw new ConfigFailure([{ file, line: 0, message: link!.message }], `run "${link!.fix}"`);
    }
    try {
      const problems = secretStatProblems(session, file, await handle.stat()).filter((p) => p.kind !== 'empty');
      if (problems.length > 0) throw new ConfigFailure(problems.map((p) => ({ file, line: 0, message: p.message })), `run "${problems[0]!.fix}"`);
      data = await handle.readFile();
    } finally {
      await handle.close();
    }
  } catch (error) {
    if (error instanceof ConfigFailure) throw error;
    const code = errnoOf(error);
    if (code === 'ENOENT') throw new ConfigFailure([{ file, line: 0, message: what.missing }], what.hint);
    if (code === 'EACCES' || code === 'EPERM') throw new ConfigFailure([{ file, line: 0, message: 'cannot read the secret file (permission denied)' }], unreadableFileHint(file));
    throw new ConfigFailure([{ file, line: 0, message: `cannot read the secret file (${code ?? 'error'})` }]);
  }
  let end = data.length;
  if (end > 0 && data[end - 1] === 0x0a) end--;
  if (end > 0 && data[end - 1] === 0x0d) end--;
  const secret = data.subarray(0, end);
  if (secret.length === 0) {
    data.fill(0);
    throw new ConfigFailure([{ file, line: 0, message: 'secret file is empty' }], what.hint);
  }
  const copy = Buffer.from(secret);
  data.fill(0);
  return copy;
}
