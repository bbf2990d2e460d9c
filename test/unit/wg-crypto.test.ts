// Known-answer tests of WireGuard's primitives (native/src/wg_crypto.*) through the addon's `wg`
// bindings: RFC 7748 (X25519), RFC 8439 2.8.2 (ChaCha20-Poly1305), draft-irtf-cfrg-xchacha-03
// (HChaCha20, XChaCha20-Poly1305), BLAKE2s (RFC 7693 and the BLAKE2 keyed KATs at 32 and 16 bytes
// of output), wireguard-go's KDF vectors. The vectors live in test/fixtures/wireguard/ with their
// sources; the Noise handshake vector is exercised by wg-noise.test.ts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { native } from '../../native/index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const V = JSON.parse(readFileSync(path.join(ROOT, 'test', 'fixtures', 'wireguard', 'crypto-vectors.json'), 'utf8'));
const wg = native().wg;
const hex = (s: string) => Buffer.from(s, 'hex');
const seq = (n: number) => Buffer.from(Array.from({ length: n }, (_, i) => i & 0xff));

describe('X25519 (RFC 7748)', () => {
  test('5.2: single scalar multiplications', () => {
    for (const c of V.x25519.scalarMult) {
      assert.equal(wg.x25519(hex(c.scalar), hex(c.u))?.toString('hex'), c.out);
    }
  });

  test('5.2: iterated 1 and 1000 times', () => {
    let k: Buffer = hex(V.x25519.iterated.start);
    let u: Buffer = hex(V.x25519.iterated.start);
    for (let i = 1; i <= 1000; i++) {
      const r = wg.x25519(k, u);
      assert.ok(r);
      u = k;
      k = r;
      if (i === 1) assert.equal(k.toString('hex'), V.x25519.iterated.after1);
    }
    assert.equal(k.toString('hex'), V.x25519.iterated.after1000);
  });

  test('6.1: public keys and the shared secret, both ways', () => {
    const d = V.x25519.dh;
    assert.equal(wg.publicKey(hex(d.alicePrivate)).toString('hex'), d.alicePublic);
    assert.equal(wg.publicKey(hex(d.bobPrivate)).toString('hex'), d.bobPublic);
    assert.equal(wg.x25519(hex(d.alicePrivate), hex(d.bobPublic))?.toString('hex'), d.shared);
    assert.equal(wg.x25519(hex(d.bobPrivate), hex(d.alicePublic))?.toString('hex'), d.shared);
  });

  test('an all-zero result is refused (low-order points)', () => {
    const priv = hex(V.x25519.dh.alicePrivate);
    assert.equal(wg.x25519(priv, Buffer.alloc(32)), null); // u = 0
    const one = Buffer.alloc(32);
    one[0] = 1;
      assert.equal(wg.x25519(priv, one), null); // u = 1 has order 4: a clamped scalar maps it to 0
  });

  test('generated private keys are clamped and differ', () => {
    const a = wg.generatePrivateKey();
    const b = wg.generatePrivateKey();
    assert.notDeepEqual(a, b);
    for (const k of [a, b]) {
      assert.equal(k[0]! & 7, 0);
      assert.equal(k[31]! & 0x80, 0);
      assert.equal(k[31]! & 0x40, 0x40);
    }
  });

  test('wrong key lengths throw', () => {
    assert.throws(() => wg.publicKey(Buffer.alloc(31)), RangeError);
    assert.throws(() => wg.x25519(Buffer.alloc(32), Buffer.alloc(33)), RangeError);
    assert.throws(() => wg.publicKey('x' as unknown as Buffer), TypeError);
  });
});

