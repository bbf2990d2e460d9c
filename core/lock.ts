// One lock file primitive for every lock tund takes: the one-instance lock of a session
// (runDir()/NAME.lock), VTun's Multi lock per HOST (runDir()/lock/HOST) and the route state lock
// (runDir()/routes/NAME.lock). The lock is flock(2) on the open file: the kernel drops it when the
// holder exits, however it exits, so there is no stale lock to guess about and nobody ever deletes
// a lock someone else holds. The holder's PID is written into the file for messages only.
//
// The file is removed by its holder on release, while still locked. Someone who opened the old
// file before that and then got the lock holds a lock on a file that is gone; so after locking we
// check that the path still names the file we locked, and start over when it does not.
import fs from 'node:fs';
import path from 'node:path';
import { native } from '../native/index.js';
import { giveRunFile, makeRunDirectory, runFileOwner } from './auth/account.js';

export interface HeldLock {
  readonly file: string;
  /** Remove the file and drop the lock (idempotent). */
  release(): void;
}

/** Someone else holds the lock; their PID as they wrote it (null when not written yet or unreadable). */
export interface LockBusy {
  busy: true;
  holder: number | null;
}

export type LockAttempt = HeldLock | LockBusy;

export function isBusy(attempt: LockAttempt): attempt is LockBusy {
  return (attempt as LockBusy).busy === true;
}

function readHolder(fd: number): number | null {
  try {
    const buf = Buffer.alloc(32);
    const n = fs.readSync(fd, buf, 0, buf.length, 0);
    const pid = Number(buf.subarray(0, n).toString('utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : null;
  } catch {
    return null;
  }
}

function sameFile(fd: number, file: string): boolean {
  try {
    const held = fs.fstatSync(fd);
    const named = fs.statSync(file);
    return held.ino === named.ino && held.dev === named.dev;
  } catch {
    return false;
  }
}

/** One attempt, never waits: the lock, or who holds it. Throws on a file that cannot be made. */
export function tryLock(file: string, pid = process.pid): LockAttempt {
  makeRunDirectory(path.dirname(file));
  const addon = native();
  // root's locks in a run directory that belongs to the service account go to that account: a
  // lock file left by a root tunroute that was killed must not shut the session out
  const owner = runFileOwner(file);
  for (;;) {
    const fd = fs.openSync(file, fs.constants.O_RDWR | fs.constants.O_CREAT | fs.constants.O_NOFOLLOW, 0o600);
    giveRunFile(fd, owner);
    let locked = false;
    try {
      locked = addon.lockFile(fd, true);
    } catch (error) {
      fs.closeSync(fd);
      throw error;
    }
    if (!locked) {
      const holder = readHolder(fd);
      fs.closeSync(fd);
      return { busy: true, holder };
    }
    if (!sameFile(fd, file)) {
      fs.closeSync(fd); // the previous holder removed it meanwhile: lock the new one
      continue;
    }
    fs.ftruncateSync(fd, 0);
    fs.writeSync(fd, `${pid}\n`, 0);
    let held = true;
    return {
      file,
      release() {
        if (!held) return;
        held = false;
        try {
          if (sameFile(fd, file)) fs.unlinkSync(file);
        } catch {
          // gone already
        }
        fs.closeSync(fd); // closing drops the flock
      },
    };
  }
}

/** Waits for the lock up to timeoutMs (polling every pollMs); the last LockBusy when it stays taken. */
export async function lockWithin(file: string, timeoutMs: number, pollMs = 50): Promise<LockAttempt> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const attempt = tryLock(file);
    if (!isBusy(attempt) || Date.now() >= deadline) return attempt;
    await new Promise((r) => setTimeout(r, Math.min(pollMs, Math.max(1, deadline - Date.now()))));
  }
}
