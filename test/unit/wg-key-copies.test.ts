// The JS copies of WireGuard keys on their way to the addon (core/wireguard/protocol.ts,
// interface.ts, uapi-server.ts): each one is zeroed once it has been handed on, when the link
// opens, when `wg set` changes a preshared key or adds a peer, and when a reload re-keys in
// place, while the interface keeps working with the keys it was given (the UAPI get answers them).
// Spies on the addon's Handshake (the preshared keys handed over), WgInterface.get (the snapshots
// a set and a reload take) and WgInterface.set (the requests the UAPI server parsed). A real link:
// the addon's engine over a socketpair tun and a UDP socket, the UAPI socket in /run/wireguard.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, test } from 'node:test';
import { parseAnySessionConfig, readSecret } from '../../core/config/load.js';
import type { SessionConfig } from '../../core/config/types.js';
import type { SessionDevice } from '../../core/session/device.js';
import type { LinkContext } from '../../core/session/protocol.js';
import { WgInterface } from '../../core/wireguard/interface.js';
import { generatePresharedKey, generatePrivateKey, keyToBase64, keyToHex, publicKeyOf } from '../../core/wireguard/keys.js';
import { wireguardProtocol } from '../../core/wireguard/protocol.js';
import type { WgDeviceState } from '../../core/wireguard/types.js';
import type { UapiSetRequest } from '../../core/wireguard/uapi.js';
import { native } from '../../native/index.js';

const addon = native();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'wg-key-copies-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const isZero = (k: Buffer) => k.every((b) => b === 0);

/** The key Buffers of a snapshot or request that were set (private key, preshared keys). */
function keysOf(s: { privateKey?: Buffer | null; peers: { presharedKey?: Buffer | null }[] }): Buffer[] {
  return [s.privateKey, ...s.peers.map((p) => p.presharedKey)].filter((k): k is Buffer => k instanceof Buffer);
}

/** One UAPI request on a fresh connection: the reply (up to its blank line). */
function uapi(socketPath: string, request: string): Promise<string> {
  return new Promise((resolve, reject) => {
    let data = '';
    const sock = net.connect(socketPath);
    sock.setEncoding('utf8');
    sock.on('connect', () => sock.write(request));
    sock.on('data', (chunk: string) => {
      data += chunk;
      if (data.includes('\n\n')) {
        sock.end();
        resolve(data);
      }
    });
    sock.on('error', reject);
    sock.on('close', () => resolve(data));
  });
}

/** Records what the link hands over and takes while `recording` is on; restore() undoes it. */
function spies() {
  const wg = addon.wg as unknown as { Handshake: new (...a: unknown[]) => object };
  const RealHandshake = wg.Handshake;
  const realGet = WgInterface.prototype.get;
  const realSet = WgInterface.prototype.set;
  const seen = { handedOver: [] as Buffer[], snapshots: [] as WgDeviceState[], requests: [] as UapiSetRequest[], recording: false };
  // the addon's methods are read-only: each handshake is seen through a proxy that records the
  // key given to setPresharedKey and calls the real method on the real object
  wg.Handshake = new Proxy(RealHandshake, {
    construct(target, args) {
      if (args[2] instanceof Buffer) seen.handedOver.push(args[2]);
      const real = Reflect.construct(target, args) as object;
      return new Proxy(real, {
        get: (obj, key) => {
          const value = Reflect.get(obj, key) as unknown;
          if (typeof value !== 'function') return value;
          if (key !== 'setPresharedKey') return (value as (...a: unknown[]) => unknown).bind(obj);
          return (k: Buffer | null) => {
            if (k) seen.handedOver.push(k);
            return (value as (k: Buffer | null) => unknown).call(obj, k);
          };
        },
      });
    },
  });
  WgInterface.prototype.get = function (this: WgInterface) {
    const state = realGet.call(this);
    if (seen.recording) seen.snapshots.push(state);
    return state;
  };
  WgInterface.prototype.set = function (this: WgInterface, request: UapiSetRequest) {
    seen.requests.push(request);
    return realSet.call(this, request);
  };
  const restore = () => {
    wg.Handshake = RealHandshake;
    WgInterface.prototype.get = realGet;
    WgInterface.prototype.set = realSet;
  };
  return { seen, restore };
}