describe('BLAKE2s', () => {
  test('RFC 7693 appendix B: BLAKE2s-256("abc")', () => {
    for (const c of V.blake2s.unkeyed) {
      assert.equal(wg.blake2s(hex(c.input)).toString('hex'), c.digest);
      assert.equal(wg.blake2sOneShot(hex(c.input)).toString('hex'), c.digest);
    }
  });

  test("WireGuard's initial chaining key starts 60e26dae", () => {
    assert.match(wg.blake2s(Buffer.from('Noise_IKpsk2_25519_ChaChaPoly_BLAKE2s')).toString('hex'), /^60e26dae/);
  });

  test('incremental and two-part one-shot hashing agree at every split', () => {
    const data = seq(200);
    const whole = wg.blake2s(data).toString('hex');
    for (const cut of [0, 1, 31, 32, 63, 64, 65, 128, 199, 200]) {
      assert.equal(wg.blake2s(data.subarray(0, cut), data.subarray(cut)).toString('hex'), whole);
      assert.equal(wg.blake2sOneShot(data.subarray(0, cut), data.subarray(cut)).toString('hex'), whole);
    }
  });

  test('keyed BLAKE2s-128 (mac) matches the 16-byte keyed KAT', () => {
    const key = hex(V.blake2s.key);
    for (const c of V.blake2s.keyed128) {
      assert.equal(wg.mac(key, seq(c.length)).toString('hex'), c.digest, `length ${c.length}`);
    }
  });

  test('keyed BLAKE2s-128 is not a truncated BLAKE2s-256 (the 32-byte keyed KAT differs)', () => {
    const key = hex(V.blake2s.key);
    for (const c of V.blake2s.keyed256) {
      const mac = wg.mac(key, seq(c.length)).toString('hex');
      assert.notEqual(mac, c.digest.slice(0, 32), `length ${c.length}`);
    }
  });

  test('mac keys must be 1..32 bytes (16-byte cookies are keys too)', () => {
    assert.throws(() => wg.mac(Buffer.alloc(0), Buffer.alloc(1)), RangeError);
    assert.throws(() => wg.mac(Buffer.alloc(33), Buffer.alloc(1)), RangeError);
    assert.equal(wg.mac(Buffer.alloc(16, 7), Buffer.from('x')).length, 16);
  });
});

describe('HMAC-BLAKE2s and the KDF (wireguard-go device/kdf_test.go)', () => {
  test('KDF1, KDF2, KDF3', () => {
    for (const c of V.kdf.cases) {
      for (const n of [1, 2, 3] as const) {
        const out = wg.kdf(n, hex(c.key), hex(c.input)).map((b) => b.toString('hex'));
        assert.deepEqual(out, c.t.slice(0, n), `KDF${n} key=${c.key}`);
      }
    }
  });

  test('KDF1 is HMAC(HMAC(key, input), 0x1)', () => {
    const t0 = wg.hmac(Buffer.from('key'), Buffer.from('input'));
    assert.deepEqual(wg.kdf(1, Buffer.from('key'), Buffer.from('input'))[0], wg.hmac(t0, Buffer.from([1])));
  });
});

describe('TAI64N', () => {
  test('layout: 2^62 + seconds, then nanoseconds, big-endian', () => {
    assert.equal(wg.tai64n(0, 0).toString('hex'), '400000000000000000000000');
    assert.equal(wg.tai64n(1700000000, 123456789).toString('hex'), '400000006553f100075bcd15');
  });

  test('now: whitened to 2^24 ns, close to the clock, later than a second ago', () => {
    const now = wg.tai64n();
    assert.equal(now.readUInt32BE(8) & 0xffffff, 0);
    const seconds = Number(now.readBigUInt64BE(0) - (1n << 62n));
    assert.ok(Math.abs(seconds - Date.now() / 1000) < 5);
    const earlier = wg.tai64n(Math.floor(Date.now() / 1000) - 1, 0);
    assert.ok(Buffer.compare(now, earlier) > 0);
  });
});

