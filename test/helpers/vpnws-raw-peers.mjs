// vpnws-raw-peers.mjs: vpn-ws clients without a TAP device or a WebSocket library: plain TCP (or
// TLS) and a hand-written upgrade, so that nothing reads behind our back. For the test that a slow
// client never blocks the others on a hub (--stall: after the 101 the socket is paused, so the
// kernel's receive buffer fills, then the hub's send buffer, then the hub's queue for this client)
// and for the benchmark's memory per connected client (--count N idle clients that read and
// discard what comes).
//
//   node vpnws-raw-peers.mjs --url ws[s]://HOST:PORT/PATH [--count N] [--mac ADDR] [--stall]
//        [--ca FILE] [--timeout SECONDS]
//
// Client i (from 0) says X-vpn-ws-MAC: ADDR + i (default 02:00:5e:20:01:00). Prints "upgraded N"
// once all N got their 101 (or "refused STATUS-LINE" and exits 1), "closed" when the hub closes
// one. Ends after --timeout (default 120) or on SIGTERM.
import crypto from 'node:crypto';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import tls from 'node:tls';

const args = process.argv.slice(2);
const opt = (flag, fallback) => {
  const i = args.indexOf(flag);
  return i >= 0 && i + 1 < args.length ? args[i + 1] : fallback;
};
const url = new URL(opt('--url', 'ws://127.0.0.1:8080/'));
const count = Number(opt('--count', '1'));
const firstMac = Number.parseInt(opt('--mac', '02:00:5e:20:01:00').replaceAll(':', ''), 16);
const stall = args.includes('--stall');
const ca = opt('--ca', undefined);
const timeoutMs = Number(opt('--timeout', '120')) * 1000;
const secure = url.protocol === 'wss:';
const port = Number(url.port || (secure ? 443 : 80));

const macOf = (i) => (firstMac + i).toString(16).padStart(12, '0').match(/../g).join(':');
let upgraded = 0;

function connect(i) {
  const socket = secure
    ? tls.connect({ host: url.hostname, port, servername: net.isIP(url.hostname) ? undefined : url.hostname, ...(ca ? { ca: readFileSync(ca) } : {}) })
    : net.connect({ host: url.hostname, port });
  socket.once(secure ? 'secureConnect' : 'connect', () => {
    socket.write(
      [`GET ${url.pathname} HTTP/1.1`, `Host: ${url.host}`, 'Upgrade: websocket', 'Connection: Upgrade',
        `Sec-WebSocket-Key: ${crypto.randomBytes(16).toString('base64')}`, 'Sec-WebSocket-Version: 13', `X-vpn-ws-MAC: ${macOf(i)}`, '', ''].join('\r\n'),
    );
  });
  let head = Buffer.alloc(0);
  const onHead = (chunk) => {
    head = Buffer.concat([head, chunk]);
    if (head.indexOf('\r\n\r\n') < 0) return;
    const status = head.subarray(0, head.indexOf('\r\n')).toString('latin1');
    if (!/^HTTP\/1\.1 101 /.test(status)) {
      process.stdout.write(`refused ${status}\n`);
      process.exit(1);
    }
    socket.off('data', onHead);
    if (stall) socket.pause(); // from here on nothing is read
    else socket.on('data', () => {}); // read and discard
    if (++upgraded === count) process.stdout.write(`upgraded ${count}\n`);
  };
  socket.on('data', onHead);
  socket.on('close', () => process.stdout.write('closed\n'));
  socket.on('error', (e) => process.stdout.write(`error ${e.message}\n`));
}

for (let i = 0; i < count; i++) connect(i);
setTimeout(() => process.exit(0), timeoutMs).unref();
process.on('SIGTERM', () => process.exit(0));
setInterval(() => {}, 1 << 30); // alive until the timeout or SIGTERM
