// core/wireguard/session-config.ts: what a wg-quick file means for the session that runs it
// (device, routes, DNS, hooks, keys as the session's secret), through the one session-file reader
// (core/config/load.ts parseAnySessionConfig), as wg-quick(8) would act on the same file.
import assert from 'node:assert/strict';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { parseAnySessionConfig, readSecret } from '../../core/config/load.js';
import type { SessionConfig } from '../../core/config/types.js';
import { ConfigFailure } from '../../core/errors.js';
import { generatePrivateKey, keyToBase64 } from '../../core/wireguard/keys.js';
import { wgKeysFromSecret } from '../../core/wireguard/session-config.js';

const tmp = mkdtempSync(path.join(os.tmpdir(), 'wg-session-config-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

const PRIV = keyToBase64(generatePrivateKey());
const PEER_A = keyToBase64(generatePrivateKey());
const PEER_B = keyToBase64(generatePrivateKey());

function session(text: string, name = 'wg0'): SessionConfig {
  const r = parseAnySessionConfig(text, path.join(tmp, `${name}.conf`), name);
  assert.deepEqual(r.problems, [], JSON.stringify(r.problems));
  assert.ok(r.config);
  return r.config;
}

describe('a wg-quick file as a session', () => {
  test('a client with one peer: a tun named after the session, split routes for AllowedIPs, DNS, hooks with %i', () => {
    const c = session(`[Interface]
PrivateKey = ${PRIV}
Address = 198.19.88.2/24, 2001:2:0:88::2/64
DNS = 198.18.0.53, corp.example
PostUp = echo up %i
PreDown = echo down %i
PreUp = echo pre %i
PostDown = echo post %i

[Peer]
PublicKey = ${PEER_A}
Endpoint = 198.18.88.1:51820
AllowedIPs = 198.19.88.0/24, 198.19.99.0/24
`);
    assert.equal(c.session.protocol, 'wireguard');
    assert.equal(c.session.role, 'client');
    assert.deepEqual(c.session.endpoint, { host: '198.18.88.1', port: 51820 });
    assert.deepEqual(c.device, { mode: 'tun', name: 'wg0', addresses: ['198.19.88.2/24', '2001:2:0:88::2/64'], peer: null, mtu: 1420, multiQueue: false, mac: null, bridge: null, program: null });
    assert.equal(c.route.mode, 'split');
    assert.deepEqual(c.route.allowedIps, ['198.19.88.0/24', '198.19.99.0/24']);
    assert.equal(c.route.table, 'off');
    assert.deepEqual(c.route.dns, ['198.18.0.53']);
    assert.deepEqual(c.route.dnsDomains, ['corp.example']);
    assert.deepEqual(c.hooks, { up: ['echo up wg0'], down: ['echo down wg0'], preUp: ['echo pre wg0'], postDown: ['echo post wg0'], abortOnFailure: true });
  });

  test('a default route makes a full tunnel in a table of its own; Table = off: no routes; Table = N', () => {
    const peer = (allowed: string) => `[Peer]\nPublicKey = ${PEER_A}\nEndpoint = 198.18.88.1:51820\nAllowedIPs = ${allowed}\n`;
    const full = session(`[Interface]\nPrivateKey = ${PRIV}\n${peer('0.0.0.0/0, ::/0')}`);
    assert.equal(full.route.mode, 'full');
    assert.equal(full.route.table, 'auto');
    assert.equal(session(`[Interface]\nPrivateKey = ${PRIV}\nTable = off\n${peer('198.19.0.0/16')}`).route.mode, 'none');
    const numbered = session(`[Interface]\nPrivateKey = ${PRIV}\nTable = 1234\n${peer('198.19.0.0/16')}`);
    assert.equal(numbered.route.mode, 'split');
    assert.equal(numbered.route.table, 1234);
    const r = parseAnySessionConfig(`[Interface]\nPrivateKey = ${PRIV}\nTable = vpn\n${peer('198.19.0.0/16')}`, '/etc/tund/wg0.conf', 'wg0');
    assert.equal(r.config, null);
    assert.match(r.problems[0]!.message, /Table = vpn: tund takes auto, off or a table number/);
  });

  test('a server: no peer endpoint, ListenPort, several peers; MTU as given', () => {
    const c = session(`[Interface]
PrivateKey = ${PRIV}
ListenPort = 51820
MTU = 1380
[Peer]
PublicKey = ${PEER_A}
AllowedIPs = 198.19.88.11/32
[Peer]
PublicKey = ${PEER_B}
AllowedIPs = 198.19.88.12/32
`);
    assert.equal(c.session.role, 'server');
    assert.equal(c.session.endpoint, null);
    assert.equal(c.session.listen.port, 51820);
    assert.equal(c.device.mtu, 1380);
    assert.equal(c.wireguard!.peers.length, 2);
  });

  test('a tund.conf(5) file is still read as one', () => {
    const c = session('[Session]\nRole = client\nEndpoint = 198.18.0.1:5000\n[Device]\nMode = tun\n');
    assert.equal(c.session.protocol, 'vtun');
    assert.equal(c.wireguard, undefined);
  });

  test('problems of a wg-quick file come as file:line, the session name is checked', () => {
    const r = parseAnySessionConfig(`[Interface]\nPrivateKey = nope\nListenPort = 70000\n`, '/etc/tund/this-name-is-too-long.conf', 'this-name-is-too-long');
    assert.equal(r.config, null);
    assert.deepEqual(
      r.problems.map((p) => p.line),
      [0, 2, 3],
    );
  });

  test('the keys are the session secret: private key, then one preshared key (or zeros) per peer; key files and a missing key', async () => {
    const psk = path.join(tmp, 'b.psk');
    const pskKey = keyToBase64(generatePrivateKey());
    writeFileSync(psk, `${pskKey}\n`);
    chmodSync(psk, 0o600);
    const c = session(`[Interface]\nPrivateKey = ${PRIV}\n[Peer]\nPublicKey = ${PEER_A}\n[Peer]\nPublicKey = ${PEER_B}\nPresharedKeyFile = ${psk}\n`);
    const secret = await readSecret(c);
    assert.equal(secret.length, 3 * 32);
    const keys = wgKeysFromSecret(c, secret);
    assert.equal(keyToBase64(keys.privateKey), PRIV);
    assert.equal(keys.presharedKeys[0], null);
    assert.equal(keyToBase64(keys.presharedKeys[1]!), pskKey);
    const keyless = session(`[Interface]\nListenPort = 1\n[Peer]\nPublicKey = ${PEER_A}\n`);
    await assert.rejects(readSecret(keyless), (e: unknown) => e instanceof ConfigFailure && /has no PrivateKey/.test(e.problems[0]!.message));
  });
});
