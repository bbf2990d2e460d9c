// wg_device: the JS side of a WireGuard device taking the handshake messages the engine hands up
// (core/wireguard/device.ts handshakeMessage: type 1 read by the identity, types 2 and 3 routed
// by receiver index to a peer's state machine, core/wireguard/peer.ts), on two devices R and I
// (the fixed keys of test/fuzz/native/wg_fixture.h) over FakeDataplane with a fake clock.
// The input is a list of operations, one byte each plus its arguments: a datagram of the input's
// bytes (type 1, 2, 3 or 4 and a size) to R or to I; the last message I sent delivered to R, or
// the last R sent delivered to I, with up to 3 bytes changed; I or R asked for a handshake; the
// clock moved on.
// Oracles: nothing throws; every message is either handled or counted as dropped, once; a
// message is handled only if it is one the other device sent, up to the bytes nothing in JS
// checks (the sender index, and mac1/mac2, which the engine's cookie gate checks before JS):
// a forged, corrupted or random message never completes a handshake or sets a cookie.
import { Buffer } from 'node:buffer';
import { WgHandshakeDevice } from '../../../../core/wireguard/device.js';
import { FakeDataplane } from '../../../../core/wireguard/fake-dataplane.js';
import { keyToBase64 } from '../../../../core/wireguard/keys.js';
import { FakeClock, WG_TIMERS } from '../../../../core/wireguard/timers.js';
import type { WgEndpoint } from '../../../../core/wireguard/types.js';
import { check, type JsFuzzTarget } from '../target.js';

const R_KEY = Buffer.from('ULsSbJ1PqhOc8x5P0hlAL0w0pvl1lXlSa2LCm8yk0m0=', 'base64');
const I_KEY = Buffer.from('cA7mEYGx0R2kkC1nBPtnHpJ0vNHCU6Q5pO6xTxpvM1s=', 'base64');
const R_ADDR: WgEndpoint = { host: '198.18.9.1', port: 51820 };
const I_ADDR: WgEndpoint = { host: '198.18.9.2', port: 51821 };
const SIZES: Record<number, number> = { 1: 148, 2: 92, 3: 64, 4: 32 };

class Reader {
  private at = 0;
  constructor(private readonly data: Buffer) {}
  get done(): boolean {
    return this.at >= this.data.length;
  }
  byte(): number {
    return this.at < this.data.length ? this.data[this.at++]! : 0;
  }
  bytes(n: number): Buffer {
    const out = Buffer.alloc(n);
    this.data.copy(out, 0, this.at, this.at + n);
    this.at += n;
    return out;
  }
}

/** Does `got` equal `sent` except where JS does not look (sender index, macs)? */
function sameAsSent(got: Buffer, sent: Buffer): boolean {
  if (got.length !== sent.length) return false;
  const type = got[0];
  for (let i = 0; i < got.length; i++) {
    if ((type === 1 || type === 2) && ((i >= 4 && i < 8) || i >= got.length - 32)) continue;
    if (got[i] !== sent[i]) return false;
  }
  return true;
}

interface Side {
  device: WgHandshakeDevice;
  dataplane: FakeDataplane;
  peerId: string; // the other side's id at this side
  address: WgEndpoint;
}

function side(clock: FakeClock, key: Buffer, address: WgEndpoint, otherPublic: Buffer, otherAddress: WgEndpoint | null, seed: number): Side {
  const dataplane = new FakeDataplane(clock, WG_TIMERS, address);
  let state = seed;
  const random = () => (state = (state * 1103515245 + 12345) >>> 0) / 2 ** 32;
  const device = new WgHandshakeDevice({ privateKey: key, dataplane, clock, random, indexRandom: () => Math.floor(random() * 2 ** 32) });
  dataplane.events = device;
  dataplane.setLocalPublicKey(device.publicKey);
  const peerId = keyToBase64(otherPublic);
  dataplane.addPeer(peerId, otherAddress);
  device.addPeer({ publicKey: otherPublic });
  device.start();
  return { device, dataplane, peerId, address };
}

export const target: JsFuzzTarget = {
  modules: ['core/wireguard/device.js', 'core/wireguard/peer.js', 'core/wireguard/indices.js'],
  maxLength: 1024,
  run(data) {
    const clock = new FakeClock();
    // R's public key is needed by I, and the other way round: derive them from throwaway devices
    const rPublic = new WgHandshakeDevice({ privateKey: R_KEY, dataplane: new FakeDataplane(clock, WG_TIMERS, R_ADDR), clock }).publicKey;
    const iPublic = new WgHandshakeDevice({ privateKey: I_KEY, dataplane: new FakeDataplane(clock, WG_TIMERS, I_ADDR), clock }).publicKey;
    const R = side(clock, R_KEY, R_ADDR, iPublic, null, 7);
    const I = side(clock, I_KEY, I_ADDR, rPublic, R_ADDR, 11);
    const input = new Reader(data);

    const deliver = (to: Side, from: Side, message: Buffer, source: WgEndpoint) => {
      const sent = from.dataplane.inspect(from.peerId).sentHandshakes;
      const dropped = to.device.counters.handshakeDropped;
      const sentBefore = to.dataplane.inspect(to.peerId).sentHandshakes.length;
      to.device.handshakeMessage(message, source);
      const delta = to.device.counters.handshakeDropped - dropped;
      check(delta === 0 || delta === 1, `dropped counted ${delta} times`);
      if (delta === 0) {
        check(sent.some((s) => sameAsSent(message, s)), () => `a message that was never sent was handled: ${message.toString('hex')}`);
      }
      // (only a handled initiation makes the receiver answer)
      const answered = to.dataplane.inspect(to.peerId).sentHandshakes.length - sentBefore;
      check(answered === 0 || (delta === 0 && message[0] === 1), `answered ${answered} times a message of type ${message[0]} (dropped: ${delta})`);
    };

    for (let op = 0; op < 64 && !input.done; op++) {
      const code = input.byte() % 8;
      if (code <= 1) {
        // a datagram of the input's bytes, as the engine would hand it up (or not: any type)
        const type = input.byte() % 6;
        const size = SIZES[type] ?? input.byte();
        const message = input.bytes(size);
        if (size >= 1) message[0] = type;
        if (code === 0) deliver(R, I, message, I_ADDR);
        else deliver(I, R, message, R_ADDR);
      } else if (code <= 3) {
        // the last message one side sent, to the other, changed in up to 3 bytes
        const [from, to] = code === 2 ? [I, R] : [R, I];
        const sent = from.dataplane.inspect(from.peerId).sentHandshakes;
        if (sent.length === 0) continue;
        const message = Buffer.from(sent[sent.length - 1]!);
        const changes = input.byte() % 4;
        for (let i = 0; i < changes; i++) message[input.byte() % message.length] ^= input.byte();
        deliver(to, from, message, from.address);
      } else if (code === 4) {
        I.device.needHandshake(I.peerId);
      } else if (code === 5) {
        R.device.needHandshake(R.peerId);
      } else {
        // up to 1 s in ms steps, or up to 255 s (retries, rekeys, expiry: each timer that falls due runs)
        clock.advance(code === 6 ? input.byte() * 4 : input.byte() * 1000);
      }
    }
    I.device.stop();
    R.device.stop();
  },
};
