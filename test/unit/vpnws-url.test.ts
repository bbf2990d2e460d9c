// The hub and proxy addresses of a vpn-ws tunnel (core/vpnws/url.ts): what a config gives, what
// the native connection gets (address, Host header, server name, path), and the refusals,
// credentials in the URL first of all.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { connectAuthority, parseProxyEndpoint, parseWsEndpoint } from '../../core/vpnws/url.js';

test('ws and wss URLs: default ports, Host header, path with query', () => {
  assert.deepEqual(parseWsEndpoint('wss://hub.example/vpn?x=1'), {
    ok: true, value: { secure: true, host: 'hub.example', port: 443, path: '/vpn?x=1', hostHeader: 'hub.example', serverName: 'hub.example' },
  });
  assert.deepEqual(parseWsEndpoint('ws://198.18.0.1:8080'), {
    ok: true, value: { secure: false, host: '198.18.0.1', port: 8080, path: '/', hostHeader: '198.18.0.1:8080', serverName: '198.18.0.1' },
  });
  const v6 = parseWsEndpoint('wss://[2001:2::1]:8443/vpn');
  assert.ok(v6.ok);
  assert.deepEqual([v6.value.host, v6.value.hostHeader, v6.value.port], ['2001:2::1', '[2001:2::1]:8443', 8443]);
  assert.equal(connectAuthority(v6.value), '[2001:2::1]:8443');
  const plain = parseWsEndpoint('WS://Hub.Example:80/');
  assert.ok(plain.ok && plain.value.hostHeader === 'hub.example' && plain.value.port === 80);
});

test('refused: credentials in the URL, other schemes, fragments, bad hosts, garbage', () => {
  const cases: Array<[string, RegExp]> = [
    ['wss://alice:secret@hub.example/vpn', /has credentials in it \(a password belongs in a secret file, never in the URL\)/],
    ['wss://alice@hub.example/vpn', /has credentials in it/],
    ['https://hub.example/vpn', /scheme "https" \(use wss:\/\/ for TLS\)/],
    ['http://hub.example/vpn', /scheme "http" \(use ws:\/\/\)/],
    ['ftp://hub.example/', /scheme "ftp"/],
    ['wss://hub.example/vpn#frag', /has a fragment "#frag"/],
    ['wss://hub_example/vpn', /invalid host "hub_example"/],
    ['hub.example:443', /scheme "hub.example"|is not a URL/],
    ['not a url', /is not a URL/],
    ['wss://hub.example:70000/', /is not a URL/],
  ];
  for (const [value, problem] of cases) {
    const r = parseWsEndpoint(value);
    assert.ok(!r.ok, value);
    assert.match(r.problem, problem, value);
  }
});

test('proxy URLs: http://host:port only', () => {
  assert.deepEqual(parseProxyEndpoint('http://198.18.0.9:3128'), { ok: true, value: { host: '198.18.0.9', port: 3128 } });
  assert.deepEqual(parseProxyEndpoint('http://proxy.example'), { ok: true, value: { host: 'proxy.example', port: 80 } });
  for (const [value, problem] of [
    ['https://proxy.example:3128', /only http:\/\/ proxies/],
    ['http://u:p@proxy.example:3128', /credentials/],
    ['http://proxy.example:3128/path', /has a path/],
    ['proxy', /is not a URL/],
  ] as const) {
    const r = parseProxyEndpoint(value);
    assert.ok(!r.ok && problem.test(r.problem), `${value}: ${JSON.stringify(r)}`);
  }
});
