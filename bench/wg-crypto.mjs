#!/usr/bin/env node
// bench/wg-crypto.mjs - speed of WireGuard's building blocks as tund runs them (not a test):
//   - the transport AEAD (ChaCha20-Poly1305, one context per key, in place) in a native loop, the
//     engine's hot path, for 64/512/1420-byte packets, seal and open, in Gbit/s of plaintext, with
//     both backends (wg_crypto.h: direct, the engine's, and evp);
//   - whole handshakes (initiation, response, both keypairs) through the addon, per second;
//   - the receive path's mac1 check and the under-load cookie decision (CookieChecker.vet), per
//     second, through the addon (the engine calls the same C++ without N-API).
//   node bench/wg-crypto.mjs [seconds per measurement, default 1]
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { native } = await import(path.join(root, 'dist', 'native', 'index.js'));
const wg = native().wg;
const seconds = Number(process.argv[2] ?? 1);

function rate(fn, unit) {
  // calibrate the batch so one measurement lasts about `seconds`
  let n = 1;
  for (;;) {
    const t0 = process.hrtime.bigint();
    fn(n);
    const ns = Number(process.hrtime.bigint() - t0);
    if (ns > seconds * 1e9 * 0.2 || n > 1e8) return { n, ns };
    n *= 4;
  }
}

console.log(`node ${process.versions.node}, OpenSSL ${process.versions.openssl}, one core`);
// backend: 'direct' is what the engine uses (OpenSSL's ChaCha20 and Poly1305 without EVP), 'evp'
// what TUND_NO_WG_DIRECT_AEAD=1 falls back to
const backends = wg.directAeadAvailable() ? ['direct', 'evp'] : ['evp'];
for (const size of [64, 512, 1420]) {
  for (const dir of ['seal', 'open']) {
    for (const backend of backends) {
      const packets = Math.max(1000, Math.round((seconds * 6e9) / 8 / size / 4));
      const ns = wg.benchmarkAead(size, packets, dir, backend);
      const gbit = (packets * size * 8) / ns;
      console.log(`aead ${dir.padEnd(4)} ${String(size).padStart(4)} B ${backend.padEnd(6)}: ${gbit.toFixed(2)} Gbit/s, ` +
        `${((packets / ns) * 1e3).toFixed(2)} Mpkt/s, ${(ns / packets).toFixed(0)} ns/packet`);
    }
  }
}

// for comparison, under the same machine load: Node's crypto, a new cipher per packet (what a
// per-packet path in JS would cost)
{
  const { createCipheriv, randomBytes } = await import('node:crypto');
  const key = randomBytes(32);
  const data = Buffer.alloc(1420);
  const nonce = Buffer.alloc(12);
  const r = rate((n) => {
    for (let i = 0; i < n; i++) {
      nonce.writeUInt32LE(i, 4);
      const c = createCipheriv('chacha20-poly1305', key, nonce, { authTagLength: 16 });
      c.update(data);
      c.final();
      c.getAuthTag();
    }
  });
  console.log(`baseline: node:crypto createCipheriv per 1420 B packet: ${((r.n * 1420 * 8) / r.ns).toFixed(2)} Gbit/s`);
}

const a = new wg.Identity(wg.generatePrivateKey());
const b = new wg.Identity(wg.generatePrivateKey());
const ha = new wg.Handshake(a, b.publicKey);
const hb = new wg.Handshake(b, a.publicKey);
let ts = 1_700_000_000;
let now = 0;
const hs = rate((n) => {
  for (let i = 0; i < n; i++) {
    const m1 = ha.createInitiation(1, wg.tai64n(ts++, 0));
    hb.consumeInitiation(b.readInitiation(m1), (now += 100));
    ha.consumeResponse(hb.createResponse(2));
    ha.deriveKeypair();
    hb.deriveKeypair();
  }
});
console.log(`handshakes (both sides, through N-API): ${((hs.n / hs.ns) * 1e9).toFixed(0)} /s`);

const checker = new wg.CookieChecker(b.publicKey);
const gen = new wg.CookieGenerator(b.publicKey);
const msg = ha.createInitiation(3, wg.tai64n(ts++, 0));
gen.addMacs(msg);
for (const underLoad of [false, true]) {
  const r = rate((n) => {
    for (let i = 0; i < n; i++) checker.vet(msg, '198.18.0.1', 1000 + (i & 1023), underLoad);
  });
  console.log(`vet ${underLoad ? 'under load (mac2 check, cookie reply)' : 'mac1 only'}: ${((r.n / r.ns) * 1e9).toFixed(0)} /s`);
}
