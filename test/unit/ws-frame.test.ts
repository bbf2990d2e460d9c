// WebSocket framing (native/src/ws_frame.*) through its bindings: frames built by the encoder and
// frames written by hand here (a small independent builder, so the parser is not only checked
// against its own encoder), fed whole, byte by byte and from a real socket; every protocol
// violation RFC 6455 names ends the reader with the right close code. Conformance against an
// independent implementation (the ws package) is in ws-conformance.test.ts.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { native, type WsEvent, type WsRole } from '../../native/index.js';

const addon = native();

/** A frame written by hand: FIN/RSV/opcode byte, length in the form asked for, optional mask. */
function rawFrame(opts: { opcode: number; payload?: Buffer; fin?: boolean; rsv?: number; mask?: Buffer | null; lengthForm?: 7 | 16 | 64 }): Buffer {
  const payload = opts.payload ?? Buffer.alloc(0);
  const fin = opts.fin ?? true;
  const b0 = (fin ? 0x80 : 0) | ((opts.rsv ?? 0) << 4) | opts.opcode;
  const masked = opts.mask !== null && opts.mask !== undefined;
  const form = opts.lengthForm ?? (payload.length < 126 ? 7 : payload.length <= 0xffff ? 16 : 64);
  let len: Buffer;
  if (form === 7) len = Buffer.from([(masked ? 0x80 : 0) | payload.length]);
  else if (form === 16) {
    len = Buffer.alloc(3);
    len[0] = (masked ? 0x80 : 0) | 126;
    len.writeUInt16BE(payload.length, 1);
  } else {
    len = Buffer.alloc(9);
    len[0] = (masked ? 0x80 : 0) | 127;
    len.writeBigUInt64BE(BigInt(payload.length), 1);
  }
  const body = Buffer.from(payload);
  if (masked) for (let i = 0; i < body.length; i++) body[i]! ^= opts.mask![i % 4]!;
  return Buffer.concat([Buffer.from([b0]), len, masked ? opts.mask! : Buffer.alloc(0), body]);
}

const KEY = Buffer.from([0x37, 0xfa, 0x21, 0x3d]);
/** A frame as a client sends it (masked). */
const fromClient = (opcode: number, payload: Buffer | string = '', extra: { fin?: boolean; rsv?: number } = {}) =>
  rawFrame({ opcode, payload: Buffer.from(payload), mask: KEY, ...extra });
/** A frame as a server sends it (not masked). */
const fromServer = (opcode: number, payload: Buffer | string = '', extra: { fin?: boolean; rsv?: number } = {}) =>
  rawFrame({ opcode, payload: Buffer.from(payload), mask: null, ...extra });

const reader = (role: WsRole, maxMessage = 65536) => new addon.WsReader({ role, maxMessage });

function errorOf(events: WsEvent[]): { code: number; message: string } {
  const last = events[events.length - 1];
  assert.ok(last && last.type === 'error', `expected an error, got ${JSON.stringify(events)}`);
  return last as { code: number; message: string };
}

const pattern = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff));

