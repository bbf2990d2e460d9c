// The service account: tund@.service runs sessions as the system user "tund" (User=, created by
// `make install` from units/tund.sysusers), not as root. Its files - session files and secrets in
// the config directory, its state in the run directory - belong to it, so that a session reads
// its own configuration on every reload without root (tund(8) Capabilities, docs/install.md).
import fs from 'node:fs';
import path from 'node:path';
import { configDir, runDir } from '../paths.js';

export const SERVICE_USER = 'tund';

export interface Account {
  uid: number;
  gid: number;
}

/** The uid and gid of a user named in /etc/passwd (where systemd-sysusers and useradd write system users). */
export function lookupAccount(name: string, passwdFile = '/etc/passwd'): Account | null {
  let text: string;
  try {
    text = fs.readFileSync(passwdFile, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f[0] === name && /^\d+$/.test(f[2] ?? '') && /^\d+$/.test(f[3] ?? '')) return { uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

/** The service account, or null on a system without one (tund then runs as root, as before). */
export function serviceAccount(): Account | null {
  return lookupAccount(SERVICE_USER);
}

function isRoot(): boolean {
  return (process.getuid?.() ?? 0) === 0;
}

function inside(dir: string, file: string): boolean {
  const rel = path.relative(path.resolve(dir), path.resolve(file));
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel);
}

/**
 * Who a file that root writes into the config directory should belong to: the service account,
 * so that the session it configures can read it (still mode 0600: nobody else can). null when
 * the file stays root's (not root, no service account, or a file elsewhere).
 */
export function configFileOwner(file: string): Account | null {
  if (!isRoot() || !inside(configDir(), file)) return null;
  return serviceAccount();
}

/**
 * Who a file or directory that root creates in the run directory should belong to: the owner of
 * the run directory when that is not root (systemd made /run/tund for User=tund), so that
 * `tunroute cleanup` run as root before a start leaves nothing the session cannot use.
 */
export function runFileOwner(file: string): Account | null {
  if (!isRoot() || !inside(runDir(), file)) return null;
  try {
    const st = fs.statSync(runDir());
    return st.uid === 0 ? null : { uid: st.uid, gid: st.gid };
  } catch {
    return null;
  }
}

/**
 * mkdir -p DIR; the directories it makes in the run directory go to the run directory's owner.
 * lchown, not chown: that owner may swap a directory root just made for a symbolic link, and
 * root must never give away what such a link points to.
 */
export function makeRunDirectory(dir: string, mode = 0o755): void {
  const first = fs.mkdirSync(dir, { recursive: true, mode });
  const owner = runFileOwner(dir);
  if (first === undefined || owner === null) return;
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    if (inside(runDir(), d)) fs.lchownSync(d, owner.uid, owner.gid);
    if (d === path.resolve(first) || d === path.dirname(d)) break;
  }
}

/**
 * Gives a file root has just opened in the run directory (O_NOFOLLOW) to OWNER, but only one that
 * root created itself (owned by root, one link): never a file someone else put there.
 */
export function giveRunFile(fd: number, owner: Account | null): void {
  if (owner === null) return;
  const st = fs.fstatSync(fd);
  if (st.uid === 0 && st.nlink === 1 && st.isFile()) fs.fchownSync(fd, owner.uid, owner.gid);
}

/**
 * The fix for a session file this process may not read: as the service account, the file is
 * root's and should be the account's (mode 0600 stays); as anyone else, run as root.
 */
export function unreadableFileHint(file: string): string {
  const me = process.getuid?.() ?? 0;
  const service = serviceAccount();
  if (service && me === service.uid) {
    return `run "chown ${SERVICE_USER}: ${file}" as root (the session runs as the user ${SERVICE_USER}; the file stays mode 0600)`;
  }
  return 'run as root, or as the user tund runs as';
}

/**
 * A warning for root's `tund check` when the service account could not read FILE (a file from a
 * version that ran sessions as root): tund@.service would fail on it. null when it can, when
 * there is no service account, or when we are not root (then we cannot tell for others).
 */
export function serviceReadWarning(file: string): string | null {
  if (!isRoot()) return null;
  const service = serviceAccount();
  if (!service || service.uid === 0) return null;
  let st: fs.Stats;
  try {
    st = fs.statSync(file);
  } catch {
    return null;
  }
  const readable = st.uid === service.uid ? (st.mode & 0o400) !== 0 : st.gid === service.gid ? (st.mode & 0o040) !== 0 : (st.mode & 0o004) !== 0;
  if (readable) return null;
  return `${file}: the user ${SERVICE_USER}, which tund@.service runs the session as, cannot read it; run "chown ${SERVICE_USER}: ${file}"`;
}
