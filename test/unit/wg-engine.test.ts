// The WgEngine's control API without traffic (test/bats/wg-transport.bats moves packets): peers,
// allowed IPs, endpoints, keypairs and their validation, lifecycle. AF_UNIX socketpairs stand in
// for the fds; the engine is never started unless a test says so.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { native, type NativeWgEngine, type WgEvent } from '../../native/index.js';

const addon = native();

function make(options: Record<string, unknown> = {}): { engine: NativeWgEngine; events: WgEvent[]; close(): void } {
  const [dev, devPeer] = addon.socketPair('seqpacket');
  const [net, netPeer] = addon.socketPair('dgram');
  const events: WgEvent[] = [];
  const engine = new addon.WgEngine({ deviceFd: dev, netFd: net, ...options }, (e) => events.push(e));
  return {
    engine,
    events,
    close() {
      const started = engine.stats().running;
      engine.stop();
      for (const fd of started ? [dev, devPeer, netPeer] : [dev, devPeer, net, netPeer]) addon.closeFd(fd);
    },
  };
}

const keypair = (localIndex: number, initiator = true) => ({
  sendKey: randomBytes(32),
  recvKey: randomBytes(32),
  localIndex,
  remoteIndex: localIndex + 1000,
  initiator,
});

test('bad options are refused', () => {
  assert.throws(() => new addon.WgEngine({ deviceFd: -1, netFd: 1 }, () => {}), TypeError);
  assert.throws(() => new addon.WgEngine({ deviceFd: 0, netFd: 1, mtu: 100 }, () => {}), /mtu 100 out of range/);
  assert.throws(() => new addon.WgEngine({ deviceFd: 0, netFd: 1, limits: { rejectAfterMessages: -1 } }, () => {}), /rejectAfterMessages/);
});

test('peers: ids, endpoints, allowed IPs (host bits cleared, every bad prefix reported, prefixes move)', () => {
  const t = make();
  try {
    const { engine } = t;
    engine.addPeer(1, { endpoint: { address: '198.18.0.1', port: 51820 }, allowedIps: ['198.19.0.7/24', '2001:2::5/64'] });
    engine.addPeer(2);
    assert.deepEqual(engine.peers(), [1, 2]);
    assert.deepEqual(engine.allowedIps(1), ['198.19.0.0/24', '2001:2::/64']);
    assert.throws(() => engine.addPeer(1), /peer 1 exists already/);
    assert.throws(() => engine.addPeer(0), /expected 1\.\.4294967295/);
    assert.throws(
      () => engine.setAllowedIps(2, ['198.19.0.0/33', 'nonsense', '198.19.1.0/24']),
      (e: Error) => /too long/.test(e.message) && /"nonsense" is not an IPv4 or IPv6 prefix/.test(e.message),
    );
    // a prefix given to another peer moves
    engine.setAllowedIps(2, ['198.19.0.0/24', '198.19.2.1']);
    assert.deepEqual(engine.allowedIps(1), ['2001:2::/64']);
    assert.deepEqual(engine.allowedIps(2), ['198.19.0.0/24', '198.19.2.1/32']);
    assert.deepEqual(engine.peerStats(1)!.endpoint, { address: '198.18.0.1', port: 51820 });
    engine.setEndpoint(1, { address: '2001:2::9', port: 1 });
    assert.deepEqual(engine.peerStats(1)!.endpoint, { address: '2001:2::9', port: 1 });
    engine.setEndpoint(1, null);
    assert.equal(engine.peerStats(1)!.endpoint, null);
    assert.throws(() => engine.setEndpoint(1, { address: '198.18.0.256', port: 1 }), /bad endpoint/);
    assert.throws(() => engine.setEndpoint(1, { address: '198.18.0.1', port: 0 }), /bad endpoint/);
    assert.throws(() => engine.setEndpoint(3, null), /no peer 3/);
    engine.removePeer(2);
    assert.deepEqual(engine.peers(), [1]);
    assert.equal(engine.peerStats(2), null);
  } finally {
    t.close();
  }
});

test('keypairs rotate as wireguard-go: initiator current at once, responder waits as next', () => {
  const t = make();
  try {
    const { engine } = t;
    engine.addPeer(1);
    assert.equal(engine.peerStats(1)!.current, null);
    engine.installKeypair(1, keypair(10));
    let s = engine.peerStats(1)!;
    assert.equal(s.current!.localIndex, 10);
    assert.equal(s.current!.sendCounter, 0n);
    assert.equal(s.current!.initiator, true);
    engine.installKeypair(1, keypair(11, false));
    s = engine.peerStats(1)!;
    assert.equal(s.current!.localIndex, 10, 'a responder keypair does not replace current');
    assert.equal(s.next!.localIndex, 11);
    assert.equal(s.previous, null);
    engine.installKeypair(1, keypair(12));
    s = engine.peerStats(1)!;
    assert.equal(s.current!.localIndex, 12, 'an initiator keypair becomes current');
    assert.equal(s.previous!.localIndex, 11, 'the unconfirmed next becomes previous');
    assert.equal(s.next, null);
    assert.throws(() => engine.installKeypair(1, keypair(12)), /local index 12 is in use/);
    assert.throws(() => engine.installKeypair(1, { ...keypair(13), sendKey: Buffer.alloc(31) }), /32-byte Buffer/);
    assert.throws(() => engine.installKeypair(1, { ...keypair(13), localIndex: -1 }), /32-bit unsigned/);
    // index 10 was retired with the rotation: it can be used again
    engine.installKeypair(1, keypair(10));
    engine.clearKeypairs(1);
    s = engine.peerStats(1)!;
    assert.deepEqual([s.current, s.previous, s.next], [null, null, null]);
    engine.dropStaged(1);
    assert.throws(() => engine.dropStaged(2), /dropStaged: no peer 2/);
  } finally {
    t.close();
  }
});

test('the public key for mac1: a 32-byte Buffer, in the options or later', () => {
  const pub = addon.wg.publicKey(addon.wg.generatePrivateKey());
  assert.throws(() => make({ publicKey: Buffer.alloc(5) }), /publicKey: the key must be a 32-byte Buffer/);
  const t = make({ publicKey: pub });
  try {
    t.engine.setPublicKey(pub);
    assert.throws(() => t.engine.setPublicKey('key' as unknown as Buffer), /32-byte Buffer/);
    t.engine.forceUnderLoad(true);
    t.engine.forceUnderLoad(null);
  } finally {
    t.close();
  }
});

test('lifecycle: start once; stop before start leaves nothing; sendToPeer needs an endpoint', () => {
  const t = make();
  t.engine.addPeer(1);
  assert.throws(() => t.engine.sendToPeer(1, Buffer.from('x')), /has no endpoint/);
  assert.throws(() => t.engine.send(Buffer.alloc(0), { address: '198.18.0.1', port: 1 }), /1\.\.65507 bytes/);
  t.engine.stop();
  assert.throws(() => t.engine.start(), /stopped .*runs once/);
  t.close();
  const u = make();
  u.engine.start();
  assert.throws(() => u.engine.start(), /already started/);
  assert.equal(u.engine.stats().running, true);
  u.close();
});
