// The WireGuard peer state machine and timers (core/wireguard/peer.ts, device.ts) on a fake clock,
// two devices joined by FakeLink over FakeDataplane (a model of the engine that really seals and
// opens with the derived keys). Every timer of the whitepaper: handshake on demand and its
// confirmation, retransmission with jitter and giving up, rekey after time/messages on both paths,
// reject after time/messages, passive and persistent keepalive, "no reply" handshakes, erasing the
// keys after 3 x REJECT_AFTER_TIME, cookies under load, simultaneous initiations.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { native } from '../../native/index.js';
import { WgHandshakeDevice } from '../../core/wireguard/device.js';
import { FakeDataplane, FakeLink, type FakeWirePacket } from '../../core/wireguard/fake-dataplane.js';
import { keyToBase64 } from '../../core/wireguard/keys.js';
import { FakeClock, WG_TIMERS, maxHandshakeRetries, scaledTimers, type WgTimerConfig } from '../../core/wireguard/timers.js';
import type { WgEndpoint } from '../../core/wireguard/types.js';

const wg = native().wg;
const A_ADDR: WgEndpoint = { host: '198.18.0.1', port: 51820 };
const B_ADDR: WgEndpoint = { host: '198.18.0.2', port: 51820 };

/** A small deterministic generator of [0, 1) for the jitter. */
function lcg(seed = 1): () => number {
  let s = seed;
  return () => {
    s = (s * 1103515245 + 12345) % 2 ** 31;
    return s / 2 ** 31;
  };
}

interface Setup {
  clock: FakeClock;
  link: FakeLink;
  A: WgHandshakeDevice;
  B: WgHandshakeDevice;
  dpA: FakeDataplane;
  dpB: FakeDataplane;
  idA: string;
  idB: string;
  logs: string[];
}

function setup(options: { timers?: WgTimerConfig; persistentA?: number; random?: () => number } = {}): Setup {
  const timers = options.timers ?? WG_TIMERS;
  const clock = new FakeClock();
  const link = new FakeLink(clock);
  const logs: string[] = [];
  const dpA = new FakeDataplane(clock, timers, A_ADDR);
  const dpB = new FakeDataplane(clock, timers, B_ADDR);
  const common = { clock, timers, random: options.random ?? lcg(7), log: (m: string) => logs.push(`${clock.now()}: ${m}`) };
  const A = new WgHandshakeDevice({ privateKey: wg.generatePrivateKey(), dataplane: dpA, ...common });
  const B = new WgHandshakeDevice({ privateKey: wg.generatePrivateKey(), dataplane: dpB, ...common });
  const idA = keyToBase64(A.publicKey);
  const idB = keyToBase64(B.publicKey);
  dpA.events = A;
  dpB.events = B;
  dpA.setLocalPublicKey(A.publicKey);
  dpB.setLocalPublicKey(B.publicKey);
  link.attach(dpA);
  link.attach(dpB);
  // A knows B's endpoint; B learns A's from the handshake (a server and a road warrior)
  dpA.addPeer(idB, B_ADDR);
  dpB.addPeer(idA, null);
  A.addPeer({ publicKey: B.publicKey, persistentKeepalive: options.persistentA ?? 0 });
  B.addPeer({ publicKey: A.publicKey });
  A.start();
  B.start();
  return { clock, link, A, B, dpA, dpB, idA, idB, logs };
}

/** Advances the clock in steps, calling each() before every step. */
function run(s: Setup, ms: number, step = 100, each?: (elapsed: number) => void): void {
  for (let elapsed = 0; elapsed < ms; elapsed += step) {
    each?.(elapsed);
    s.clock.advance(step);
  }
}

const initiations = (dp: FakeDataplane, id: string) => dp.inspect(id).sentHandshakes.filter((m) => m[0] === 1).length;

