// The native TLS wrapper (native/src/tls.*) against node:tls as the independent peer, over real
// TCP sockets on 127.0.0.1, with certificates made for this run: verification against a CA file,
// the server name and IP checks, client certificates both ways, the errors a user sees, and a
// clean end of stream.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { native } from '../../native/index.js';
import { makePki, NativeStream, tcpAccept, tcpListen, until, type Pki } from './support/native-ws.js';

const addon = native();
let pki: Pki;

before(async () => {
  pki = await makePki();
});
after(() => pki?.remove());

/** A node:tls echo server; resolves with its port and the subjects of client certificates seen. */
async function nodeServer(options: tls.TlsOptions = {}) {
  const subjects: string[] = [];
  const errors: string[] = [];
  const server = tls.createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey), ...options }, (socket) => {
    const cert = socket.getPeerCertificate();
    if (cert && cert.subject) subjects.push(String(cert.subject.CN));
    socket.on('data', (d) => socket.write(d));
    socket.on('error', () => {});
  });
  server.on('tlsClientError', (e) => errors.push(e.message));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, subjects, errors, close: () => new Promise((r) => server.close(r)) };
}

async function readAll(stream: NativeStream, want: number): Promise<Buffer> {
  let got = Buffer.alloc(0);
  await until(`${want} bytes`, () => {
    const b = stream.read();
    if (b === null) throw new Error('end of stream');
    got = Buffer.concat([got, b]);
    return got.length >= want;
  });
  return got;
}

describe('client', { timeout: 30000 }, () => {
  test('verifies the server against a CA file, by name (SNI) and by IP address; data both ways', async () => {
    const s = await nodeServer();
    try {
      for (const serverName of ['hub.test', '127.0.0.1']) {
        const c = await NativeStream.connect(s.port, { role: 'client', serverName, caFile: pki.ca });
        assert.equal(c.tls!.peerSubject(), 'CN=hub.test');
        assert.equal(c.tls!.peerIssuer(), 'CN=tund test CA');
        assert.equal(c.tls!.protocol(), 'TLSv1.3');
        assert.ok(c.tls!.cipher().length > 0);
        const data = Buffer.alloc(200000, 7);
        await c.write(data);
        assert.ok((await readAll(c, data.length)).equals(data));
        c.close();
      }
    } finally {
      await s.close();
    }
  });

  test('refuses a server its CAs do not know, or whose name does not match, with a clear error', async () => {
    const s = await nodeServer();
    try {
      const cases: Array<[object, RegExp]> = [
        [{ serverName: 'hub.test', caFile: pki.otherCa }, /TLS handshake failed: the server certificate was refused: unable to get local issuer certificate/],
        [{ serverName: 'hub.test' }, /the server certificate was refused: unable to get local issuer certificate/], // system CAs
        [{ serverName: 'other.test', caFile: pki.ca }, /the server certificate was refused: hostname mismatch/],
        [{ serverName: '127.0.0.2', caFile: pki.ca }, /the server certificate was refused: IP address mismatch/],
      ];
      for (const [options, message] of cases) {
        await assert.rejects(NativeStream.connect(s.port, { role: 'client', ...options } as never), message);
      }
      // verify: false connects anyway (for tests and "I know what I do")
      const c = await NativeStream.connect(s.port, { role: 'client', serverName: 'whatever', verify: false });
      c.close();
    } finally {
      await s.close();
    }
  });

  test('presents a client certificate when the server asks; without one the server refuses', async () => {
    const s = await nodeServer({ requestCert: true, rejectUnauthorized: true, ca: readFileSync(pki.ca) });
    try {
      const c = await NativeStream.connect(s.port, { role: 'client', serverName: 'hub.test', caFile: pki.ca, certFile: pki.clientCert, keyFile: pki.clientKey });
      await c.write(Buffer.from('ping'));
      assert.equal((await readAll(c, 4)).toString(), 'ping');
      assert.deepEqual(s.subjects, ['client1']);
      c.close();
      // TLS 1.3: the server checks the client's certificate after the client's handshake is done,
      // so the refusal arrives as an alert on the first read
      const bare = await NativeStream.connect(s.port, { role: 'client', serverName: 'hub.test', caFile: pki.ca });
      await assert.rejects(readAll(bare, 1), /certificate required|end of stream/);
      bare.close();
      await until('the server error', () => s.errors.length > 0);
      assert.match(s.errors[0]!, /peer did not return a certificate|certificate/);
    } finally {
      await s.close();
    }
  });

  test('the server ending the connection (close_notify) is "closed", not an error', async () => {
    const server = tls.createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }, (socket) => {
      socket.once('data', (d) => socket.end(d));
      socket.on('error', () => {});
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const c = await NativeStream.connect((server.address() as AddressInfo).port, { role: 'client', serverName: 'hub.test', caFile: pki.ca });
      await c.write(Buffer.from('last words'));
      let got = Buffer.alloc(0);
      await until('the end of the stream', () => {
        const b = c.read();
        if (b === null) return true;
        got = Buffer.concat([got, b]);
        return false;
      });
      assert.equal(got.toString(), 'last words');
      assert.equal(c.tls!.error(), '');
      c.close();
    } finally {
      await new Promise((r) => server.close(r));
    }
  });
});

