// The service account helpers (core/auth/account.ts): reading a user from a passwd file, and who
// owns what root creates in the run directory when systemd gave that directory to the user tund.
import assert from 'node:assert/strict';
import { chownSync, mkdtempSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { configFileOwner, lookupAccount, makeRunDirectory, runFileOwner } from '../../core/auth/account.js';

let dir: string;
const saved = { run: process.env.TUND_RUN_DIR, cfg: process.env.TUND_CONFIG_DIR };
const asRoot = process.getuid?.() === 0;

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tund-account-'));
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  for (const [k, v] of [['TUND_RUN_DIR', saved.run], ['TUND_CONFIG_DIR', saved.cfg]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
});

describe('lookupAccount', () => {
  test('finds the uid and gid of a user; null for an unknown user, a broken line or no file', () => {
    const passwd = path.join(dir, 'passwd');
    writeFileSync(passwd, 'root:x:0:0:root:/root:/bin/bash\nbroken:x:abc:1::/:/bin/sh\ntund:x:998:997:tund VPN sessions:/:/usr/sbin/nologin\n');
    assert.deepEqual(lookupAccount('tund', passwd), { uid: 998, gid: 997 });
    assert.deepEqual(lookupAccount('root', passwd), { uid: 0, gid: 0 });
    assert.equal(lookupAccount('broken', passwd), null);
    assert.equal(lookupAccount('tun', passwd), null);
    assert.equal(lookupAccount('tund', path.join(dir, 'missing')), null);
  });
});

describe('run directory ownership', { skip: asRoot ? false : 'needs root (chown)' }, () => {
  test("root's new directories and files in a run directory that belongs to another user go to that user", () => {
    const run = path.join(dir, 'run-tund');
    mkdirSync(run);
    chownSync(run, 65534, 65534);
    process.env.TUND_RUN_DIR = run;
    assert.deepEqual(runFileOwner(path.join(run, 'routes', 'office.json')), { uid: 65534, gid: 65534 });
    makeRunDirectory(path.join(run, 'routes', 'deeper'));
    for (const d of ['routes', 'routes/deeper']) {
      const st = statSync(path.join(run, d));
      assert.equal(st.uid, 65534, d);
      assert.equal(st.gid, 65534, d);
    }
    // outside the run directory nothing is given away
    assert.equal(runFileOwner(path.join(dir, 'elsewhere')), null);
  });

  test("a run directory that is root's keeps root's files root's", () => {
    const run = path.join(dir, 'run-root');
    mkdirSync(run);
    process.env.TUND_RUN_DIR = run;
    assert.equal(runFileOwner(path.join(run, 'x.lock')), null);
    makeRunDirectory(path.join(run, 'routes'));
    assert.equal(statSync(path.join(run, 'routes')).uid, 0);
  });

  test('files root writes outside the config directory keep their owner', () => {
    process.env.TUND_CONFIG_DIR = path.join(dir, 'etc-tund');
    assert.equal(configFileOwner(path.join(dir, 'home', 'office.key')), null);
    assert.equal(configFileOwner(path.join(dir, 'etc-tund')), null);
  });
});