test(
  'preshared keys: the copies handed to the handshakes, the snapshots and the parsed requests are zeroed; the interface keeps the keys',
  { skip: process.getuid?.() !== 0 && 'the UAPI socket lives in /run/wireguard (root)' },
  async () => {
    const name = `wgk${process.pid % 100000}`;
    const priv = keyToBase64(generatePrivateKey());
    const peerA = publicKeyOf(generatePrivateKey());
    const peerB = publicKeyOf(generatePrivateKey());
    const [psk1, psk2, psk3, psk4] = [generatePresharedKey(), generatePresharedKey(), generatePresharedKey(), generatePresharedKey()];
    const session = (psk: Buffer): SessionConfig => {
      const text = `[Interface]\nPrivateKey = ${priv}\n\n[Peer]\nPublicKey = ${keyToBase64(peerA)}\nPresharedKey = ${keyToBase64(psk)}\nAllowedIPs = 198.19.77.2/32\n`;
      const r = parseAnySessionConfig(text, path.join(tmp, `${name}.conf`), name);
      assert.deepEqual(r.problems, [], JSON.stringify(r.problems));
      return r.config!;
    };
    const pskLine = (peer: Buffer, psk: Buffer) => `public_key=${keyToHex(peer)}\npreshared_key=${keyToHex(psk)}\n`;

    const [dev, devPeer] = addon.socketPair('seqpacket');
    const config = session(psk1);
    const logs: string[] = [];
    const ctx = {
      config,
      secret: await readSecret(config),
      signal: new AbortController().signal,
      log: (m: string) => logs.push(m),
      handshaking: () => {},
      device: async () => ({ device: { fd: dev, name }, kind: 'tun', preexisting: false, info: {} }) as unknown as SessionDevice,
      passedUdpFd: null,
    } satisfies LinkContext;
    const { seen, restore } = spies();
    const socketPath = `/run/wireguard/${name}.sock`;
    try {
      // open: the spec's copy went to the peer's handshake, then was zeroed
      const link = await wireguardProtocol.open(ctx);
      try {
        assert.equal(seen.handedOver.length, 1, 'one preshared key handed to a handshake');
        assert.ok(seen.handedOver.every(isZero), 'the copy handed over at open is not zeroed');
        assert.ok((await uapi(socketPath, 'get=1\n\n')).includes(pskLine(peerA, psk1)), 'the interface lost the key it was given');

        // wg set: a new key for A, a new peer B with its key
        seen.handedOver.length = 0;
        seen.recording = true;
        const setReply = await uapi(socketPath, `set=1\n${pskLine(peerA, psk2)}${pskLine(peerB, psk3)}allowed_ip=198.19.77.3/32\n\n`);
        seen.recording = false;
        assert.equal(setReply, 'errno=0\n\n');
        assert.equal(seen.handedOver.length, 2, 'A: setPresharedKey, B: a new handshake');
        assert.ok(seen.handedOver.every(isZero), 'a key handed over by wg set is not zeroed');
        assert.equal(seen.requests.length, 1);
        assert.equal(keysOf(seen.requests[0]!).length, 2);
        assert.ok(keysOf(seen.requests[0]!).every(isZero), 'the keys the UAPI server parsed are not zeroed');
        assert.ok(seen.snapshots.length > 0);
        assert.ok(seen.snapshots.flatMap(keysOf).every(isZero), 'a snapshot set() took is not zeroed');
        const afterSet = await uapi(socketPath, 'get=1\n\n');
        assert.ok(afterSet.includes(pskLine(peerA, psk2)) && afterSet.includes(pskLine(peerB, psk3)), afterSet);

        // a reload in place: A's key from the file again (psk4), B is not in the file (removed)
        seen.handedOver.length = 0;
        seen.snapshots.length = 0;
        seen.recording = true;
        const reloaded = session(psk4);
        const secret = await readSecret(reloaded);
        assert.match(await link.reconfigure!(reloaded, secret), /1 peer: 0 added, 1 removed/);
        seen.recording = false;
        assert.equal(seen.handedOver.length, 1);
        assert.ok(seen.handedOver.every(isZero), 'a key handed over by a reload is not zeroed');
        assert.ok(seen.snapshots.length >= 2, 'the running state and set()');
        assert.ok(seen.snapshots.flatMap(keysOf).every(isZero), 'a snapshot a reload took is not zeroed');
        assert.ok(!isZero(secret), "the session's secret is the session's: it stays");
        const afterReload = await uapi(socketPath, 'get=1\n\n');
        assert.ok(afterReload.includes(pskLine(peerA, psk4)) && !afterReload.includes(keyToHex(peerB)), afterReload);
      } finally {
        await link.close('stopped');
      }
    } finally {
      restore();
      addon.closeFd(dev);
      addon.closeFd(devPeer);
    }
  },
);
