// The WireGuard handshake (native/src/wg_noise.*) and cookies (wg_cookie.*) through the addon:
// the cacophony Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s vector byte for byte, WireGuard's framed
// messages both ways with and without a preshared key, every refusal (tampering, replay, flood,
// wrong peer, wrong index, wrong key), and mac1/mac2/cookie replies with a driven clock.
// Interop with the real wireguard-go is test/bats/wg-handshake.bats.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { native, type NativeWgHandshake, type NativeWgIdentity, type NativeWgInitiation } from '../../native/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const V = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'wireguard', 'crypto-vectors.json'), 'utf8'));
const wg = native().wg;
const hex = (s: string) => Buffer.from(s, 'hex');

function must<T>(value: T | string): T {
  if (typeof value === 'string') assert.fail(`unexpected handshake error "${value}"`);
  return value;
}

describe('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s (cacophony vector)', () => {
  const v = V.noise.vector;
  const prologue = hex(v.init_prologue).toString('latin1');

  test('handshake messages, handshake hash and transport messages match byte for byte', () => {
    const initiatorId = new wg.Identity(hex(v.init_static), prologue);
    const responderId = new wg.Identity(hex(v.resp_static), prologue);
    const initiator = new wg.Handshake(initiatorId, hex(v.init_remote_static), hex(v.init_psks[0]), prologue);
    const responder = new wg.Handshake(responderId, initiatorId.publicKey, hex(v.resp_psks[0]), prologue);
    assert.equal(responderId.publicKey.toString('hex'), v.init_remote_static);

    initiator.setNextEphemeral(hex(v.init_ephemeral));
    const m1 = must(initiator.writeNoiseMessage1(hex(v.messages[0].payload)));
    assert.equal(m1.toString('hex'), v.messages[0].ciphertext);

    const info = must(responderId.readNoiseMessage1(m1));
    assert.deepEqual(info.peerPublicKey, initiatorId.publicKey);
    assert.equal(must(responder.consumeNoiseMessage1(info)).toString('hex'), v.messages[0].payload);

    responder.setNextEphemeral(hex(v.resp_ephemeral));
    const m2 = must(responder.writeNoiseMessage2(hex(v.messages[1].payload)));
    assert.equal(m2.toString('hex'), v.messages[1].ciphertext);
    assert.equal(must(initiator.readNoiseMessage2(m2)).toString('hex'), v.messages[1].payload);

    assert.equal(initiator.handshakeHash().toString('hex'), v.handshake_hash);
    assert.equal(responder.handshakeHash().toString('hex'), v.handshake_hash);

    const ki = initiator.deriveKeypair();
    const kr = responder.deriveKeypair();
    assert.ok(ki && kr);
    assert.ok(ki.initiator && !kr.initiator);
    const send = { i: new wg.Aead(ki.sendKey), r: new wg.Aead(kr.sendKey) };
    const recv = { i: new wg.Aead(ki.recvKey), r: new wg.Aead(kr.recvKey) };
    const counters = { i: 0n, r: 0n };
    for (let n = 2; n < v.messages.length; n++) {
      const from = n % 2 === 0 ? 'i' : 'r';
      const to = from === 'i' ? 'r' : 'i';
      const sealed = send[from].seal(counters[from], hex(v.messages[n].payload));
      assert.equal(sealed.toString('hex'), v.messages[n].ciphertext, `message ${n}`);
      assert.equal(recv[to].open(counters[from], sealed)?.toString('hex'), v.messages[n].payload);
      counters[from]++;
    }
    // derive wiped the handshake state
    assert.equal(initiator.state, 'zeroed');
    assert.equal(initiator.deriveKeypair(), null);
    assert.ok(initiator.handshakeHash().every((b) => b === 0));
  });
});

interface Pair {
  iId: NativeWgIdentity;
  rId: NativeWgIdentity;
  initiator: NativeWgHandshake;
  responder: NativeWgHandshake;
}

function pair(psk?: Buffer, responderPsk = psk): Pair {
  const iId = new wg.Identity(wg.generatePrivateKey());
  const rId = new wg.Identity(wg.generatePrivateKey());
  return {
    iId,
    rId,
    initiator: new wg.Handshake(iId, rId.publicKey, psk),
    responder: new wg.Handshake(rId, iId.publicKey, responderPsk),
  };
}

