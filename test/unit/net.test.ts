// Address parsing (core/net.ts), names (core/names.ts), the typanion validators built on them,
// and the `tunctl up` plan (which ip commands, in which order).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as t from 'typanion';
import { isAddress, isCidr, isMtu, isName } from '../../core/cli/validators.js';
import { UsageFailure } from '../../core/errors.js';
import { checkName, nameProblem } from '../../core/names.js';
import { canonicalAddress, formatEndpoint, parseEndpoint, parsePrefix } from '../../core/net.js';
import { upPlan } from '../../core/tunctl/devices.js';

test('parsePrefix: IPv4 with and without prefix: address, network, ip -json dst', () => {
  assert.deepEqual(parsePrefix('198.18.0.1/24'), {
    ok: true, family: 4, address: '198.18.0.1', length: 24, hostBitsSet: true,
    text: '198.18.0.1/24', network: '198.18.0.0', cidr: '198.18.0.0/24', dst: '198.18.0.0/24',
  });
  const net = parsePrefix('198.18.0.0/15');
  assert.ok(net.ok && net.length === 15 && !net.hostBitsSet && net.cidr === '198.18.0.0/15');
  const bare = parsePrefix('198.18.3.4');
  assert.ok(bare.ok && bare.length === 32 && !bare.hostBitsSet && bare.dst === '198.18.3.4');
});

test('parsePrefix: IPv6, compressed forms, canonical text', () => {
  const a = parsePrefix('2001:0002:0::A/64');
  assert.ok(a.ok && a.family === 6 && a.length === 64 && a.hostBitsSet && a.text === '2001:2::a/64' && a.cidr === '2001:2::/64');
  const b = parsePrefix('2001:2:0:1::/64');
  assert.ok(b.ok && !b.hostBitsSet);
  const c = parsePrefix('::');
  assert.ok(c.ok && c.length === 128);
  assert.equal(canonicalAddress('2001:2:0:0:0:0:0:1'), '2001:2::1');
});

test('parsePrefix: "default" only where routes take it', () => {
  assert.equal(parsePrefix('default').ok, false);
  const d = parsePrefix('default', { allowDefault: true });
  assert.ok(d.ok && d.dst === 'default' && d.family === 4 && d.cidr === '0.0.0.0/0');
  const d6 = parsePrefix('default6', { allowDefault: true });
  assert.ok(d6.ok && d6.family === 6 && d6.cidr === '::/0');
});

test('parsePrefix: bad input says what is wrong', () => {
  for (const [text, problem] of [
    ['198.18.0.1/33', /out of range \(0-32\)/],
    ['2001:2::1/129', /out of range \(0-128\)/],
    ['198.18.0.256/24', /not an IPv4 or IPv6 address/],
    ['198.18.0.1/', /prefix length/],
    ['198.18.0.1/2a', /prefix length/],
    ['office', /not an IPv4 or IPv6 address/],
    ['', /not an IPv4 or IPv6 address/],
  ] as const) {
    const r = parsePrefix(text);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.problem, problem, text);
  }
});

test('parseEndpoint: host, port, IPv6 brackets, defaults and range; formatEndpoint reverses it', () => {
  assert.deepEqual(parseEndpoint('198.18.0.2:5000', 1), { ok: true, host: '198.18.0.2', port: 5000, portGiven: true });
  assert.deepEqual(parseEndpoint('vpn.example', 5000), { ok: true, host: 'vpn.example', port: 5000, portGiven: false });
  assert.deepEqual(parseEndpoint('[2001:2::2]:51820', 1), { ok: true, host: '2001:2::2', port: 51820, portGiven: true });
  assert.deepEqual(parseEndpoint('[2001:2::2]', 5000), { ok: true, host: '2001:2::2', port: 5000, portGiven: false });
  assert.deepEqual(parseEndpoint('2001:2::2', 5000), { ok: true, host: '2001:2::2', port: 5000, portGiven: false });
  // a socket's address and port joined without brackets
  assert.deepEqual(parseEndpoint('::ffff:198.18.0.1:5000', null), { ok: true, host: '::ffff:198.18.0.1', port: 5000, portGiven: true });
  for (const [text, problem] of [
    ['198.18.0.2:70000', /port "70000" out of range/],
    [':5000', /host is empty/],
    ['198.18.0.2', /port is missing/],
    ['[office]:5000', /not an IPv6 address/],
    ['a:b:c', /more than one ":"/],
    ['198.18.0.2:x', /port "x"/],
  ] as const) {
    const r = parseEndpoint(text, text === '198.18.0.2' ? null : 1);
    assert.equal(r.ok, false, text);
    if (!r.ok) assert.match(r.problem, problem, text);
  }
  assert.equal(formatEndpoint('2001:2::2', 5000), '[2001:2::2]:5000');
  assert.equal(formatEndpoint('198.18.0.2', 5000), '198.18.0.2:5000');
  assert.equal(formatEndpoint('::ffff:198.18.0.2', 5000), '198.18.0.2:5000');
});

