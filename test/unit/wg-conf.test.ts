// core/wireguard/conf.ts and render.ts: real-world wg-quick files parse into the typed structure,
// every problem of a broken file is reported at once as file:line with did-you-mean, repeated
// keys accumulate, key files and systemd credentials are read with their checks, and the files
// render back (wg-quick form and wg showconf form). `wg showconf` of the real wg against our
// render is in test/bats/wg-uapi.bats.
import assert from 'node:assert/strict';
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigFailure } from '../../core/errors.js';
import { isWgQuickText, loadWgQuickFile, parseWgQuick, readWgKeys, wgQuickKeys, type WgQuickConfig } from '../../core/wireguard/conf.js';
import { generatePresharedKey, keyToBase64 } from '../../core/wireguard/keys.js';
import { renderShowconf, renderWgQuick } from '../../core/wireguard/render.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'wireguard');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');
const tmp = mkdtempSync(path.join(os.tmpdir(), 'wg-conf-test-'));
after(() => rmSync(tmp, { recursive: true, force: true }));

function parsed(text: string, name = 'wg0'): WgQuickConfig {
  const r = parseWgQuick(text, `/etc/tund/${name}.conf`, name);
  assert.deepEqual(r.problems, [], JSON.stringify(r.problems));
  assert.ok(r.config);
  return r.config;
}

/** problems as "line: message" */
function problemsOf(text: string): string[] {
  const r = parseWgQuick(text, '/etc/tund/wg0.conf', 'wg0');
  assert.equal(r.config, null);
  return r.problems.map((p) => `${p.line}: ${p.message}`);
}

describe('real-world wg-quick files', () => {
  test('a road-warrior client (phone app style)', () => {
    const c = parsed(fixture('road-warrior.conf'), 'phone');
    const i = c.interface;
    assert.equal(i.privateKey?.kind, 'inline');
    assert.equal(i.privateKey?.kind === 'inline' && keyToBase64(i.privateKey.key), 'WGzLIOS3GVGGfldSVPEsT6GrESuoWcBQsjwg2DnoIUY=');
    assert.deepEqual(i.addresses, ['198.19.10.2/32', '2001:2:0:10::2/128']);
    assert.deepEqual(i.dns, ['198.19.10.1', '2001:2:0:10::1']);
    assert.deepEqual(i.dnsSearch, ['corp.example']);
    assert.equal(i.mtu, 1420);
    assert.equal(i.listenPort, null);
    assert.equal(i.fwMark, 0);
    assert.deepEqual(i.table, { kind: 'auto' });
    assert.equal(i.saveConfig, false);
    assert.equal(c.peers.length, 1);
    const p = c.peers[0]!;
    assert.equal(p.publicKey, '9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM=');
    assert.equal(p.presharedKey?.kind, 'inline');
    assert.deepEqual(p.allowedIps, ['0.0.0.0/0', '::/0']);
    assert.deepEqual(p.endpoint, { host: 'vpn.example.com', port: 51820 });
    assert.equal(p.persistentKeepalive, 25);
    assert.equal(p.line, 8);
  });

  test('a hub with several peers, hooks, FwMark, Table, repeated Address and AllowedIPs', () => {
    const r = parseWgQuick(fixture('hub.conf'), '/etc/tund/hub.conf', 'hub');
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.warnings, []);
    const c = r.config!;
    assert.deepEqual(c.interface.addresses, ['198.19.20.1/24', '2001:2:0:20::1/64']);
    assert.equal(c.interface.listenPort, 51820);
    assert.equal(c.interface.fwMark, 0xca6c);
    assert.deepEqual(c.interface.table, { kind: 'off' });
    assert.deepEqual(c.interface.postUp, ['iptables -A FORWARD -i %i -j ACCEPT; iptables -t nat -A POSTROUTING -o eth0 -j MASQUERADE']);
    assert.equal(c.interface.postDown.length, 1);
    assert.deepEqual(c.peers.map((p) => p.allowedIps), [
      ['198.19.20.2/32', '2001:2:0:20::2/128'],
      ['198.19.20.3/32', '198.19.21.0/24'],
      ['198.19.30.0/24'],
    ]);
    assert.deepEqual(c.peers[1]!.presharedKey, { kind: 'file', path: 'hub-phone.psk', line: 21 });
    assert.deepEqual(c.peers[2]!.endpoint, { host: '2001:2:0:99::1', port: 51820 });
    assert.equal(c.peers[2]!.persistentKeepalive, 0);
  });

  test('a file with [Interface] is a WireGuard file; a VTun file is not', () => {
    assert.ok(isWgQuickText(fixture('hub.conf')));
    assert.ok(isWgQuickText('  [ interface ]  # here\nPrivateKey = x\n'));
    assert.ok(!isWgQuickText('[Session]\nRole = client\n'));
  });
});

