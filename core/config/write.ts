// Writing session files (tund import-vtun, tund new, tund peer add): mode 0600 from birth, whole or
// not at all (a temporary file in the same directory, then a link or rename), never over a file
// that exists unless the caller replaces on purpose.
import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { errnoOf } from '../errors.js';
import { configFileOwner } from '../auth/account.js';

/**
 * Writes `data` to `file` with mode 0600, atomically: a temporary file, then link() (no
 * overwrite: false when `file` exists) or rename() (`replace`: the old content is swapped out).
 */
export async function writeFile0600(file: string, data: Buffer, replace: boolean): Promise<boolean> {
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const handle = await fs.open(tmp, fsc.O_WRONLY | fsc.O_CREAT | fsc.O_EXCL | fsc.O_NOFOLLOW, 0o600);
  try {
    await handle.chmod(0o600);
    // root writing into the config directory: the file is the service account's, which runs the
    // session under tund@.service (core/auth/account.ts)
    const owner = configFileOwner(file);
    if (owner) await handle.chown(owner.uid, owner.gid);
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    if (replace) {
      await fs.rename(tmp, file);
      return true;
    }
    try {
      await fs.link(tmp, file);
      return true;
    } catch (error) {
      if (errnoOf(error) === 'EEXIST') return false;
      throw error;
    }
  } finally {
    await fs.rm(tmp, { force: true });
  }
}