/** A handshake started by A's first packet, completed and confirmed on both sides. */
function connect(s: Setup): void {
  assert.equal(s.dpA.send(s.idB, 100), false, 'no keypair yet: staged');
  run(s, 50, 1);
  const a = s.A.peer(s.idB)!.status();
  const b = s.B.peer(s.idA)!.status();
  assert.ok(a.keypairs.current?.initiator, 'A: an initiator keypair, current at once');
  assert.ok(b.keypairs.current && !b.keypairs.current.initiator && !b.keypairs.next, "B: confirmed by A's keepalive");
  assert.equal(a.keypairs.current.localIndex, b.keypairs.current.remoteIndex);
  assert.equal(b.keypairs.current.localIndex, a.keypairs.current.remoteIndex);
}

describe('handshake on demand and keypair confirmation', () => {
  test('a waiting packet starts the handshake; both sides confirm; the packet is delivered', () => {
    const s = setup();
    connect(s);
    assert.equal(s.dpB.activity(s.idA).rxBytes, 100 + 32 + 32, 'the staged packet and the keepalive arrived');
    assert.deepEqual(s.dpB.endpoint(s.idA), A_ADDR, 'B learned where A is');
    assert.ok(s.A.peer(s.idB)!.status().lastHandshakeWallMs);
    assert.ok(s.B.peer(s.idA)!.status().lastHandshakeWallMs);
    assert.equal(s.A.indices.size, 1);
    assert.equal(s.B.indices.size, 1);
    assert.equal(initiations(s.dpA, s.idB), 1);
    // data both ways, no further handshake
    run(s, 20_000, 500, () => {
      s.dpA.send(s.idB, 200);
      s.dpB.send(s.idA, 300);
    });
    assert.equal(initiations(s.dpA, s.idB) + initiations(s.dpB, s.idA), 1);
    assert.equal(s.dpA.counters.transportDropped + s.dpB.counters.transportDropped, 0);
  });

  test('the responder sends nothing before the confirmation: its packets wait, then go', () => {
    const s = setup();
    s.link.drop = (from, _to, p) => from === A_ADDR && p.kind === 'transport'; // A's keepalive is lost
    s.dpA.send(s.idB, 100);
    run(s, 20, 1);
    assert.ok(s.B.peer(s.idA)!.status().keypairs.next, 'B holds an unconfirmed keypair');
    assert.equal(s.dpB.send(s.idA, 50), false, 'and does not send with it');
    s.link.drop = () => false;
    s.dpA.send(s.idB, 100);
    run(s, 20, 1);
    assert.ok(s.B.peer(s.idA)!.status().keypairs.current);
    assert.equal(s.dpA.activity(s.idB).rxBytes, 50 + 32, "B's waiting packet went out on confirmation");
  });
});

describe('retransmission', () => {
  test(`retries after REKEY_TIMEOUT + jitter (< 334 ms), ${maxHandshakeRetries(WG_TIMERS) + 1} retries, then gives up and drops the waiting packets`, () => {
    const s = setup({ random: lcg(3) });
    const sentAt: number[] = [];
    s.link.drop = (from, _to, p) => {
      if (from === A_ADDR && p.kind === 'handshake') sentAt.push(s.clock.now());
      return true;
    };
    s.dpA.send(s.idB, 100);
    run(s, 150_000, 50);
    assert.equal(sentAt.length, 1 + maxHandshakeRetries(WG_TIMERS) + 1, 'wireguard-go: 20 initiations in all');
    const gaps = sentAt.slice(1).map((t, i) => t - sentAt[i]!);
    for (const g of gaps) assert.ok(g >= 5000 && g < 5334 + 50, `gap ${g}`);
    assert.ok(new Set(gaps).size > 1, 'the jitter varies');
    assert.equal(s.dpA.inspect(s.idB).droppedStaged, 1);
    assert.ok(s.logs.some((l) => l.includes('giving up')));
    // a new packet starts over
    s.link.drop = () => false;
    s.dpA.send(s.idB, 100);
    run(s, 50, 1);
    assert.ok(s.A.peer(s.idB)!.status().keypairs.current);
  });

  test('a lost response: the retry completes the handshake', () => {
    const s = setup();
    let lost = 0;
    s.link.drop = (from, _to, p) => from === B_ADDR && p.kind === 'handshake' && lost++ === 0;
    s.dpA.send(s.idB, 100);
    run(s, 6000, 10);
    assert.equal(initiations(s.dpA, s.idB), 2);
    assert.ok(s.A.peer(s.idB)!.status().keypairs.current);
    assert.equal(s.dpB.activity(s.idA).rxBytes > 100, true);
  });
});

