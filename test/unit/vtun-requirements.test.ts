// A VTun client's Encrypt, Compress, Transport and Mode are requirements on the server's OK FLAGS
// (issue 13, fix 1: downgrade by a fake server).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSessionConfig } from '../../core/config/index.js';
import { parseFlags } from '../../core/vtun/flags.js';
import { acceptedOfferText, offerProblems } from '../../core/vtun/requirements.js';

function client(extra: string, device = '') {
  const r = parseSessionConfig(`[Session]\nRole = client\nEndpoint = 198.18.0.2\n${extra}\n[Device]\n${device}`, '/etc/tund/c.conf', 'c');
  assert.deepEqual(r.problems, []);
  return r.config!;
}

test('a fake server offering <TuK> to an encrypting client is refused with the reason', () => {
  const c = client('Encrypt = aes128cbc\n');
  assert.deepEqual(offerProblems(c, parseFlags('OK FLAGS: <TuK>')), ['server offered no encryption; this session requires aes128cbc']);
});

test('a weaker cipher than the one required is refused too', () => {
  const c = client('Encrypt = aes256cbc\n');
  assert.deepEqual(offerProblems(c, parseFlags('<TuE1>')), ['server offered encryption blowfish128ecb; this session requires aes256cbc']);
  assert.deepEqual(offerProblems(c, parseFlags('<TuE>')), ['server offered encryption oldblowfish128ecb; this session requires aes256cbc']);
});

test('the offer a matching server makes (as vtund does) is accepted', () => {
  const c = client('Encrypt = aes128cbc\nCompress = lzo:1\nTransport = udp\n', 'Mode = tap\n');
  assert.deepEqual(offerProblems(c, parseFlags('<UeL1KE10>')), []);
});

test('Compress, Transport and Mode, when set, are each held to', () => {
  const c = client('Encrypt = aes128cbc\nCompress = lzo:1\nTransport = udp\n', 'Mode = tap\n');
  assert.deepEqual(offerProblems(c, parseFlags('<TuKE10>')), [
    'server offered no compression; this session requires lzo:1',
    'server offered transport tcp; this session requires udp',
    'server offered device type tun; this session requires Mode = tap',
  ]);
  // Compress = no asks for nothing: a compressing server offers more, not less
  assert.deepEqual(offerProblems(client('Compress = no\n'), parseFlags('<TuC9>')), []);
});

test('a client that sets none of them accepts any offer (today\'s behaviour) and can log it', () => {
  const c = client('');
  assert.deepEqual(offerProblems(c, parseFlags('<UpC9KE10>')), []);
  assert.equal(acceptedOfferText(parseFlags('<TuK>')), 'no encryption, no compression, transport tcp, device type tun');
  assert.equal(acceptedOfferText(parseFlags('<UeL2E14>')), 'encryption aes256cbc, compression lzo:2, transport udp, device type tap');
});

test('Encrypt = no requires nothing of the cipher', () => {
  assert.deepEqual(offerProblems(client('Encrypt = no\n'), parseFlags('<TuE10>')), []);
});

test('a config built without the parser (no explicit keys) requires nothing', () => {
  const c = client('Encrypt = aes128cbc\n');
  delete c.session.explicit;
  assert.deepEqual(offerProblems(c, parseFlags('<Tu>')), []);
});
