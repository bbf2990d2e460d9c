// Conformance of the native WebSocket code (http_upgrade.*, ws_frame.*, tls.*) against an
// independent implementation, the ws package, over real TCP sockets on 127.0.0.1: our client
// against a ws server, and ws clients against our server harness (test/unit/support/native-ws.ts),
// plain and with TLS. Handshake, masking both ways, ping/pong, close codes, fragmented and
// oversized messages, unmasked client frames and masked server frames refused.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { native } from '../../native/index.js';
import { makePki, NativeWsServer, nativeWsClient, until, type Pki } from './support/native-ws.js';

const addon = native();
const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 13 + 5) & 0xff));

let pki: Pki;
before(async () => {
  pki = await makePki();
});
after(() => pki?.remove());

interface WsServerSide {
  port: number;
  received: Array<{ data: Buffer; binary: boolean }>;
  pongs: Buffer[];
  closes: Array<{ code: number; reason: string }>;
  errors: string[];
  headers: Array<Record<string, string | string[] | undefined>>;
  sockets: WebSocket[];
  close(): Promise<void>;
}

/** A ws server that echoes every message and records what it saw. */
async function wsServer(options: { maxPayload?: number; tls?: boolean } = {}): Promise<WsServerSide> {
  const side: WsServerSide = { port: 0, received: [], pongs: [], closes: [], errors: [], headers: [], sockets: [], close: async () => {} };
  const httpsServer = options.tls ? https.createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }) : undefined;
  const wss = new WebSocketServer({
    ...(httpsServer ? { server: httpsServer } : { port: 0, host: '127.0.0.1' }),
    maxPayload: options.maxPayload ?? 1 << 20,
  });
  wss.on('connection', (ws, req) => {
    side.sockets.push(ws);
    side.headers.push(req.headers);
    ws.on('message', (data: Buffer, binary) => {
      side.received.push({ data, binary });
      ws.send(data, { binary });
    });
    ws.on('pong', (d) => side.pongs.push(d));
    ws.on('close', (code, reason) => side.closes.push({ code, reason: reason.toString() }));
    ws.on('error', (e) => side.errors.push(e.message));
  });
  if (httpsServer) await new Promise<void>((r) => httpsServer.listen(0, '127.0.0.1', r));
  else await new Promise<void>((r) => (wss.address() ? r() : wss.once('listening', () => r())));
  side.port = ((httpsServer ?? wss).address() as AddressInfo).port;
  side.close = async () => {
    for (const s of side.sockets) s.terminate();
    await new Promise((r) => wss.close(r));
    if (httpsServer) await new Promise((r) => httpsServer.close(r));
  };
  return side;
}

