// The packet engine's offload surgery (native/src/engine/offload.*) on crafted packets: cutting the
// kernel's TSO/USO super-packets (lengths, IPv4 IDs, sequence numbers, flags, checksums), completing
// partial checksums, and coalescing one batch for the device (GRO). Checksums are verified with the
// independent JS implementation below, never with the code under test alone.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { native } from '../../native/index.js';

const addon = native();

// ---- an independent RFC 1071 checksum and packet builders

function sum16(buf: Buffer, acc = 0): number {
  for (let i = 0; i + 1 < buf.length; i += 2) acc += buf.readUInt16BE(i);
  if (buf.length % 2) acc += buf[buf.length - 1] << 8;
  return acc;
}
function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 0x10000);
  return acc;
}
function pseudo(ip: Buffer, proto: number, l4len: number): number {
  const v6 = ip[0] >> 4 === 6;
  const addrs = v6 ? ip.subarray(8, 40) : ip.subarray(12, 20);
  return sum16(addrs) + proto + l4len;
}
/** true when the TCP/UDP checksum of a whole IPv4/IPv6 packet verifies (and the IPv4 header's). */
function checksumsOk(pkt: Buffer): boolean {
  const v6 = pkt[0] >> 4 === 6;
  const l4 = v6 ? 40 : (pkt[0] & 15) * 4;
  if (!v6 && fold(sum16(pkt.subarray(0, l4))) !== 0xffff) return false;
  const proto = v6 ? pkt[6] : pkt[9];
  return fold(sum16(pkt.subarray(l4), pseudo(pkt, proto, pkt.length - l4))) === 0xffff;
}

const TCP = 6;
const UDP = 17;
const ACK = 0x10;
const PSH = 0x08;
const FIN = 0x01;
const SYN = 0x02;

interface Tcp {
  v6?: boolean;
  src?: string;
  dst?: string;
  sport?: number;
  dport?: number;
  seq: number;
  ack?: number;
  flags?: number;
  id?: number;
  options?: Buffer;
  payload: Buffer;
}

function ipHeader(v6: boolean, proto: number, l4len: number, id: number, src?: string, dst?: string): Buffer {
  if (v6) {
    const h = Buffer.alloc(40);
    h.writeUInt32BE(0x60000000, 0);
    h.writeUInt16BE(l4len, 4);
    h[6] = proto;
    h[7] = 64;
    Buffer.from((src ?? '20010002000000000000000000000001').replace(/:/g, ''), 'hex').copy(h, 8);
    Buffer.from((dst ?? '20010002000000000000000000000002').replace(/:/g, ''), 'hex').copy(h, 24);
    return h;
  }
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + l4len, 2);
  h.writeUInt16BE(id, 4);
  h.writeUInt16BE(0x4000, 6); // DF
  h[8] = 64;
  h[9] = proto;
  Buffer.from((src ?? '198.18.0.1').split('.').map(Number)).copy(h, 12);
  Buffer.from((dst ?? '198.18.0.2').split('.').map(Number)).copy(h, 16);
  h.writeUInt16BE(0xffff - fold(sum16(h)), 10);
  return h;
}

function tcp(p: Tcp): Buffer {
  const options = p.options ?? Buffer.alloc(0);
  const th = Buffer.alloc(20 + options.length);
  th.writeUInt16BE(p.sport ?? 40000, 0);
  th.writeUInt16BE(p.dport ?? 5201, 2);
  th.writeUInt32BE(p.seq >>> 0, 4);
  th.writeUInt32BE(p.ack ?? 1000, 8);
  th[12] = (th.length / 4) << 4;
  th[13] = p.flags ?? ACK;
  th.writeUInt16BE(501, 14);
  options.copy(th, 20);
  const l4 = Buffer.concat([th, p.payload]);
  const ip = ipHeader(p.v6 ?? false, TCP, l4.length, p.id ?? 7, p.src, p.dst);
  l4.writeUInt16BE(0xffff - fold(sum16(l4, pseudo(ip, TCP, l4.length))), 16);
  return Buffer.concat([ip, l4]);
}

function udp(payload: Buffer, v6 = false, id = 9, sport = 53000): Buffer {
  const l4 = Buffer.alloc(8 + payload.length);
  l4.writeUInt16BE(sport, 0);
  l4.writeUInt16BE(5201, 2);
  l4.writeUInt16BE(l4.length, 4);
  payload.copy(l4, 8);
  const ip = ipHeader(v6, UDP, l4.length, id);
  const c = 0xffff - fold(sum16(l4, pseudo(ip, UDP, l4.length)));
  l4.writeUInt16BE(c === 0 ? 0xffff : c, 6);
  return Buffer.concat([ip, l4]);
}