describe('problems: all at once, file:line, precise, with did-you-mean', () => {
  test('a file with many mistakes', () => {
    const text = [
      'ListenPort = 1', // 1: outside a section
      '[Interface]', // 2
      'PrivatKey = abc', // 3: typo
      'PrivateKey = not-a-key', // 4: bad key (not echoed)
      'ListenPort = 70000', // 5
      'Address = 198.19.0.1/33', // 6
      'DNS = 198.19.0.53, not_a_domain!', // 7
      'MTU = 90000', // 8
      'FwMark = 0xnothex', // 9
      'Endpoint = 198.18.0.1:51820', // 10: a [Peer] key
      'SaveConfig = maybe', // 11
      '[Peers]', // 12: unknown section
      '[Peer]', // 13: no PublicKey
      'AllowedIP = 198.19.0.0/24', // 14: typo
      'Endpoint = 198.18.0.1', // 15: no port
      'PersistentKeepalive = -1', // 16
      '[Peer]', // 17
      'PublicKey = 9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM=', // 18
      'PresharedKey = w+N8Co4jnsizNBEE/lMAvbG1ulN0uUCEDyHBdfh8TcY=', // 19
      'PresharedKeyFile = x.psk', // 20: both
      'Endpoint = 2001:2::1:51820', // 21: IPv6 without brackets
      'AllowedIPs = 198.19.0.0/24, bogus', // 22
      '[Peer]', // 23
      'PublicKey = 9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM=', // 24: same peer twice
      '[Interface]', // 25: second interface
      'garbage line', // 26
    ].join('\n');
    assert.deepEqual(problemsOf(text), [
      '1: key "ListenPort" outside of a section (expected it under [Interface])',
      '3: unknown key "PrivatKey" in [Interface] (did you mean "PrivateKey"?)',
      '4: PrivateKey is not a key (expected 44 characters of base64, as "wg genkey" prints)',
      '5: ListenPort "70000" out of range (0-65535)',
      '6: Address "198.19.0.1/33" invalid: prefix length "33" out of range (0-32) (expected an address with prefix length such as 198.18.0.0/15)',
      '7: DNS "not_a_domain!" is neither an IP address nor a domain name (expected a DNS server such as 198.18.0.53, or a search domain)',
      '8: MTU "90000" out of range (576-65535)',
      '9: FwMark "0xnothex" invalid (expected off, or 0-4294967295 in decimal or 0x hex)',
      '10: key "Endpoint" does not belong in [Interface] (it is a [Peer] key)',
      '11: SaveConfig "maybe" invalid (expected yes|no)',
      '12: unknown section [Peers] (did you mean [Peer]?)',
      '13: [Peer] without PublicKey (expected "PublicKey = ..." of that peer)',
      '14: unknown key "AllowedIP" in [Peer] (did you mean "AllowedIPs"?)',
      '15: Endpoint "198.18.0.1" has no port (expected HOST:PORT or [IPv6]:PORT, such as 198.18.0.1:51820)',
      '16: PersistentKeepalive "-1" is not a whole number (expected 0-65535)',
      '20: PresharedKey and PresharedKeyFile both set (line 19); keep one',
      '21: Endpoint "2001:2::1:51820" needs brackets around an IPv6 address (expected [IPv6]:PORT, such as [2001:2::1]:51820)',
      '22: AllowedIPs "bogus" invalid: "bogus" is not an IPv4 or IPv6 address (expected an address with prefix length such as 198.18.0.0/15)',
      '24: peer 9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM= is already defined at line 18 (one [Peer] per public key)',
      '25: a second [Interface] section (the first is at line 2; a file describes one interface)',
      '26: expected "Key = Value" (got "garbage line")',
    ]);
  });

  test('[Device] (a tund session file\'s section): the interface takes the file\'s name, renamed with the file', () => {
    assert.deepEqual(problemsOf('[Interface]\nPrivateKey = WGzLIOS3GVGGfldSVPEsT6GrESuoWcBQsjwg2DnoIUY=\n[Device]\nName = wg7\n'), [
      '3: unknown section [Device] (the interface takes the file\'s name, "wg0": rename the file to rename it; expected [Interface] or [Peer])',
    ]);
  });

  test('no [Interface]; both PrivateKey and PrivateKeyFile; empty values', () => {
    assert.deepEqual(problemsOf('[Peer]\nPublicKey = 9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM=\n'), [
      '0: no [Interface] section (expected "[Interface]" with the PrivateKey of this side)',
    ]);
    assert.deepEqual(problemsOf('[Interface]\nPrivateKey = WGzLIOS3GVGGfldSVPEsT6GrESuoWcBQsjwg2DnoIUY=\nPrivateKeyFile = k\nMTU =\n'), [
      '3: PrivateKey and PrivateKeyFile both set (line 2); keep one',
      '4: MTU has an empty value',
    ]);
    assert.deepEqual(problemsOf('[]\n'), ['1: empty section name (expected [Interface] or [Peer])', '0: no [Interface] section (expected "[Interface]" with the PrivateKey of this side)'].sort());
  });

  test('a secret is never echoed in a message', () => {
    const secretish = 'WGzLIOS3GVGGfldSVPEsT6GrESuoWcBQsjwg2DnoIUY'; // one character short
    const messages = problemsOf(`[Interface]\nPrivateKey = ${secretish}\n[Peer]\nPublicKey = 9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM=\nPresharedKey = ${secretish}\n`);
    assert.equal(messages.length, 2);
    for (const m of messages) assert.ok(!m.includes(secretish), m);
  });
});