describe('encoder and reader agree', () => {
  for (const n of [0, 1, 125, 126, 127, 1500, 65535, 65536, 100000]) {
    test(`${n}-byte payload, client to server and server to client`, () => {
      const payload = pattern(n);
      const client = new addon.WsEncoder({ role: 'client' });
      const server = new addon.WsEncoder({ role: 'server' });
      const up = client.frame(payload);
      const down = server.frame(payload);
      const lenBytes = n < 126 ? 0 : n <= 0xffff ? 2 : 8;
      assert.equal(up.length, 2 + lenBytes + 4 + n, 'client frames carry a masking key');
      assert.equal(down.length, 2 + lenBytes + n, 'server frames do not');
      assert.equal(up[0], 0x82);
      assert.equal(up[1]! & 0x80, 0x80);
      assert.equal(down[1]! & 0x80, 0);
      if (n > 8) assert.notDeepEqual(up.subarray(up.length - n), payload, 'the payload is masked on the wire');
      for (const [role, frame] of [['server', up], ['client', down]] as const) {
        const events = reader(role, 200000).push(frame);
        assert.equal(events.length, 1);
        const e = events[0]!;
        assert.ok(e.type === 'message' && e.opcode === 'binary' && !e.reassembled);
        assert.ok(e.data.equals(payload));
      }
    });
  }

  test('a fresh masking key for every frame', () => {
    const client = new addon.WsEncoder({ role: 'client' });
    const keys = new Set<string>();
    const payload = Buffer.alloc(16);
    for (let i = 0; i < 2000; i++) keys.add(client.frame(payload).subarray(2, 6).toString('hex'));
    // 2000 draws from 2^32 keys: a repeat is possible but very unlikely (p ~ 0.05%)
    assert.ok(keys.size >= 1999, `only ${keys.size} distinct keys`);
  });

  test('frameInPlace writes the header into the headroom and masks the payload in place', () => {
    for (const role of ['client', 'server'] as const) {
      for (const n of [10, 300, 70000]) {
        const payload = pattern(n);
        const buf = Buffer.alloc(14 + n + 5, 0xee);
        payload.copy(buf, 14);
        const offset = new addon.WsEncoder({ role }).frameInPlace(buf, n);
        const header = (n < 126 ? 2 : n <= 0xffff ? 4 : 10) + (role === 'client' ? 4 : 0);
        assert.equal(offset, 14 - header);
        const events = reader(role === 'client' ? 'server' : 'client', 100000).push(buf.subarray(offset, 14 + n));
        assert.ok(events[0]?.type === 'message' && events[0].data.equals(payload));
      }
    }
  });

  test('text, ping, pong and close frames', () => {
    const client = new addon.WsEncoder({ role: 'client' });
    const events = reader('server').push(
      Buffer.concat([client.frame(Buffer.from('héllo'), 'text'), client.frame(Buffer.from('p1'), 'ping'), client.frame(Buffer.from('p2'), 'pong'), client.close(1000, 'bye')]),
    );
    assert.deepEqual(
      events.map((e) => (e.type === 'message' ? ['message', e.opcode, e.data.toString()] : e.type === 'close' ? ['close', e.code, e.reason] : e.type === 'error' ? ['error'] : [e.type, e.data.toString()])),
      [['message', 'text', 'héllo'], ['ping', 'p1'], ['pong', 'p2'], ['close', 1000, 'bye']],
    );
  });

  test('a close reason is cut to 123 bytes without splitting a character; code 0 sends no body', () => {
    const server = new addon.WsEncoder({ role: 'server' });
    const frame = server.close(1001, 'é'.repeat(100));
    assert.equal(frame[1], 2 + 122, 'two bytes of code, 61 two-byte characters');
    const e = reader('client').push(frame)[0]!;
    assert.ok(e.type === 'close' && e.code === 1001 && e.reason === 'é'.repeat(61));
    assert.deepEqual(server.close(), Buffer.from([0x88, 0x00]));
    const none = reader('client').push(server.close())[0]!;
    assert.ok(none.type === 'close' && none.code === 1005 && none.reason === '');
  });
});

