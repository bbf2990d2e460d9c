// tunauth's core: secret files (atomic, 0600, content), their checks with fixing commands, one-line
// stdin secrets, the decoding of the flags a VTun server sends, and probe() against small servers.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync, symlinkSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { test } from 'node:test';
import { checkSecretFile, shellQuote, writeSecretFile } from '../../core/auth/secret.js';
import { oneLine } from '../../core/auth/prompt.js';
import { probe } from '../../core/auth/probe.js';
import { encodeBlock } from '../../core/vtun/handshake.js';
import { decodeFlags, describeFlags, parseFlags } from '../../core/vtun/flags.js';

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
  assert.match(loose.message, /^secret file is readable by the group \(mode 0640; expected 0600\)$/);
  chmodSync(f, 0o600);
  if (process.getuid?.() === 0) assert.deepEqual(checkSecretFile('a', f), []);
  const link = path.join(dir, 'b.secret');
  symlinkSync(f, link);
  assert.equal(checkSecretFile('b', link)[0]!.kind, 'symlink');
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

// ---- probe() against small in-process servers: each way the exchange can end

async function withServer(onConnection: (s: net.Socket) => void, fn: (port: number) => Promise<void>): Promise<void> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((s) => {
    sockets.add(s);
    s.on('error', () => {});
    onConnection(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    await fn((server.address() as net.AddressInfo).port);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}

const base = { host: '127.0.0.1', session: 'office', password: Buffer.from('pw'), sslAuth: false, timeout: 1 };

test('probe: a server that is not VTun is a protocol error', async () => {
  await withServer((s) => s.write(encodeBlock('SSH-2.0-nope\n')), async (port) => {
    const r = await probe({ ...base, port });
    assert.equal(r.outcome, 'protocol');
    assert.match(r.message, /not a VTun server/);
  });
});

test('probe: a server that closes at once', async () => {
  await withServer((s) => s.end(), async (port) => {
    const r = await probe({ ...base, port });
    assert.equal(r.outcome, 'closed');
  });
});

test('probe: a listener that says nothing times out after the timeout', async () => {
  await withServer(() => {}, async (port) => {
    const r = await probe({ ...base, port, timeout: 0.5 });
    assert.equal(r.outcome, 'timeout');
    assert.ok(r.elapsedMs >= 450, `elapsed ${r.elapsedMs}`);
  });
});

test('probe: ERR after the challenge is "authentication failed or session busy"', async () => {
  await withServer((s) => {
    s.write(encodeBlock('VTUN server ver 3.X 05/14/2022\n'));
    let got = 0;
    s.on('data', (d) => {
      got += d.length;
      if (got === 50) s.write(encodeBlock(`OK CHAL: <${'a'.repeat(32)}>\n`));
      if (got === 100) s.end(encodeBlock('ERR\n'));
    });
  }, async (port) => {
    const r = await probe({ ...base, port });
    assert.equal(r.outcome, 'auth_failed');
    assert.equal(r.message, 'authentication failed or session busy (the server does not say which)');
    assert.equal(r.flags, null);
  });
});

test('probe: OK FLAGS is decoded and the connection is closed by the client at once', async () => {
  let closedByClient: Promise<void> = Promise.resolve();
  await withServer((s) => {
    closedByClient = new Promise((resolve) => s.on('end', () => resolve()));
    s.write(encodeBlock('VTUN server ver 3.X 05/14/2022\n'));
    let got = 0;
    s.on('data', (d) => {
      got += d.length;
      if (got === 50) s.write(encodeBlock(`OK CHAL: <${'a'.repeat(32)}>\n`));
      if (got === 100) s.write(encodeBlock('OK FLAGS: <UeC9KE14>\n'));
    });
  }, async (port) => {
    const r = await probe({ ...base, port });
    assert.equal(r.outcome, 'ok');
    assert.equal(r.flags?.raw, '<UeC9KE14>');
    assert.equal(r.flags?.cipher, 'aes256cbc');
    assert.equal(r.greeting, 'VTUN server ver 3.X 05/14/2022');
    await closedByClient;
  });
});

test('probe: nothing listening is "refused"', async () => {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  const r = await probe({ ...base, port });
  assert.equal(r.outcome, 'refused');
});