describe('wg-quick leniency', () => {
  test('"#" starts a comment anywhere, commands included; keys in any case; whitespace around commas', () => {
    const c = parsed(
      [
        '[interface]  # the interface',
        'privatekey = WGzLIOS3GVGGfldSVPEsT6GrESuoWcBQsjwg2DnoIUY= # key',
        'ADDRESS=198.19.0.1/24 ,198.19.1.1/24',
        'PostUp = echo up # not part of the command',
        'PostUp = echo second',
        '[PEER]',
        'PublicKey=9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM=',
        'AllowedIPs = 198.19.0.2',
        'AllowedIPs =',
      ].join('\n'),
    );
    assert.deepEqual(c.interface.addresses, ['198.19.0.1/24', '198.19.1.1/24']);
    assert.deepEqual(c.interface.postUp, ['echo up', 'echo second']);
    assert.deepEqual(c.peers[0]!.allowedIps, ['198.19.0.2/32']);
  });

  test('a key set twice: the last value wins, with a warning; host bits and shared AllowedIPs warn', () => {
    const r = parseWgQuick(
      [
        '[Interface]',
        'ListenPort = 1000',
        'ListenPort = 2000',
        '[Peer]',
        'PublicKey = 9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM=',
        'AllowedIPs = 198.19.0.1/24',
        '[Peer]',
        'PublicKey = lfPskw1HAwH+f8VdtScRDtryiB2zq95qEPVBWWImWDc=',
        'AllowedIPs = 198.19.0.0/24',
      ].join('\n'),
      'x.conf',
      'x',
    );
    assert.equal(r.config?.interface.listenPort, 2000);
    assert.deepEqual(r.config?.peers[0]!.allowedIps, ['198.19.0.0/24']);
    assert.deepEqual(
      r.warnings.map((w) => `${w.line}: ${w.message}`),
      [
        '3: ListenPort set twice (first at line 2); the last one is used, as wg(8) does',
        '6: AllowedIPs "198.19.0.1/24" has host bits set (using 198.19.0.0/24)',
        '9: AllowedIPs 198.19.0.0/24 is also given to the peer at line 4; the last peer gets it, as in wg(8)',
      ],
    );
  });

  test('FwMark, Table, PersistentKeepalive forms', () => {
    const base = '[Interface]\n';
    assert.equal(parsed(`${base}FwMark = off`).interface.fwMark, 0);
    assert.equal(parsed(`${base}FwMark = 51820`).interface.fwMark, 51820);
    assert.equal(parsed(`${base}FwMark = 0xFFFFFFFF`).interface.fwMark, 0xffffffff);
    assert.deepEqual(parsed(`${base}Table = main`).interface.table, { kind: 'table', table: 'main' });
    assert.deepEqual(parsed(`${base}Table = 1234`).interface.table, { kind: 'table', table: 1234 });
    assert.equal(parsed(`${base}[Peer]\nPublicKey = 9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM=\nPersistentKeepalive = 0`).peers[0]!.persistentKeepalive, 0);
  });

  test('the documented keys', () => {
    assert.deepEqual(wgQuickKeys(), {
      Interface: ['PrivateKey', 'PrivateKeyFile', 'ListenPort', 'FwMark', 'Address', 'DNS', 'MTU', 'Table', 'PreUp', 'PostUp', 'PreDown', 'PostDown', 'SaveConfig', 'Transport', 'WebSocketPath', 'Certificate', 'CertificateKey', 'ClientCA', 'CA', 'Proxy', 'ProxyUser', 'ProxySecretFile'],
      Peer: ['PublicKey', 'PresharedKey', 'PresharedKeyFile', 'Endpoint', 'AllowedIPs', 'PersistentKeepalive'],
    });
  });
});