describe('incremental parsing', () => {
  test('byte by byte gives the same events as all at once', () => {
    const client = new addon.WsEncoder({ role: 'client' });
    const stream = Buffer.concat([
      client.frame(pattern(3)),
      client.frame(pattern(300)),
      client.frame(Buffer.from('a'), 'ping'),
      client.frame(pattern(70000)),
      client.frame(pattern(40), 'binary', false),
      client.frame(pattern(50), 'continuation', false),
      client.frame(Buffer.from('b'), 'ping'),
      client.frame(pattern(60), 'continuation', true),
    ]);
    const whole = reader('server', 100000).push(stream);
    const r = reader('server', 100000);
    const pieces: WsEvent[] = [];
    for (let i = 0; i < stream.length; i++) pieces.push(...r.push(stream.subarray(i, i + 1)));
    assert.equal(whole.length, 6);
    assert.deepEqual(pieces, whole);
    assert.deepEqual(r.counters(), { frames: 8, messages: 4, bytes: stream.length, pings: 2, pongs: 0 });
    assert.equal(r.buffered(), 0);
  });

  test('fragments are reassembled, control frames between them come first', () => {
    const events = reader('server').push(
      Buffer.concat([fromClient(0x2, 'abc', { fin: false }), fromClient(0x9, 'x'), fromClient(0x0, 'def', { fin: false }), fromClient(0x0, 'g')]),
    );
    assert.equal(events.length, 2);
    assert.ok(events[0]!.type === 'ping');
    const m = events[1]!;
    assert.ok(m.type === 'message' && m.reassembled && m.data.toString() === 'abcdefg' && m.opcode === 'binary');
  });

  test('a fragmented text message is checked as a whole (a character may span fragments)', () => {
    const bytes = Buffer.from('añb');
    const events = reader('server').push(Buffer.concat([fromClient(0x1, bytes.subarray(0, 2), { fin: false }), fromClient(0x0, bytes.subarray(2))]));
    assert.ok(events[0]!.type === 'message' && events[0].opcode === 'text' && events[0].data.toString() === 'añb');
  });

  test('a big message through small pushes (the buffer grows to what the frame needs)', () => {
    const payload = pattern(600000);
    const frame = new addon.WsEncoder({ role: 'client' }).frame(payload);
    const r = reader('server', 1 << 20);
    const events: WsEvent[] = [];
    for (let i = 0; i < frame.length; i += 7000) events.push(...r.push(frame.subarray(i, i + 7000)));
    assert.equal(events.length, 1);
    assert.ok(events[0]!.type === 'message' && events[0].data.equals(payload));
  });

  test('readFrom reads a socket straight into the parser; null at end of stream', () => {
    const [a, b] = addon.socketPair('stream');
    try {
      addon.setNonBlocking(b, true);
      const r = reader('client');
      assert.deepEqual(r.readFrom(b), [], 'nothing yet: EAGAIN');
      const server = new addon.WsEncoder({ role: 'server' });
      addon.writeBatch(a, [Buffer.concat([server.frame(Buffer.from('one')), server.frame(Buffer.from('tw'))])], 0);
      const events = r.readFrom(b)!;
      assert.deepEqual(events.map((e) => (e.type === 'message' ? e.data.toString() : e.type)), ['one', 'tw']);
      addon.closeFd(a);
      assert.equal(r.readFrom(b), null);
    } finally {
      addon.closeFd(b);
    }
  });
});

