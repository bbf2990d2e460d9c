#!/usr/bin/env node
// A fake WireGuard device behind tund's real UAPI server (core/wireguard/uapi-server.ts), for
// test/bats/wg-uapi.bats: the real wg(8) talks to it as to wireguard-go. The device is an
// in-memory WgDeviceState changed by applySetRequest (wireguard-go's set semantics).
//
//   node uapi-device.mjs --name IFNAME --dir SOCKDIR --state-dir DIR [--key FILE]
//        [--peer PUBKEY_BASE64]... [--busy-port N]
//   --key: the device's private key file; --peer: peers present at start (with a handshake 5 s
//   ago and some traffic, so `wg show` has something to show); --busy-port N: a set of
//   listen_port=N fails with EADDRINUSE, as a port in use would.
// Writes DIR/ready when listening, and after every change DIR/showconf (tund's renderShowconf of
// the state) and DIR/sets (one JSON line per set request: its shape, no keys).
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..');
const load = (m) => import(path.join(root, 'dist', 'core', 'wireguard', m));
const { UapiServer } = await load('uapi-server.js');
const { applySetRequest } = await load('uapi-apply.js');
const { renderShowconf } = await load('render.js');
const { EADDRINUSE } = await load('uapi.js');

const opts = { peer: [] };
const argv = process.argv.slice(2);
for (let i = 0; i < argv.length; i += 2) {
  const k = argv[i].replace(/^--/, '');
  if (k === 'peer') opts.peer.push(argv[i + 1]);
  else opts[k] = argv[i + 1];
}

const now = Date.now() / 1000 - 5;
let device = {
  privateKey: opts.key ? Buffer.from(fs.readFileSync(opts.key, 'utf8').trim(), 'base64') : null,
  listenPort: 51820,
  fwMark: 0,
  peers: opts.peer.map((p, i) => ({
    publicKey: Buffer.from(p, 'base64'),
    presharedKey: null,
    endpoint: { host: `198.18.0.${i + 10}`, port: 51820 + i },
    allowedIps: [`198.19.${i + 1}.0/24`],
    persistentKeepalive: 0,
    lastHandshake: { seconds: Math.floor(now), nanoseconds: 0 },
    rxBytes: 1000 * (i + 1),
    txBytes: 2000 * (i + 1),
  })),
};

const stateDir = opts['state-dir'];
const save = () => fs.writeFileSync(path.join(stateDir, 'showconf'), renderShowconf(device));
save();

const server = await UapiServer.listen({
  name: opts.name,
  dir: opts.dir,
  log: (m) => process.stderr.write(`${m}\n`),
  provider: {
    get: () => device,
    set: (request) => {
      const shape = {
        privateKey: request.privateKey !== undefined,
        listenPort: request.listenPort ?? null,
        fwMark: request.fwMark ?? null,
        replacePeers: request.replacePeers,
        peers: request.peers.map((p) => ({
          publicKey: p.publicKey.toString('base64'),
          remove: p.remove,
          updateOnly: p.updateOnly,
          presharedKey: p.presharedKey !== undefined,
          endpoint: p.endpoint ?? null,
          persistentKeepalive: p.persistentKeepalive ?? null,
          replaceAllowedIps: p.replaceAllowedIps,
          allowedIps: p.allowedIps,
        })),
      };
      fs.appendFileSync(path.join(stateDir, 'sets'), `${JSON.stringify(shape)}\n`);
      if (opts['busy-port'] !== undefined && request.listenPort === Number(opts['busy-port'])) return EADDRINUSE;
      device = applySetRequest(device, request);
      save();
      return 0;
    },
  },
});
// keep running: the server unrefs itself (it never holds a session up), this test device must
setInterval(() => {}, 1 << 30);
fs.writeFileSync(path.join(stateDir, 'ready'), server.socketPath);
process.on('SIGTERM', () => {
  server.close();
  process.exit(0);
});
