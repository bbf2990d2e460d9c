// vpnws-fake-peer.mjs: an independent vpn-ws client for tests, built on the ws package (not on
// tund's code): it attaches to an existing TAP device and carries its Ethernet frames as binary
// WebSocket messages, as vpn-ws-client does. It plays the real client when tund's hub is tested.
//
//   node vpnws-fake-peer.mjs --tap NAME --url ws[s]://HOST:PORT/PATH [--mac ADDR] [--bridge]
//        [--ca FILE] [--servername NAME] [--cert FILE --key FILE] [--user NAME --password-file FILE]
//        [--proxy http://HOST:PORT] [--ping-interval SECONDS] [--reconnect] [--timeout SECONDS]
//
// Sends X-vpn-ws-MAC (the TAP's own address unless --mac) and, with --bridge, X-vpn-ws-bridge: on;
// basic auth from --user and a password file (never from argv); --proxy tunnels through an HTTP
// CONNECT proxy first. A WebSocket ping after --ping-interval seconds without traffic (17, as
// vpn-ws). Prints "connected", "closed CODE", "refused STATUS", "error MESSAGE"; with --reconnect it
// connects again after 1 s, else it ends when the connection does (or cannot be made). Ends
// after --timeout (default 600) or on SIGTERM with "done rx=R tx=T" (and frees the TAP). Every
// loop is bounded in time.
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';
import WebSocket from 'ws';
import { TunDevice } from '../../dist/core/device/tun.js';

const args = process.argv.slice(2);
const opt = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const tapName = opt('--tap', undefined);
const url = new URL(opt('--url', 'ws://127.0.0.1:8080/'));
const pingMs = Number(opt('--ping-interval', '17')) * 1000;
const timeoutMs = Number(opt('--timeout', '600')) * 1000;
const reconnect = args.includes('--reconnect');
const proxy = opt('--proxy', undefined) ? new URL(opt('--proxy')) : undefined;

const tap = TunDevice.attach(tapName, { kind: 'tap' });
const mac = opt('--mac', readFileSync(`/sys/class/net/${tap.name}/address`, 'utf8').trim());
const headers = { 'X-vpn-ws-MAC': mac };
if (args.includes('--bridge')) headers['X-vpn-ws-bridge'] = 'on';
if (opt('--user', undefined)) {
  const password = readFileSync(opt('--password-file'), 'utf8').replace(/\r?\n$/, '');
  headers.Authorization = `Basic ${Buffer.from(`${opt('--user')}:${password}`).toString('base64')}`;
}
const tlsOptions = {
  ...(opt('--ca', undefined) ? { ca: readFileSync(opt('--ca')) } : {}),
  ...(opt('--cert', undefined) ? { cert: readFileSync(opt('--cert')), key: readFileSync(opt('--key')) } : {}),
  servername: opt('--servername', net.isIP(url.hostname) ? undefined : url.hostname),
};
const targetPort = Number(url.port || (url.protocol === 'wss:' ? 443 : 80));
const targetHost = url.hostname.replace(/^\[|\]$/g, '');

let rx = 0;
let tx = 0;
let ws;
let lastTraffic = Date.now();

/** A TCP socket through the proxy's CONNECT tunnel to the hub (resolves once the proxy said 2xx). */
function viaProxy() {
  return new Promise((resolve, reject) => {
    const socket = net.connect(Number(proxy.port || 80), proxy.hostname);
    const authority = `${net.isIPv6(targetHost) ? `[${targetHost}]` : targetHost}:${targetPort}`;
    socket.once('connect', () => socket.write(`CONNECT ${authority} HTTP/1.1\r\nHost: ${authority}\r\n\r\n`));
    let head = Buffer.alloc(0);
    const onData = (d) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      socket.off('data', onData);
      const status = Number(/^HTTP\/1\.\d (\d{3})/.exec(head.toString('latin1'))?.[1]);
      if (status >= 200 && status < 300) resolve(socket);
      else {
        socket.destroy();
        reject(new Error(`proxy answered ${status}`));
      }
    };
    socket.on('data', onData);
    socket.once('error', reject);
  });
}

async function connect() {
  let createConnection;
  if (proxy) {
    let tunnel;
    try {
      tunnel = await viaProxy();
    } catch (e) {
      console.log(`error ${e.message}`);
      return retry();
    }
    createConnection = () => (url.protocol === 'wss:' ? tls.connect({ socket: tunnel, host: targetHost, ...tlsOptions }) : tunnel);
  }
  ws = new WebSocket(url, { headers, ...tlsOptions, ...(createConnection ? { createConnection } : {}), maxPayload: 65536 + 14 });
  ws.on('open', () => {
    lastTraffic = Date.now();
    console.log('connected');
  });
  ws.on('message', (data, binary) => {
    lastTraffic = Date.now();
    if (!binary) return;
    rx++;
    tap.writeBatch([Buffer.from(data)], 0);
  });
  ws.on('unexpected-response', (_req, res) => {
    console.log(`refused ${res.statusCode}`);
    ws.terminate();
  });
  ws.on('close', (code) => {
    console.log(`closed ${code}`);
    retry();
  });
  ws.on('error', (e) => console.log(`error ${e.message}`));
}

let retrying = false;
function retry() {
  if (!reconnect) return finish();
  if (retrying) return;
  retrying = true;
  setTimeout(() => {
    retrying = false;
    void connect();
  }, 1000);
}

const bufs = Array.from({ length: tap.batchSize() }, () => Buffer.alloc(tap.mtu() + 64));
const sizes = new Int32Array(bufs.length);
function poll() {
  const n = tap.readBatch(bufs, sizes, 0);
  for (let i = 0; i < n; i++) {
    if (ws?.readyState !== WebSocket.OPEN) continue; // not connected: the frame is lost, as on a cable
    ws.send(Buffer.from(bufs[i].subarray(0, sizes[i])), { binary: true });
    tx++;
    lastTraffic = Date.now();
  }
  if (ws?.readyState === WebSocket.OPEN && Date.now() - lastTraffic > pingMs) {
    ws.ping();
    lastTraffic = Date.now();
  }
  setTimeout(poll, n > 0 ? 0 : 3);
}

function finish() {
  console.log(`done rx=${rx} tx=${tx}`);
  ws?.terminate();
  tap.close();
  process.exit(0);
}
process.on('SIGTERM', finish);
setTimeout(finish, timeoutMs).unref();
void connect();
poll();
