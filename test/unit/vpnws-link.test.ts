// The vpn-ws client's data path (native WsLink on the engine, core/vpnws/link.ts and dial.ts)
// against an independent server, the ws package, over real TCP on 127.0.0.1 (plain and TLS). A
// SOCK_SEQPACKET socketpair stands in for the TAP device (one read = one frame).
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { after, before, describe, test } from 'node:test';
import WebSocket, { WebSocketServer } from 'ws';
import { native, type NativeWsLink } from '../../native/index.js';
import { dialHub, DialFailure } from '../../core/websocket/dial.js';
import { WsClientLink } from '../../core/vpnws/link.js';
import { parseProxyEndpoint, parseWsEndpoint, type WsEndpoint } from '../../core/vpnws/url.js';
import { makePki, until, type Pki } from './support/native-ws.js';

const addon = native();

let pki: Pki;
before(async () => {
  pki = await makePki();
});
after(() => pki?.remove());

interface Hub {
  port: number;
  sockets: WebSocket[];
  received: Buffer[];
  pings: number;
  headers: Array<Record<string, string | string[] | undefined>>;
  close(): Promise<void>;
}

async function hub(options: { tls?: boolean; answerPings?: boolean } = {}): Promise<Hub> {
  const h: Hub = { port: 0, sockets: [], received: [], pings: 0, headers: [], close: async () => {} };
  const server = options.tls ? https.createServer({ cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) }) : undefined;
  const wss = new WebSocketServer({ ...(server ? { server } : { port: 0, host: '127.0.0.1' }), autoPong: options.answerPings ?? true });
  if (server) await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  else await new Promise<void>((r) => wss.on('listening', r));
  h.port = ((server ?? wss).address() as AddressInfo).port;
  wss.on('connection', (ws, req) => {
    h.sockets.push(ws);
    h.headers.push(req.headers);
    ws.on('message', (data) => h.received.push(Buffer.from(data as Buffer)));
    ws.on('ping', () => h.pings++);
  });
  h.close = async () => {
    for (const s of h.sockets) s.terminate();
    await new Promise<void>((r) => wss.close(() => r()));
    if (server) await new Promise<void>((r) => server.close(() => r()));
  };
  return h;
}

function endpoint(url: string): WsEndpoint {
  const r = parseWsEndpoint(url);
  assert.ok(r.ok);
  return r.value;
}

/** A packet-device stand-in: a non-blocking SOCK_SEQPACKET pair (one read = one frame). */
function devicePair(): [number, number] {
  const pair = addon.socketPair('seqpacket');
  for (const fd of pair) addon.setNonBlocking(fd, true);
  return pair;
}

const frame = (n: number, fill: number) => {
  const f = Buffer.alloc(n, fill);
  Buffer.from('020000000002020000000001', 'hex').copy(f); // dst, src
  return f;
};

async function connect(h: Hub, url: string, extra: Partial<Parameters<typeof dialHub>[0]> = {}) {
  return dialHub({ endpoint: endpoint(url), proxy: null, caFile: pki.ca, certFile: null, keyFile: null, mac: '02:00:00:00:00:01', bridge: false, credentials: null, timeoutMs: 5000, ...extra });
}

