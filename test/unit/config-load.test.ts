// Loading session files and secrets from disk (real temp files): missing files, modes, the
// $CREDENTIALS_DIRECTORY preference, listSessions, and that no message ever contains the secret.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdtempSync, mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, beforeEach, describe, test } from 'node:test';
import { ConfigFailure } from '../../core/errors.js';
import { ConfigLoadFailure, listSessions, loadSessionConfig, loadSessionConfigFile, readSecret } from '../../core/config/index.js';

const SECRET = 'S3cr3t-Do-Not-Print';
let dir: string;
const saved = { cfg: process.env.TUND_CONFIG_DIR, cred: process.env.CREDENTIALS_DIRECTORY };

function write(name: string, text: string, mode = 0o600): string {
  const f = path.join(dir, name);
  writeFileSync(f, text);
  chmodSync(f, mode);
  return f;
}

async function failure(p: Promise<unknown>): Promise<ConfigFailure> {
  try {
    await p;
  } catch (error) {
    assert.ok(error instanceof ConfigFailure, `expected ConfigFailure, got ${String(error)}`);
    assert.equal(error.exitCode, 78);
    assert.ok(!error.message.includes(SECRET) && !(error.hint ?? '').includes(SECRET), 'the secret leaked into a message');
    return error;
  }
  assert.fail('expected a failure');
}

before(() => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'tund-config-'));
});
beforeEach(() => {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  process.env.TUND_CONFIG_DIR = dir;
  delete process.env.CREDENTIALS_DIRECTORY;
});
after(() => {
  rmSync(dir, { recursive: true, force: true });
  if (saved.cfg === undefined) delete process.env.TUND_CONFIG_DIR;
  else process.env.TUND_CONFIG_DIR = saved.cfg;
  if (saved.cred === undefined) delete process.env.CREDENTIALS_DIRECTORY;
  else process.env.CREDENTIALS_DIRECTORY = saved.cred;
});

describe('loadSessionConfig', () => {
  test('reads CONFIG_DIR/NAME.conf', async () => {
    write('office.conf', '[Session]\nRole = client\nEndpoint = 198.18.0.2\n');
    const { config, warnings } = await loadSessionConfig('office');
    assert.deepEqual(warnings, []);
    assert.equal(config.file, path.join(dir, 'office.conf'));
    assert.equal(config.session.secretFile, path.join(dir, 'office.secret'));
  });
  test('missing file: no such session, exit 78, with the expected path', async () => {
    const e = await failure(loadSessionConfig('nope'));
    const f = path.join(dir, 'nope.conf');
    assert.equal(e.message, `${f}: no such session (expected ${f})`);
  });
  test('readable by group/others: a warning, not a failure', async () => {
    write('office.conf', '[Session]\nRole = server\n', 0o644);
    const { warnings } = await loadSessionConfig('office');
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.line, 0);
    assert.match(warnings[0]!.message, /mode 0644; expected 0600: run "chmod 600 /);
  });
  test('all problems at once, as file:line, with the warnings kept', async () => {
    write('office.conf', '[Session]\nRole = client\nTimeout = 0\n[Device]\nMTU = 1\n', 0o640);
    const e = await failure(loadSessionConfig('office'));
    const f = path.join(dir, 'office.conf');
    assert.deepEqual(e.message.split('\n'), [
      `${f}:2: Role = client needs an Endpoint in [Session] (expected HOST[:PORT], such as 198.18.0.2:5000)`,
      `${f}:3: Timeout "0" out of range (1-3600)`,
      `${f}:5: MTU "1" out of range (576-65535)`,
    ]);
    assert.ok(e instanceof ConfigLoadFailure);
    assert.equal(e.warnings.length, 1);
  });
  test('an invalid NAME is a usage error (exit 2) and never becomes a path', async () => {
    await assert.rejects(loadSessionConfig('../etc/x'), (e: Error & { exitCode?: number }) => e.exitCode === 2 && /invalid session name/.test(e.message));
  });
  test('loadSessionConfigFile takes NAME from the file name', async () => {
    const f = write('lab.conf', '[Session]\nRole = server\n');
    const { config } = await loadSessionConfigFile(f);
    assert.equal(config.name, 'lab');
    assert.equal(config.device.name, 'lab');
  });
});

