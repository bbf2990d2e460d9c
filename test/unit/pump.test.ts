// The native VTun pump (native/src/pump.cc) without kernel devices: AF_UNIX socketpairs stand in
// for the tun/tap (SOCK_SEQPACKET keeps packet boundaries), for TCP (SOCK_STREAM) and for UDP
// (SOCK_DGRAM). Two pumps back to back for every cipher x compression, and one pump against a
// hand-written peer for the receive rules of docs/vtun-protocol.md §7.7, start/stop, initialRx, send delay, shaping.
import assert from 'node:assert/strict';
import { createCipheriv, randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { native, type CompressionSpec, type NativePump, type PumpEvent, type PumpOptions } from '../../native/index.js';

const addon = native();

/** A raw fd end driven by the test (non-blocking). */
class End {
  private readonly sizes = new Int32Array(64);
  private readonly bufs = Array.from({ length: 64 }, () => Buffer.alloc(65536));
  closed = false;
  constructor(readonly fd: number) {
    addon.setNonBlocking(fd, true);
  }
  /** Writes as many of pkts as the socket takes now; returns how many. */
  write(pkts: Buffer[]): number {
    return pkts.length ? addon.writeBatch(this.fd, pkts, 0) : 0;
  }
  async writeAll(pkts: Buffer[], timeoutMs = 5000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let i = 0;
    while (i < pkts.length) {
      i += this.write(pkts.slice(i));
      if (i < pkts.length) {
        if (Date.now() > deadline) throw new Error(`write timed out after ${i}/${pkts.length}`);
        await sleep(2);
      }
    }
  }
  /** Whatever is readable now (one element per read()). */
  read(): Buffer[] {
    const n = addon.readBatch(this.fd, this.bufs, this.sizes, 0);
    const out: Buffer[] = [];
    for (let i = 0; i < n; i++) out.push(Buffer.from(this.bufs[i]!.subarray(0, this.sizes[i]!)));
    return out;
  }
  close(): void {
    if (!this.closed) addon.closeFd(this.fd);
    this.closed = true;
  }
}

async function until<T>(what: string | (() => string), fn: () => T | undefined | false, timeoutMs = 5000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${typeof what === 'string' ? what : what()}`);
    await sleep(3);
  }
}

/** Reads a stream end into an accumulating buffer. */
class StreamReader {
  data = Buffer.alloc(0);
  constructor(private readonly end: End) {}
  pump(): Buffer {
    const parts = this.end.read();
    if (parts.length) this.data = Buffer.concat([this.data, ...parts]);
    return this.data;
  }
  async take(n: number, timeoutMs = 5000): Promise<Buffer> {
    await until(`${n} bytes from the pump`, () => this.pump().length >= n, timeoutMs);
    const out = this.data.subarray(0, n);
    this.data = this.data.subarray(n);
    return out;
  }
}

const frame = (flags: number, payload: Buffer = Buffer.alloc(0)): Buffer => {
  const h = Buffer.alloc(2);
  h.writeUInt16BE(flags | payload.length);
  return Buffer.concat([h, payload]);
};

const keyFor = (cipher: number): Buffer =>
  cipher === 0 ? Buffer.alloc(0) : addon.vtunKey(Buffer.from('pump-test'), [5, 6, 7, 8, 13, 14, 15, 16].includes(cipher) ? 32 : 16);

interface Made {
  pump: NativePump;
  events: PumpEvent[];
}
function makePump(o: Partial<PumpOptions> & Pick<PumpOptions, 'deviceFd' | 'netFd'>): Made {
  const events: PumpEvent[] = [];
  const pump = new addon.Pump(
    {
      deviceKind: 'packet',
      transport: 'tcp',
      natHack: false,
      compression: { kind: 'none' },
      cipher: 0,
      key: Buffer.alloc(0),
      sendDelayMs: 0,
      speedKbps: 0,
      ...o,
    },
    (e) => events.push(e),
  );
  return { pump, events };
}

/** One pump whose network side is driven by the test. */
function single(o: Partial<PumpOptions> = {}, netKind: 'stream' | 'dgram' = 'stream') {
  const [devPump, devTest] = addon.socketPair('seqpacket');
  const [netPump, netTest] = addon.socketPair(netKind);
  const dev = new End(devTest);
  const net = new End(netTest);
  const made = makePump({ deviceFd: devPump, netFd: netPump, transport: netKind === 'stream' ? 'tcp' : 'udp', ...o });
  return {
    ...made,
    dev,
    net,
    reader: new StreamReader(net),
    cleanup() {
      made.pump.stop();
      addon.closeFd(devPump);
      dev.close();
      net.close();
    },
  };
}

async function pairTransfer(transport: 'tcp' | 'udp', compression: CompressionSpec, cipher: number, count: number) {
  const [devA, devAT] = addon.socketPair('seqpacket');
  const [devB, devBT] = addon.socketPair('seqpacket');
  const [netA, netB] = addon.socketPair(transport === 'tcp' ? 'stream' : 'dgram');
  const key = keyFor(cipher);
  const A = makePump({ deviceFd: devA, netFd: netA, transport, compression, cipher, key });
  const B = makePump({ deviceFd: devB, netFd: netB, transport, compression, cipher, key });
  const ta = new End(devAT);
  const tb = new End(devBT);
  try {
    A.pump.start();
    B.pump.start();
    // (no 1-byte packets: a packet device drops those, see the rsyn-carrier test)
    const sizes = [2, 20, 44, 64, 100, 576, 1280, 1400, 1500, 2048];
    const mk = (i: number) => {
      const size = sizes[i % sizes.length]!;
      return i % 3 === 0 ? Buffer.alloc(size, i & 0xff) : randomBytes(size);
    };
    const ab = Array.from({ length: count }, (_, i) => mk(i));
    const ba = Array.from({ length: count }, (_, i) => mk(i + 7));
    const gotB: Buffer[] = [];
    const gotA: Buffer[] = [];
    let sa = 0;
    let sb = 0;
    const deadline = Date.now() + 15000;
    while (gotA.length < count || gotB.length < count) {
      // pace the writers so that no queue overflows (the pump drops on a full device queue)
      if (sa < count && sa - gotB.length < 16) sa += ta.write(ab.slice(sa, Math.min(count, sa + 8)));
      if (sb < count && sb - gotA.length < 16) sb += tb.write(ba.slice(sb, Math.min(count, sb + 8)));
      gotB.push(...tb.read());
      gotA.push(...ta.read());
      if (Date.now() > deadline) throw new Error(`transfer stalled: a->b ${gotB.length}/${count}, b->a ${gotA.length}/${count}`);
      await sleep(1);
    }
    for (let i = 0; i < count; i++) {
      assert.deepEqual(gotB[i], ab[i], `a->b packet ${i}`);
      assert.deepEqual(gotA[i], ba[i], `b->a packet ${i}`);
    }
    const sA = A.pump.stats();
    const sB = B.pump.stats();
    assert.equal(sA.txPackets, count);
    assert.equal(sB.rxPackets, count);
    assert.equal(sA.rxBytes, ba.reduce((n, b) => n + b.length, 0));
    assert.equal(sB.txBytes, ba.reduce((n, b) => n + b.length, 0));
    assert.equal(sA.badFrames + sB.badFrames, 0);
    // the initial ECHO_REQ of each side was answered natively
    await until('echo replies', () => A.pump.stats().echoRepliesReceived >= 1 && B.pump.stats().echoRepliesReceived >= 1);
    assert.ok(sA.echoRequestsReceived >= 1 && sB.echoRequestsReceived >= 1);
    assert.ok(sA.msSinceRx >= 0 && sA.msSinceRx < 5000);
    assert.equal(A.events.length + B.events.length, 0, 'no event while running');
  } finally {
    A.pump.stop();
    B.pump.stop();
    for (const fd of [devA, devB]) addon.closeFd(fd);
    ta.close();
    tb.close();
  }
  // stop() ends a running pump with exactly one 'stopped' event (delivered asynchronously)
  // stop() of a running pump emits exactly one 'stopped' (asynchronously); B may have seen A's
  // close first (eof) — either way one event each.
  await until(() => `one event each (${transport} ${compression.kind} ${cipher}: ${JSON.stringify([A.events, B.events])})`, () => A.events.length === 1 && B.events.length === 1);
  assert.equal(A.events[0]!.reason, 'stopped');
  assert.match(B.events[0]!.reason, /^(stopped|eof|network_error)$/);
}

const CIPHERS = [0, 999, 1, 5, 9, 10, 11, 12, 13, 14, 16, 2, 3, 4];
const COMPRESSIONS: CompressionSpec[] = [{ kind: 'none' }, { kind: 'lzo', level: 1 }, { kind: 'zlib', level: 9 }];

for (const transport of ['tcp', 'udp'] as const) {
  test(`two pumps over ${transport}: every cipher x compression carries packets both ways, in order`, async () => {
    for (const compression of COMPRESSIONS) {
      for (const cipher of CIPHERS) {
        await pairTransfer(transport, compression, cipher, 60);
      }
    }
  });
}

test('udp with lost datagrams: stream ciphers resynchronise between two pumps (rsyn / new side-band)', async () => {
  for (const cipher of [10, 12, 16, 3]) {
    const [devA, devAT] = addon.socketPair('seqpacket');
    const [devB, devBT] = addon.socketPair('seqpacket');
    const [netA, relayA] = addon.socketPair('dgram');
    const [netB, relayB] = addon.socketPair('dgram');
    const key = keyFor(cipher);
    const A = makePump({ deviceFd: devA, netFd: netA, transport: 'udp', cipher, key });
    const B = makePump({ deviceFd: devB, netFd: netB, transport: 'udp', cipher, key });
    const ta = new End(devAT);
    const tb = new End(devBT);
    const ra = new End(relayA);
    const rb = new End(relayB);
    try {
      A.pump.start();
      B.pump.start();
      const count = 200;
      const gotB: Buffer[] = [];
      const gotA: Buffer[] = [];
      let forwarded = 0;
      let dropped = 0;
      const pkt = (dir: number, i: number) => Buffer.concat([Buffer.from([0x45, dir, i >> 8, i & 0xff]), Buffer.alloc(60, i & 0xff)]);
      for (let i = 0; i < count; i++) {
        ta.write([pkt(1, i)]);
        tb.write([pkt(2, i)]);
        // relay, dropping every 25th data datagram from A to B (and every 40th from B to A), except
        // during the last 20 rounds: by then both streams must have recovered
        for (let spin = 0; spin < 50; spin++) {
          for (const d of ra.read()) {
            forwarded++;
            if (d.length > 2 && i < count - 20 && forwarded % 25 === 0) dropped++;
            else rb.write([d]);
          }
          for (const d of rb.read()) {
            forwarded++;
            if (d.length > 2 && i < count - 20 && forwarded % 40 === 0) dropped++;
            else ra.write([d]);
          }
          gotB.push(...tb.read());
          gotA.push(...ta.read());
          if (gotB.length > 0 && gotB[gotB.length - 1]!.readUInt16BE(2) === i && gotA.length > 0 && gotA[gotA.length - 1]!.readUInt16BE(2) === i) break;
          await sleep(1);
        }
      }
      assert.ok(dropped >= 8, `cipher ${cipher}: ${dropped} datagrams dropped`);
      // most packets arrive, and the stream works again at the end (recovered from every loss)
      assert.ok(gotB.length >= count * 0.7, `cipher ${cipher}: a->b ${gotB.length}/${count}`);
      assert.ok(gotA.length >= count * 0.7, `cipher ${cipher}: b->a ${gotA.length}/${count}`);
      const lastB = new Set(gotB.map((b) => b.readUInt16BE(2)));
      const lastA = new Set(gotA.map((b) => b.readUInt16BE(2)));
      for (let i = count - 10; i < count; i++) {
        assert.ok(lastB.has(i) && lastA.has(i), `cipher ${cipher}: packet ${i} lost after recovery (${gotB.length}, ${gotA.length} arrived)`);
      }
      for (const b of gotB) assert.deepEqual(b, pkt(1, b.readUInt16BE(2)), `cipher ${cipher}: a->b content`);
      for (const a of gotA) assert.deepEqual(a, pkt(2, a.readUInt16BE(2)), `cipher ${cipher}: b->a content`);
      assert.equal(A.events.length + B.events.length, 0);
    } finally {
      A.pump.stop();
      B.pump.stop();
      for (const fd of [devA, devB]) addon.closeFd(fd);
      for (const e of [ta, tb, ra, rb]) e.close();
    }
  }
});

test('tcp: initial ECHO_REQ, native ECHO_REP, receive rules of docs/vtun-protocol.md §7.7, CONN_CLOSE', async () => {
  const t = single();
  try {
    t.pump.start();
    assert.deepEqual(await t.reader.take(2), Buffer.from('2000', 'hex'), 'ECHO_REQ at start');
    t.net.write([frame(0x2000)]);
    assert.deepEqual(await t.reader.take(2), Buffer.from('4000', 'hex'), 'ECHO_REP');
    t.net.write([frame(0x4000)]);
    await until('echo reply counted', () => t.pump.stats().echoRepliesReceived === 1);
    // oversized frame (2304 > 2148 bytes): read and skipped; `00 00`; BAD; 0x3000 ignored
    const big = Buffer.alloc(2 + 2304, 0xee);
    big.writeUInt16BE(2304);
    t.net.write([big, frame(0), frame(0x8000), frame(0x3000), frame(0, Buffer.from('abc'))]);
    const got = await until('packet on the device', () => t.dev.read()[0]);
    assert.equal(got.toString(), 'abc');
    const s = t.pump.stats();
    assert.equal(s.badFrames, 3);
    assert.equal(s.rxPackets, 1);
    assert.equal(s.rxFrames, 7);
    // device -> net: one frame per packet, header = length
    t.dev.write([Buffer.from('hello'), Buffer.from('world!')]);
    assert.deepEqual(await t.reader.take(15), Buffer.concat([frame(0, Buffer.from('hello')), frame(0, Buffer.from('world!'))]));
    // JS-queued control frames
    t.pump.sendControl('echo_req');
    assert.deepEqual(await t.reader.take(2), Buffer.from('2000', 'hex'));
    // CONN_CLOSE from the peer: ended/peer_closed, and our own CONN_CLOSE goes back
    t.net.write([frame(0x1000)]);
    await until('ended event', () => t.events.length === 1);
    assert.equal(t.events[0]!.reason, 'peer_closed');
    assert.deepEqual(await t.reader.take(2), Buffer.from('1000', 'hex'));
    assert.equal(t.pump.stats().running, false);
    t.pump.sendControl('echo_req'); // no-op after the end
  } finally {
    t.cleanup();
  }
  // an event the threads queued before stop() is delivered by the next poll phase: let two loop
  // iterations pass
  await new Promise((r) => setImmediate(r));
  await new Promise((r) => setImmediate(r));
  assert.equal(t.events.length, 1, 'no second event after stop() of an ended pump');
});

test('tcp: EOF ends the session with eof; stop() is idempotent and closes only netFd', async () => {
  const t = single();
  t.pump.start();
  await t.reader.take(2);
  t.net.close();
  await until('eof event', () => t.events[0]);
  assert.equal(t.events[0]!.reason, 'eof');
  t.pump.stop();
  t.pump.stop();
  // the device fd is still open (owned by the caller)
  assert.doesNotThrow(() => addon.setNonBlocking(t.dev.fd, true));
  t.cleanup();
});

test('stop(): emits stopped, closes the socket (peer sees EOF), sends nothing', async () => {
  const t = single();
  t.pump.start();
  await t.reader.take(2); // ECHO_REQ
  t.pump.stop();
  await until('stopped event', () => t.events[0]);
  assert.equal(t.events[0]!.reason, 'stopped');
  // EOF: read() returns 0 bytes -> readBatch reports one empty read
  const parts = await until('EOF on the peer', () => {
    const r = t.net.read();
    return r.length ? r : undefined;
  });
  assert.equal(parts[0]!.length, 0);
  t.pump.stop();
  assert.equal(t.events.length, 1);
  t.cleanup();
});

test('a CONN_CLOSE queued right before stop() is still sent', async () => {
  const t = single();
  t.pump.start();
  await t.reader.take(2);
  t.pump.sendControl('conn_close');
  t.pump.stop();
  assert.deepEqual(await t.reader.take(2), Buffer.from('1000', 'hex'));
  t.cleanup();
});

test('tcp: initialRx is the start of the frame stream', async () => {
  const f1 = frame(0, Buffer.from('first'));
  const f2 = frame(0, Buffer.from('second'));
  const t = single({ initialRx: Buffer.concat([frame(0x2000), f1, f2.subarray(0, 3)]) });
  try {
    t.pump.start();
    const first = await until('first packet', () => t.dev.read()[0]);
    assert.equal(first.toString(), 'first');
    t.net.write([f2.subarray(3)]);
    const second = await until('second packet', () => t.dev.read()[0]);
    assert.equal(second.toString(), 'second');
    // the ECHO_REQ inside initialRx was answered
    assert.deepEqual(await t.reader.take(4), Buffer.from('20004000', 'hex'));
  } finally {
    t.cleanup();
  }
});

test('sendDelayMs holds data frames but not control frames', async () => {
  const t = single({ sendDelayMs: 400 });
  try {
    const t0 = Date.now();
    t.pump.start();
    t.dev.write([Buffer.from('early')]);
    assert.deepEqual(await t.reader.take(2), Buffer.from('2000', 'hex'));
    assert.ok(Date.now() - t0 < 350, 'ECHO_REQ is not delayed');
    const data = await t.reader.take(7);
    const waited = Date.now() - t0;
    assert.equal(data.subarray(2).toString(), 'early');
    assert.ok(waited >= 380, `data frame came after ${waited} ms`);
  } finally {
    t.cleanup();
  }
});

test('natHack on tcp is ignored; natHack on udp sends no initial ECHO_REQ', async () => {
  const t = single({ natHack: true }, 'dgram');
  try {
    t.pump.start();
    // the socketpair stand-in is already connected (the engine pins its peer), so a packet from
    // the device goes straight out: an initial ECHO_REQ would have been sent before it
    t.dev.write([Buffer.from('early')]);
    const first = await until('the packet', () => t.net.read()[0]);
    assert.equal(first.toString('hex'), frame(0, Buffer.from('early')).toString('hex'));
    assert.equal(t.pump.stats().echoRequestsSent, 0);
  } finally {
    t.cleanup();
  }
});

test('udp: one frame per datagram, length must match the header', async () => {
  const t = single({}, 'dgram');
  try {
    t.pump.start();
    const first = await until('ECHO_REQ datagram', () => t.net.read()[0]);
    assert.equal(first.toString('hex'), '2000');
    const mismatch = Buffer.concat([frame(0, Buffer.from('abcd')), Buffer.from('x')]);
    t.net.write([mismatch, Buffer.from([0x01]), frame(0, Buffer.from('good')), frame(0x2000)]);
    const got = await until('packet', () => t.dev.read()[0]);
    assert.equal(got.toString(), 'good');
    const rep = await until('ECHO_REP datagram', () => t.net.read()[0]);
    assert.equal(rep.toString('hex'), '4000');
    assert.equal(t.pump.stats().badFrames, 2);
    t.dev.write([Buffer.from('p1'), Buffer.from('p22')]);
    const dgrams: Buffer[] = [];
    await until('two datagrams', () => (dgrams.push(...t.net.read()), dgrams.length >= 2));
    assert.deepEqual(dgrams, [frame(0, Buffer.from('p1')), frame(0, Buffer.from('p22'))]);
    t.net.write([frame(0x1000)]);
    await until('ended', () => t.events[0]);
    assert.equal(t.events[0]!.reason, 'peer_closed');
  } finally {
    t.cleanup();
  }
});

test("a 1-byte packet (vtund's rsyn carrier) is not written to a packet device", async () => {
  const t = single();
  try {
    t.pump.start();
    await t.reader.take(2);
    t.net.write([frame(0, Buffer.from('z')), frame(0, Buffer.from('ok'))]);
    const got = await until('packet', () => t.dev.read()[0]);
    assert.equal(got.toString(), 'ok');
    assert.equal(t.pump.stats().badFrames, 1);
    assert.equal(t.pump.stats().rxPackets, 1);
    assert.deepEqual(t.events, []);
  } finally {
    t.cleanup();
  }
});

test('decompression failure ends the session with codec_error (and CONN_CLOSE)', async () => {
  const t = single({ compression: { kind: 'lzo', level: 1 } });
  try {
    t.pump.start();
    await t.reader.take(2);
    t.net.write([frame(0, Buffer.alloc(40, 0xff))]);
    await until('ended', () => t.events[0]);
    assert.equal(t.events[0]!.reason, 'codec_error');
    assert.deepEqual(await t.reader.take(2), Buffer.from('1000', 'hex'));
  } finally {
    t.cleanup();
  }
});

test('undecryptable frames are dropped and counted, the session goes on', async () => {
  const key = keyFor(9);
  const t = single({ cipher: 9, key });
  try {
    t.pump.start();
    await t.reader.take(2);
    // a partial block, and a block whose plaintext ends in pad byte 0
    const ecb = createCipheriv('aes-128-ecb', key, null).setAutoPadding(false);
    const badPad = ecb.update(Buffer.alloc(16, 0));
    t.net.write([frame(0, Buffer.alloc(13, 1)), frame(0, badPad)]);
    const codec = new addon.VtunCodec({ compression: { kind: 'none' }, cipher: 9, key });
    t.net.write([frame(0, codec.encode(Buffer.from('fine')))]);
    const got = await until('packet', () => t.dev.read()[0]);
    assert.equal(got.toString(), 'fine');
    assert.equal(t.pump.stats().badFrames, 2);
    assert.deepEqual(t.events, []);
  } finally {
    t.cleanup();
  }
});

test('a device that goes away ends the session with device_error (write error or hang-up)', async () => {
  const t = single();
  try {
    t.pump.start();
    await t.reader.take(2);
    t.dev.close(); // the peer of the pump's device fd is gone: write() -> EPIPE
    t.net.write([frame(0, Buffer.from('lost'))]);
    await until('ended', () => t.events[0]);
    assert.equal(t.events[0]!.reason, 'device_error');
    assert.match(t.events[0]!.message, /device write|device hung up/);
  } finally {
    t.cleanup();
  }
});

test('stream devices: chunks of at most 2048 bytes become frames; payloads are written whole', async () => {
  const [devPump, devTest] = addon.socketPair('stream');
  const [netPump, netTest] = addon.socketPair('stream');
  const dev = new End(devTest);
  const net = new End(netTest);
  const { pump } = makePump({ deviceFd: devPump, netFd: netPump, deviceKind: 'stream', compression: { kind: 'zlib', level: 1 } });
  try {
    pump.start();
    const reader = new StreamReader(net);
    assert.deepEqual(await reader.take(2), Buffer.from('2000', 'hex'));
    const blob = Buffer.from('0123456789abcdef'.repeat(400)); // 6400 bytes
    await dev.writeAll([blob]);
    const peer = new addon.VtunCodec({ compression: { kind: 'zlib', level: 1 }, cipher: 0, key: Buffer.alloc(0) });
    let got = Buffer.alloc(0);
    await until('the whole blob through frames', () => {
      reader.pump();
      while (reader.data.length >= 2 && reader.data.length >= 2 + (reader.data.readUInt16BE(0) & 0xfff)) {
        const len = reader.data.readUInt16BE(0) & 0xfff;
        const plain = peer.decode(reader.data.subarray(2, 2 + len));
        assert.ok(plain && plain.length <= 2048);
        got = Buffer.concat([got, plain]);
        reader.data = reader.data.subarray(2 + len);
      }
      return got.length >= blob.length;
    });
    assert.deepEqual(got, blob);
    // net -> device
    const back = peer.encode(Buffer.from('x'.repeat(2000)));
    net.write([frame(0, back)]);
    const chunks: Buffer[] = [];
    await until('2000 bytes on the device', () => (chunks.push(...dev.read()), Buffer.concat(chunks).length >= 2000));
    assert.equal(Buffer.concat(chunks).toString(), 'x'.repeat(2000));
  } finally {
    pump.stop();
    addon.closeFd(devPump);
    dev.close();
    net.close();
  }
});

test('speedKbps limits what this side sends per second', async () => {
  // 16 kbit/s -> 16*1024/8 + 400 = 2448 bytes per second
  const t = single({ speedKbps: 16 });
  try {
    t.pump.start();
    await t.reader.take(2);
    const pkts = Array.from({ length: 8 }, () => randomBytes(1000));
    const t0 = Date.now();
    await t.dev.writeAll(pkts);
    await until('all packets', () => t.reader.pump().length >= 8 * 1002, 8000);
    // 2448 bytes per second: three packets in each of the first two seconds, the rest in the third
    const took = Date.now() - t0;
    assert.ok(took >= 1500, `8 KB at 16 kbit/s took only ${took} ms`);
  } finally {
    t.cleanup();
  }
});

test('bad options are refused', () => {
  const base = { deviceFd: 0, netFd: 1, deviceKind: 'packet', transport: 'tcp', natHack: false, compression: { kind: 'none' }, cipher: 0, key: Buffer.alloc(0), sendDelayMs: 0, speedKbps: 0 } as PumpOptions;
  assert.throws(() => new addon.Pump({ ...base, transport: 'sctp' as 'tcp' }, () => {}), TypeError);
  assert.throws(() => new addon.Pump({ ...base, cipher: 10 }, () => {}), /16-byte key/);
  assert.throws(() => new addon.Pump({ ...base, deviceFd: -1 }, () => {}), TypeError);
  // never started: stop() is a no-op and closes nothing
  const p = new addon.Pump(base, () => {});
  p.stop();
});