describe('our client against a ws server', { timeout: 60000 }, () => {
  for (const secure of [false, true]) {
    test(`${secure ? 'wss' : 'ws'}: the upgrade, with the vpn-ws headers; binary messages of every length form echo back`, async () => {
      const s = await wsServer({ tls: secure });
      try {
        const c = await nativeWsClient(s.port, {
          path: '/vpn', mac: '02:00:5e:10:00:01', bridge: true, user: 'alice', password: 'pw',
          ...(secure ? { tls: { role: 'client' as const, serverName: 'hub.test', caFile: pki.ca } } : {}),
        });
        assert.equal(s.headers[0]!['x-vpn-ws-mac'], '02:00:5e:10:00:01');
        assert.equal(s.headers[0]!['x-vpn-ws-bridge'], 'on');
        assert.equal(s.headers[0]!.authorization, `Basic ${Buffer.from('alice:pw').toString('base64')}`);
        for (const n of [0, 1, 125, 126, 1514, 65535, 65536, 300000]) {
          await c.send(pattern(n));
          const e = await c.next();
          assert.ok(e.type === 'message' && e.opcode === 'binary' && e.data.equals(pattern(n)), `length ${n}`);
        }
        assert.equal(s.received.length, 8);
        assert.ok(s.received.every((r) => r.binary));
        assert.deepEqual(s.errors, []);
        c.stream.close();
      } finally {
        await s.close();
      }
    });
  }

  test('pings both ways: ws answers ours, we answer its', async () => {
    const s = await wsServer();
    try {
      const c = await nativeWsClient(s.port);
      await c.send(Buffer.from('are you there'), 'ping');
      const pong = await c.next();
      assert.ok(pong.type === 'pong' && pong.data.toString() === 'are you there');
      await until('the server socket', () => s.sockets[0]);
      s.sockets[0]!.ping(Buffer.from('and you?'));
      const ping = await c.next();
      assert.ok(ping.type === 'ping' && ping.data.toString() === 'and you?');
      await c.send(ping.data, 'pong');
      await until('the pong at the server', () => s.pongs.length === 1);
      assert.equal(s.pongs[0]!.toString(), 'and you?');
      c.stream.close();
    } finally {
      await s.close();
    }
  });

  test('close handshake started by us: ws sees our code and reason and answers with the same code', async () => {
    const s = await wsServer();
    try {
      const c = await nativeWsClient(s.port);
      await c.stream.write(c.encoder.close(1000, 'bye'));
      const e = await c.next();
      assert.ok(e.type === 'close' && e.code === 1000);
      // the server closes the TCP connection first (RFC 6455 7.1.1), then the client
      await c.waitEof();
      c.stream.close();
      await until('the close at the server', () => s.closes.length === 1);
      assert.deepEqual(s.closes[0], { code: 1000, reason: 'bye' });
    } finally {
      await s.close();
    }
  });

  test('close started by ws with an application code; fragmented messages from ws are reassembled', async () => {
    const s = await wsServer();
    try {
      const c = await nativeWsClient(s.port);
      const ws = await until('the server socket', () => s.sockets[0]);
      ws.send(pattern(1000), { fin: false });
      ws.send(pattern(2000), { fin: false });
      ws.send(pattern(3), { fin: true });
      const m = await c.next();
      assert.ok(m.type === 'message' && m.reassembled && m.data.equals(Buffer.concat([pattern(1000), pattern(2000), pattern(3)])));
      ws.close(4001, 'maintenance');
      const e = await c.next();
      assert.ok(e.type === 'close' && e.code === 4001 && e.reason === 'maintenance');
      c.stream.close();
    } finally {
      await s.close();
    }
  });

  test('fragmented messages from us (with a ping between fragments) arrive whole at ws', async () => {
    const s = await wsServer();
    try {
      const c = await nativeWsClient(s.port);
      await c.send(Buffer.from('frag-'), 'binary', false);
      await c.send(Buffer.from('p'), 'ping');
      await c.send(Buffer.from('ment-'), 'continuation', false);
      await c.send(Buffer.from('ed'), 'continuation', true);
      const pong = await c.next();
      assert.equal(pong.type, 'pong');
      const echo = await c.next();
      assert.ok(echo.type === 'message' && echo.data.toString() === 'frag-ment-ed');
      assert.equal(s.received[0]!.data.toString(), 'frag-ment-ed');
      c.stream.close();
    } finally {
      await s.close();
    }
  });

  test('oversized messages: ws refuses ours with 1009; we refuse one of ws\'s with 1009', async () => {
    const s = await wsServer({ maxPayload: 4096 });
    try {
      const c = await nativeWsClient(s.port, { maxMessage: 10000 });
      await c.send(pattern(5000));
      const e = await c.next();
      assert.ok(e.type === 'close' && e.code === 1009, JSON.stringify(e));
      c.stream.close();
      const d = await nativeWsClient(s.port, { maxMessage: 2000 });
      const ws = await until('the second server socket', () => s.sockets[1]);
      ws.send(pattern(3000));
      const err = await d.next();
      assert.ok(err.type === 'error' && err.code === 1009);
      await d.stream.write(d.encoder.close(err.code, 'too big'));
      d.stream.close();
      await until('the close at the server', () => s.closes.some((x) => x.code === 1009 && x.reason === 'too big'));
    } finally {
      await s.close();
    }
  });

  test('an unmasked frame from a client is refused by ws (1002)', async () => {
    const s = await wsServer();
    try {
      const c = await nativeWsClient(s.port);
      await c.stream.write(new addon.WsEncoder({ role: 'server' }).frame(Buffer.from('not masked')));
      const e = await c.next();
      assert.ok(e.type === 'close' && e.code === 1002, JSON.stringify(e));
      await until('the server error', () => s.errors.length > 0);
      assert.match(s.errors[0]!, /MASK must be set/);
      c.stream.close();
    } finally {
      await s.close();
    }
  });
});

/** A ws client to our server; resolves once open (or rejects with the HTTP status). */
function wsClient(url: string, options: WebSocket.ClientOptions = {}): Promise<{ ws: WebSocket; messages: Buffer[]; closes: Array<{ code: number; reason: string }>; errors: string[] }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, options);
    const side = { ws, messages: [] as Buffer[], closes: [] as Array<{ code: number; reason: string }>, errors: [] as string[] };
    ws.on('message', (d: Buffer) => side.messages.push(d));
    ws.on('close', (code, reason) => side.closes.push({ code, reason: reason.toString() }));
    ws.on('error', (e) => {
      side.errors.push(e.message);
      reject(e);
    });
    ws.on('unexpected-response', (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.on('open', () => resolve(side));
  });
}