describe('rekey', () => {
  test('the initiator rekeys when it sends after REKEY_AFTER_TIME; the old keypair stays previous', () => {
    const s = setup();
    connect(s);
    const first = s.A.peer(s.idB)!.status().keypairs.current!;
    run(s, 119_000, 1000, () => s.dpA.send(s.idB, 100));
    assert.equal(initiations(s.dpA, s.idB), 1, 'not before 120 s');
    run(s, 3000, 1000, () => s.dpA.send(s.idB, 100));
    assert.equal(initiations(s.dpA, s.idB), 2);
    const a = s.A.peer(s.idB)!.status().keypairs;
    assert.notEqual(a.current!.localIndex, first.localIndex);
    assert.equal(a.previous!.localIndex, first.localIndex);
    run(s, 2000, 1000, () => s.dpA.send(s.idB, 100));
    const b = s.B.peer(s.idA)!.status().keypairs;
    assert.equal(b.current!.remoteIndex, a.current!.localIndex, 'B confirmed the new keypair');
    assert.equal(b.previous!.remoteIndex, first.localIndex);
    assert.ok(s.A.indices.size <= 3 && s.B.indices.size <= 3);
  });

  test('an idle tunnel does not rekey', () => {
    const s = setup();
    connect(s);
    run(s, 170_000, 1000);
    assert.equal(initiations(s.dpA, s.idB) + initiations(s.dpB, s.idA), 1);
  });

  test('the initiator receiving near the end of its keypair rekeys once (REJECT - KEEPALIVE - REKEY_TIMEOUT)', () => {
    const s = setup();
    connect(s);
    const created = s.A.peer(s.idB)!.status().keypairs.current!.createdMs;
    let rekeyedAt = 0;
    run(s, 170_000, 1000, () => {
      s.dpB.send(s.idA, 100); // only B sends data; A answers with passive keepalives
      if (!rekeyedAt && initiations(s.dpA, s.idB) === 2) rekeyedAt = s.clock.now();
    });
    // 165 s, plus at most one traffic step (1 s) and one poll (1 s)
    assert.ok(rekeyedAt - created >= 165_000 && rekeyedAt - created <= 167_100, `at ${rekeyedAt - created}`);
    assert.equal(initiations(s.dpB, s.idA), 0, "B (responder) does not rekey by time: A's keypair is renewed first");
    assert.equal(s.dpB.counters.transportDropped + s.dpA.counters.transportDropped, 0, 'nothing lost on the way');
  });

  test('rekey after REKEY_AFTER_MESSAGES; nothing sent past REJECT_AFTER_MESSAGES', () => {
    const s = setup({ timers: { ...WG_TIMERS, rekeyAfterMessages: 50n, rejectAfterMessages: 80n } });
    connect(s);
    run(s, 5000, 100); // handshakes are at most one per REKEY_TIMEOUT
    s.link.drop = (_f, _t, p) => p.kind === 'handshake'; // the rekey cannot complete
    for (let i = 0; i < 100; i++) s.dpA.send(s.idB, 10);
    run(s, 1500, 100);
    assert.equal(initiations(s.dpA, s.idB), 2, 'a new handshake after 50 messages');
    assert.equal(s.dpA.activity(s.idB).sendCounter, 80n, 'the keypair stopped at 80');
    assert.ok(s.dpA.inspect(s.idB).staged.length > 0, 'the rest waits for the new keypair');
    s.link.drop = () => false;
    run(s, 6000, 100);
    assert.equal(s.dpA.inspect(s.idB).staged.length, 0, 'and goes with it');
  });

  test('without handshakes the keypair dies at REJECT_AFTER_TIME; packets wait; the link heals, they go', () => {
    const s = setup();
    connect(s);
    s.link.drop = (_f, _t, p) => p.kind === 'handshake';
    let lastReceivedByB = 0;
    run(s, 200_000, 1000, () => {
      if (s.dpA.send(s.idB, 100)) lastReceivedByB = s.clock.now();
    });
    assert.ok(lastReceivedByB < 1_000_000 + 181_000 && lastReceivedByB > 1_000_000 + 178_000, `last at ${lastReceivedByB - 1_000_000}`);
    assert.ok(s.dpA.inspect(s.idB).staged.length > 0);
    s.link.drop = () => false;
    run(s, 10_000, 100, () => s.dpA.send(s.idB, 1));
    assert.equal(s.dpA.inspect(s.idB).staged.length, 0);
  });
});

