// The hub's layer-2 switch (native/src/l2switch.*) through its binding: who owns which MAC, where
// each kind of frame goes, what is dropped and counted, aging and limits. Frames are real
// Ethernet headers (destination, source, EtherType) with a payload.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { native, type L2SwitchOptions } from '../../native/index.js';

const addon = native();

const A = '02:00:00:00:00:0a';
const B = '02:00:00:00:00:0b';
const C = '02:00:00:00:00:0c';
const H1 = '02:00:00:00:01:01'; // hosts behind a bridge peer
const H2 = '02:00:00:00:01:02';
const BCAST = 'ff:ff:ff:ff:ff:ff';
const MCAST4 = '01:00:5e:00:00:fb';
const MCAST6 = '33:33:00:00:00:01';

const macBytes = (mac: string) => Buffer.from(mac.split(':').map((h) => parseInt(h, 16)));
/** An Ethernet frame: destination, source, IPv4 EtherType, and a payload up to `len`. */
const eth = (dst: string, src: string, len = 64) => {
  const f = Buffer.alloc(len, 0x5a);
  macBytes(dst).copy(f, 0);
  macBytes(src).copy(f, 6);
  f.writeUInt16BE(0x0800, 12);
  return f;
};

function hub(options: L2SwitchOptions = {}) {
  const sw = new addon.L2Switch(options);
  const peer = (mac?: string) => {
    const id = sw.addPort({ kind: 'peer' });
    if (mac) assert.equal(sw.setPortMac(id, mac).ok, true);
    return id;
  };
  const bridge = (mac?: string) => {
    const id = sw.addPort({ kind: 'peer', bridge: true });
    if (mac) sw.setPortMac(id, mac);
    return id;
  };
  return { sw, peer, bridge };
}

describe('plain peers', () => {
  test('unicast goes to the owner of the destination only, and is counted both ways', () => {
    const { sw, peer } = hub();
    const a = peer(A);
    const b = peer(B);
    peer(C);
    assert.deepEqual(sw.forward(a, eth(B, A, 100), 1), { drop: null, ports: [b], registered: false });
    const pa = sw.port(a)!;
    const pb = sw.port(b)!;
    assert.deepEqual([pa.counters.rxFrames, pa.counters.rxBytes, pa.counters.txFrames], [1, 100, 0]);
    assert.deepEqual([pb.counters.txFrames, pb.counters.txBytes, pb.counters.rxFrames], [1, 100, 0]);
    assert.equal(pb.mac, B);
    assert.deepEqual(pb.macs, [B]);
  });

  test('without the header, the first frame gives a peer its MAC; before that it receives nothing', () => {
    const { sw, peer } = hub();
    const a = peer(A);
    const c = peer();
    assert.deepEqual(sw.forward(a, eth(BCAST, A), 1).drop, 'no_destination', 'c has no MAC yet: not a destination');
    const first = sw.forward(c, eth(BCAST, C), 2);
    assert.equal(first.registered, true);
    assert.deepEqual(first.ports, [a]);
    assert.equal(sw.port(c)!.mac, C);
    assert.deepEqual(sw.forward(a, eth(C, A), 3).ports, [c]);
  });

  test('anti-spoofing: a frame from any other source MAC is dropped and counted', () => {
    const { sw, peer } = hub();
    const a = peer(A);
    peer(B);
    const d = sw.forward(a, eth(B, C), 1);
    assert.equal(d.drop, 'spoofed');
    assert.deepEqual(d.ports, []);
    assert.equal(sw.port(a)!.counters.rxDropped, 1);
    assert.equal(sw.drops().spoofed, 1);
    assert.equal(sw.lookup(C, 1), 0, 'the spoofed MAC was not learned');
  });

  test('zero, broadcast and multicast sources are refused', () => {
    const { sw, peer } = hub();
    const a = peer();
    peer(B);
    for (const src of ['00:00:00:00:00:00', BCAST, MCAST4]) assert.equal(sw.forward(a, eth(B, src), 1).drop, 'bad_source');
    assert.equal(sw.drops().bad_source, 3);
    assert.equal(sw.port(a)!.mac, null, 'a bad frame does not register a MAC');
  });

  test('zero destination, looping frames and runts are dropped', () => {
    const { sw, peer } = hub();
    const a = peer(A);
    peer(B);
    assert.equal(sw.forward(a, eth('00:00:00:00:00:00', A), 1).drop, 'zero_destination');
    assert.equal(sw.forward(a, eth(A, A), 1).drop, 'loop');
    assert.equal(sw.forward(a, Buffer.alloc(13), 1).drop, 'too_short');
    assert.equal(sw.forward(999, eth(B, A), 1).drop, 'unknown_port');
    assert.equal(sw.port(a)!.counters.rxDropped, 3);
  });

  test('a unicast frame for an unknown MAC goes nowhere when there is no bridge port', () => {
    const { sw, peer } = hub();
    const a = peer(A);
    peer(B);
    assert.equal(sw.forward(a, eth(C, A), 1).drop, 'no_destination');
  });
});

