// tund showconf: the effective configuration as tund.conf text; reading it back gives the same
// configuration (defaults filled in, canonical forms), and no secret is ever in it.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { parseSessionConfig, type SessionConfig } from '../../core/config/index.js';
import { showConfig } from '../../core/config/show.js';

const FILE = '/etc/tund/office.conf';

function parse(text: string): SessionConfig {
  const r = parseSessionConfig(text, FILE, 'office');
  assert.deepEqual(r.problems, [], text);
  return r.config!;
}

const SERVER = `
[Session]
Role = server
Listen = 198.18.0.1:5001
Transport = udp
Encrypt = yes
Compress = lzo:3
Keepalive = 10:3
Multi = killold
Speed = 512:256
NatHack = yes
SecretFile = keys/office.pw
[Device]
Mode = ether
Name = lab0
Address = 198.19.2.1/24
MTU = 1400
MultiQueue = yes
[Route]
Mode = full
Exclude = 198.19.150.7/24
Table = 100
Metric = 5
DNS = 198.19.0.53
DNSDomains = ~corp.example
[Hooks]
Up = logger "up $TUND_DEVICE"
Down = logger down
`;

const CLIENT = `
[Session]
Role = client
Endpoint = [2001:2::1]
Keepalive = yes
Persist = keep
[Device]
Address = 198.19.0.2/32
Peer = 198.19.0.1
[Route]
Mode = split
AllowedIPs = 198.19.128.0/17, 198.19.64.0/18
`;

const PIPE = `
[Session]
Role = server
[Device]
Mode = pipe
Program = tar cf - /etc
`;

test('every key with its value, defaults filled in, in canonical form', () => {
  const text = showConfig(parse(SERVER));
  for (const line of [
    'Listen = 198.18.0.1:5001', 'Host = office', 'Transport = udp', 'Encrypt = blowfish128ecb', 'Compress = lzo:3', 'Keepalive = 10:3',
    'Persist = no', 'Multi = killold', 'Timeout = 30', 'NatHack = yes', 'Speed = 512:256', 'SslAuth = yes', 'SecretFile = /etc/tund/keys/office.pw',
    'Mode = tap', 'Name = lab0', 'Address = 198.19.2.1/24', 'MTU = 1400', 'MultiQueue = yes',
    'Mode = full', 'Exclude = 198.19.150.0/24', 'Table = 100', 'Metric = 5', 'DNS = 198.19.0.53', 'DNSDomains = ~corp.example',
    'Up = logger "up $TUND_DEVICE"', 'Down = logger down',
  ]) {
    assert.ok(text.split('\n').includes(line), `missing "${line}" in\n${text}`);
  }
  assert.match(text, /^# session "office": the effective configuration of \/etc\/tund\/office\.conf$/m);
});

test('reading the output back gives the same configuration', () => {
  for (const source of [SERVER, PIPE]) {
    const config = parse(source);
    assert.deepEqual(parse(showConfig(config)), config);
  }
  // a client: the server-decided keys are left out, the rest is the same
  const client = parse(CLIENT);
  const back = parse(showConfig(client));
  assert.deepEqual(back, client);
  assert.equal(showConfig(back), showConfig(client));
});

test('a client: Transport, Encrypt, Compress and Mode only where its file requires them, never Multi; the endpoint bracketed', () => {
  const text = showConfig(parse(CLIENT));
  assert.doesNotMatch(text, /^(Transport|Encrypt|Compress|Multi|Listen) =/m);
  assert.doesNotMatch(text, /^Mode = tun$/m);
  assert.match(text, /^Endpoint = \[2001:2::1\]:5000$/m);
  assert.match(text, /^# the server chooses Multi, and what this file does not require of it$/m);
  const strict = parse(CLIENT.replace('Persist = keep', 'Persist = keep\nTransport = udp\nEncrypt = aes128cbc'));
  const strictText = showConfig(strict);
  assert.match(strictText, /^Transport = udp$/m);
  assert.match(strictText, /^Encrypt = aes128cbc$/m);
  assert.doesNotMatch(strictText, /^(Compress|Multi) =/m);
  assert.deepEqual(parse(strictText), strict);
  // except the transport NatHack depends on
  const nat = parse(CLIENT.replace('Persist = keep', 'Transport = udp\nNatHack = yes'));
  assert.deepEqual(parse(showConfig(nat)), nat);
  // Mode = none: no route keys that would only be ignored
  assert.match(showConfig(parse('[Session]\nRole = server\n')), /\[Route\]\nMode = none\n/);
});
