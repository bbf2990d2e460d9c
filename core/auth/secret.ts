// Session secrets (the VTun password): one file per session, mode 0600, owned by root or by the
// service account (core/auth/account.ts) that tund@.service runs as, written atomically under umask 077. The secret is never on argv and never printed or logged.
//
// File format: the secret, then a newline. Readers take the file's content without one trailing
// "\n" (or "\r\n"), so `printf 'pw\n' > NAME.secret` and `printf pw > NAME.secret` are the same.
import fs from 'node:fs';
import path from 'node:path';
import { randomBytes } from '../crypto.js';
import { errnoOf, isPermissionErrno, PermissionFailure, TundError } from '../errors.js';
import { configFileOwner, SERVICE_USER, serviceAccount } from './account.js';


/**
 * Writes `secret` + "\n" to `file` atomically: a temporary file in the same directory created
 * with mode 0600 under umask 077, fsync, rename over the target, fsync of the directory.
 */
export function writeSecretFile(file: string, secret: Buffer): void {
  const dir = path.dirname(file);
  const oldMask = process.umask(0o077);
  const tmp = path.join(dir, `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  let fd: number | undefined;
  try {
    fs.mkdirSync(dir, { recursive: true, mode: 0o700 });
    fd = fs.openSync(tmp, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL | fs.constants.O_NOFOLLOW, 0o600);
    fs.fchmodSync(fd, 0o600);
    const owner = configFileOwner(file);
    if (owner) fs.fchownSync(fd, owner.uid, owner.gid);
    const body = Buffer.concat([secret, Buffer.from('\n')]);
    let off = 0;
    while (off < body.length) off += fs.writeSync(fd, body, off, body.length - off);
    body.fill(0);
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, file);
    try {
      const dfd = fs.openSync(dir, 'r');
      try {
        fs.fsyncSync(dfd);
      } finally {
        fs.closeSync(dfd);
      }
    } catch {
      // a directory fsync is best effort (some filesystems refuse it)
    }
  } catch (error) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    const code = errnoOf(error);
    if (isPermissionErrno(code)) {
      throw new PermissionFailure(`cannot write the secret file "${file}" (${code})`, 'run as root', error);
    }
    throw new TundError(`cannot write the secret file "${file}" (${code ?? String(error)})`, { cause: error });
  } finally {
    process.umask(oldMask);
  }
}

export interface SecretProblem {
  session: string;
  file: string;
  kind: 'missing' | 'unreadable' | 'symlink' | 'not_regular' | 'empty' | 'mode' | 'owner';
  /** starts with "secret file" or "no secret file", so it reads well after the path */
  message: string;
  /** The exact command that fixes it. */
  fix: string;
}

/** Shell quoting for the fix commands we print (only when needed). */
export function shellQuote(s: string): string {
  return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/** The users a secret file may belong to: root, the service account, and the user tund (or the tool) runs as. */
function allowedOwners(): { uid: number; name: string }[] {
  const me = process.getuid?.() ?? 0;
  const owners = [{ uid: 0, name: 'root' }];
  const service = serviceAccount();
  if (service && service.uid !== 0) owners.push({ uid: service.uid, name: SERVICE_USER });
  if (!owners.some((o) => o.uid === me)) owners.push({ uid: me, name: `uid ${me}` });
  return owners;
}

/**
 * The one rule for a secret file, shared by `tund check`, `tunauth check` and the session itself:
 * a regular file (not a symbolic link), not empty, mode 0600 or stricter, owned by root or by the
 * user that runs us. `st` is an lstat() of the path, or the fstat() of a descriptor opened with
 * O_NOFOLLOW. `remake` is the command that writes a new one (a VTun password by default; a
 * WireGuard key file says `tunauth genkey --output FILE`). Empty list: fine.
 */
export function secretStatProblems(session: string, file: string, st: fs.Stats, { remake = `tunauth passwd ${shellQuote(session)}` } = {}): SecretProblem[] {
  const passwd = remake;
  const problem = (kind: SecretProblem['kind'], message: string, fix: string): SecretProblem => ({ session, file, kind, message, fix });
  if (st.isSymbolicLink()) return [problem('symlink', 'secret file is a symbolic link (expected a regular file)', `rm ${shellQuote(file)} && ${passwd}`)];
  if (!st.isFile()) return [problem('not_regular', 'secret file is not a regular file', `rm -r ${shellQuote(file)} && ${passwd}`)];
  const problems: SecretProblem[] = [];
  if (st.size === 0) problems.push(problem('empty', 'secret file is empty', passwd));
  const mode = st.mode & 0o7777;
  if (mode & 0o077) {
    const who = mode & 0o007 ? 'others' : 'the group';
    const can = mode & 0o022 ? (mode & 0o044 ? 'readable and writable' : 'writable') : mode & 0o044 ? 'readable' : 'accessible';
    problems.push(problem('mode', `secret file is ${can} by ${who} (mode ${mode.toString(8).padStart(4, '0')}; expected 0600)`, `chmod 600 ${shellQuote(file)}`));
  }
  const owners = allowedOwners();
  if (!owners.some((o) => o.uid === st.uid)) {
    // the service account when there is one: tund@.service reads the file as that user
    const to = owners.find((o) => o.name === SERVICE_USER)?.name ?? 'root';
    problems.push(problem('owner', `secret file is owned by uid ${st.uid} (expected ${owners.map((o) => o.name).join(' or ')})`, `chown ${to}: ${shellQuote(file)}`));
  }
  return problems;
}

/** Everything wrong with one session's secret file, from the path (empty list: fine). */
export function checkSecretFile(session: string, file: string): SecretProblem[] {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(file);
  } catch (error) {
    const code = errnoOf(error);
    if (code === 'ENOENT') return [{ session, file, kind: 'missing', message: 'no secret file', fix: `tunauth passwd ${shellQuote(session)}` }];
    return [{ session, file, kind: 'unreadable', message: `cannot inspect the secret file (${code ?? String(error)})`, fix: 'run "tunauth check" as root' }];
  }
  return secretStatProblems(session, file, st);
}