test('names: 1-15 characters, no slash, no blanks', () => {
  for (const ok of ['t', 'tun0', 'office', 'a_b=c+d.e-f', '123456789012345']) assert.equal(nameProblem(ok), undefined, ok);
  assert.match(nameProblem('')!, /empty/);
  assert.match(nameProblem('1234567890123456')!, /16 characters/);
  for (const bad of ['a/b', 'a b', 'tab\there', 'new\nline', 'tun%d', 'é', '.', '..']) assert.ok(nameProblem(bad), JSON.stringify(bad));
});

test('checkName throws a usage failure (exit 2) that quotes the name', () => {
  assert.equal(checkName('office'), 'office');
  assert.throws(() => checkName('no/slash'), (e: unknown) => e instanceof UsageFailure && e.exitCode === 2 && /"no\/slash"/.test(e.message));
});

test('typanion validators: CIDR, address, MTU, name', () => {
  const ok = (v: t.StrictValidator<unknown, unknown>, x: unknown) => t.isArray(v)([x]);
  assert.ok(ok(isCidr, '198.18.0.1/24'));
  assert.ok(!ok(isCidr, '198.18.0.1/40'));
  assert.ok(!ok(isCidr, 42));
  assert.ok(ok(isAddress, '198.18.0.2'));
  assert.ok(!ok(isAddress, '198.18.0.2/32'));
  assert.ok(ok(isName, 'office'));
  assert.ok(!ok(isName, 'way-too-long-name'));
  const errors: string[] = [];
  assert.ok(!isMtu(100, { errors }));
  assert.match(errors.join(), /576; 65535/);
  // Command-line values are strings: clipanion coerces them as t.as does here.
  assert.equal(t.as('1400', isMtu, { coerce: true, throw: true }), 1400);
  assert.equal(t.as('99999', isMtu, { coerce: true, errors: false }).errors, true);
});

test('upPlan: MTU first, addresses with ip addr replace, then up', () => {
  assert.deepEqual(upPlan({ name: 't0', addresses: ['198.18.0.1/24', '2001:2::1/64'], mtu: 1400 }), [
    ['link', 'set', 'dev', 't0', 'mtu', '1400'],
    ['addr', 'replace', '198.18.0.1/24', 'dev', 't0'],
    ['addr', 'replace', '2001:2::1/64', 'dev', 't0'],
    ['link', 'set', 'dev', 't0', 'up'],
  ]);
  assert.deepEqual(upPlan({ name: 't0', addresses: [] }), [['link', 'set', 'dev', 't0', 'up']]);
});

test('upPlan: --peer makes same-family addresses point-to-point, prefix on the peer side', () => {
  assert.deepEqual(upPlan({ name: 't0', addresses: ['198.18.0.1/30', '2001:2::1/64'], peer: '198.18.0.2' }), [
    ['addr', 'replace', '198.18.0.1', 'peer', '198.18.0.2/30', 'dev', 't0'],
    ['addr', 'replace', '2001:2::1/64', 'dev', 't0'],
    ['link', 'set', 'dev', 't0', 'up'],
  ]);
  assert.deepEqual(upPlan({ name: 't0', addresses: ['198.18.0.1'], peer: '198.18.0.2' })[0], ['addr', 'replace', '198.18.0.1', 'peer', '198.18.0.2/32', 'dev', 't0']);
});

test('upPlan: a peer without an address of its family is a usage error', () => {
  assert.throws(() => upPlan({ name: 't0', addresses: [], peer: '198.18.0.2' }), (e: unknown) => e instanceof UsageFailure && /same IP version/.test(e.message));
  assert.throws(() => upPlan({ name: 't0', addresses: ['2001:2::1/64'], peer: '198.18.0.2' }), UsageFailure);
});