describe('server', { timeout: 30000 }, () => {
  async function nodeClient(port: number, options: tls.ConnectionOptions = {}) {
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'hub.test', ca: readFileSync(pki.ca), ...options });
    socket.on('error', () => {});
    return socket;
  }

  async function acceptNative(listenFd: number, context: object): Promise<NativeStream> {
    const fd = await until('a connection', () => {
      const f = tcpAccept(listenFd);
      return f >= 0 ? f : undefined;
    });
    return NativeStream.accepted(fd, context);
  }

  test('serves node:tls clients; data both ways; the end of the stream is "closed"', async () => {
    const l = tcpListen('127.0.0.1');
    const ctx = new addon.TlsContext({ role: 'server', certFile: pki.serverCert, keyFile: pki.serverKey });
    try {
      const client = await nodeClient(l.port);
      const stream = await acceptNative(l.fd, ctx);
      await stream.handshake();
      await new Promise<void>((r) => (client.authorized ? r() : client.once('secureConnect', () => r())));
      assert.equal(client.authorized, true, String(client.authorizationError));
      assert.equal(stream.tls!.peerSubject(), '', 'no client certificate asked for');
      const got: Buffer[] = [];
      client.on('data', (d: Buffer) => got.push(d));
      await stream.write(Buffer.from('hello from the native server'));
      client.write('and back');
      assert.equal((await readAll(stream, 8)).toString(), 'and back');
      await until('the client read', () => Buffer.concat(got).toString() === 'hello from the native server');
      client.end();
      await until('end of stream', () => stream.read() === null);
      stream.close();
    } finally {
      addon.closeFd(l.fd);
    }
  });

  test('ClientCA: a certificate from that CA is accepted and its subject reported; none or another CA is refused', async () => {
    const l = tcpListen('127.0.0.1');
    const ctx = new addon.TlsContext({ role: 'server', certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.ca });
    try {
      const good = await nodeClient(l.port, { cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) });
      const s1 = await acceptNative(l.fd, ctx);
      await s1.handshake();
      assert.equal(s1.tls!.peerSubject(), 'O=tund tests,CN=client1');
      good.destroy();
      s1.close();

      const none = await nodeClient(l.port);
      const s2 = await acceptNative(l.fd, ctx);
      await assert.rejects(s2.handshake(), /TLS handshake failed: peer did not return a certificate/);
      none.destroy();
      s2.close();

      const other = await nodeClient(l.port, { cert: readFileSync(pki.otherClientCert), key: readFileSync(pki.otherClientKey) });
      const s3 = await acceptNative(l.fd, ctx);
      await assert.rejects(s3.handshake(), /TLS handshake failed: the client certificate was refused: unable to get local issuer certificate/);
      other.destroy();
      s3.close();
    } finally {
      addon.closeFd(l.fd);
    }
  });
});

test('contexts: files that are missing or do not fit are clear errors', () => {
  assert.throws(() => new addon.TlsContext({ role: 'server', certFile: '/nonexistent.pem', keyFile: pki.serverKey }), /cannot load the server certificate "\/nonexistent\.pem"/);
  assert.throws(() => new addon.TlsContext({ role: 'server', certFile: pki.serverCert, keyFile: pki.clientKey }), /does not belong to the certificate|cannot load the server private key/);
  assert.throws(() => new addon.TlsContext({ role: 'server', certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: '/nonexistent' }), /cannot load the client CA file/);
  assert.throws(() => new addon.TlsContext({ role: 'client', serverName: 'x', caFile: '/nonexistent' }), /cannot load the CA file "\/nonexistent"/);
  assert.throws(() => new addon.TlsContext({ role: 'client', serverName: 'x', certFile: pki.clientCert }), /needs both the certificate and its private key/);
  assert.throws(() => new addon.TlsSession({}, 0), TypeError);
});
