#!/usr/bin/env node
// A bounded flood of WireGuard handshake initiations at a responder (test/bats/wg-session.bats).
// Each initiation is random past its header but carries a valid mac1 for the responder's public
// key, so it gets past the mac1 check to where load decides (a cookie reply, or up to the
// handshake); it can never authenticate. Sent in bursts of 64 from one UDP socket, at most COUNT
// messages and at most MS milliseconds; then waits a moment for late answers.
//
//   node wg-flood.mjs HOST PORT RESPONDER_PUBLIC_KEY_BASE64 COUNT MS
// Prints "cookie" once when the first cookie reply to one of its initiations arrives, and at the
// end one line: "sent N cookies C other X in T ms" (T: the sending time). It never uses a cookie: no initiation carries mac2.
import dgram from 'node:dgram';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { native } = await import(path.join(root, 'dist', 'native', 'index.js'));
const { wg } = native();
const [host, portArg, pubArg, countArg, msArg] = process.argv.slice(2);
const port = Number(portArg);
const limit = Number(countArg);
const ms = Number(msArg);
if (!host || !(port > 0) || !pubArg || !(limit > 0) || !(ms > 0)) {
  console.error('usage: wg-flood.mjs HOST PORT RESPONDER_PUBLIC_KEY_BASE64 COUNT MS');
  process.exit(2);
}
const gen = new wg.CookieGenerator(Buffer.from(pubArg, 'base64'));
const senders = new Set(); // sender indices of our initiations: a cookie reply names one
let sent = 0;
let cookies = 0;
let other = 0;

const socket = dgram.createSocket('udp4');
socket.on('message', (msg) => {
  if (msg.length === 64 && msg.readUInt32LE(0) === 3 && senders.has(msg.readUInt32LE(4))) {
    if (cookies++ === 0) console.log('cookie');
  } else other++;
});
await new Promise((resolve) => socket.bind(0, resolve));

const start = Date.now();
const deadline = start + ms;
while (sent < limit && Date.now() < deadline) {
  for (let i = 0; i < 64 && sent < limit; i++, sent++) {
    const m = randomBytes(148);
    m.writeUInt32LE(1, 0);
    senders.add(m.readUInt32LE(4));
    gen.addMacs(m);
    socket.send(m, port, host);
  }
  // let the socket drain and the answers in between bursts
  await new Promise((resolve) => setTimeout(resolve, 2));
}
const elapsed = Date.now() - start;
await new Promise((resolve) => setTimeout(resolve, 300));
console.log(`sent ${sent} cookies ${cookies} other ${other} in ${elapsed} ms`);
socket.close();