describe('protocol violations end the reader with a close code', () => {
  const cases: Array<[string, WsRole, Buffer, number, RegExp]> = [
    ['an unmasked frame from a client', 'server', fromServer(0x2, 'x'), 1002, /unmasked frame from a client/],
    ['a masked frame from a server', 'client', fromClient(0x2, 'x'), 1002, /masked frame from a server/],
    ['reserved bits (no extension)', 'server', fromClient(0x2, 'x', { rsv: 4 }), 1002, /reserved bits/],
    ['data opcode 3', 'server', fromClient(0x3, 'x'), 1002, /unknown data opcode/],
    ['control opcode 0xB', 'server', fromClient(0xb, 'x'), 1002, /unknown control opcode/],
    ['a fragmented ping', 'server', fromClient(0x9, 'x', { fin: false }), 1002, /fragmented control frame/],
    ['a 126-byte ping', 'server', fromClient(0x9, pattern(126)), 1002, /longer than 125/],
    ['a continuation out of the blue', 'server', fromClient(0x0, 'x'), 1002, /continuation frame without/],
    ['a new message inside a fragmented one', 'server', Buffer.concat([fromClient(0x2, 'a', { fin: false }), fromClient(0x2, 'b')]), 1002, /new message before/],
    ['a close with a 1-byte body', 'server', fromClient(0x8, Buffer.from([3])), 1002, /1-byte body/],
    ['close code 1005 on the wire', 'server', fromClient(0x8, Buffer.from([0x03, 0xed])), 1002, /invalid close code/],
    ['close code 999', 'server', fromClient(0x8, Buffer.from([0x03, 0xe7])), 1002, /invalid close code/],
    ['close code 2000', 'server', fromClient(0x8, Buffer.from([0x07, 0xd0])), 1002, /invalid close code/],
    ['a close reason that is not UTF-8', 'server', fromClient(0x8, Buffer.from([0x03, 0xe8, 0xc3, 0x28])), 1007, /close reason is not UTF-8/],
    ['a text message that is not UTF-8', 'server', fromClient(0x1, Buffer.from([0x61, 0xff])), 1007, /text message is not UTF-8/],
    ['an overlong UTF-8 encoding', 'server', fromClient(0x1, Buffer.from([0xc0, 0xaf])), 1007, /not UTF-8/],
    ['a UTF-16 surrogate in UTF-8', 'server', fromClient(0x1, Buffer.from([0xed, 0xa0, 0x80])), 1007, /not UTF-8/],
    ['a 64-bit length with the top bit set', 'client', Buffer.from([0x82, 0x7f, 0x80, 0, 0, 0, 0, 0, 0, 1]), 1002, /most significant bit/],
  ];
  for (const [what, role, bytes, code, message] of cases) {
    test(what, () => {
      const r = reader(role);
      const e = errorOf(r.push(bytes));
      assert.equal(e.code, code);
      assert.match(e.message, message);
      // the reader stays failed: more bytes give the same error, nothing else
      const again = r.push(new addon.WsEncoder({ role: role === 'server' ? 'client' : 'server' }).frame(Buffer.from('ok')));
      assert.deepEqual(again, [{ type: 'error', code, message: e.message }]);
    });
  }

  test('a control frame longer than a small maxMessage still fits (found by the ws_frames fuzz target)', () => {
    const r = new addon.WsReader({ role: 'server', maxMessage: 64, readAhead: 0 });
    const events = r.push(fromClient(0x9, pattern(125)));
    assert.deepEqual(events.map((e) => e.type), ['ping']);
  });

  test('an oversized frame fails on its header, before the payload arrives', () => {
    const header = Buffer.from([0x82, 0xff, 0, 0, 0, 0, 0, 0x10, 0, 0, 1, 2, 3, 4]); // 1 MiB, masked
    const e = errorOf(reader('server', 65536).push(header));
    assert.equal(e.code, 1009);
    assert.match(e.message, /bigger than the limit/);
  });

  test('an oversized message made of small fragments fails at the fragment that crosses the limit', () => {
    const r = reader('server', 1000);
    assert.deepEqual(r.push(fromClient(0x2, pattern(600), { fin: false })), []);
    const e = errorOf(r.push(fromClient(0x0, pattern(401), { fin: false })));
    assert.equal(e.code, 1009);
  });

  test('a message of exactly the limit passes', () => {
    const r = reader('server', 1000);
    const events = r.push(Buffer.concat([fromClient(0x2, pattern(600), { fin: false }), fromClient(0x0, pattern(400))]));
    assert.ok(events[0]!.type === 'message' && events[0].data.length === 1000);
  });

  test('lengths in a longer form than needed are accepted', () => {
    const events = reader('client').push(rawFrame({ opcode: 0x2, payload: Buffer.from('hi'), lengthForm: 64, mask: null }));
    assert.ok(events[0]!.type === 'message' && events[0].data.toString() === 'hi');
  });

  test('after a close frame the rest is ignored', () => {
    const r = reader('server');
    const events = r.push(Buffer.concat([fromClient(0x8, Buffer.from([0x03, 0xe8])), fromClient(0x2, 'late')]));
    assert.deepEqual(events, [{ type: 'close', code: 1000, reason: '' }]);
    assert.deepEqual(r.push(fromClient(0x2, 'later')), []);
  });
});

test('fastRandomBytes: the requested length, different every call, roughly uniform', () => {
  const a = addon.fastRandomBytes(65536);
  const b = addon.fastRandomBytes(65536);
  assert.equal(a.length, 65536);
  assert.notDeepEqual(a, b);
  const counts = new Array<number>(256).fill(0);
  for (const byte of a) counts[byte]!++;
  // 256 expected per value; a chi-square this far out (p < 1e-6) means something is broken
  const chi = counts.reduce((s, c) => s + (c - 256) ** 2 / 256, 0);
  assert.ok(chi < 400, `chi-square ${chi}`);
  // keys for the next connection come from a buffer that hands every byte out once
  assert.equal(addon.fastRandomBytes(0).length, 0);
});
