#!/usr/bin/env node
// A minimal WireGuard peer made of the addon's `wg` bindings and one UDP socket, for
// test/bats/wg-handshake.bats (interop with the real wireguard-go, without tund's engine).
//
//   node wg-peer.mjs initiate --key FILE --peer PUBKEY --endpoint HOST:PORT --bind ADDR:PORT
//        --src 198.19.x.y --dst 198.19.x.z [--timeout S]
//     sends an initiation, consumes the response (or a cookie reply, then retries), sends a
//     keepalive and one ICMP echo request from --src to --dst inside the tunnel, and waits for
//     the echo reply, which it decrypts.
//   node wg-peer.mjs respond --key FILE --peer PUBKEY --bind ADDR:PORT [--under-load] [--timeout S]
//     answers the peer's initiation (with --under-load: only initiations with a valid mac2; the
//     others get a cookie reply), then decrypts transport data until an ICMP echo request comes,
//     which it answers.
// Prints one JSON object per event on stdout ({"event": ...}); exit 0 when the exchange
// completed, 1 otherwise. The private key is read from a file (never argv).
// For test/fuzz/capture-wg.sh: --record DIR writes every datagram received as DIR/rx-N-typeT;
// --ephemeral HEX --timestamp HEX --index N make the initiation the same every time.
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const { native } = await import(path.join(root, 'dist', 'native', 'index.js'));
const wg = native().wg;

const [mode, ...rest] = process.argv.slice(2);
const opts = { timeout: '20', 'under-load': false };
for (let i = 0; i < rest.length; i++) {
  const key = rest[i].replace(/^--/, '');
  if (key === 'under-load') opts[key] = true;
  else opts[key] = rest[++i];
}
const say = (event, extra = {}) => process.stdout.write(JSON.stringify({ event, ...extra }) + '\n');
const fail = (why) => {
  say('failed', { why });
  process.exit(1);
};
function splitHostPort(s) {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, ''), port: Number(s.slice(i + 1)) };
}

const privateKey = Buffer.from(fs.readFileSync(opts.key, 'utf8').trim(), 'base64');
const peerPublic = Buffer.from(opts.peer, 'base64');
if (privateKey.length !== 32 || peerPublic.length !== 32) fail('bad key');
const identity = new wg.Identity(privateKey);
const handshake = new wg.Handshake(identity, peerPublic);
const generator = new wg.CookieGenerator(peerPublic);
const checker = new wg.CookieChecker(identity.publicKey);
const localIndex = opts.index !== undefined ? Number(opts.index) >>> 0 : (Math.random() * 0xffffffff) >>> 0;
let received = 0;
const record = (msg) => {
  if (opts.record) fs.writeFileSync(path.join(opts.record, `rx-${received++}-type${msg[0]}`), msg);
};

const bind = splitHostPort(opts.bind);
// the address family follows --bind (an IPv6 underlay in ipv6-underlay.bats)
const sock = dgram.createSocket(bind.host.includes(':') ? 'udp6' : 'udp4');
await new Promise((resolve, reject) => {
  sock.once('error', reject);
  sock.bind(bind.port, bind.host, resolve);
}).catch((error) => fail(`bind ${opts.bind}: ${error.message}`));
setTimeout(() => fail('timeout'), Number(opts.timeout) * 1000).unref();

// ---- IPv4/ICMP packets inside the tunnel

function checksum(buf) {
  let sum = 0;
  for (let i = 0; i + 1 < buf.length; i += 2) sum += buf.readUInt16BE(i);
  if (buf.length % 2) sum += buf[buf.length - 1] << 8;
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}
function ipv4(src, dst, protocol, payload) {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload.length, 2);
  h.writeUInt16BE(0x4000, 6); // DF
  h[8] = 64;
  h[9] = protocol;
  src.split('.').forEach((o, i) => (h[12 + i] = Number(o)));
  dst.split('.').forEach((o, i) => (h[16 + i] = Number(o)));
  h.writeUInt16BE(checksum(h), 10);
  return Buffer.concat([h, payload]);
}
function icmpEcho(type, id, seq, data) {
  const m = Buffer.concat([Buffer.from([type, 0, 0, 0, id >> 8, id & 0xff, seq >> 8, seq & 0xff]), data]);
  m.writeUInt16BE(checksum(m), 2);
  return m;
}
function parseIcmp(packet) {
  if (packet.length < 28 || packet[0] >> 4 !== 4 || packet[9] !== 1) return null;
  const ihl = (packet[0] & 15) * 4;
  const icmp = packet.subarray(ihl, packet.readUInt16BE(2));
  const ip = (o) => Array.from(packet.subarray(o, o + 4)).join('.');
  return { src: ip(12), dst: ip(16), type: icmp[0], id: icmp.readUInt16BE(4), seq: icmp.readUInt16BE(6), data: icmp.subarray(8) };
}

// ---- transport data (type 4)