// One full WireGuard handshake; returns both keypairs.
function handshake(p: Pair, now = 1000, unixSeconds = 1700000000) {
  const m1 = must(p.initiator.createInitiation(0x11223344, wg.tai64n(unixSeconds, 0)));
  const info = must(p.rId.readInitiation(m1));
  must(p.responder.consumeInitiation(info, now));
  const m2 = must(p.responder.createResponse(0x55667788));
  assert.equal(p.initiator.consumeResponse(m2), null);
  const ki = p.initiator.deriveKeypair();
  const kr = p.responder.deriveKeypair();
  assert.ok(ki && kr);
  return { ki, kr, m1, m2 };
}

describe('WireGuard handshake (framed messages)', () => {
  test('message layout: sizes, types, indices, zero macs', () => {
    const p = pair();
    const m1 = must(p.initiator.createInitiation(0xdeadbeef));
    assert.equal(m1.length, 148);
    assert.equal(wg.messageType(m1), 1);
    assert.deepEqual(m1.subarray(0, 4), Buffer.from([1, 0, 0, 0]));
    assert.equal(m1.readUInt32LE(4), 0xdeadbeef);
    assert.ok(m1.subarray(116).every((b) => b === 0), 'mac1 and mac2 left for the CookieGenerator');
    assert.equal(p.initiator.state, 'initiation_created');
    assert.equal(p.initiator.localIndex, 0xdeadbeef);

    const info = must(p.rId.readInitiation(m1));
    assert.equal(info.senderIndex, 0xdeadbeef);
    must(p.responder.consumeInitiation(info));
    const m2 = must(p.responder.createResponse(7));
    assert.equal(m2.length, 92);
    assert.equal(wg.messageType(m2), 2);
    assert.equal(m2.readUInt32LE(4), 7);
    assert.equal(m2.readUInt32LE(8), 0xdeadbeef);
    assert.equal(wg.messageType(Buffer.alloc(148)), 0);
    assert.equal(wg.messageType(Buffer.concat([Buffer.from([1, 0, 0, 1]), Buffer.alloc(144)])), 0);
    assert.equal(wg.messageType(m1.subarray(0, 147)), 0);
    assert.equal(wg.messageType(Buffer.from([4, 0, 0, 0, ...Buffer.alloc(28)])), 4);
    assert.equal(wg.messageType(Buffer.from([4, 0, 0, 0, ...Buffer.alloc(27)])), 0);
  });

  for (const withPsk of [false, true]) {
    test(`both sides derive the same transport keys ${withPsk ? 'with' : 'without'} a preshared key`, () => {
      const p = pair(withPsk ? Buffer.alloc(32, 0x5a) : undefined);
      const { ki, kr } = handshake(p);
      assert.deepEqual(ki.sendKey, kr.recvKey);
      assert.deepEqual(ki.recvKey, kr.sendKey);
      assert.notDeepEqual(ki.sendKey, ki.recvKey);
      assert.equal(ki.localIndex, 0x11223344);
      assert.equal(ki.remoteIndex, 0x55667788);
      assert.equal(kr.localIndex, 0x55667788);
      assert.equal(kr.remoteIndex, 0x11223344);
      assert.ok(ki.initiator);
      assert.ok(!kr.initiator);
      const sealed = new wg.Aead(ki.sendKey).seal(0, Buffer.from('ping'));
      assert.deepEqual(new wg.Aead(kr.recvKey).open(0, sealed), Buffer.from('ping'));
    });
  }

  test('a preshared key mismatch fails at the initiator (the response does not open)', () => {
    const p = pair(Buffer.alloc(32, 1), Buffer.alloc(32, 2));
    const m1 = must(p.initiator.createInitiation(1));
    must(p.responder.consumeInitiation(must(p.rId.readInitiation(m1))));
    const m2 = must(p.responder.createResponse(2));
    assert.equal(p.initiator.consumeResponse(m2), 'decrypt');
    assert.equal(p.initiator.state, 'initiation_created');
  });

  test('each handshake gives new keys (fresh ephemerals)', () => {
    const p = pair();
    const a = handshake(p, 1000, 1700000000);
    // (two initiations within the same 16.8 ms of whitened TAI64N would be a replay)
    const b = handshake(p, 2000, 1700000001);
    assert.notDeepEqual(a.ki.sendKey, b.ki.sendKey);
    assert.notDeepEqual(a.m1.subarray(8, 40), b.m1.subarray(8, 40));
  });

  test('an initiation for another responder does not open; a tampered one neither', () => {
    const p = pair();
    const m1 = must(p.initiator.createInitiation(1));
    const stranger = new wg.Identity(wg.generatePrivateKey());
    assert.equal(stranger.readInitiation(m1), 'decrypt');
    for (const at of [8, 39, 40, 87]) {
      const bad = Buffer.from(m1);
      bad[at]! ^= 1;
      const r = p.rId.readInitiation(bad);
      assert.ok(typeof r === 'string', `byte ${at}`);
    }
    // the timestamp field is checked when the peer finishes the message
    const bad = Buffer.from(m1);
    bad[100]! ^= 1;
    assert.equal(p.responder.consumeInitiation(must(p.rId.readInitiation(bad))), 'decrypt');
    assert.equal(p.rId.readInitiation(m1.subarray(0, 100)), 'bad_message');
    assert.equal(p.rId.readInitiation(Buffer.alloc(148)), 'bad_message');
  });

  test('replayed initiations are refused by timestamp; floods within 20 ms too', () => {
    const p = pair();
    const m1 = must(p.initiator.createInitiation(1, wg.tai64n(1700000000, 0)));
    const ts = must(p.responder.consumeInitiation(must(p.rId.readInitiation(m1)), 1000));
    assert.deepEqual(ts, wg.tai64n(1700000000, 0));
    // the same message again, much later: a replay
    assert.equal(p.responder.consumeInitiation(must(p.rId.readInitiation(m1)), 60000), 'replay');
    // an older timestamp: a replay
    const old = must(p.initiator.createInitiation(1, wg.tai64n(1699999999, 0)));
    assert.equal(p.responder.consumeInitiation(must(p.rId.readInitiation(old)), 60000), 'replay');
    // newer, but 10 ms after the last consumed: a flood
    const quick = must(p.initiator.createInitiation(1, wg.tai64n(1700000001, 0)));
    assert.equal(p.responder.consumeInitiation(must(p.rId.readInitiation(quick)), 1010), 'flood');
    // the same one 30 ms after: fine
    must(p.responder.consumeInitiation(must(p.rId.readInitiation(quick)), 1030));
    // a refused initiation does not disturb the consumed one: the response still works
    assert.equal(p.responder.consumeInitiation(must(p.rId.readInitiation(m1)), 90000), 'replay');
    const m2 = must(p.responder.createResponse(9));
    assert.equal(p.initiator.consumeResponse(m2), null);
  });

  test("an initiation from another peer's key is not consumed by this peer's handshake", () => {
    const a = pair();
    const otherId = new wg.Identity(wg.generatePrivateKey());
    const other = new wg.Handshake(otherId, a.rId.publicKey);
    const m1 = must(other.createInitiation(3));
    const info = must(a.rId.readInitiation(m1));
    assert.deepEqual(info.peerPublicKey, otherId.publicKey);
    assert.equal(a.responder.consumeInitiation(info), 'wrong_peer');
  });

  test('responses: wrong receiver index, no initiation, forged bytes; the real one still works after', () => {
    const p = pair();
    assert.equal(p.initiator.consumeResponse(Buffer.concat([Buffer.from([2, 0, 0, 0]), Buffer.alloc(88)])), 'wrong_state');
    const m1 = must(p.initiator.createInitiation(41));
    must(p.responder.consumeInitiation(must(p.rId.readInitiation(m1))));
    const m2 = must(p.responder.createResponse(42));
    const wrongIndex = Buffer.from(m2);
    wrongIndex.writeUInt32LE(40, 8);
    assert.equal(p.initiator.consumeResponse(wrongIndex), 'wrong_state');
    for (const at of [12, 43, 44, 59]) {
      const bad = Buffer.from(m2);
      bad[at]! ^= 0x80;
      assert.ok(typeof p.initiator.consumeResponse(bad) === 'string', `byte ${at}`);
    }
    assert.equal(p.initiator.consumeResponse(m2.subarray(0, 91)), 'bad_message');
    assert.equal(p.initiator.consumeResponse(m2), null);
    assert.equal(p.initiator.consumeResponse(m2), 'wrong_state', 'a response is consumed once');
  });

  test('createResponse needs a consumed initiation; derive needs a finished handshake', () => {
    const p = pair();
    assert.equal(p.responder.createResponse(1), 'wrong_state');
    assert.equal(p.responder.deriveKeypair(), null);
    must(p.initiator.createInitiation(1));
    assert.equal(p.initiator.deriveKeypair(), null);
    p.initiator.clear();
    assert.equal(p.initiator.state, 'zeroed');
  });

  test('a low-order remote key makes the handshake invalid', () => {
    const id = new wg.Identity(wg.generatePrivateKey());
    const h = new wg.Handshake(id, Buffer.alloc(32));
    assert.equal(h.valid, false);
    assert.equal(h.createInitiation(1), 'bad_key');
  });

  test('a new local identity (wg set private-key) is used from the next handshake on', () => {
    const p = pair();
    const newId = new wg.Identity(wg.generatePrivateKey());
    p.initiator.setIdentity(newId);
    const m1 = must(p.initiator.createInitiation(1));
    const info = must(p.rId.readInitiation(m1));
    assert.deepEqual(info.peerPublicKey, newId.publicKey);
    assert.equal(p.responder.consumeInitiation(info), 'wrong_peer');
  });

  test('arguments are checked', () => {
    const p = pair();
    assert.throws(() => new wg.Handshake({} as NativeWgIdentity, Buffer.alloc(32)), TypeError);
    assert.throws(() => new wg.Handshake(p.iId, Buffer.alloc(31)), RangeError);
    assert.throws(() => p.initiator.createInitiation(-1), RangeError);
    assert.throws(() => p.initiator.createInitiation(2 ** 32), RangeError);
    assert.throws(() => p.responder.consumeInitiation({} as NativeWgInitiation), TypeError);
  });
});