interface Vnet {
  flags: number;
  gsoType: number;
  hdrLen: number;
  gsoSize: number;
  csumStart: number;
  csumOffset: number;
}
function vnet(h: Vnet): Buffer {
  const b = Buffer.alloc(10);
  b[0] = h.flags;
  b[1] = h.gsoType;
  b.writeUInt16LE(h.hdrLen, 2);
  b.writeUInt16LE(h.gsoSize, 4);
  b.writeUInt16LE(h.csumStart, 6);
  b.writeUInt16LE(h.csumOffset, 8);
  return b;
}
function readVnet(b: Buffer): Vnet {
  return { flags: b[0], gsoType: b[1], hdrLen: b.readUInt16LE(2), gsoSize: b.readUInt16LE(4), csumStart: b.readUInt16LE(6), csumOffset: b.readUInt16LE(8) };
}

/** What the kernel hands a tun reader: the checksum field holds the pseudo-header's folded sum. */
function asPartial(pkt: Buffer, l4: number, csumOffset: number): Buffer {
  const out = Buffer.from(pkt);
  const proto = out[0] >> 4 === 6 ? out[6] : out[9];
  out.writeUInt16BE(fold(pseudo(out, proto, out.length - l4)), l4 + csumOffset);
  return out;
}

// a TSO super-packet as the kernel gives it: one header, the whole payload, a partial checksum
function superTcp(p: Tcp, mss: number): Buffer {
  const v6 = p.v6 ?? false;
  const l4 = v6 ? 40 : 20;
  const pkt = asPartial(tcp(p), l4, 16);
  return Buffer.concat([vnet({ flags: 1, gsoType: v6 ? 4 : 1, hdrLen: l4 + 20 + (p.options?.length ?? 0), gsoSize: mss, csumStart: l4, csumOffset: 16 }), pkt]);
}

// ---- cutting

for (const v6 of [false, true]) {
  test(`TSO over IPv${v6 ? 6 : 4}: cut at gso_size with sequence numbers, lengths, IDs, flags and checksums fixed`, () => {
    const payload = randomBytes(5000);
    const seq = 0xfffffc00; // wraps inside the super-packet
    const segs = addon.offloadSegment(superTcp({ v6, seq, flags: ACK | PSH | FIN, id: 0xfffe, payload }, 1380));
    assert.deepEqual(
      segs.map((s) => s.length),
      [1380, 1380, 1380, 860].map((n) => n + (v6 ? 60 : 40)),
    );
    const l4 = v6 ? 40 : 20;
    let off = 0;
    segs.forEach((s, i) => {
      assert.ok(checksumsOk(s), `segment ${i}: checksums`);
      assert.equal(s.readUInt32BE(l4 + 4), (seq + i * 1380) >>> 0, `segment ${i}: seq`);
      const last = i === segs.length - 1;
      assert.equal(s[l4 + 13], last ? ACK | PSH | FIN : ACK, `segment ${i}: flags`);
      if (v6) assert.equal(s.readUInt16BE(4), s.length - 40);
      else {
        assert.equal(s.readUInt16BE(2), s.length);
        assert.equal(s.readUInt16BE(4), (0xfffe + i) & 0xffff, `segment ${i}: IPv4 ID`);
      }
      const data = s.subarray(l4 + 20);
      assert.ok(data.equals(payload.subarray(off, off + data.length)), `segment ${i}: payload`);
      off += data.length;
      // exactly what a sender without offloads would have sent
      assert.ok(s.equals(tcp({ v6, seq: seq + i * 1380, flags: last ? ACK | PSH | FIN : ACK, id: (0xfffe + i) & 0xffff, payload: data })));
    });
    assert.equal(off, payload.length);
  });
}

test('TSO keeps TCP options (timestamps) in every segment', () => {
  const options = Buffer.from('0101080a0000000100000002', 'hex');
  const payload = randomBytes(2000);
  const segs = addon.offloadSegment(superTcp({ seq: 1, options, payload }, 1000));
  assert.equal(segs.length, 2);
  for (const s of segs) {
    assert.ok(checksumsOk(s));
    assert.ok(s.subarray(40, 52).equals(options));
  }
});