let keypair = null;
let sendAead = null;
let recvAead = null;
let sendCounter = 0n;
function sendData(packet, to) {
  // WireGuard pads the plaintext to a multiple of 16 bytes
  const padded = Buffer.alloc(Math.ceil(packet.length / 16) * 16);
  packet.copy(padded);
  const header = Buffer.alloc(16);
  header[0] = 4;
  header.writeUInt32LE(keypair.remoteIndex, 4);
  header.writeBigUInt64LE(sendCounter, 8);
  const sealed = sendAead.seal(sendCounter++, padded);
  sock.send(Buffer.concat([header, sealed]), to.port, to.address);
}
function openData(msg) {
  if (msg.readUInt32LE(4) !== keypair.localIndex) return null;
  return recvAead.open(msg.readBigUInt64LE(8), msg.subarray(16));
}
function install(kp) {
  keypair = kp;
  sendAead = new wg.Aead(kp.sendKey);
  recvAead = new wg.Aead(kp.recvKey);
  say('keypair', { initiator: kp.initiator, localIndex: kp.localIndex, remoteIndex: kp.remoteIndex });
}

// ---- roles

function initiate() {
  const to = splitHostPort(opts.endpoint);
  const target = { address: to.host, port: to.port };
  const sendInitiation = () => {
    if (opts.ephemeral) handshake.setNextEphemeral(Buffer.from(opts.ephemeral, 'hex'));
    const m1 = handshake.createInitiation(localIndex, opts.timestamp ? Buffer.from(opts.timestamp, 'hex') : undefined);
    if (typeof m1 === 'string') fail(`createInitiation: ${m1}`);
    generator.addMacs(m1);
    sock.send(m1, target.port, target.address);
    say('initiation_sent', { mac2: m1.subarray(132).some((b) => b !== 0) });
  };
  const echoId = 0x5747;
  const echoData = Buffer.from('tund wg_noise interop');
  sock.on('message', (msg) => {
    record(msg);
    const type = wg.messageType(msg);
    if (type === 3) {
      say('cookie_reply', { consumed: generator.consumeReply(msg) });
      setTimeout(sendInitiation, 100);
    } else if (type === 2 && !keypair) {
      const r = handshake.consumeResponse(msg);
      if (r !== null) return say('response_refused', { error: r });
      install(handshake.deriveKeypair());
      sendData(Buffer.alloc(0), target); // keepalive: confirms the keypair for the responder
      say('keepalive_sent');
      sendData(ipv4(opts.src, opts.dst, 1, icmpEcho(8, echoId, 1, echoData)), target);
      say('echo_request_sent');
    } else if (type === 4 && keypair) {
      const plain = openData(msg);
      if (!plain) return say('data_refused');
      if (plain.length === 0) return say('keepalive_received');
      const icmp = parseIcmp(plain);
      if (icmp && icmp.type === 0 && icmp.id === echoId && icmp.data.equals(echoData) && icmp.src === opts.dst) {
        say('echo_reply', { src: icmp.src, dst: icmp.dst, seq: icmp.seq });
        say('done');
        process.exit(0);
      }
      say('data', { bytes: plain.length });
    }
  });
  sendInitiation();
}

function respond() {
  const underLoad = opts['under-load'];
  sock.on('message', (msg, rinfo) => {
    record(msg);
    const type = wg.messageType(msg);
    if (type === 1) {
      const vet = checker.vet(msg, rinfo.address, rinfo.port, underLoad);
      say('initiation_received', { verdict: vet.verdict, mac2: msg.subarray(132).some((b) => b !== 0) });
      if (vet.verdict === 'cookie_reply') return sock.send(vet.reply, rinfo.port, rinfo.address);
      if (vet.verdict !== 'accept') return;
      const init = identity.readInitiation(msg);
      if (typeof init === 'string') return say('initiation_refused', { error: init });
      const ts = handshake.consumeInitiation(init);
      if (typeof ts === 'string') return say('initiation_refused', { error: ts });
      const m2 = handshake.createResponse(localIndex);
      if (typeof m2 === 'string') fail(`createResponse: ${m2}`);
      generator.addMacs(m2);
      sock.send(m2, rinfo.port, rinfo.address);
      install(handshake.deriveKeypair());
      say('response_sent');
    } else if (type === 4 && keypair) {
      const plain = openData(msg);
      if (!plain) return say('data_refused');
      if (plain.length === 0) return say('keepalive_received');
      const icmp = parseIcmp(plain);
      if (icmp && icmp.type === 8) {
        say('echo_request', { src: icmp.src, dst: icmp.dst, seq: icmp.seq });
        sendData(ipv4(icmp.dst, icmp.src, 1, icmpEcho(0, icmp.id, icmp.seq, icmp.data)), rinfo);
        say('echo_reply_sent');
        // stay a moment so the reply is on its way before the socket closes
        setTimeout(() => {
          say('done');
          process.exit(0);
        }, 200);
        return;
      }
      say('data', { bytes: plain.length });
    }
  });
  say('listening', { port: sock.address().port });
}

if (mode === 'initiate') initiate();
else if (mode === 'respond') respond();
else fail(`unknown mode "${mode}"`);