describe('Transport (tund peers only)', () => {
  const KEY = 'yAnz5TF+lXXJte14tji3zlMNq+hd2rYUIgJBgB3fBmk=';
  const PEER = 'xTIBA5rboUvnH4htodjb6e697QjLERt1NAB4mZqp8Dg=';
  const file = (...iface: string[]) => ['[Interface]', `PrivateKey = ${KEY}`, ...iface, '', '[Peer]', `PublicKey = ${PEER}`, 'AllowedIPs = 198.19.0.2/32'].join('\n');

  test('udp by default; tcp in any case; written back only when not udp', () => {
    assert.equal(parsed(file()).interface.transport, 'udp');
    const c = parsed(file('Transport = TCP', 'ListenPort = 51830'));
    assert.equal(c.interface.transport, 'tcp');
    assert.match(renderWgQuick(c), /^Transport = tcp$/m);
    assert.doesNotMatch(renderWgQuick(parsed(file())), /Transport/);
    assert.equal(parseWgQuick(renderWgQuick(c), '/etc/tund/wg0.conf', 'wg0').config?.interface.transport, 'tcp');
  });

  test('a bad value; tcp without ListenPort when a peer has no Endpoint (it must dial in)', () => {
    assert.deepEqual(problemsOf(file('Transport = quic')), ['3: Transport "quic" invalid (expected udp|tcp|websocket)']);
    assert.deepEqual(problemsOf(file('Transport = tcp')), [
      '3: Transport = tcp without ListenPort: the peer at line 5 has no Endpoint, so it must connect here (expected "ListenPort = PORT", the TCP port to listen on)',
    ]);
    // a side that only dials needs no ListenPort
    assert.equal(parsed(`${file('Transport = tcp')}\nEndpoint = 198.18.0.1:51830`).interface.listenPort, null);
  });

  test('websocket: the peer is a ws:// or wss:// URL, the TLS files and the path are read and written back', () => {
    const c = parsed(
      `${file('Transport = websocket', 'WebSocketPath = /wg', 'Certificate = /etc/tund/wg.pem', 'CertificateKey = /etc/tund/wg.key', 'CA = /etc/tund/ca.pem', 'Proxy = http://[2001:2::3]:3128')}\nEndpoint = wss://[2001:2::1]:8443/wg?x=1`,
    );
    assert.equal(c.interface.transport, 'websocket');
    assert.deepEqual(c.interface.webSocket, {
      path: '/wg',
      certificate: '/etc/tund/wg.pem',
      certificateKey: '/etc/tund/wg.key',
      clientCa: null,
      ca: '/etc/tund/ca.pem',
      proxy: { host: '2001:2::3', port: 3128 },
      proxyUser: null,
      proxySecretFile: '/etc/tund/wg0.proxy-secret',
    });
    assert.deepEqual(c.peers[0]!.endpoint, { host: '2001:2::1', port: 8443 });
    assert.equal(c.peers[0]!.webSocket?.path, '/wg?x=1');
    assert.equal(c.peers[0]!.webSocket?.secure, true);
    const again = parsed(renderWgQuick(c));
    assert.deepEqual(again.interface.webSocket, c.interface.webSocket);
    assert.deepEqual(again.peers[0]!.webSocket, c.peers[0]!.webSocket);
    // default ports
    assert.deepEqual(parsed(`${file('Transport = websocket')}\nEndpoint = ws://wg.test/`).peers[0]!.endpoint, { host: 'wg.test', port: 80 });
  });

  test('websocket: every mismatch is a file:line problem', () => {
    assert.deepEqual(problemsOf(`${file('Transport = websocket')}\nEndpoint = 198.18.0.1:443`), [
      '8: Endpoint "198.18.0.1:443" is no WebSocket URL (Transport = websocket dials ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH)',
    ]);
    assert.deepEqual(problemsOf(`${file('Transport = tcp', 'ListenPort = 1', 'WebSocketPath = /wg')}\nEndpoint = ws://198.18.0.1/`), [
      '5: WebSocketPath applies to Transport = websocket only (the transport is tcp)',
      '10: Endpoint "ws://..." is a WebSocket URL, which needs "Transport = websocket" in [Interface] (expected HOST:PORT for tcp)',
    ]);
    assert.deepEqual(problemsOf(file('Transport = websocket', 'ListenPort = 1', 'CertificateKey = /k', 'ClientCA = /ca', 'WebSocketPath = wg')), [
      '5: CertificateKey without Certificate (expected both: the certificate chain and its private key, PEM files)',
      '6: ClientCA without Certificate (client certificates are asked for on wss only: set Certificate and CertificateKey)',
      '7: WebSocketPath "wg" is not a request path (expected /PATH, such as /vpn)',
    ]);
    // (the bad Endpoint is no Endpoint: the ListenPort problem comes too)
    assert.match(problemsOf(`${file('Transport = websocket')}\nEndpoint = https://wg.test/`)[1]!, /^8: Endpoint "https:\/\/wg.test\/" has the scheme "https" \(use wss:\/\/ for TLS\)/);
    assert.match(problemsOf(`${file('Transport = websocket')}\nEndpoint = wss://u:p@wg.test/`)[1]!, /^8: Endpoint "wss:\/\/\.\.\.@wg.test\/" has credentials in it/);
  });
});