test('USO over IPv4 and IPv6: datagrams of gso_size with their own lengths and checksums', () => {
  for (const v6 of [false, true]) {
    const payload = randomBytes(2500);
    const l4 = v6 ? 40 : 20;
    const pkt = asPartial(udp(payload, v6), l4, 6);
    const segs = addon.offloadSegment(Buffer.concat([vnet({ flags: 1, gsoType: 5, hdrLen: l4 + 8, gsoSize: 1000, csumStart: l4, csumOffset: 6 }), pkt]));
    assert.deepEqual(
      segs.map((s) => s.length - l4 - 8),
      [1000, 1000, 500],
    );
    segs.forEach((s, i) => {
      assert.ok(checksumsOk(s), `IPv${v6 ? 6 : 4} datagram ${i}`);
      assert.equal(s.readUInt16BE(l4 + 4), s.length - l4);
      assert.ok(s.subarray(l4 + 8).equals(payload.subarray(i * 1000, i * 1000 + 1000)));
    });
  }
});

test('a packet with a partial checksum (NEEDS_CSUM, no GSO) gets it completed', () => {
  const good = tcp({ seq: 5, payload: randomBytes(333) });
  const partial = asPartial(good, 20, 16);
  assert.equal(checksumsOk(partial), false);
  const [out] = addon.offloadSegment(Buffer.concat([vnet({ flags: 1, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 20, csumOffset: 16 }), partial]));
  assert.ok(out.equals(good));
  // without NEEDS_CSUM the packet is passed as it is
  const [same] = addon.offloadSegment(Buffer.concat([Buffer.alloc(10), partial]));
  assert.ok(same.equals(partial));
});

test('what the device cannot cut is refused (the device drops and counts it)', () => {
  const pkt = tcp({ seq: 1, payload: randomBytes(100) });
  assert.throws(() => addon.offloadSegment(Buffer.concat([vnet({ flags: 1, gsoType: 3, hdrLen: 40, gsoSize: 50, csumStart: 20, csumOffset: 16 }), pkt])), /unsupported gso_type/);
  assert.throws(() => addon.offloadSegment(Buffer.concat([vnet({ flags: 1, gsoType: 1, hdrLen: 40, gsoSize: 0, csumStart: 20, csumOffset: 16 }), pkt])), /gso_size 0/);
  assert.throws(() => addon.offloadSegment(Buffer.concat([vnet({ flags: 1, gsoType: 1, hdrLen: 40, gsoSize: 50, csumStart: 20, csumOffset: 16 }), pkt.subarray(0, 30)])), /TCP header/);
  assert.throws(() => addon.offloadSegment(Buffer.concat([vnet({ flags: 1, gsoType: 0, hdrLen: 0, gsoSize: 0, csumStart: 200, csumOffset: 16 }), pkt])), /beyond/);
  assert.throws(() => addon.offloadSegment(superTcp({ seq: 1, payload: randomBytes(3000) }, 1000), 500), /larger than cap/);
});

// ---- coalescing

test('checksum check of the engine agrees with the JS one', () => {
  const good = tcp({ seq: 1, payload: randomBytes(101) });
  assert.ok(addon.offloadChecksumValid(good));
  const bad = Buffer.from(good);
  bad[60] ^= 1;
  assert.equal(addon.offloadChecksumValid(bad), false);
  assert.ok(addon.offloadChecksumValid(udp(randomBytes(77), true)));
});

test('checksums of every payload length and alignment agree with the JS one (the wide summing loop and its tails)', () => {
  for (let len = 0; len <= 80; len++) {
    for (const v6 of [false, true]) {
      const good = tcp({ v6, seq: 1, payload: randomBytes(len) });
      assert.ok(addon.offloadChecksumValid(good), `length ${len}, IPv${v6 ? 6 : 4}`);
      const bad = Buffer.from(good);
      bad[bad.length - 1 - (len % 17) * Math.min(1, len)] ^= 0x80;
      assert.equal(addon.offloadChecksumValid(bad), false, `length ${len}, IPv${v6 ? 6 : 4}, one bit flipped`);
    }
  }
  // large payloads: many rounds of the four sums, words near 0xffffffff
  const ones = tcp({ seq: 1, payload: Buffer.alloc(9000, 0xff) });
  assert.ok(addon.offloadChecksumValid(ones));
  assert.ok(addon.offloadChecksumValid(tcp({ seq: 1, payload: randomBytes(1400) })));
});

