#!/usr/bin/env node
// One end of a pump-to-pump tunnel for test/bats/pump.bats: opens a tun through the addon,
// makes the transport socket with the addon (TCP: core/socket.ts's StreamListener/StreamSocket,
// whose fd goes to the pump as tund hands it over; UDP: udpSocketBind/udpSocketConnect), writes READY (JSON with
// the tun name) and waits for the GO file, then runs a native Pump until SIGTERM.
// While running it rewrites STATS (JSON: pump stats + the end event, if any) every 200 ms.
// SIGUSR1 queues a CONN_CLOSE (sendControl). Exit: 0 after SIGTERM, 3 when the pump ended itself.
//
//   node pump-pair.mjs --role listen|connect --transport tcp|udp --local A --peer B --port P \
//        --tun NAME --dir DIR [--compress none|lzo:N|zlib:N] [--cipher N] [--password PW]
//        [--send-delay MS] [--speed KBPS] [--nat-hack]
//   files in DIR: ready, go (created by the test), stats
import path from 'node:path';
import { readyThenWaitForGo, startPair, writeStatsFile } from './pair-files.mjs';

const { addon, args, openTun, root } = await startPair('pump-pair', {
  defaults: { role: 'listen', transport: 'tcp', compress: 'none', cipher: '0', password: 'pump-pair-secret', 'send-delay': '0', speed: '0', 'nat-hack': false },
  flags: ['nat-hack'],
  required: ['local', 'peer', 'port', 'tun', 'dir'],
});
const port = Number(args.port);
const dir = args.dir;
const log = (...m) => console.log(`[pump-pair ${args.role}]`, ...m);

function compression(spec) {
  if (spec === 'none') return { kind: 'none' };
  const [kind, level] = spec.split(':');
  return { kind, level: Number(level ?? 1) };
}
const cipher = Number(args.cipher);
const keyBytes = cipher === 0 ? 0 : [5, 6, 7, 8, 13, 14, 15, 16].includes(cipher) ? 32 : 16;
const key = keyBytes ? addon.vtunKey(Buffer.from(args.password), keyBytes) : Buffer.alloc(0);

const tun = openTun(args.tun);
log('tun', tun.name, 'fd', tun.fd);

// The TCP connection as tund makes it (core/socket.ts on the addon's sockets), released to the
// pump the way the real session set-up hands it over.
const { StreamListener, StreamSocket } = await import(path.join(root, 'dist', 'core', 'socket.js'));

async function tcpSocket() {
  if (args.role === 'listen') {
    const listener = StreamListener.listen(args.local, port, 1);
    log('listening', `${args.local}:${port}`);
    return await new Promise((resolve, reject) => {
      listener.accept(
        ({ fd }) => {
          listener.close();
          resolve(fd);
        },
        (error) => {
          listener.close();
          reject(error);
        },
      );
    });
  }
  // connect, retrying (bounded) while the other end is not listening yet
  for (let attempt = 1; ; attempt++) {
    try {
      return (await StreamSocket.connect(args.peer, port, 5000)).release();
    } catch (error) {
      if (error.code !== 'ECONNREFUSED' || attempt >= 100) throw error;
      await new Promise((r) => setTimeout(r, 100));
    }
  }
}

function udpSocket() {
  const fd = addon.udpSocketBind(args.local, port);
  if (!args['nat-hack']) addon.udpSocketConnect(fd, args.peer, port);
  return fd;
}

const netFd = args.transport === 'tcp' ? await tcpSocket() : udpSocket();
log('transport', args.transport, 'fd', netFd);

// The test's signals have their handlers before READY: one that came before its handler would
// get Node's default (SIGUSR1 starts the inspector: no CONN_CLOSE). The pump's threads carry a
// ping as soon as start() runs, so under load the test could signal before a handler installed
// after start(). What comes before the pump runs waits for it.
let pump = null;
let timer = null;
let closeWanted = false;
process.on('SIGUSR1', () => {
  log('sending CONN_CLOSE');
  if (pump) pump.sendControl('conn_close');
  else closeWanted = true;
});
process.on('SIGTERM', () => {
  clearInterval(timer);
  if (pump) {
    writeStats();
    pump.stop();
    log('stopped', JSON.stringify(pump.stats()));
  }
  addon.closeFd(tun.fd);
  process.exit(0);
});

await readyThenWaitForGo(dir, 'pump-pair', { tun: tun.name });

let ended = null;
pump = new addon.Pump(
  {
    deviceFd: tun.fd,
    deviceKind: 'packet',
    netFd,
    transport: args.transport,
    natHack: args['nat-hack'],
    compression: compression(args.compress),
    cipher,
    key,
    sendDelayMs: Number(args['send-delay']),
    speedKbps: Number(args.speed),
  },
  (event) => {
    log('event', JSON.stringify(event));
    ended = event;
    writeStats();
    if (event.reason !== 'stopped') {
      pump.stop();
      addon.closeFd(tun.fd);
      process.exit(3);
    }
  },
);

function writeStats() {
  writeStatsFile(dir, { ...pump.stats(), event: ended });
}

pump.start();
log('pump started');
if (closeWanted) pump.sendControl('conn_close');
timer = setInterval(writeStats, 200);
writeStats();
