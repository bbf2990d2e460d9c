// core/wireguard/keys.ts: exact base64 and hex key parsing (what wg(8) accepts and nothing else),
// generation. The interchange with the real wg(8) is test/bats/wg-keys.bats.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  generatePresharedKey,
  generatePrivateKey,
  keyFromBase64,
  keyFromHex,
  keyFromText,
  keyToBase64,
  keyToHex,
  publicKeyOf,
  shortKey,
} from '../../core/wireguard/keys.js';

describe('WireGuard key text', () => {
  const key = Buffer.from('77076d0a7318a57d3c16c17251b26645df4c2f87ebc0992ab177fba51db92c2a', 'hex');
  const b64 = key.toString('base64');

  test('base64 round trip, and only exact keys', () => {
    assert.deepEqual(keyFromBase64(b64), key);
    assert.equal(keyToBase64(key), b64);
    assert.equal(keyFromBase64(b64.slice(0, 43)), null);
    assert.equal(keyFromBase64(`${b64}=`), null);
    assert.equal(keyFromBase64(` ${b64}`), null);
    assert.equal(keyFromBase64(`${b64.slice(0, 42)}B=`), null, 'stray bits in the last character');
    assert.equal(keyFromBase64(`${b64.slice(0, 10)}-${b64.slice(11)}`), null, 'base64url is not accepted');
    assert.equal(keyFromBase64(Buffer.alloc(33).toString('base64')), null);
  });

  test('text from a file or stdin: surrounding whitespace only', () => {
    assert.deepEqual(keyFromText(`${b64}\n`), key);
    assert.deepEqual(keyFromText(`  ${b64} \r\n`), key);
    assert.equal(keyFromText(`${b64}\n${b64}\n`), null);
  });

  test('hex (the UAPI form): 64 digits, either case', () => {
    assert.equal(keyToHex(key), key.toString('hex'));
    assert.deepEqual(keyFromHex(key.toString('hex').toUpperCase()), key);
    assert.equal(keyFromHex(key.toString('hex').slice(1)), null);
    assert.equal(keyFromHex(`${key.toString('hex').slice(1)}g`), null);
  });

  test('generated keys: clamped private keys, random preshared keys, RFC 7748 public key', () => {
    const a = generatePrivateKey();
    assert.equal(a.length, 32);
    assert.equal(a[0]! & 7, 0);
    assert.notDeepEqual(generatePresharedKey(), generatePresharedKey());
    assert.equal(publicKeyOf(key).toString('hex'), '8520f0098930a754748b7ddcb43ef75a0dbf3a0d26381af4eba4a98eaa9b4e6a');
  });

  test('short form for messages', () => {
    assert.equal(shortKey('HIgo9xNzJMWLKASShiTqIybxZ0U3wGLiUeJ1PKf8ykw='), 'HIgo…8ykw');
  });
});