for (const v6 of [false, true]) {
  test(`GRO over IPv${v6 ? 6 : 4}: consecutive segments of one flow become one TSO write, cut back to the very same packets`, () => {
    const seq = 0xffffff00;
    const datas = [1380, 1380, 1380, 1380, 700].map((n) => randomBytes(n));
    let s = seq;
    const flow = datas.map((d, i) => {
      const p = tcp({ v6, seq: s, id: 100 + i, flags: i === datas.length - 1 ? ACK | PSH : ACK, payload: d });
      s += d.length;
      return p;
    });
    const other = tcp({ v6, sport: 40001, seq: 77, payload: randomBytes(1380) });
    const dgram = udp(randomBytes(64), v6);
    const batch = [flow[0], flow[1], other, flow[2], dgram, flow[3], flow[4]];
    const writes = addon.offloadCoalesce(batch);
    assert.deepEqual(
      writes.map((w) => w.members),
      [[0, 1, 3, 5, 6], [2], [4]],
    );
    const h = readVnet(writes[0].write);
    const l4 = v6 ? 40 : 20;
    assert.deepEqual(h, { flags: 1, gsoType: v6 ? 4 : 1, hdrLen: l4 + 20, gsoSize: 1380, csumStart: l4, csumOffset: 16 });
    // singles go as they came, with an empty header
    assert.ok(writes[1].write.equals(Buffer.concat([Buffer.alloc(10), other])));
    assert.ok(writes[2].write.equals(Buffer.concat([Buffer.alloc(10), dgram])));
    // the super-packet: one header, all payloads; the kernel (here: the Segmenter) cuts it back
    const sp = writes[0].write.subarray(10);
    assert.equal(sp.length, l4 + 20 + datas.reduce((a, d) => a + d.length, 0));
    if (!v6) assert.equal(sp.readUInt16BE(2), sp.length);
    assert.equal(sp[l4 + 13], ACK | PSH);
    const back = addon.offloadSegment(writes[0].write);
    assert.equal(back.length, flow.length);
    back.forEach((b, i) => {
      assert.ok(checksumsOk(b), `segment ${i}`);
      assert.ok(b.equals(flow[i]), `segment ${i} equals the packet that came in`);
    });
    // the input packets are untouched (a refused super-packet falls back to them)
    assert.ok(batch[0].equals(flow[0]));
  });
}

test('authenticated packets (WireGuard) are merged without verifying their checksums; all else is not', () => {
  // kernel WireGuard marks what it decrypted CHECKSUM_UNNECESSARY; a bad checksum from an
  // authenticated peer is the peer's own choice of bytes
  for (const v6 of [false, true]) {
    const a = tcp({ v6, seq: 0, payload: randomBytes(1000) });
    const b = tcp({ v6, seq: 1000, payload: randomBytes(1000) });
    b[b.length - 1]! ^= 0xff;
    assert.equal(addon.offloadChecksumValid(b), false);
    assert.deepEqual(addon.offloadCoalesce([a, b]).map((w) => w.members), [[0], [1]], 'verified: kept apart');
    const trusted = addon.offloadCoalesce([a, b], false, true);
    assert.deepEqual(trusted.map((w) => w.members), [[0, 1]], 'trusted: merged');
    // the super-packet carries the payloads as they came (cut back, the kernel would compute a
    // checksum over the bytes the peer sent)
    const back = addon.offloadSegment(trusted[0]!.write);
    const headers = (v6 ? 40 : 20) + 20;
    assert.ok(back[0]!.equals(a));
    assert.ok(back[1]!.subarray(headers).equals(b.subarray(headers)));
    const u = [udp(randomBytes(1200), v6, 1), udp(randomBytes(1200), v6, 2)];
    u[0]![u[0]!.length - 3]! ^= 1;
    assert.deepEqual(addon.offloadCoalesce(u, true).map((w) => w.members), [[0], [1]]);
    assert.deepEqual(addon.offloadCoalesce(u, true, true).map((w) => w.members), [[0, 1]]);
    // what is not coalescable stays apart either way
    const syn = tcp({ v6, seq: 2000, flags: SYN | ACK, payload: randomBytes(10) });
    assert.deepEqual(addon.offloadCoalesce([a, syn], false, true).map((w) => w.members), [[0], [1]]);
  }
});