describe('vpn-ws client link', () => {
  for (const secure of [false, true]) {
    test(`${secure ? 'wss' : 'ws'}://: frames both ways, vpn-ws headers, basic auth, masking checked by ws`, async () => {
      const h = await hub({ tls: secure });
      const [dev, devPeer] = devicePair();
      try {
        const conn = await connect(h, `${secure ? 'wss' : 'ws'}://127.0.0.1:${h.port}/vpn?x=1`, { credentials: { user: 'alice', password: 'p w' } });
        assert.equal(conn.status, 101);
        if (secure) assert.match(conn.tlsProtocol, /^TLSv1\.[23]$/);
        const link = new WsClientLink({ deviceFd: dev, connection: conn, maxMessage: 1518, endpoint: null, localEnd: null, parameters: 'ws', latestHandshake: '' });
        link.start();
        await until('the connection', () => h.sockets.length === 1);
        assert.equal(h.headers[0]!['x-vpn-ws-mac'], '02:00:00:00:00:01');
        assert.equal(h.headers[0]!.authorization, `Basic ${Buffer.from('alice:p w').toString('base64')}`);
        // device -> hub: one frame per message, large and small
        for (const n of [60, 1514]) addon.fdWrite(devPeer, frame(n, n & 0xff));
        await until('two frames at the hub', () => h.received.length === 2);
        assert.deepEqual(h.received.map((b) => b.length), [60, 1514]);
        assert.ok(h.received[1]!.equals(frame(1514, 1514 & 0xff)));
        // hub -> device, including a fragmented message (reassembled natively)
        h.sockets[0]!.send(frame(100, 7));
        h.sockets[0]!.send(frame(300, 9).subarray(0, 150), { fin: false });
        h.sockets[0]!.send(frame(300, 9).subarray(150), { fin: true });
        const got: Buffer[] = [];
        await until('two frames at the device', () => {
          for (let b = addon.fdRead(devPeer, 65536); b && b.length; b = addon.fdRead(devPeer, 65536)) got.push(b);
          return got.length === 2;
        });
        assert.ok(got[0]!.equals(frame(100, 7)));
        assert.ok(got[1]!.equals(frame(300, 9)));
        const s = link.stats();
        assert.equal(s.txPackets, 2);
        assert.equal(s.rxPackets, 2);
        await link.close('test');
        assert.equal((await link.ended).reason, 'stopped');
      } finally {
        addon.closeFd(dev);
        addon.closeFd(devPeer);
        await h.close();
      }
    });
  }

  test('keepalive: a ping after the idle time; a close from the hub ends the link with peer_closed', async () => {
    const h = await hub();
    const [dev, devPeer] = devicePair();
    try {
      const conn = await connect(h, `ws://127.0.0.1:${h.port}/`);
      const link = new WsClientLink({ deviceFd: dev, connection: conn, maxMessage: 1518, endpoint: null, localEnd: null, parameters: 'ws', latestHandshake: '', pingIdleMs: 300 });
      link.start();
      await until('a ping', () => h.pings >= 1, 5000);
      await until('the pong seen', () => link.peers()[0]!.keepalive?.last_echo !== null, 5000);
      h.sockets[0]!.close(1001, 'bye');
      const end = await link.ended;
      assert.equal(end.reason, 'peer_closed');
      assert.match(end.message, /1001: bye/);
    } finally {
      addon.closeFd(dev);
      addon.closeFd(devPeer);
      await h.close();
    }
  });

  test('keepalive: pings while frames flow one way (nothing received), the first right after the upgrade', async () => {
    const h = await hub({ answerPings: false });
    const [dev, devPeer] = devicePair();
    const sending = setInterval(() => addon.fdWrite(devPeer, frame(60, 7)), 50);
    try {
      const conn = await connect(h, `ws://127.0.0.1:${h.port}/`);
      const link = new WsClientLink({ deviceFd: dev, connection: conn, maxMessage: 1518, endpoint: null, localEnd: null, parameters: 'ws', latestHandshake: '', pingIdleMs: 300, deadAfterPings: 3 });
      link.start();
      await until('the first ping', () => h.pings >= 1, 2000);
      await until('frames one way', () => h.received.length >= 10, 5000);
      const before = h.pings;
      await until('pings while sending', () => h.pings >= before + 2, 5000);
      // a hub that never answered a ping is not judged by silence (a vpn-ws server)
      assert.equal(link.counters().counters.rx_packets, 0);
      await link.close('done');
      assert.ok(h.received.length >= 10);
    } finally {
      clearInterval(sending);
      addon.closeFd(dev);
      addon.closeFd(devPeer);
      await h.close();
    }
  });

  test('an engine whose start() fails: the connection it took is closed (the hub sees it go) and the engine stopped', async () => {
    const h = await hub();
    const [dev, devPeer] = devicePair();
    try {
      const conn = await connect(h, `ws://127.0.0.1:${h.port}/`);
      await until('the connection', () => h.sockets.length === 1);
      let real: NativeWsLink | undefined;
      const link = new WsClientLink({
        deviceFd: dev,
        connection: conn,
        maxMessage: 1518,
        endpoint: null,
        localEnd: null,
        parameters: 'ws',
        latestHandshake: '',
        // the addon's link, except that its start() fails as one out of file descriptors would
        createLink: (o, onEvent) => {
          const made = new addon.WsLink(o, onEvent);
          real = made;
          return new Proxy(made, {
            get: (target, key) => {
              if (key === 'start') {
                return () => {
                  throw new Error('WsLink: eventfd: Too many open files');
                };
              }
              const value = Reflect.get(target, key) as unknown;
              return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
            },
          });
        },
      });
      assert.throws(() => link.start(), /Too many open files/);
      await until('the hub sees the connection close', () => h.sockets[0]!.readyState === WebSocket.CLOSED);
      assert.throws(() => real!.start(), /stopped .*runs once/);
    } finally {
      addon.closeFd(dev);
      addon.closeFd(devPeer);
      await h.close();
    }
  });

  test('refusals: HTTP status, wrong CA, nothing listening, a proxy that refuses', async () => {
    const h = await hub({ tls: true });
    try {
      await assert.rejects(connect(h, `wss://127.0.0.1:${h.port}/`, { caFile: null }), (e: DialFailure) => e.step === 'tls' && /certificate/.test(e.message));
      await assert.rejects(connect(h, `ws://127.0.0.1:1/`), (e: DialFailure) => e.step === 'connect' && e.code === 'ECONNREFUSED');
      const proxy = parseProxyEndpoint(`http://127.0.0.1:${h.port}`);
      assert.ok(proxy.ok);
      // an HTTPS server is no HTTP proxy: its answer is no 2xx to CONNECT
      await assert.rejects(connect(h, `ws://198.18.0.1:80/`, { proxy: proxy.value }), (e: DialFailure) => e.step === 'proxy');
    } finally {
      await h.close();
    }
  });
});
