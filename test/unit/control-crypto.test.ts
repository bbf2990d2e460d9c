// core/crypto.ts (native/src/control_crypto.cc): what sessions use instead of node:crypto gives
// what node:crypto gives.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { test } from 'node:test';
import { md5, randomBytes, randomUint32, timingSafeEqual } from '../../core/crypto.js';
import { native } from '../../native/index.js';

test('md5: the digest node:crypto computes, for empty, short and long inputs', () => {
  for (const input of [Buffer.alloc(0), Buffer.from('interop-pw'), Buffer.alloc(100_000, 0x5a)]) {
    assert.deepEqual(md5(input), createHash('md5').update(input).digest());
  }
  assert.equal(md5(Buffer.from('')).toString('hex'), 'd41d8cd98f00b204e9800998ecf8427e');
});

test('randomBytes: the length asked for, different every time; randomUint32 covers 32 bits', () => {
  assert.equal(randomBytes(0).length, 0);
  const a = randomBytes(32);
  const b = randomBytes(32);
  assert.equal(a.length, 32);
  assert.notDeepEqual(a, b);
  let high = false;
  for (let i = 0; i < 64 && !high; i++) {
    const v = randomUint32();
    assert.ok(Number.isInteger(v) && v >= 0 && v < 2 ** 32);
    high = v >= 2 ** 31;
  }
  assert.ok(high, 'never a value with the top bit set in 64 draws');
  assert.throws(() => native().randomBytes(-1), /randomBytes: expected a length/);
  assert.throws(() => native().randomBytes(1 << 20), /randomBytes: expected a length/);
});

test('timingSafeEqual: equal contents only; other lengths are not equal; non-Buffers are refused', () => {
  assert.equal(timingSafeEqual(Buffer.from('abcd'), Buffer.from('abcd')), true);
  assert.equal(timingSafeEqual(Buffer.from('abcd'), Buffer.from('abce')), false);
  assert.equal(timingSafeEqual(Buffer.from('abcd'), Buffer.from('abc')), false);
  assert.equal(timingSafeEqual(Buffer.alloc(0), Buffer.alloc(0)), true);
  assert.throws(() => native().timingSafeEqual('abcd' as unknown as Buffer, Buffer.from('abcd')), /expected two Buffers/);
  assert.throws(() => native().md5('x' as unknown as Buffer), /md5: expected a Buffer/);
});
