#!/usr/bin/env node
// UDP socket hygiene of a VTun link (issue "hostile networks", UDP hijack), for
// test/bats/udp-hygiene.bats. Runs inside a network namespace the test made, on addresses it
// gave it (198.18.0.0/15).
//
//   hold ADDR PORT DIR     bind ADDR:PORT with the addon's udpSocketBind (as a VTun UDP link
//                          does), write DIR/ready, append every datagram received to DIR/got
//                          (one line each), until SIGTERM or 30 s.
//   drain ADDR             a stranger's datagram queued before udpSocketConnect is gone after it;
//                          prints JSON {got: [payloads read after connect]}.
//   filter ADDR            the pump on a connected socket drops a stranger's datagram queued
//                          before connect behind one of the peer's: prints JSON {device: [...],
//                          foreignDrops}.
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { native } = await import(path.join(root, 'dist', 'native', 'index.js'));
const addon = native();

const [mode, addr, ...rest] = process.argv.slice(2);

/** A UDP socket of this process bound to addr:port; send() resolves once the datagram is queued. */
async function sender(port) {
  const s = dgram.createSocket('udp4');
  await new Promise((resolve, reject) => {
    s.once('error', reject);
    s.bind(port, addr, resolve);
  });
  return {
    send: (payload, toPort) => new Promise((resolve, reject) => s.send(payload, toPort, addr, (e) => (e ? reject(e) : resolve()))),
    close: () => s.close(),
  };
}

/** Everything queued on a non-blocking fd now. */
function readAll(fd) {
  const bufs = Array.from({ length: 16 }, () => Buffer.alloc(2048));
  const sizes = new Int32Array(16);
  const out = [];
  for (;;) {
    const n = addon.readBatch(fd, bufs, sizes, 0);
    for (let i = 0; i < n; i++) out.push(Buffer.from(bufs[i].subarray(0, sizes[i])));
    if (n < bufs.length) return out;
  }
}

const frame = (payload) => {
  const h = Buffer.alloc(2);
  h.writeUInt16BE(payload.length);
  return Buffer.concat([h, payload]);
};

if (mode === 'hold') {
  const [port, dir] = rest;
  const fd = addon.udpSocketBind(addr, Number(port));
  addon.setNonBlocking(fd, true);
  fs.writeFileSync(path.join(dir, 'ready'), 'ok\n');
  const stop = Date.now() + 30000;
  process.on('SIGTERM', () => process.exit(0));
  while (Date.now() < stop) {
    for (const d of readAll(fd)) fs.appendFileSync(path.join(dir, 'got'), d.toString() + '\n');
    await sleep(20);
  }
} else if (mode === 'drain') {
  const fd = addon.udpSocketBind(addr, 5163);
  addon.setNonBlocking(fd, true);
  const stranger = await sender(5164);
  const peer = await sender(5165);
  await stranger.send(Buffer.from('stranger'), 5163);
  addon.udpSocketConnect(fd, addr, 5165);
  await peer.send(Buffer.from('peer'), 5163);
  await sleep(50);
  console.log(JSON.stringify({ got: readAll(fd).map((b) => b.toString()) }));
  stranger.close();
  peer.close();
  addon.closeFd(fd);
} else if (mode === 'filter') {
  const fd = addon.udpSocketBind(addr, 5166);
  const stranger = await sender(5167);
  const peer = await sender(5168);
  // queued before connect: the peer's first, then a stranger's (the drain stops at the peer's)
  await peer.send(frame(Buffer.from('from-peer')), 5166);
  await stranger.send(frame(Buffer.from('from-stranger')), 5166);
  addon.udpSocketConnect(fd, addr, 5168);
  const [devPump, devTest] = addon.socketPair('seqpacket');
  addon.setNonBlocking(devTest, true);
  const pump = new addon.Pump(
    { deviceFd: devPump, deviceKind: 'packet', netFd: fd, transport: 'udp', natHack: false, compression: { kind: 'none' }, cipher: 0, key: Buffer.alloc(0), sendDelayMs: 0, speedKbps: 0 },
    () => {},
  );
  pump.start();
  await peer.send(frame(Buffer.from('from-peer-2')), 5166);
  const device = [];
  for (let i = 0; i < 200 && device.length < 2; i++) {
    device.push(...readAll(devTest).map((b) => b.toString()));
    await sleep(10);
  }
  await sleep(50);
  device.push(...readAll(devTest).map((b) => b.toString()));
  console.log(JSON.stringify({ device, foreignDrops: pump.stats().foreignDrops }));
  pump.stop();
  stranger.close();
  peer.close();
  addon.closeFd(devPump);
  addon.closeFd(devTest);
} else {
  console.error(`udp-hygiene: unknown mode "${mode}" (expected hold, drain or filter)`);
  process.exit(2);
}