describe('broadcast and multicast', () => {
  test('reach every other ready port (plain peers with a MAC, bridge ports, the TAP), never the sender', () => {
    const { sw, peer, bridge } = hub();
    const a = peer(A);
    const b = peer(B);
    peer(); // no MAC yet
    const br = bridge();
    const tap = sw.addPort({ kind: 'tap', bridge: true });
    for (const dst of [BCAST, MCAST4, MCAST6]) assert.deepEqual(sw.forward(a, eth(dst, A), 1).ports.sort(), [b, br, tap].sort());
    assert.equal(sw.port(tap)!.kind, 'tap');
  });

  test('each can be turned off (and then is dropped and counted)', () => {
    const noBcast = hub({ broadcast: false });
    const a = noBcast.peer(A);
    const b = noBcast.peer(B);
    assert.equal(noBcast.sw.forward(a, eth(BCAST, A), 1).drop, 'broadcast_disabled');
    assert.deepEqual(noBcast.sw.forward(a, eth(MCAST6, A), 1).ports, [b]);
    const noMcast = hub({ multicast: false });
    const c = noMcast.peer(C);
    const d = noMcast.peer(B);
    assert.equal(noMcast.sw.forward(c, eth(MCAST4, C), 1).drop, 'multicast_disabled');
    assert.equal(noMcast.sw.forward(c, eth(MCAST6, C), 1).drop, 'multicast_disabled');
    assert.deepEqual(noMcast.sw.forward(c, eth(BCAST, C), 1).ports, [d]);
    assert.equal(noMcast.sw.drops().multicast_disabled, 2);
  });
});

describe('bridge ports', () => {
  test('learn the MACs behind them; unicast for a learned MAC goes there, unknown unicast to every bridge port', () => {
    const { sw, peer, bridge } = hub();
    const a = peer(A);
    const br1 = bridge(B);
    const br2 = bridge();
    const tap = sw.addPort({ kind: 'tap', bridge: true });
    const plainTap = sw.addPort({ kind: 'tap', bridge: false });
    sw.setPortMac(plainTap, C);
    assert.deepEqual(sw.forward(br1, eth(A, H1), 1).ports, [a], 'a bridge port may send from hosts behind it');
    assert.deepEqual(sw.forward(br1, eth(A, H2), 1).ports, [a]);
    assert.deepEqual(sw.port(br1)!.macs, [B, H1, H2]);
    assert.deepEqual(sw.forward(a, eth(H2, A), 2).ports, [br1]);
    // unknown: to the bridge ports (and the bridging TAP), not to plain peers or a plain TAP
    assert.deepEqual(sw.forward(a, eth('02:00:00:00:09:09', A), 2).ports.sort(), [br1, br2, tap].sort());
    // from a bridge port, unknown unicast goes to the other bridge ports only
    assert.deepEqual(sw.forward(br2, eth('02:00:00:00:09:09', '02:00:00:00:02:01'), 2).ports.sort(), [br1, tap].sort());
  });

  test('a frame for a MAC behind the sending port is not sent back (hairpin)', () => {
    const { sw, peer, bridge } = hub();
    peer(A);
    const br = bridge();
    sw.forward(br, eth(A, H1), 1);
    assert.equal(sw.forward(br, eth(H1, H2), 2).drop, 'hairpin');
  });

  test('a bridge port cannot use a plain peer\'s MAC; a learned MAC moves between bridge ports', () => {
    const { sw, peer, bridge } = hub();
    const a = peer(A);
    const br1 = bridge();
    const br2 = bridge();
    assert.equal(sw.forward(br1, eth(BCAST, A), 1).drop, 'spoofed');
    assert.equal(sw.lookup(A, 1), a);
    sw.forward(br1, eth(A, H1), 1);
    assert.equal(sw.lookup(H1, 1), br1);
    sw.forward(br2, eth(A, H1), 2);
    assert.equal(sw.lookup(H1, 2), br2, 'the host moved');
    assert.deepEqual(sw.port(br1)!.macs, []);
  });

  test('learned MACs age out; static ones (header, first frame) do not', () => {
    const { sw, peer, bridge } = hub({ agingMs: 1000 });
    const a = peer(A);
    const c = peer();
    const br = bridge(B);
    sw.forward(c, eth(A, C), 0);
    sw.forward(br, eth(A, H1), 100);
    assert.equal(sw.lookup(H1, 1099), br);
    assert.equal(sw.lookup(H1, 1100), 0, 'expired entries are unknown at once, before age() runs');
    sw.forward(br, eth(A, H1), 1050); // refreshed
    assert.equal(sw.lookup(H1, 2000), br);
    assert.equal(sw.age(2050), 1);
    assert.equal(sw.lookup(H1, 2050), 0);
    assert.deepEqual([sw.lookup(A, 1e9), sw.lookup(C, 1e9), sw.lookup(B, 1e9)], [a, c, br]);
    assert.equal(sw.age(1e9), 0);
  });

  test('table limits: a full port learns no more, but its frames still go through', () => {
    const { sw, peer, bridge } = hub({ maxMacsPerPort: 2 });
    const a = peer(A);
    const br = bridge();
    sw.forward(br, eth(A, H1), 1);
    sw.forward(br, eth(A, H2), 1);
    assert.deepEqual(sw.forward(br, eth(A, '02:00:00:00:01:03'), 1).ports, [a]);
    assert.equal(sw.lookup('02:00:00:00:01:03', 1), 0);
    assert.equal(sw.port(br)!.counters.learnLimited, 1);
    const total = hub({ maxMacs: 3 });
    const p = total.peer(A);
    const tb = total.bridge();
    for (let i = 0; i < 5; i++) total.sw.forward(tb, eth(A, `02:00:00:00:02:0${i}`), 1);
    assert.equal(total.sw.macCount(), 3);
    assert.equal(total.sw.port(tb)!.counters.learnLimited, 3);
    assert.equal(total.sw.port(p)!.counters.txFrames, 5);
  });
});

