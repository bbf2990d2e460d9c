// tunauth's core: secret files (atomic, 0600, content), their checks with fixing commands, one-line
// stdin secrets, and the decoding of the flags a VTun server sends.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, symlinkSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { checkSecretFile, shellQuote, writeSecretFile } from '../../core/auth/secret.js';
import { oneLine } from '../../core/auth/prompt.js';
import { decodeFlags, describeFlags } from '../../core/auth/probe.js';
import { parseFlags } from '../../core/vtun/flags.js';

const tmp = () => mkdtempSync(path.join(os.tmpdir(), 'tund-auth-'));

test('writeSecretFile: content plus newline, mode 0600 whatever the umask, no temporary left', () => {
  const dir = tmp();
  const file = path.join(dir, 'sub', 'office.secret');
  const old = process.umask(0o000);
  try {
    writeSecretFile(file, Buffer.from('pw 1'));
  } finally {
    process.umask(old);
  }
  assert.equal(readFileSync(file, 'utf8'), 'pw 1\n');
  assert.equal(statSync(file).mode & 0o777, 0o600);
  assert.equal(statSync(path.dirname(file)).mode & 0o077, 0);
  writeSecretFile(file, Buffer.from('second'));
  assert.equal(readFileSync(file, 'utf8'), 'second\n');
  assert.deepEqual(readdirSync(path.dirname(file)), ['office.secret']);
});

test('checkSecretFile: missing, empty, loose mode, symlink; each with its fix', () => {
  const dir = tmp();
  const f = path.join(dir, 'a.secret');
  assert.deepEqual(checkSecretFile('a', f).map((p) => [p.kind, p.fix]), [['missing', 'tunauth passwd a']]);
  writeFileSync(f, '');
  chmodSync(f, 0o600);
  const empty = checkSecretFile('a', f).filter((p) => p.kind !== 'owner');
  assert.deepEqual(empty.map((p) => p.kind), ['empty']);
  writeFileSync(f, 'x\n');
  chmodSync(f, 0o640);
  const loose = checkSecretFile('a', f).find((p) => p.kind === 'mode')!;
  assert.equal(loose.fix, `chmod 600 ${f}`);
  assert.match(loose.message, /^mode 0640: readable by the group/);
  chmodSync(f, 0o600);
  if (process.getuid?.() === 0) assert.deepEqual(checkSecretFile('a', f), []);
  const link = path.join(dir, 'b.secret');
  symlinkSync(f, link);
  assert.equal(checkSecretFile('b', link)[0]!.kind, 'not_regular');
});

test('shellQuote quotes only when needed', () => {
  assert.equal(shellQuote('/etc/tund/office.secret'), '/etc/tund/office.secret');
  assert.equal(shellQuote("/tmp/it's here"), `'/tmp/it'\\''s here'`);
});

test('oneLine: first line without CR/LF; a second line is refused', () => {
  assert.equal(oneLine(Buffer.from('secret\n')).toString(), 'secret');
  assert.equal(oneLine(Buffer.from('secret\r\n')).toString(), 'secret');
  assert.equal(oneLine(Buffer.from('secret')).toString(), 'secret');
  assert.equal(oneLine(Buffer.from('secret\n\n')).toString(), 'secret');
  assert.throws(() => oneLine(Buffer.from('a\nb\n')), /more than one line/);
});

test('decodeFlags: the strings seen from the real vtund', () => {
  const d = (s: string) => decodeFlags(parseFlags(s), s);
  assert.deepEqual(d('<TuK>'), { raw: '<TuK>', transport: 'tcp', type: 'tun', compression: 'none', compression_level: null, cipher: 'no', keepalive: true, client_rate_kbps: null });
  assert.equal(d('<UuL1KE10>').cipher, 'aes128cbc');
  assert.equal(d('<UuL1KE10>').compression, 'lzo');
  assert.equal(d('<TuKE>').cipher, 'oldblowfish128ecb');
  assert.equal(d('<TuKE1>').cipher, 'blowfish128ecb');
  assert.equal(d('<TeK>').type, 'ether');
  assert.equal(d('<TuS128K>').client_rate_kbps, 128);
  assert.equal(d('<TuC9>').compression_level, 9);
  assert.equal(describeFlags(d('<UeC9KE14>')), 'udp, ether (tap), zlib level 9, cipher aes256cbc, keepalive on');
});
