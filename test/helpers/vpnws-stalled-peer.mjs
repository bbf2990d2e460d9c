// vpnws-stalled-peer.mjs: a vpn-ws client that upgrades and then stops reading, for the test that
// a slow client never blocks the others on a hub. Plain TCP and a hand-written upgrade (no
// WebSocket library: nothing reads behind our back), then the socket is paused: the kernel's
// receive buffer fills, then the hub's send buffer, then the hub's queue for this client.
//
//   node vpnws-stalled-peer.mjs --url ws://HOST:PORT/PATH --mac ADDR [--timeout SECONDS]
//
// Prints "upgraded" after the 101 (or "refused STATUS-LINE" and exits 1), then "closed" if the hub
// closes the connection. Ends after --timeout (default 120) or on SIGTERM.
import crypto from 'node:crypto';
import net from 'node:net';

const args = process.argv.slice(2);
const opt = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const url = new URL(opt('--url', 'ws://127.0.0.1:8080/'));
const mac = opt('--mac', '02:00:5e:20:00:99');
const timeoutMs = Number(opt('--timeout', '120')) * 1000;

const socket = net.connect({ host: url.hostname, port: Number(url.port || 80) });
socket.on('connect', () => {
  socket.write(
    [`GET ${url.pathname} HTTP/1.1`, `Host: ${url.host}`, 'Upgrade: websocket', 'Connection: Upgrade',
      `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', `X-vpn-ws-MAC: ${mac}`, '', ''].join('\r\n'),
  );
});
let head = Buffer.alloc(0);
const onData = (chunk) => {
  head = Buffer.concat([head, chunk]);
  const end = head.indexOf('\r\n\r\n');
  if (end < 0) return;
  const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
  if (!/^HTTP\/1\.1 101 /.test(status)) {
    process.stdout.write(`refused ${status}\n`);
    process.exit(1);
  }
  socket.off('data', onData);
  socket.pause(); // from here on nothing is read
  process.stdout.write('upgraded\n');
};
socket.on('data', onData);
socket.on('close', () => {
  process.stdout.write('closed\n');
  process.exit(0);
});
socket.on('error', (e) => process.stdout.write(`error ${e.message}\n`));
setTimeout(() => process.exit(0), timeoutMs).unref();
process.on('SIGTERM', () => process.exit(0));
// keeps the process alive while paused (a paused socket alone would do too, but say it)
setInterval(() => {}, 1 << 30);