describe('claims, removal, queue drops', () => {
  test('a newer claim of a MAC takes it; the older port is told and its frames are dropped from then on', () => {
    const { sw, peer } = hub();
    const old = peer(A);
    const b = peer(B);
    const fresh = sw.addPort({ kind: 'peer' });
    assert.deepEqual(sw.setPortMac(fresh, A), { ok: true, displaced: old });
    assert.equal(sw.lookup(A, 1), fresh);
    assert.deepEqual(sw.forward(b, eth(A, B), 1).ports, [fresh]);
    const info = sw.port(old)!;
    assert.equal(info.mac, null);
    assert.equal(info.lostMac, true);
    assert.equal(sw.forward(old, eth(B, A), 1).drop, 'spoofed', 'no ping-pong: the old port does not take it back');
    assert.equal(sw.lookup(A, 1), fresh);
  });

  test('a first frame cannot take a MAC another peer holds; it can take one a bridge port learned', () => {
    const { sw, peer, bridge } = hub();
    const a = peer(A);
    const b = peer(B);
    const br = bridge();
    const third = sw.addPort({ kind: 'peer' });
    assert.equal(sw.forward(third, eth(A, B), 1).drop, 'spoofed');
    assert.equal(sw.port(third)!.mac, null);
    assert.equal(sw.lookup(B, 1), b);
    sw.forward(br, eth(A, H1), 1);
    const d = sw.forward(third, eth(A, H1), 2);
    assert.deepEqual([d.registered, d.ports], [true, [a]]);
    assert.equal(sw.lookup(H1, 2), third);
    assert.deepEqual(sw.port(br)!.macs, []);
  });

  test('setPortMac refuses group and zero addresses', () => {
    const { sw, peer } = hub();
    const a = peer();
    assert.deepEqual(sw.setPortMac(a, MCAST4), { ok: false, displaced: 0 });
    assert.deepEqual(sw.setPortMac(a, '00:00:00:00:00:00'), { ok: false, displaced: 0 });
    assert.deepEqual(sw.setPortMac(a, 'nonsense'), { ok: false, displaced: 0 });
    assert.deepEqual(sw.setPortMac(999, A), { ok: false, displaced: 0 });
  });

  test('a removed port leaves no MAC behind', () => {
    const { sw, peer, bridge } = hub();
    const a = peer(A);
    const b = peer(B);
    const br = bridge();
    sw.forward(br, eth(A, H1), 1);
    assert.equal(sw.removePort(br), true);
    assert.equal(sw.removePort(br), false);
    assert.equal(sw.lookup(H1, 1), 0);
    assert.equal(sw.removePort(b), true);
    assert.equal(sw.forward(a, eth(B, A), 1).drop, 'no_destination');
    assert.deepEqual(sw.ports(), [a]);
    assert.equal(sw.macCount(), 1);
  });

  test('a frame the destination queue could not take moves from sent to dropped', () => {
    const { sw, peer } = hub();
    const a = peer(A);
    const b = peer(B);
    sw.forward(a, eth(B, A, 200), 1);
    sw.forward(a, eth(B, A, 300), 1);
    sw.noteTxDropped(b, 300);
    const c = sw.port(b)!.counters;
    assert.deepEqual([c.txFrames, c.txBytes, c.txDropped], [1, 200, 1]);
  });
});