describe('keepalives and "no reply" handshakes', () => {
  test('passive keepalive: data received and nothing sent back for KEEPALIVE_TIMEOUT', () => {
    const s = setup();
    connect(s);
    const before = s.dpB.inspect(s.idA).sentKeepalives;
    s.dpA.send(s.idB, 100);
    run(s, 9_000, 100);
    assert.equal(s.dpB.inspect(s.idA).sentKeepalives, before);
    run(s, 2_000, 100);
    assert.equal(s.dpB.inspect(s.idA).sentKeepalives, before + 1, 'one keepalive ~10 s after the data');
    run(s, 30_000, 100);
    assert.equal(s.dpB.inspect(s.idA).sentKeepalives, before + 1, 'and no more while nothing comes');
    // B answering with data within 10 s needs no keepalive
    s.dpA.send(s.idB, 100);
    run(s, 3_000, 100);
    s.dpB.send(s.idA, 100);
    run(s, 15_000, 100);
    assert.equal(s.dpB.inspect(s.idA).sentKeepalives, before + 1);
  });

  test('data sent and nothing received for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT: a new handshake', () => {
    const s = setup();
    connect(s);
    s.link.drop = (from, _t, p) => from === B_ADDR && p.kind === 'transport'; // B's keepalives are lost
    const start = s.clock.now();
    s.dpA.send(s.idB, 100);
    let at = 0;
    run(s, 20_000, 100, () => {
      if (!at && initiations(s.dpA, s.idB) === 2) at = s.clock.now() - start;
    });
    assert.ok(at >= 15_000 && at < 15_000 + 334 + 1100, `new handshake at ${at}`);
  });

  test('persistent keepalive: one at start (and so the handshake), then every interval of silence', () => {
    const s = setup({ persistentA: 25 });
    run(s, 100, 1);
    assert.ok(s.A.peer(s.idB)!.status().keypairs.current, 'the start keepalive made the handshake');
    const sent = () => s.dpA.inspect(s.idB).sentKeepalives;
    const k0 = sent();
    run(s, 100_000, 500);
    assert.ok(sent() - k0 >= 3 && sent() - k0 <= 4, `${sent() - k0} keepalives in 100 s`);
    assert.equal(s.dpB.inspect(s.idA).sentKeepalives, 0, 'B has none configured');
    s.A.peer(s.idB)!.setPersistentKeepalive(0);
    const k1 = sent();
    run(s, 100_000, 1000);
    assert.equal(sent(), k1, 'off');
  });
});

describe('erasing keys and state', () => {
  test('all keys are erased 3 x REJECT_AFTER_TIME after the last new keypair', () => {
    const s = setup();
    connect(s);
    run(s, 539_000, 1000);
    assert.ok(s.dpA.inspect(s.idB).current && s.dpB.inspect(s.idA).current);
    run(s, 2_000, 1000);
    assert.equal(s.dpA.inspect(s.idB).current, null);
    assert.equal(s.dpB.inspect(s.idA).current, null);
    assert.equal(s.A.indices.size + s.B.indices.size, 0, 'and the indices are free');
    // traffic starts a new handshake
    s.dpA.send(s.idB, 1);
    run(s, 50, 1);
    assert.ok(s.dpA.inspect(s.idB).current);
  });

  test('stop() erases the keys; setIdentity() forgets the old session', () => {
    const s = setup();
    connect(s);
    s.B.setPrivateKey(wg.generatePrivateKey());
    assert.equal(s.dpB.inspect(s.idA).current, null);
    s.A.stop();
    assert.equal(s.dpA.inspect(s.idB).current, null);
    assert.equal(s.clock.pendingTimers(), 1, "only B's timer is left");
  });
});