describe('ChaCha20-Poly1305 (RFC 8439 2.8.2)', () => {
  const c = V.chacha20poly1305;
  const sealed = Buffer.concat([hex(c.ciphertext), hex(c.tag)]);

  test('one-shot seal and open with the 12-byte nonce', () => {
    assert.equal(wg.aeadSeal(hex(c.key), hex(c.nonce), hex(c.plaintext), hex(c.aad)).toString('hex'), sealed.toString('hex'));
    assert.equal(wg.aeadOpen(hex(c.key), hex(c.nonce), sealed, hex(c.aad))?.toString('hex'), c.plaintext);
  });

  test('a flipped bit anywhere, a wrong AAD, nonce or a short input is refused', () => {
    for (const i of [0, 50, sealed.length - 17, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[i]! ^= 1;
      assert.equal(wg.aeadOpen(hex(c.key), hex(c.nonce), bad, hex(c.aad)), null, `bit at ${i}`);
    }
    assert.equal(wg.aeadOpen(hex(c.key), hex(c.nonce), sealed), null);
    assert.equal(wg.aeadOpen(hex(c.key), 0, sealed, hex(c.aad)), null);
    assert.equal(wg.aeadOpen(hex(c.key), hex(c.nonce), sealed.subarray(0, 15)), null);
  });

  for (const backend of ['evp', 'direct'] as const) {
    test(`${backend}: the reusable per-key object gives the same bytes, many times (WireGuard's counter nonce)`, () => {
      // The RFC's nonce is 07000000 || 4041424344454647; WireGuard's is 00000000 || LE64(counter),
      // so the vector itself goes through sealNonce semantics via aeadSeal; the counter form is
      // checked against the one-shot function with the equivalent 12-byte nonce.
      const aead = new wg.Aead(hex(c.key), backend);
      for (let counter = 0n; counter < 300n; counter += 37n) {
        const nonce = Buffer.alloc(12);
        nonce.writeBigUInt64LE(counter, 4);
        const want = wg.aeadSeal(hex(c.key), nonce, hex(c.plaintext), hex(c.aad));
        assert.deepEqual(aead.seal(counter, hex(c.plaintext), hex(c.aad)), want);
        assert.deepEqual(aead.open(counter, want, hex(c.aad)), hex(c.plaintext));
        assert.equal(aead.open(counter + 1n, want, hex(c.aad)), null);
      }
      const big = 0xfffffffffffffffen;
      const sealedBig = aead.seal(big, Buffer.from('max'));
      assert.deepEqual(wg.aeadOpen(hex(c.key), big, sealedBig), Buffer.from('max'));
    });

    test(`${backend}: in place: seal appends the tag, open strips it; a failed open zeroes the plaintext`, () => {
      const aead = new wg.Aead(hex(c.key), backend);
      const plain = hex(c.plaintext);
      const buf = Buffer.alloc(plain.length + 16 + 8, 0xee);
      plain.copy(buf);
      assert.equal(aead.sealInPlace(7, buf, plain.length), plain.length + 16);
      assert.deepEqual(buf.subarray(0, plain.length + 16), wg.aeadSeal(hex(c.key), 7, plain));
      assert.equal(buf[plain.length + 16], 0xee, 'nothing written past the tag');
      const copy = Buffer.from(buf);
      assert.equal(aead.openInPlace(7, buf, plain.length + 16), plain.length);
      assert.deepEqual(buf.subarray(0, plain.length), plain);
      copy[3]! ^= 0x40;
      assert.equal(aead.openInPlace(7, copy, plain.length + 16), -1);
      assert.ok(copy.subarray(0, plain.length).every((b) => b === 0));
      assert.throws(() => aead.sealInPlace(1, Buffer.alloc(20), 10), RangeError);
    });

    test(`${backend}: empty plaintext: the tag alone (a keepalive)`, () => {
      const aead = new wg.Aead(Buffer.alloc(32, 1), backend);
      const tag = aead.seal(0, Buffer.alloc(0));
      assert.equal(tag.length, 16);
      assert.deepEqual(aead.open(0, tag), Buffer.alloc(0));
    });
  }

  test('the direct backend is available here (the node binary exports OpenSSL\'s ChaCha20 and Poly1305)', () => {
    assert.equal(wg.directAeadAvailable(), true);
    assert.throws(() => new wg.Aead(Buffer.alloc(32), 'fast' as never), TypeError);
  });

  test('direct and evp agree on every length 0..1500, at the one-call open limit (9216 bytes) and up to 64 KiB, with and without AAD, and refuse what the other refuses', () => {
    // a deterministic walk over lengths, keys, counters and AAD; both directions, both ways round
    let x = 0x2545f491;
    const next = () => (x = (Math.imul(x, 1103515245) + 12345) >>> 0);
    const bytes = (n: number) => Buffer.from(Array.from({ length: n }, () => next() & 0xff));
    const lengths = [...Array.from({ length: 1501 }, (_, i) => i), 4096, 9216, 9217, 65519, 65535];
    for (const len of lengths) {
      const key = bytes(32);
      const evp = new wg.Aead(key, 'evp');
      const direct = new wg.Aead(key, 'direct');
      const counter = BigInt(next()) << BigInt(next() % 33);
      const plain = bytes(len);
      const aad = len % 3 === 0 ? bytes(next() % 40) : undefined;
      const sealed = evp.seal(counter, plain, aad);
      assert.deepEqual(direct.seal(counter, plain, aad), sealed, `seal of ${len} bytes`);
      assert.deepEqual(direct.open(counter, sealed, aad), plain, `open of ${len} bytes`);
      assert.deepEqual(evp.open(counter, direct.seal(counter, plain, aad), aad), plain);
      const bad = Buffer.from(sealed);
      bad[next() % bad.length]! ^= 1 << (next() % 8);
      assert.equal(direct.open(counter, bad, aad), null, `a flipped bit in ${len} bytes`);
      assert.equal(direct.open(counter + 1n, sealed, aad), null);
      if (aad === undefined && (len % 7 === 0 || len > 1500)) {
        // the engine's seal: in place, the 64 bytes before as scratch, wiped afterwards
        for (const aead of [direct, evp]) {
          const buf = Buffer.alloc(64 + len + 16 + 3, 0xa5);
          plain.copy(buf, 64);
          assert.equal(aead.sealWithScratch(counter, buf, 64, len), len + 16);
          assert.deepEqual(buf.subarray(64, 64 + len + 16), sealed, `sealWithScratch of ${len} bytes`);
          assert.ok(buf.subarray(64 + len + 16).every((b) => b === 0xa5), 'nothing written past the tag');
          if (aead === direct) assert.ok(buf.subarray(0, 64).every((b) => b === 0), 'the scratch is wiped');
        }
      }
    }
  });
});

describe('XChaCha20-Poly1305 (draft-irtf-cfrg-xchacha-03)', () => {
  test('2.2.1: HChaCha20', () => {
    const h = V.hchacha20;
    assert.equal(wg.hchacha20(hex(h.key), hex(h.nonce)).toString('hex'), h.subkey);
  });

  test('A.3.1: seal and open', () => {
    const x = V.xchacha20poly1305;
    const sealed = wg.xaeadSeal(hex(x.key), hex(x.nonce), hex(x.plaintext), hex(x.aad));
    assert.equal(sealed.toString('hex'), x.ciphertext + x.tag);
    assert.equal(wg.xaeadOpen(hex(x.key), hex(x.nonce), sealed, hex(x.aad))?.toString('hex'), x.plaintext);
    const bad = Buffer.from(sealed);
    bad[bad.length - 1]! ^= 1;
    assert.equal(wg.xaeadOpen(hex(x.key), hex(x.nonce), bad, hex(x.aad)), null);
    assert.throws(() => wg.xaeadSeal(hex(x.key), Buffer.alloc(12), Buffer.alloc(1)), RangeError);
  });
});