describe('key files and systemd credentials', () => {
  const dir = path.join(tmp, 'etc');
  const creds = path.join(tmp, 'creds');
  mkdirSync(dir, { recursive: true });
  mkdirSync(creds, { recursive: true });
  const priv = 'WGzLIOS3GVGGfldSVPEsT6GrESuoWcBQsjwg2DnoIUY=';
  const psk = keyToBase64(generatePresharedKey());
  const write = (file: string, body: string, mode = 0o600) => {
    writeFileSync(file, body);
    chmodSync(file, mode);
  };
  const conf = (body: string, name = 'office') => {
    const file = path.join(dir, `${name}.conf`);
    write(file, body);
    return { ...parsed(body, name), file };
  };

  test('PrivateKeyFile relative to the config directory, PresharedKeyFile absolute', async () => {
    write(path.join(dir, 'office.key'), `${priv}\n`);
    write(path.join(tmp, 'office.psk'), `${psk}\n`);
    const c = conf(`[Interface]\nPrivateKeyFile = office.key\n[Peer]\nPublicKey = 9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM=\nPresharedKeyFile = ${path.join(tmp, 'office.psk')}\n`);
    const keys = await readWgKeys(c, {});
    assert.equal(keyToBase64(keys.privateKey!), priv);
    assert.equal(keyToBase64(keys.presharedKeys[0]!), psk);
  });

  test('a bare name is looked up in $CREDENTIALS_DIRECTORY first; NAME.key is the default credential', async () => {
    const other = keyToBase64(generatePresharedKey());
    write(path.join(creds, 'office.key'), other, 0o400);
    const c = conf('[Interface]\nPrivateKeyFile = office.key\n');
    assert.equal(keyToBase64((await readWgKeys(c, { credentialsDirectory: creds })).privateKey!), other);
    const noKey = conf('[Interface]\nListenPort = 51820\n');
    assert.equal(keyToBase64((await readWgKeys(noKey, { credentialsDirectory: creds })).privateKey!), other);
    assert.equal((await readWgKeys(noKey, {})).privateKey, null);
  });

  test('every key-file problem at once: missing, readable by others, not a key; nothing leaks', async () => {
    write(path.join(dir, 'open.key'), `${priv}\n`, 0o644);
    write(path.join(dir, 'junk.psk'), 'hello\n');
    const c = conf(
      `[Interface]\nPrivateKeyFile = open.key\n[Peer]\nPublicKey = 9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM=\nPresharedKeyFile = junk.psk\n[Peer]\nPublicKey = lfPskw1HAwH+f8VdtScRDtryiB2zq95qEPVBWWImWDc=\nPresharedKeyFile = /nonexistent/x.psk\n`,
    );
    await assert.rejects(readWgKeys(c, {}), (error: unknown) => {
      assert.ok(error instanceof ConfigFailure);
      const lines = error.problems.map((p) => `${p.line}: ${p.message}`);
      assert.deepEqual(lines, [
        `2: PrivateKeyFile "${path.join(dir, 'open.key')}": secret file is readable by others (mode 0644; expected 0600); run "chmod 600 ${path.join(dir, 'open.key')}"`,
        `5: PresharedKeyFile "${path.join(dir, 'junk.psk')}" does not hold a key (expected one base64 key, as "tunauth genkey" writes)`,
        '8: PresharedKeyFile "/nonexistent/x.psk" does not exist',
      ]);
      assert.ok(!error.message.includes(priv));
      return true;
    });
  });

  test('a key file follows the one secret-file rule of VTun secrets: no symbolic link', async () => {
    write(path.join(dir, 'real.key'), `${priv}\n`);
    symlinkSync(path.join(dir, 'real.key'), path.join(dir, 'link.key'));
    const c = conf('[Interface]\nPrivateKeyFile = link.key\n');
    await assert.rejects(readWgKeys(c, {}), (error: unknown) => {
      assert.ok(error instanceof ConfigFailure);
      assert.deepEqual(error.problems.map((p) => p.message), [
        `PrivateKeyFile "${path.join(dir, 'link.key')}": secret file is a symbolic link (expected a regular file); run "rm ${path.join(dir, 'link.key')} && tunauth genkey --output ${path.join(dir, 'link.key')}"`,
      ]);
      return true;
    });
  });

  test('loadWgQuickFile: a file others can read is a warning when no key is written in it; problems carry the warnings', async () => {
    const file = path.join(dir, 'open.conf');
    write(file, '[Interface]\nPrivateKeyFile = office.key\nListenPort = 51820\n', 0o644);
    const { config, warnings } = await loadWgQuickFile(file);
    assert.equal(config.name, 'open');
    assert.match(warnings[0]!.message, /mode 0644; expected 0600/);
    write(file, '[Interface]\nMTU = 1\n');
    await assert.rejects(loadWgQuickFile(file), /open\.conf:2: MTU "1" out of range/);
  });

  for (const mode of [0o640, 0o604, 0o644]) {
    test(`loadWgQuickFile: an inline PrivateKey in a file of mode 0${mode.toString(8)} is refused (exit 78), the key never in the message`, async () => {
      const file = path.join(dir, 'inline.conf');
      write(file, fixture('road-warrior.conf'), mode);
      await assert.rejects(loadWgQuickFile(file), (error: unknown) => {
        assert.ok(error instanceof ConfigFailure);
        assert.equal(error.exitCode, 78);
        assert.match(error.message, new RegExp(`^${file.replace(/[.]/g, '\\.')}:3: holds a key, and the secret file is [a-z ]+ \\(mode 0${mode.toString(8)}; expected 0600\\); run "chmod 600 `));
        assert.ok(!error.message.includes(priv));
        return true;
      });
    });
  }

  test('loadWgQuickFile: an inline PresharedKey alone makes it a secret too; 0600 is fine', async () => {
    const file = path.join(dir, 'psk.conf');
    write(file, `[Interface]\nPrivateKeyFile = office.key\n[Peer]\nPublicKey = 9dZxgphn800+eSfC4WjiH28u+oDoSUY6aFO9MCLfjDM=\nPresharedKey = ${psk}\n`, 0o660);
    await assert.rejects(loadWgQuickFile(file), (error: unknown) => error instanceof ConfigFailure && error.message.startsWith(`${file}:5: holds a key, and the secret file is`));
    chmodSync(file, 0o600);
    assert.deepEqual((await loadWgQuickFile(file)).warnings, []);
  });

  test('loadWgQuickFile: an inline key in a file owned by another user is refused', { skip: process.getuid?.() !== 0 && 'needs root (chown)' }, async () => {
    const file = path.join(dir, 'theirs.conf');
    write(file, fixture('road-warrior.conf'));
    chownSync(file, 65534, 65534);
    await assert.rejects(loadWgQuickFile(file), (error: unknown) => error instanceof ConfigFailure && error.message.startsWith(`${file}:3: holds a key, and the secret file is owned by uid 65534 (expected root)`));
  });
});