describe('cookies and races', () => {
  test("under load the responder answers with a cookie; the retry carries mac2 and completes", () => {
    const s = setup();
    s.dpB.underLoad = true;
    s.dpA.send(s.idB, 100);
    run(s, 100, 1);
    assert.equal(s.dpB.counters.cookieRepliesSent, 1);
    assert.equal(s.A.peer(s.idB)!.status().keypairs.current, null);
    assert.ok(s.logs.some((l) => l.includes('got a cookie')));
    run(s, 5_500, 10);
    assert.ok(s.A.peer(s.idB)!.status().keypairs.current, 'the retry was accepted');
    assert.equal(s.dpB.counters.cookieRepliesSent, 1);
  });

  test('both sides initiate at once: they end with working keypairs and deliver everything', () => {
    const s = setup();
    s.dpB.addPeer(s.idA, A_ADDR); // B knows A too
    s.B.removePeer(s.idA);
    s.B.addPeer({ publicKey: s.A.publicKey });
    s.dpA.send(s.idB, 100);
    s.dpB.send(s.idA, 100);
    run(s, 15_000, 10);
    run(s, 5_000, 100, () => {
      s.dpA.send(s.idB, 10);
      s.dpB.send(s.idA, 10);
    });
    assert.equal(s.dpA.inspect(s.idB).staged.length + s.dpB.inspect(s.idA).staged.length, 0);
    assert.ok(s.dpA.activity(s.idB).rxBytes > 100 && s.dpB.activity(s.idA).rxBytes > 100);
    assert.equal(s.dpA.counters.transportDropped + s.dpB.counters.transportDropped, 0);
  });

  test('handshake messages for nobody are dropped and counted', () => {
    const s = setup();
    const stranger = new wg.Handshake(new wg.Identity(wg.generatePrivateKey()), s.B.publicKey);
    const m = stranger.createInitiation(1) as Buffer;
    new wg.CookieGenerator(s.B.publicKey).addMacs(m);
    s.dpB.receive({ kind: 'handshake', message: m, from: { host: '198.18.0.9', port: 1 } } satisfies FakeWirePacket);
    assert.equal(s.B.counters.handshakeDropped, 1);
    const bogus = Buffer.alloc(92);
    bogus[0] = 2;
    s.B.handshakeMessage(bogus, A_ADDR);
    assert.equal(s.B.counters.handshakeDropped, 2);
  });
});

describe('timer options', () => {
  test('scaledTimers shortens every time at once, keeps the message counts', () => {
    const t = scaledTimers(0.01);
    assert.equal(t.rekeyAfterTimeMs, 1200);
    assert.equal(t.rejectAfterTimeMs, 1800);
    assert.equal(t.rekeyTimeoutMs, 50);
    assert.equal(t.keepaliveTimeoutMs, 100);
    assert.equal(t.rekeyAfterMessages, WG_TIMERS.rekeyAfterMessages);
    assert.equal(maxHandshakeRetries(t), 18);
  });

  test('the whole life cycle with timers 100 times shorter', () => {
    const timers = scaledTimers(0.01);
    const s = setup({ timers });
    connect(s);
    run(s, 2_000, 10, () => s.dpA.send(s.idB, 100));
    assert.ok(initiations(s.dpA, s.idB) >= 2, 'rekeyed after 1.2 s of sending');
    assert.equal(s.dpA.inspect(s.idB).staged.length, 0);
  });
});
