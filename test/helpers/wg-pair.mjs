#!/usr/bin/env node
// One end of a WireGuard transport test (test/bats/wg-transport.bats): a tun opened through the
// addon, a UDP socket (udpSocketBind) and a native WgEngine whose peers and keys come from a JSON
// file the test wrote (no handshake: keys are installed directly). Writes DIR/ready (JSON with
// the tun name), waits for DIR/go, runs until SIGTERM, rewrites DIR/stats (engine stats, and
// per peer: stats and allowed IPs) every 200 ms and appends every event to DIR/events.
//
//   node wg-pair.mjs --tun NAME --bind ADDR --port P --dir DIR --config FILE [--mtu N]
//   FILE: {"peers": [{"id": 1, "endpoint": {"address": A, "port": P} | null,
//          "allowedIps": [...], "keypair": {"sendKey": HEX, "recvKey": HEX,
//          "localIndex": N, "remoteIndex": N, "initiator": BOOL} | null}]}
// Exit: 0 after SIGTERM, 3 when the engine ended by itself.
import fs from 'node:fs';
import path from 'node:path';
import { readyThenWaitForGo, startPair, writeStatsFile } from './pair-files.mjs';

const { addon, args, openTun } = await startPair('wg-pair', { required: ['tun', 'bind', 'port', 'dir', 'config'] });
const dir = args.dir;
const config = JSON.parse(fs.readFileSync(args.config, 'utf8'));
const log = (...m) => console.log('[wg-pair]', ...m);

const tun = openTun(args.tun);
const netFd = addon.udpSocketBind(args.bind, Number(args.port));
log('tun', tun.name, 'udp', `${args.bind}:${args.port}`);

const events = path.join(dir, 'events');
let ended = null;
const engine = new addon.WgEngine({ deviceFd: tun.fd, netFd, mtu: Number(args.mtu ?? 1420) }, (event) => {
  const shown = event.type === 'message' ? { ...event, data: event.data.toString('hex') } : event;
  fs.appendFileSync(events, JSON.stringify(shown) + '\n');
  if (event.type === 'ended') {
    ended = event;
    writeStats();
    if (event.reason !== 'stopped') {
      engine.stop();
      addon.closeFd(tun.fd);
      process.exit(3);
    }
  }
});

for (const p of config.peers) {
  engine.addPeer(p.id, { endpoint: p.endpoint ?? null, allowedIps: p.allowedIps ?? [] });
  if (p.keypair) {
    const k = p.keypair;
    engine.installKeypair(p.id, {
      sendKey: Buffer.from(k.sendKey, 'hex'),
      recvKey: Buffer.from(k.recvKey, 'hex'),
      localIndex: k.localIndex,
      remoteIndex: k.remoteIndex,
      initiator: k.initiator,
    });
  }
}

function writeStats() {
  const peers = {};
  for (const id of engine.peers()) peers[id] = { ...engine.peerStats(id), allowedIps: engine.allowedIps(id) };
  writeStatsFile(dir, { ...engine.stats(), peers, event: ended });
}

// The signals have their handlers before READY: the tests and the benchmark signal an end once it
// is ready, and one that came before its handler would get Node's default (SIGUSR1 starts the
// inspector, SIGTERM kills without the last stats) -- the window pump-pair.mjs had. A keepalive
// asked for before the engine runs is sent once it does.
let timer = null;
let started = false;
let keepaliveWanted = false;
const sendKeepalives = () => {
  // a keepalive to every peer (the responder's first message confirms the initiator's keypair)
  for (const id of engine.peers()) engine.sendKeepalive(id);
};
process.on('SIGUSR1', () => {
  if (started) sendKeepalives();
  else keepaliveWanted = true;
});
process.on('SIGTERM', () => {
  clearInterval(timer);
  writeStats();
  if (started) engine.stop();
  addon.closeFd(tun.fd);
  log('stopped');
  process.exit(0);
});

await readyThenWaitForGo(dir, 'wg-pair', { tun: tun.name });

engine.start();
started = true;
log('engine started');
if (keepaliveWanted) sendKeepalives();
timer = setInterval(writeStats, 200);
writeStats();