describe('render', () => {
  test('wg-quick files render back to the same structure', () => {
    for (const name of ['road-warrior.conf', 'hub.conf']) {
      const a = parsed(fixture(name));
      const b = parsed(renderWgQuick(a));
      const strip = (c: WgQuickConfig) =>
        JSON.parse(JSON.stringify(c, (k, v) => (k === 'line' ? undefined : v)));
      assert.deepEqual(strip(b), strip(a), name);
    }
  });

  test('showconf form: wg showconf order and spelling', () => {
    const key = (n: number) => Buffer.alloc(32, n);
    const text = renderShowconf({
      privateKey: key(1),
      listenPort: 51820,
      fwMark: 0xca6c,
      peers: [
        {
          publicKey: key(2),
          presharedKey: key(3),
          endpoint: { host: '2001:2::1', port: 51820 },
          allowedIps: ['198.19.0.0/24', '2001:2:0:1::/64'],
          persistentKeepalive: 25,
          lastHandshake: null,
          rxBytes: 0,
          txBytes: 0,
        },
        { publicKey: key(4), presharedKey: null, endpoint: null, allowedIps: [], persistentKeepalive: 0, lastHandshake: null, rxBytes: 0, txBytes: 0 },
      ],
    });
    assert.equal(
      text,
      [
        '[Interface]',
        'ListenPort = 51820',
        'FwMark = 0xca6c',
        `PrivateKey = ${key(1).toString('base64')}`,
        '',
        '[Peer]',
        `PublicKey = ${key(2).toString('base64')}`,
        `PresharedKey = ${key(3).toString('base64')}`,
        'AllowedIPs = 198.19.0.0/24, 2001:2:0:1::/64',
        'Endpoint = [2001:2::1]:51820',
        'PersistentKeepalive = 25',
        '',
        '[Peer]',
        `PublicKey = ${key(4).toString('base64')}`,
        '',
      ].join('\n'),
    );
  });
});