test('GRO leaves alone what must not be merged', () => {
  const d = () => randomBytes(1000);
  const cases: [string, Buffer[]][] = [
    ['a sequence gap', [tcp({ seq: 0, payload: d() }), tcp({ seq: 1001, payload: d() })]],
    ['another ack', [tcp({ seq: 0, payload: d() }), tcp({ seq: 1000, ack: 5, payload: d() })]],
    ['a bad checksum', [tcp({ seq: 0, payload: d() }), (() => { const p = tcp({ seq: 1000, payload: d() }); p[100] ^= 0xff; return p; })()]],
    ['SYN', [tcp({ seq: 0, flags: SYN | ACK, payload: d() }), tcp({ seq: 1000, payload: d() })]],
    ['FIN', [tcp({ seq: 0, payload: d() }), tcp({ seq: 1000, flags: ACK | FIN, payload: d() })]],
    ['after PSH', [tcp({ seq: 0, flags: ACK | PSH, payload: d() }), tcp({ seq: 1000, payload: d() })]],
    ['after a shorter segment', [tcp({ seq: 0, payload: randomBytes(500) }), tcp({ seq: 500, payload: d() })]],
    ['a larger segment', [tcp({ seq: 0, payload: d() }), tcp({ seq: 1000, payload: randomBytes(1200) })]],
    ['other options', [tcp({ seq: 0, options: Buffer.from('0101080a0000000100000002', 'hex'), payload: d() }), tcp({ seq: 1000, options: Buffer.from('0101080a0000000200000002', 'hex'), payload: d() })]],
    ['another TTL', [tcp({ seq: 0, payload: d() }), (() => { const p = tcp({ seq: 1000, payload: d() }); p[8] = 3; p.writeUInt16BE(0, 10); p.writeUInt16BE(0xffff - fold(sum16(p.subarray(0, 20))), 10); return p; })()]],
    ['pure ACKs', [tcp({ seq: 0, payload: Buffer.alloc(0) }), tcp({ seq: 0, payload: Buffer.alloc(0) })]],
  ];
  for (const [what, pkts] of cases) {
    const writes = addon.offloadCoalesce(pkts);
    assert.deepEqual(writes.map((w) => w.members), [[0], [1]], what);
    writes.forEach((w, i) => assert.ok(w.write.equals(Buffer.concat([Buffer.alloc(10), pkts[i]])), `${what}: packet ${i} as it came`));
  }
});

for (const v6 of [false, true]) {
  test(`UDP GRO over IPv${v6 ? 6 : 4} (a tun with USO): datagrams of one flow become one USO write, cut back to the very same datagrams`, () => {
    const sizes = [1200, 1200, 1200, 500];
    const flow = sizes.map((n, i) => udp(randomBytes(n), v6, 20 + i));
    const other = udp(randomBytes(1200), v6, 7, 53001);
    const seg = tcp({ v6, seq: 1, payload: randomBytes(100) });
    const after = udp(randomBytes(1200), v6, 24);  // after the shorter one: a new write
    const batch = [flow[0], other, flow[1], seg, flow[2], flow[3], after];
    // without USO on the tun, UDP is never merged
    assert.deepEqual(addon.offloadCoalesce(batch).map((w) => w.members), [[0], [1], [2], [3], [4], [5], [6]]);
    const writes = addon.offloadCoalesce(batch, true);
    assert.deepEqual(writes.map((w) => w.members), [[0, 2, 4, 5], [1], [3], [6]]);
    const l4 = v6 ? 40 : 20;
    assert.deepEqual(readVnet(writes[0].write), { flags: 1, gsoType: 5, hdrLen: l4 + 8, gsoSize: 1200, csumStart: l4, csumOffset: 6 });
    const sp = writes[0].write.subarray(10);
    assert.equal(sp.length, l4 + 8 + 4100);
    assert.equal(sp.readUInt16BE(l4 + 4), 8 + 4100, 'the UDP length covers the whole super-packet');
    const back = addon.offloadSegment(writes[0].write);
    assert.equal(back.length, flow.length);
    back.forEach((b, i) => {
      assert.ok(checksumsOk(b), `datagram ${i}`);
      assert.ok(b.equals(flow[i]), `datagram ${i} equals the one that came in`);
    });
    // a bad checksum, another size, a datagram too short to be alone are never merged
    const bad = udp(randomBytes(1200), v6, 21);
    bad[bad.length - 1] ^= 1;
    assert.deepEqual(addon.offloadCoalesce([flow[0], bad], true).map((w) => w.members), [[0], [1]]);
    assert.deepEqual(addon.offloadCoalesce([flow[3], flow[0]], true).map((w) => w.members), [[0], [1]]);
    assert.deepEqual(addon.offloadCoalesce([flow[0], udp(randomBytes(1300), v6, 21)], true).map((w) => w.members), [[0], [1]]);
  });
}

test('GRO stops a super-packet at 64 KiB and goes on with the next one', () => {
  const pkts: Buffer[] = [];
  for (let i = 0; i < 60; i++) pkts.push(tcp({ seq: i * 1400, id: i, payload: randomBytes(1400) }));
  const writes = addon.offloadCoalesce(pkts);
  assert.equal(writes.length, 2);
  for (const w of writes) assert.ok(w.write.length - 10 <= 65535);
  assert.deepEqual(writes.flatMap((w) => w.members), pkts.map((_, i) => i));
  const back = writes.flatMap((w) => addon.offloadSegment(w.write));
  back.forEach((b, i) => assert.ok(b.equals(pkts[i]), `packet ${i}`));
});