describe('mac1, mac2 and cookie replies', () => {
  function setup() {
    const p = pair();
    const checker = new wg.CookieChecker(p.rId.publicKey);
    const generator = new wg.CookieGenerator(p.rId.publicKey);
    return { p, checker, generator };
  }

  test('mac1 is keyed by the receiver public key; anything else is dropped', () => {
    const { p, checker, generator } = setup();
    const m1 = must(p.initiator.createInitiation(5));
    assert.equal(checker.checkMac1(m1), false, 'zero mac1');
    generator.addMacs(m1, 0);
    assert.equal(checker.checkMac1(m1), true);
    assert.ok(m1.subarray(132).every((b) => b === 0), 'no cookie yet: mac2 zero');
    const bad = Buffer.from(m1);
    bad[20]! ^= 1;
    assert.equal(checker.checkMac1(bad), false);
    const elsewhere = new wg.CookieChecker(new wg.Identity(wg.generatePrivateKey()).publicKey);
    assert.equal(elsewhere.checkMac1(m1), false);
    assert.equal(new wg.CookieChecker().checkMac1(m1), false, 'no key set: drop');
    assert.deepEqual(checker.vet(m1, '198.18.0.1', 51820, false, 0), { verdict: 'accept' });
    assert.deepEqual(checker.vet(bad, '198.18.0.1', 51820, false, 0), { verdict: 'drop' });
    assert.deepEqual(checker.vet(bad, '198.18.0.1', 51820, true, 0), { verdict: 'drop' });
  });

  test('under load: cookie reply, then the retry carries a valid mac2 and is accepted', () => {
    const { p, checker, generator } = setup();
    let t = 5000;
    const m1 = must(p.initiator.createInitiation(0xabcdef01));
    generator.addMacs(m1, t);
    const first = checker.vet(m1, '198.18.0.2', 40000, true, t);
    assert.equal(first.verdict, 'cookie_reply');
    const reply = first.reply!;
    assert.equal(reply.length, 64);
    assert.equal(wg.messageType(reply), 3);
    assert.equal(reply.readUInt32LE(4), 0xabcdef01, 'addressed to the sender index');

    assert.equal(generator.consumeReply(reply, t), true);
    assert.equal(generator.hasFreshCookie(t), true);
    assert.equal(generator.consumeReply(reply, t), false, 'one reply per message sent');

    t += 1000;
    const retry = must(p.initiator.createInitiation(0xabcdef02));
    generator.addMacs(retry, t);
    assert.ok(retry.subarray(132).some((b) => b !== 0), 'mac2 present');
    assert.equal(checker.checkMac2(retry, '198.18.0.2', 40000, t), true);
    assert.deepEqual(checker.vet(retry, '198.18.0.2', 40000, true, t), { verdict: 'accept' });
    // the cookie is bound to the source address and port
    assert.equal(checker.checkMac2(retry, '198.18.0.3', 40000, t), false);
    assert.equal(checker.checkMac2(retry, '198.18.0.2', 40001, t), false);
    assert.equal(checker.vet(retry, '198.18.0.3', 40000, true, t).verdict, 'cookie_reply');
    // a response (type 2) gets macs and cookie replies the same way
    must(p.responder.consumeInitiation(must(p.rId.readInitiation(retry)), t));
    const m2 = must(p.responder.createResponse(77));
    const toInitiator = new wg.CookieChecker(p.iId.publicKey);
    new wg.CookieGenerator(p.iId.publicKey).addMacs(m2, t);
    assert.equal(toInitiator.vet(m2, '198.18.0.4', 51820, true, t).verdict, 'cookie_reply');
  });

  test('a cookie reply is bound to the mac1 of the last message (a reply for an older one fails)', () => {
    const { p, checker, generator } = setup();
    const a = must(p.initiator.createInitiation(1));
    generator.addMacs(a, 0);
    const replyA = checker.createReply(a, '198.18.0.2', 1, 0)!;
    const b = must(p.initiator.createInitiation(2));
    generator.addMacs(b, 0);
    assert.equal(generator.consumeReply(replyA, 0), false);
    const tampered = checker.createReply(b, '198.18.0.2', 1, 0)!;
    tampered[40]! ^= 1;
    assert.equal(generator.consumeReply(tampered, 0), false);
    const other = new wg.CookieGenerator(new wg.Identity(wg.generatePrivateKey()).publicKey);
    other.addMacs(b, 0);
    assert.equal(other.consumeReply(checker.createReply(b, '198.18.0.2', 1, 0)!, 0), false, 'sealed for the checker key');
  });

  test('the cookie secret rotates after 2 minutes; a held cookie is used for 2 minutes', () => {
    const { p, checker, generator } = setup();
    const m1 = must(p.initiator.createInitiation(1));
    generator.addMacs(m1, 0);
    assert.ok(generator.consumeReply(checker.createReply(m1, '198.18.0.2', 9, 0)!, 0));
    const at = (t: number) => {
      const m = must(p.initiator.createInitiation(1));
      generator.addMacs(m, t);
      return m;
    };
    assert.equal(checker.checkMac2(at(119_000), '198.18.0.2', 9, 119_000), true);
    const old = at(120_000);
    assert.equal(checker.checkMac2(old, '198.18.0.2', 9, 120_000), true);
    // the secret is older than 2 minutes: no mac2 is valid any more until a new reply
    assert.equal(checker.checkMac2(at(120_001), '198.18.0.2', 9, 120_001), false);
    // the generator stops sending mac2 after 2 minutes
    const late = at(120_001);
    assert.ok(late.subarray(132).every((b) => b === 0));
    assert.equal(generator.hasFreshCookie(120_001), false);
    // a new reply uses a new secret: the old cookie does not validate
    const fresh = must(p.initiator.createInitiation(1));
    generator.addMacs(fresh, 130_000);
    assert.ok(generator.consumeReply(checker.createReply(fresh, '198.18.0.2', 9, 130_000)!, 130_000));
    assert.equal(checker.checkMac2(at(130_001), '198.18.0.2', 9, 130_001), true);
    assert.equal(checker.checkMac2(old, '198.18.0.2', 9, 130_001), false);
  });

  test('under load with a valid mac2: rate limited per source after a burst of 5, refilled at 20/s', () => {
    const { p, checker, generator } = setup();
    const m = must(p.initiator.createInitiation(1));
    generator.addMacs(m, 0);
    assert.ok(generator.consumeReply(checker.vet(m, '198.18.0.2', 9, true, 0).reply!, 0));
    const signed = must(p.initiator.createInitiation(2));
    generator.addMacs(signed, 0);
    const verdicts = Array.from({ length: 8 }, () => checker.vet(signed, '198.18.0.2', 9, true, 1).verdict);
    assert.deepEqual(verdicts, ['accept', 'accept', 'accept', 'accept', 'accept', 'rate_limited', 'rate_limited', 'rate_limited']);
    assert.equal(checker.vet(signed, '198.18.0.2', 9, true, 51).verdict, 'accept', '50 ms later: one more token');
    assert.equal(checker.vet(signed, '198.18.0.2', 9, true, 52).verdict, 'rate_limited');
    assert.equal(checker.vet(signed, '198.18.0.2', 9, false, 52).verdict, 'accept', 'not under load: no limit');
  });
});

describe('RateLimiter', () => {
  test('per address; IPv6 per /64; entries expire; the table is bounded', () => {
    const rl = new wg.RateLimiter(3);
    for (let i = 0; i < 5; i++) assert.equal(rl.allow('198.18.0.1', 0), true);
    assert.equal(rl.allow('198.18.0.1', 0), false);
    assert.equal(rl.allow('198.18.0.2', 0), true, 'another address has its own bucket');
    for (let i = 0; i < 5; i++) assert.equal(rl.allow(`2001:2::${i + 1}`, 0), true);
    assert.equal(rl.allow('2001:2::99', 0), false, 'same /64');
    assert.equal(rl.size, 3);
    assert.equal(rl.allow('198.18.0.3', 0), false, 'table full: refuse new sources');
    assert.equal(rl.allow('198.18.0.3', 2000), true, 'idle entries collected after a second');
    assert.equal(rl.size, 1);
    assert.throws(() => rl.allow('nonsense', 0), RangeError);
  });
});