describe('ws clients against our server', { timeout: 60000 }, () => {
  test('handshake (our Sec-WebSocket-Accept), echo of every length form, the vpn-ws headers read', async () => {
    const srv = new NativeWsServer({ policy: { path: '/vpn' } });
    try {
      const c = await wsClient(`ws://127.0.0.1:${srv.port}/vpn`, { headers: { 'X-vpn-ws-MAC': '02:00:5E:10:00:02', 'X-vpn-ws-bridge': 'on' } });
      for (const n of [0, 1, 125, 126, 1514, 65535, 65536, 300000]) {
        c.ws.send(pattern(n));
        await until(`echo of ${n}`, () => c.messages.length > 0);
        assert.ok(c.messages.shift()!.equals(pattern(n)), `length ${n}`);
      }
      const conn = srv.connections[0]!;
      assert.deepEqual([conn.upgrade.path, conn.upgrade.mac, conn.upgrade.bridge], ['/vpn', '02:00:5e:10:00:02', true]);
      c.ws.terminate();
    } finally {
      await srv.close();
    }
  });

  test('ping from ws gets our pong; close from ws gets our close with the same code', async () => {
    const srv = new NativeWsServer();
    try {
      const c = await wsClient(`ws://127.0.0.1:${srv.port}/`);
      const pong = new Promise<Buffer>((r) => c.ws.once('pong', r));
      c.ws.ping(Buffer.from('hi'));
      assert.equal((await pong).toString(), 'hi');
      c.ws.close(1001, 'going away');
      await until('the close', () => c.closes.length === 1);
      assert.deepEqual(c.closes[0], { code: 1001, reason: 'going away' });
    } finally {
      await srv.close();
    }
  });

  test('a fragmented message from ws is reassembled by our reader', async () => {
    const srv = new NativeWsServer();
    try {
      const c = await wsClient(`ws://127.0.0.1:${srv.port}/`);
      c.ws.send(pattern(700), { fin: false });
      c.ws.send(pattern(900), { fin: true });
      await until('the echo', () => c.messages.length === 1);
      assert.ok(c.messages[0]!.equals(Buffer.concat([pattern(700), pattern(900)])));
      c.ws.terminate();
    } finally {
      await srv.close();
    }
  });

  test('a message over our limit: we close with 1009', async () => {
    const srv = new NativeWsServer({ maxMessage: 4000 });
    try {
      const c = await wsClient(`ws://127.0.0.1:${srv.port}/`);
      c.ws.send(pattern(5000));
      await until('the close', () => c.closes.length === 1);
      assert.equal(c.closes[0]!.code, 1009);
      assert.match(srv.errors[0]!, /^1009 message bigger than the limit/);
    } finally {
      await srv.close();
    }
  });

  test('masked frames from a server are refused by ws (1002)', async () => {
    const srv = new NativeWsServer({ maskFrames: true });
    try {
      const c = await wsClient(`ws://127.0.0.1:${srv.port}/`);
      const failed = new Promise<string>((r) => c.ws.once('error', (e) => r(e.message)));
      c.ws.send(Buffer.from('echo me'));
      assert.match(await failed, /MASK must be clear/);
      await until('the close frame from ws', () => srv.closes.length === 1);
      assert.equal(srv.closes[0]!.code, 1002);
    } finally {
      await srv.close();
    }
  });

  test('unmasked frames from a client are refused by us: close 1002', async () => {
    const srv = new NativeWsServer();
    try {
      const c = await nativeWsClient(srv.port);
      await c.stream.write(new addon.WsEncoder({ role: 'server' }).frame(Buffer.from('not masked')));
      const e = await c.next();
      assert.ok(e.type === 'close' && e.code === 1002 && e.reason === 'unmasked frame from a client', JSON.stringify(e));
      await c.waitEof();
      c.stream.close();
    } finally {
      await srv.close();
    }
  });

  test('refusals reach ws as HTTP statuses: 404 for another path, 401 without the right credentials', async () => {
    const srv = new NativeWsServer({ policy: { path: '/vpn', credentials: { alice: 's3cret' } } });
    try {
      await assert.rejects(wsClient(`ws://alice:s3cret@127.0.0.1:${srv.port}/other`), /HTTP 404/);
      await assert.rejects(wsClient(`ws://127.0.0.1:${srv.port}/vpn`), /HTTP 401/);
      await assert.rejects(wsClient(`ws://alice:nope@127.0.0.1:${srv.port}/vpn`), /HTTP 401/);
      const c = await wsClient(`ws://alice:s3cret@127.0.0.1:${srv.port}/vpn`);
      assert.equal(srv.connections[0]!.upgrade.user, 'alice');
      c.ws.terminate();
      assert.deepEqual(srv.refused.map((r) => r.status), [404, 401, 401]);
    } finally {
      await srv.close();
    }
  });

  test('wss with a client certificate: the subject is known to the server; a client without one is refused', async () => {
    const srv = new NativeWsServer({ tls: { role: 'server', certFile: pki.serverCert, keyFile: pki.serverKey, clientCaFile: pki.ca } });
    try {
      const ca = readFileSync(pki.ca);
      // ws hands these to tls.connect (servername included, though its types do not list it)
      const tlsOptions = (extra: object) => ({ ca, servername: 'hub.test', ...extra }) as WebSocket.ClientOptions;
      const c = await wsClient(`wss://127.0.0.1:${srv.port}/`, tlsOptions({ cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) }));
      c.ws.send(pattern(20000));
      await until('the echo', () => c.messages.length === 1);
      assert.ok(c.messages[0]!.equals(pattern(20000)));
      assert.equal(srv.connections[0]!.peerSubject, 'O=tund tests,CN=client1');
      c.ws.terminate();
      await assert.rejects(wsClient(`wss://127.0.0.1:${srv.port}/`, tlsOptions({})));
      await until('the refusal', () => srv.errors.length === 1);
      assert.match(srv.errors[0]!, /peer did not return a certificate/);
    } finally {
      await srv.close();
    }
  });
});