describe('listSessions', () => {
  test('names of *.conf with valid names, sorted', async () => {
    write('b.conf', '');
    write('a.conf', '');
    write('a.secret', '');
    write('not-a-valid-session-name.conf', '');
    write('notes.txt', '');
    assert.deepEqual(await listSessions(), ['a', 'b']);
  });
  test('no directory: empty list', async () => {
    process.env.TUND_CONFIG_DIR = path.join(dir, 'missing');
    assert.deepEqual(await listSessions(), []);
  });
});

describe('readSecret', () => {
  async function config() {
    write('office.conf', '[Session]\nRole = server\n');
    return (await loadSessionConfig('office')).config;
  }
  test('strips exactly one trailing newline', async () => {
    const c = await config();
    write('office.secret', `${SECRET}\n`);
    assert.equal((await readSecret(c)).toString(), SECRET);
    write('office.secret', `${SECRET}\n\n`);
    assert.equal((await readSecret(c)).toString(), `${SECRET}\n`);
    write('office.secret', `${SECRET}\r\n`);
    assert.equal((await readSecret(c)).toString(), SECRET);
    write('office.secret', SECRET);
    assert.equal((await readSecret(c)).toString(), SECRET);
  });
  for (const mode of [0o640, 0o604, 0o620, 0o602, 0o644, 0o666]) {
    test(`refuses mode 0${mode.toString(8)} with the chmod fix`, async () => {
      const c = await config();
      const f = write('office.secret', `${SECRET}\n`, mode);
      const e = await failure(readSecret(c));
      assert.match(e.message, new RegExp(`^${f}: secret file is (readable|writable|readable and writable) by (the group|others) \\(mode 0${mode.toString(8)}; expected 0600\\)$`));
      assert.equal(e.hint, `run "chmod 600 ${f}"`);
    });
  }
  test('refuses a symbolic link, as tunauth check does', async () => {
    const c = await config();
    const real = write('real.secret', `${SECRET}\n`);
    symlinkSync(real, path.join(dir, 'office.secret'));
    const e = await failure(readSecret(c));
    assert.match(e.message, /office\.secret: secret file is a symbolic link \(expected a regular file\)$/);
    assert.match(e.hint ?? '', /^run "rm .*office\.secret && tunauth passwd office"$/);
  });
  test('refuses a file owned by another user (as root: only root may own it)', { skip: process.getuid?.() !== 0 }, async () => {
    const c = await config();
    const f = write('office.secret', `${SECRET}\n`);
    chownSync(f, 1234, 1234);
    const e = await failure(readSecret(c));
    assert.equal(e.message, `${f}: secret file is owned by uid 1234 (expected root)`);
    assert.equal(e.hint, `run "chown root: ${f}"`);
  });
  test('accepts 0400', async () => {
    const c = await config();
    write('office.secret', `${SECRET}\n`, 0o400);
    assert.equal((await readSecret(c)).toString(), SECRET);
  });
  test('missing: exit 78 with the tunauth hint', async () => {
    const c = await config();
    const e = await failure(readSecret(c));
    assert.match(e.message, /no secret file for session "office" \(expected .*office\.secret\)$/);
    assert.equal(e.hint, 'set the password with "tunauth passwd office"');
  });
  test('empty secret is refused', async () => {
    const c = await config();
    write('office.secret', '\n');
    const e = await failure(readSecret(c));
    assert.match(e.message, /secret file is empty$/);
  });
  test('SecretFile relative to the config directory', async () => {
    write('office.conf', '[Session]\nRole = server\nSecretFile = keys/office.pw\n');
    mkdirSync(path.join(dir, 'keys'));
    write('keys/office.pw', `${SECRET}\n`);
    const { config: c } = await loadSessionConfig('office');
    assert.equal((await readSecret(c)).toString(), SECRET);
  });
  test('$CREDENTIALS_DIRECTORY/NAME.secret is preferred when it exists', async () => {
    const c = await config();
    write('office.secret', 'from-config-dir\n');
    const cred = path.join(dir, 'creds');
    mkdirSync(cred);
    process.env.CREDENTIALS_DIRECTORY = cred;
    assert.equal((await readSecret(c)).toString(), 'from-config-dir', 'falls back when the credential is absent');
    writeFileSync(path.join(cred, 'office.secret'), 'from-credential\n', { mode: 0o400 });
    assert.equal((await readSecret(c)).toString(), 'from-credential');
  });
});
