// The native VTun module chain (native/src/vtun_codec.cc through the addon's VtunCodec): the
// captured vtund sessions of test/fixtures/vtun-vectors decode frame by frame, deterministic modes
// re-encode to the exact wire bytes, every cipher x compression round-trips, padding and
// resynchronisation follow docs/vtun-protocol.md §9 and §10, and bad input is refused.
import assert from 'node:assert/strict';
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { native, type CompressionSpec, type NativeVtunCodec } from '../../native/index.js';

const addon = native();

// The capture vectors are test data of this repository (test/fixtures/vtun-vectors/README.md).
const here = path.dirname(fileURLToPath(import.meta.url));
function projectRoot(): string {
  let dir = here;
  for (let i = 0; i < 6; i++) {
    if (fs.existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return path.resolve(here, '..', '..', '..');
}
const VECTORS = path.join(projectRoot(), 'test', 'fixtures', 'vtun-vectors');
// The ten captures, by name: a missing or renamed file fails the tests below instead of shrinking them.
const VECTOR_NAMES = [
  'v01-tcp-tun-plain',
  'v02-bf128ecb',
  'v03-oldblowfish',
  'v04-aes128cbc',
  'v05-aes256ecb',
  'v06-lzo',
  'v07-zlib',
  'v08-udp-tun',
  'v09-tcp-ether',
  'v10-udp-lzo-aes128cbc',
];
const PASSWORD = Buffer.from('interop-pw');

interface VectorFrame {
  dir: 'C->S' | 'S->C';
  hex: string;
  plain_hex?: string;
  flags?: string;
}
interface Vector {
  meta: { name: string; password: string };
  flags: { zlib: number | null; lzo: number | null; cipher: number | null };
  frames: VectorFrame[];
}

const ALL_CIPHERS = [0, 999, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16];
const keyBytes = (cipher: number): 0 | 16 | 32 =>
  cipher === 0 ? 0 : [5, 6, 7, 8, 13, 14, 15, 16].includes(cipher) ? 32 : 16;
const keyFor = (cipher: number, password = PASSWORD): Buffer => {
  const n = keyBytes(cipher);
  return n === 0 ? Buffer.alloc(0) : addon.vtunKey(password, n);
};
const codec = (compression: CompressionSpec, cipher: number): NativeVtunCodec =>
  new addon.VtunCodec({ compression, cipher, key: keyFor(cipher) });

// Throws (the test fails) when a vector file is missing or unreadable: the vectors are part of the
// repository, so their absence is a broken checkout, never a reason to skip.
function loadVectors(): Vector[] {
  return VECTOR_NAMES.map((name) => {
    const file = path.join(VECTORS, `${name}.json`);
    const v = JSON.parse(fs.readFileSync(file, 'utf8')) as Vector;
    assert.equal(v.meta.name, name, `${file}: meta.name`);
    return v;
  });
}

function vectorCodec(v: Vector): NativeVtunCodec {
  const compression: CompressionSpec =
    v.flags.zlib !== null ? { kind: 'zlib', level: v.flags.zlib } : v.flags.lzo !== null ? { kind: 'lzo', level: v.flags.lzo } : { kind: 'none' };
  const cipher = v.flags.cipher ?? 0;
  return new addon.VtunCodec({ compression, cipher, key: keyFor(cipher, Buffer.from(v.meta.password)) });
}

test('vtunKey derives the keys of docs/vtun-protocol.md §10.1', () => {
  assert.equal(addon.vtunKey(PASSWORD, 16).toString('hex'), '0e8b96fbfab4460b8b2793aab7ee5d9d');
  assert.equal(
    addon.vtunKey(PASSWORD, 32).toString('hex'),
    '7ec8336709bf8a8d71d0ffff691279030fefda95805dd6ea803714540cce2847',
  );
  assert.throws(() => addon.vtunKey(PASSWORD, 24 as 16), RangeError);
});

test('the ten capture vectors are in test/fixtures/vtun-vectors (decoded JSON and raw pcap)', () => {
  const missing = VECTOR_NAMES.flatMap((n) => [`${n}.json`, `${n}.pcap`]).filter((f) => !fs.existsSync(path.join(VECTORS, f)));
  assert.deepEqual(missing, [], `missing in ${VECTORS}`);
});

test('every captured data frame of every vector decodes to its plaintext, in order', () => {
  const vectors = loadVectors();
  assert.ok(vectors.length >= 10, `expected the 10 vectors, found ${vectors.length}`);
  let checked = 0;
  for (const v of vectors) {
    for (const dir of ['C->S', 'S->C'] as const) {
      const c = vectorCodec(v); // one receiving direction = one decoder state
      for (const frame of v.frames.filter((f) => f.dir === dir && f.plain_hex)) {
        const wire = Buffer.from(frame.hex, 'hex');
        assert.equal(wire.readUInt16BE(0) & 0xf000, 0, `${v.meta.name}: data frame has flag bits`);
        assert.equal(wire.readUInt16BE(0), wire.length - 2, `${v.meta.name}: header length`);
        const out = c.decode(wire.subarray(2));
        assert.ok(out, `${v.meta.name} ${dir}: frame dropped`);
        assert.equal(out.toString('hex'), frame.plain_hex, `${v.meta.name} ${dir}`);
        checked++;
      }
    }
  }
  assert.ok(checked >= 40, `only ${checked} frames checked`);
});

test('deterministic modes re-encode the captured plaintext to the exact wire bytes', () => {
  // none, LZO (same liblzo2 as vtund), legacy Blowfish, Blowfish/AES ECB when no random pad block.
  let checked = 0;
  for (const v of loadVectors()) {
    const cipher = v.flags.cipher ?? 0;
    if (v.flags.zlib !== null || ![0, 999, 1, 5, 9, 13].includes(cipher)) continue;
    for (const dir of ['C->S', 'S->C'] as const) {
      const c = vectorCodec(v);
      for (const frame of v.frames.filter((f) => f.dir === dir && f.plain_hex)) {
        const plain = Buffer.from(frame.plain_hex!, 'hex');
        const block = cipher === 9 || cipher === 13 ? 16 : 8;
        if (cipher !== 0 && cipher !== 999 && plain.length % block === 0) continue; // random filler
        assert.equal(c.encode(plain).toString('hex'), frame.hex.slice(4), `${v.meta.name} ${dir}`);
        checked++;
      }
    }
  }
  assert.ok(checked >= 20, `only ${checked} frames checked`);
});

test('zlib: one deflate stream per direction, sync-flushed frames (V7 shape)', () => {
  const v = loadVectors().find((x) => x.flags.zlib !== null)!;
  const plains = v.frames.filter((f) => f.dir === 'C->S' && f.plain_hex).map((f) => Buffer.from(f.plain_hex!, 'hex'));
  const tx = codec({ kind: 'zlib', level: 1 }, 0);
  const rx = codec({ kind: 'zlib', level: 1 }, 0);
  const first = tx.encode(plains[0]!);
  assert.equal(first.subarray(0, 2).toString('hex'), '7801', 'zlib header on the first frame');
  assert.equal(first.subarray(-4).toString('hex'), '0000ffff', 'sync flush');
  const second = tx.encode(plains[1]!);
  assert.notEqual(second.subarray(0, 2).toString('hex'), '7801', 'no header on later frames');
  assert.ok(second.length < first.length, 'later frames refer back to earlier data');
  assert.deepEqual(rx.decode(first), plains[0]);
  assert.deepEqual(rx.decode(second), plains[1]);
  // A later frame alone (without the stream before it) cannot be decoded.
  assert.throws(() => codec({ kind: 'zlib', level: 1 }, 0).decode(second), /inflate/);
});

const COMPRESSIONS: CompressionSpec[] = [
  { kind: 'none' },
  { kind: 'lzo', level: 1 },
  { kind: 'lzo', level: 9 },
  { kind: 'zlib', level: 1 },
  { kind: 'zlib', level: 9 },
];
const SIZES = [1, 2, 7, 8, 9, 15, 16, 17, 31, 32, 33, 44, 64, 1400, 1500, 2047, 2048];

test('every cipher x compression round-trips packets of every size, stream state carried across frames', () => {
  for (const compression of COMPRESSIONS) {
    for (const cipher of ALL_CIPHERS) {
      const a = codec(compression, cipher);
      const b = codec(compression, cipher);
      for (const size of SIZES) {
        for (const fill of ['random', 'text'] as const) {
          const pkt = fill === 'random' ? randomBytes(size) : Buffer.from('vtun '.repeat(500).slice(0, size));
          const label = `${compression.kind}${'level' in compression ? compression.level : ''} cipher ${cipher} size ${size} ${fill}`;
          const ab = a.encode(pkt);
          assert.ok(ab.length > 0 && ab.length <= 4095, label);
          assert.deepEqual(b.decode(ab), pkt, `a->b ${label}`);
          const ba = b.encode(pkt);
          assert.deepEqual(a.decode(ba), pkt, `b->a ${label}`);
        }
      }
    }
  }
});

function bfEcbDecrypt(key: Buffer, data: Buffer): Buffer {
  return addon.blowfishEcb(key, data, false);
}

test('legacy Blowfish (E): front padding [pad][pad-1 zeros], 8 bytes when the length is a multiple of 8', () => {
  const key = keyFor(999);
  const c = codec({ kind: 'none' }, 999);
  for (const [size, pad] of [
    [44, 4],
    [16, 8],
    [1, 7],
    [7, 1],
    [8, 8],
  ] as const) {
    const pkt = randomBytes(size);
    const enc = c.encode(pkt);
    assert.equal(enc.length, size + pad, `size ${size}`);
    const dec = bfEcbDecrypt(key, enc);
    assert.equal(dec[0], pad);
    assert.deepEqual(dec.subarray(1, pad), Buffer.alloc(pad - 1));
    assert.deepEqual(dec.subarray(pad), pkt);
  }
  // A frame whose first plaintext byte is not 1..8 is dropped; so is a partial block.
  const bogus = addon.blowfishEcb(key, Buffer.concat([Buffer.from([9]), Buffer.alloc(15, 1)]), true);
  assert.equal(c.decode(bogus), null);
  assert.equal(c.decode(Buffer.alloc(12, 1)), null);
});

test('ECB modes: PKCS#7-style padding, a whole block with random filler when aligned', () => {
  const key = keyFor(9);
  const c = codec({ kind: 'none' }, 9);
  const aesEcb = (data: Buffer, decrypt: boolean): Buffer => {
    const f = decrypt ? createDecipheriv('aes-128-ecb', key, null) : createCipheriv('aes-128-ecb', key, null);
    f.setAutoPadding(false);
    return Buffer.concat([f.update(data), f.final()]);
  };
  const p44 = randomBytes(44);
  const e44 = c.encode(p44);
  assert.equal(e44.length, 48);
  assert.deepEqual(aesEcb(e44, true), Buffer.concat([p44, Buffer.alloc(4, 4)]));
  const p32 = randomBytes(32);
  const e32a = c.encode(p32);
  const e32b = c.encode(p32);
  assert.equal(e32a.length, 48);
  const d32 = aesEcb(e32a, true);
  assert.deepEqual(d32.subarray(0, 32), p32);
  assert.equal(d32[47], 16);
  assert.notDeepEqual(e32a.subarray(32), e32b.subarray(32), 'filler of the pad block is random');
  // Blowfish-128-ECB (E1): 8-byte blocks.
  const bf = codec({ kind: 'none' }, 1);
  const e16 = bf.encode(Buffer.alloc(16, 0x45));
  assert.equal(e16.length, 24);
  assert.equal(bfEcbDecrypt(keyFor(1), e16)[23], 8);
  // Decoding: bad pad byte, not a multiple of the block size -> dropped.
  assert.equal(c.decode(aesEcb(Buffer.concat([randomBytes(15), Buffer.from([17])]), false)), null);
  assert.equal(c.decode(aesEcb(Buffer.concat([randomBytes(15), Buffer.from([0])]), false)), null);
  assert.equal(c.decode(e44.subarray(0, 40)), null);
});

test('CBC mode (E10): side-band ivec block on the first frame only, seq# header, continuous chain', () => {
  const key = keyFor(10);
  const c = codec({ kind: 'none' }, 10);
  const p1 = randomBytes(44);
  const p2 = randomBytes(44);
  const f1 = c.encode(p1);
  const f2 = c.encode(p2);
  assert.equal(f1.length, 32 + 16 + 48, 'side-band + header block + packet + padding');
  assert.equal(f2.length, 16 + 48);
  const ecb = createDecipheriv('aes-128-ecb', key, null).setAutoPadding(false);
  const sb = ecb.update(f1.subarray(0, 32));
  assert.equal(sb.subarray(0, 4).toString(), 'ivec');
  const iv = sb.subarray(4, 20);
  const cbc = createDecipheriv('aes-128-cbc', key, iv).setAutoPadding(false);
  const body1 = cbc.update(f1.subarray(32));
  const body2 = cbc.update(f2); // the chain continues from frame 1
  for (const [body, pkt] of [
    [body1, p1],
    [body2, p2],
  ] as const) {
    assert.equal(body.subarray(0, 4).toString(), 'seq#');
    assert.deepEqual(body.subarray(8, 16), Buffer.alloc(8));
    assert.deepEqual(body.subarray(16, 60), pkt);
    assert.deepEqual(body.subarray(60), Buffer.alloc(4, 4));
  }
  assert.equal(body2.readUInt32BE(4), (body1.readUInt32BE(4) + 1) >>> 0, 'sequence number +1 per frame');
});

test('Blowfish stream modes carry the whole packet (no 64-bit seq# overwrite, docs/vtun-protocol.md §10.5.5)', () => {
  const c = codec({ kind: 'none' }, 2);
  const key = keyFor(2);
  const pkt = Buffer.from('4500002c0000000040010000c6134d02c6134d01', 'hex');
  const f = c.encode(pkt);
  const sb = bfEcbDecrypt(key, f.subarray(0, 16));
  assert.equal(sb.subarray(0, 4).toString(), 'ivec');
  // CBC by hand with ECB: P_i = D(C_i) xor C_{i-1}
  const iv = sb.subarray(4, 12);
  const body = f.subarray(16);
  const plain = Buffer.alloc(body.length);
  let prev = iv;
  for (let i = 0; i < body.length; i += 8) {
    const blk = bfEcbDecrypt(key, body.subarray(i, i + 8));
    for (let j = 0; j < 8; j++) plain[i + j] = blk[j]! ^ prev[j]!;
    prev = body.subarray(i, i + 8);
  }
  assert.equal(plain.subarray(0, 4).toString(), 'seq#');
  assert.deepEqual(plain.subarray(8, 8 + pkt.length), pkt);
});

test('stream modes resynchronise after a lost frame (rsyn, new side-band; docs/vtun-protocol.md §10.5.4)', () => {
  for (const cipher of [10, 11, 12, 2]) {
    const a = codec({ kind: 'none' }, cipher);
    const b = codec({ kind: 'none' }, cipher);
    const pkt = (n: number) => Buffer.alloc(40, n);
    assert.deepEqual(b.decode(a.encode(pkt(1))), pkt(1));
    a.encode(pkt(2)); // lost on the way
    // The next frame no longer decrypts to a seq# block: dropped, b waits for a new side-band.
    assert.equal(b.decode(a.encode(pkt(3))), null, `cipher ${cipher}: garbled frame dropped`);
    // b's own sender now tags its frames "rsyn"; a re-initialises its sender on seeing it.
    const fromB = b.encode(pkt(4));
    assert.deepEqual(a.decode(fromB), pkt(4), `cipher ${cipher}: rsyn frame still carries data`);
    const fresh = a.encode(pkt(5));
    assert.deepEqual(b.decode(fresh), pkt(5), `cipher ${cipher}: new side-band accepted`);
    assert.deepEqual(b.decode(a.encode(pkt(6))), pkt(6));
    assert.deepEqual(a.decode(b.encode(pkt(7))), pkt(7));
  }
});

test('a receiver without a stream drops frames that do not start with a side-band', () => {
  const a = codec({ kind: 'none' }, 14);
  const b = codec({ kind: 'none' }, 14);
  a.encode(Buffer.alloc(20, 1)); // first frame (with the side-band) lost
  assert.equal(b.decode(a.encode(Buffer.alloc(20, 2))), null);
  assert.equal(b.decode(Buffer.alloc(8)), null);
});

test('oversized and empty input is refused; bad options are refused', () => {
  for (const cipher of [0, 999, 9, 10]) {
    const c = codec({ kind: 'lzo', level: 1 }, cipher);
    assert.throws(() => c.encode(Buffer.alloc(2049)), RangeError);
    assert.throws(() => c.encode(Buffer.alloc(0)), RangeError);
    assert.ok(c.encode(Buffer.alloc(2048)).length > 0);
    assert.equal(c.decode(Buffer.alloc(2149, 1)), null, 'frames over 2148 bytes are dropped');
    assert.equal(c.decode(Buffer.alloc(0)), null);
  }
  assert.throws(() => new addon.VtunCodec({ compression: { kind: 'none' }, cipher: 17, key: Buffer.alloc(16) }), RangeError);
  assert.throws(() => new addon.VtunCodec({ compression: { kind: 'none' }, cipher: 10, key: Buffer.alloc(32) }), /16-byte key/);
  assert.throws(() => new addon.VtunCodec({ compression: { kind: 'none' }, cipher: 13, key: Buffer.alloc(16) }), /32-byte key/);
  assert.throws(() => new addon.VtunCodec({ compression: { kind: 'zlib', level: 11 }, cipher: 0, key: Buffer.alloc(0) }), RangeError);
  assert.throws(() => new addon.VtunCodec({ compression: { kind: 'gzip' } as unknown as CompressionSpec, cipher: 0, key: Buffer.alloc(0) }), TypeError);
});

test('decompression errors throw (the pump ends the session with codec_error)', () => {
  assert.throws(() => codec({ kind: 'lzo', level: 1 }, 0).decode(Buffer.from('ff'.repeat(40), 'hex')), /LZO/);
  assert.throws(() => codec({ kind: 'zlib', level: 1 }, 0).decode(Buffer.from('ff'.repeat(40), 'hex')), /inflate/);
});

test('LZO output of an incompressible 44-byte packet is 48 bytes, sent anyway (V6)', () => {
  const c = codec({ kind: 'lzo', level: 1 }, 0);
  const out = c.encode(randomBytes(44));
  assert.equal(out.length, 48);
  assert.equal(out[0], 0x3d);
  assert.equal(out.subarray(-3).toString('hex'), '110000');
});

test('CBC and CFB ride over a single lost frame; OFB and two losses in a row need a new stream', () => {
  const pkt = (n: number) => Buffer.alloc(40, n);
  for (const cipher of [10, 11, 14, 15, 2, 3]) {
    const a = codec({ kind: 'none' }, cipher);
    const b = codec({ kind: 'none' }, cipher);
    assert.deepEqual(b.decode(a.encode(pkt(1))), pkt(1));
    a.encode(pkt(2)); // lost
    assert.equal(b.decode(a.encode(pkt(3))), null, `cipher ${cipher}: frame after the loss dropped`);
    assert.deepEqual(b.decode(a.encode(pkt(4))), pkt(4), `cipher ${cipher}: chain resynchronised by itself`);
    // b did not ask for a new stream: its frames carry "seq#", a keeps its sender
    const fromB = b.encode(pkt(5));
    assert.deepEqual(a.decode(fromB), pkt(5));
    assert.equal(a.encode(pkt(6)).length, 16 * (cipher <= 8 ? 0.5 : 1) + 48, `cipher ${cipher}: no new side-band`);
  }
  for (const cipher of [12, 16, 4]) {
    const a = codec({ kind: 'none' }, cipher);
    const b = codec({ kind: 'none' }, cipher);
    assert.deepEqual(b.decode(a.encode(pkt(1))), pkt(1));
    a.encode(pkt(2)); // lost: the OFB key stream position is off from now on
    assert.equal(b.decode(a.encode(pkt(3))), null);
    assert.equal(b.decode(a.encode(pkt(4))), null, `cipher ${cipher}: no recovery without a new stream`);
    assert.deepEqual(a.decode(b.encode(pkt(5))), pkt(5), 'rsyn frame');
    assert.deepEqual(b.decode(a.encode(pkt(6))), pkt(6), `cipher ${cipher}: new side-band after rsyn`);
  }
});

test('a new side-band in the middle of a stream is recognised (the peer restarted its sender)', () => {
  const b = codec({ kind: 'none' }, 10);
  const a1 = codec({ kind: 'none' }, 10);
  assert.deepEqual(b.decode(a1.encode(Buffer.from('one'))), Buffer.from('one'));
  const a2 = codec({ kind: 'none' }, 10); // a fresh sender: side-band + new IV
  assert.deepEqual(b.decode(a2.encode(Buffer.from('two'))), Buffer.from('two'));
  assert.deepEqual(b.decode(a2.encode(Buffer.from('three'))), Buffer.from('three'));
});
