// core/wireguard/uapi.ts (codec), uapi-apply.ts (wireguard-go's set semantics) and
// uapi-server.ts (the socket): get/set on the wire, every set key, refusals with the errno wg
// expects, several requests per connection, split input, the socket's modes and stale-socket
// handling. The real wg(8) against this server is test/bats/wg-uapi.bats.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { TundError } from '../../core/errors.js';
import { keyToHex, publicKeyOf } from '../../core/wireguard/keys.js';
import type { WgDeviceState } from '../../core/wireguard/types.js';
import { applySetRequest } from '../../core/wireguard/uapi-apply.js';
import { UapiServer } from '../../core/wireguard/uapi-server.js';
import { encodeErrno, encodeGetResponse, nextRequest, parseSetRequest, parseUapiEndpoint, type UapiSetRequest } from '../../core/wireguard/uapi.js';

const key = (n: number) => Buffer.alloc(32, n);
const hex = (n: number) => keyToHex(key(n));

function state(): WgDeviceState {
  return {
    privateKey: key(1),
    listenPort: 51820,
    fwMark: 0,
    peers: [
      {
        publicKey: key(2),
        presharedKey: null,
        endpoint: { host: '198.18.0.2', port: 51821 },
        allowedIps: ['198.19.0.2/32', '2001:2::2/128'],
        persistentKeepalive: 25,
        lastHandshake: { seconds: 1700000000, nanoseconds: 5 },
        rxBytes: 100,
        txBytes: 200,
      },
    ],
  };
}

function set(lines: string[]): UapiSetRequest {
  const r = parseSetRequest(lines);
  assert.ok(r.ok, r.ok ? '' : r.message);
  return r.request;
}

describe('get', () => {
  test('the response lists the device, then each peer, then errno=0', () => {
    assert.equal(
      encodeGetResponse(state()),
      [
        `private_key=${hex(1)}`,
        'listen_port=51820',
        `public_key=${hex(2)}`,
        `preshared_key=${'0'.repeat(64)}`,
        'protocol_version=1',
        'endpoint=198.18.0.2:51821',
        'last_handshake_time_sec=1700000000',
        'last_handshake_time_nsec=5',
        'tx_bytes=200',
        'rx_bytes=100',
        'persistent_keepalive_interval=25',
        'allowed_ip=198.19.0.2/32',
        'allowed_ip=2001:2::2/128',
        'errno=0',
        '',
        '',
      ].join('\n'),
    );
  });

  test('no key, no port, a mark, an IPv6 endpoint, never a handshake', () => {
    const s: WgDeviceState = { privateKey: null, listenPort: 0, fwMark: 51820, peers: [{ ...state().peers[0]!, endpoint: { host: '2001:2::9', port: 1 }, lastHandshake: null, presharedKey: key(7) }] };
    const text = encodeGetResponse(s);
    assert.ok(!text.includes('private_key=') && !text.includes('listen_port='));
    assert.ok(text.startsWith('fwmark=51820\n'));
    assert.ok(text.includes('endpoint=[2001:2::9]:1\n'));
    assert.ok(text.includes('last_handshake_time_sec=0\nlast_handshake_time_nsec=0\n'));
    assert.ok(text.includes(`preshared_key=${hex(7)}\n`));
  });
});

describe('set parsing', () => {
  test('every key', () => {
    const r = set([
      `private_key=${hex(9)}`,
      'listen_port=4000',
      'fwmark=7',
      'replace_peers=true',
      `public_key=${hex(2)}`,
      'update_only=true',
      `preshared_key=${hex(3)}`,
      'endpoint=[2001:2::1]:51820',
      'persistent_keepalive_interval=0',
      'replace_allowed_ips=true',
      'allowed_ip=198.19.0.7/24',
      'protocol_version=1',
      `public_key=${hex(4)}`,
      'remove=true',
    ]);
    assert.deepEqual(r.privateKey, key(9));
    assert.equal(r.listenPort, 4000);
    assert.equal(r.fwMark, 7);
    assert.equal(r.replacePeers, true);
    assert.equal(r.peers.length, 2);
    assert.deepEqual(r.peers[0], {
      publicKey: key(2),
      remove: false,
      updateOnly: true,
      presharedKey: key(3),
      endpoint: { host: '2001:2::1', port: 51820 },
      persistentKeepalive: 0,
      replaceAllowedIps: true,
      allowedIps: ['198.19.0.0/24'],
      protocolVersion: 1,
    });
    assert.equal(r.peers[1]!.remove, true);
  });

  test('refusals: EINVAL for bad values and misplaced keys, EPROTO for a line that is not key=value', () => {
    const errno = (lines: string[]) => {
      const r = parseSetRequest(lines);
      return r.ok ? 0 : r.errno;
    };
    assert.equal(errno(['private_key=zz']), 22);
    assert.equal(errno(['listen_port=65536']), 22);
    assert.equal(errno(['fwmark=-1']), 22);
    assert.equal(errno(['replace_peers=false']), 22);
    assert.equal(errno(['allowed_ip=198.19.0.1/32']), 22, 'a peer key before any public_key');
    assert.equal(errno([`public_key=${hex(2)}`, 'listen_port=1']), 22, 'a device key after a peer');
    assert.equal(errno([`public_key=${hex(2)}`, 'allowed_ip=198.19.0.1']), 22, 'no prefix length');
    assert.equal(errno([`public_key=${hex(2)}`, 'endpoint=2001:2::1:5']), 22);
    assert.equal(errno([`public_key=${hex(2)}`, 'protocol_version=2']), 22);
    assert.equal(errno([`public_key=${hex(2)}`, 'bogus=1']), 22);
    assert.equal(errno(['no equals sign']), 71);
    assert.equal(errno([]), 0, 'an empty set changes nothing');
  });

  test('endpoints', () => {
    assert.deepEqual(parseUapiEndpoint('198.18.0.1:1'), { host: '198.18.0.1', port: 1 });
    assert.deepEqual(parseUapiEndpoint('[fe80::1%eth0]:5'), { host: 'fe80::1', port: 5 });
    assert.equal(parseUapiEndpoint('host.example:1'), null);
    assert.equal(parseUapiEndpoint('198.18.0.1:65536'), null);
    assert.equal(parseUapiEndpoint('198.18.0.1'), null);
  });

  test('replies: errno=0, negative errno for failures (what wg turns into strerror)', () => {
    assert.equal(encodeErrno(0), 'errno=0\n\n');
    assert.equal(encodeErrno(98), 'errno=-98\n\n');
  });
});

describe('framing', () => {
  test('whole requests off the front of a stream, incomplete ones wait', () => {
    assert.equal(nextRequest('get=1\n'), null);
    assert.deepEqual(nextRequest('get=1\n\nset=1\n'), { request: { kind: 'get' }, rest: 'set=1\n' });
    assert.equal(nextRequest('set=1\nlisten_port=1\n'), null);
    assert.deepEqual(nextRequest('set=1\nlisten_port=1\nfwmark=2\n\nget'), { request: { kind: 'set', lines: ['listen_port=1', 'fwmark=2'] }, rest: 'get' });
    assert.deepEqual(nextRequest('set=1\n\n'), { request: { kind: 'set', lines: [] }, rest: '' });
    assert.ok('error' in nextRequest('get=2\n\n')!);
    assert.ok('error' in nextRequest('get=1\nx')!);
    assert.ok('error' in nextRequest('x'.repeat(100))!);
  });

  test('a long operation line is refused the same way however the bytes arrive (found by test/fuzz uapi)', () => {
    const line = `${'m'.repeat(80)}\n`;
    // all at once, and the first 65 bytes before the line break has arrived
    assert.deepEqual(nextRequest(line), { error: 'operation line too long' });
    assert.deepEqual(nextRequest(line.slice(0, 65)), { error: 'operation line too long' });
    // 64 bytes and no line break yet: wait for more
    assert.equal(nextRequest('g'.repeat(64)), null);
  });
});

describe("set semantics (wireguard-go's)", () => {
  test('add, update, move allowed IPs, remove, update_only, replace', () => {
    let s = state();
    s = applySetRequest(s, set([`public_key=${hex(3)}`, 'allowed_ip=198.19.0.2/32', 'allowed_ip=198.19.9.0/24', 'endpoint=198.18.0.3:1']));
    assert.equal(s.peers.length, 2);
    assert.deepEqual(s.peers[0]!.allowedIps, ['2001:2::2/128'], 'the /32 moved to the new peer');
    assert.deepEqual(s.peers[1]!.allowedIps, ['198.19.0.2/32', '198.19.9.0/24']);
    s = applySetRequest(s, set([`public_key=${hex(3)}`, 'replace_allowed_ips=true', 'allowed_ip=198.19.8.0/24', `preshared_key=${hex(5)}`]));
    assert.deepEqual(s.peers[1]!.allowedIps, ['198.19.8.0/24']);
    assert.deepEqual(s.peers[1]!.presharedKey, key(5));
    s = applySetRequest(s, set([`public_key=${hex(3)}`, `preshared_key=${'0'.repeat(64)}`]));
    assert.equal(s.peers[1]!.presharedKey, null);
    s = applySetRequest(s, set([`public_key=${hex(6)}`, 'update_only=true', 'allowed_ip=198.19.7.0/24']));
    assert.equal(s.peers.length, 2, 'update_only does not create');
    s = applySetRequest(s, set([`public_key=${hex(2)}`, 'remove=true']));
    assert.deepEqual(s.peers.map((p) => p.publicKey), [key(3)]);
    s = applySetRequest(s, set(['replace_peers=true', `public_key=${hex(8)}`]));
    assert.deepEqual(s.peers.map((p) => p.publicKey), [key(8)]);
    const own = publicKeyOf(s.privateKey!);
    s = applySetRequest(s, set([`public_key=${keyToHex(own)}`, 'allowed_ip=198.19.6.0/24']));
    assert.equal(s.peers.length, 1, 'a peer with our own public key is ignored');
    s = applySetRequest(s, set([`private_key=${'0'.repeat(64)}`, 'listen_port=0', 'fwmark=0']));
    assert.equal(s.privateKey, null);
  });

  test('the input state is not modified', () => {
    const s = state();
    applySetRequest(s, set([`public_key=${hex(2)}`, 'replace_allowed_ips=true']));
    assert.equal(s.peers[0]!.allowedIps.length, 2);
  });
});

describe('server', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'wg-uapi-test-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  function exchange(socketPath: string, request: string, expectReplies: number): Promise<string> {
    return new Promise((resolve, reject) => {
      const sock = net.connect(socketPath);
      let data = '';
      sock.setEncoding('utf8');
      // send in small pieces: the server must reassemble
      sock.on('connect', () => {
        const bytes = Buffer.from(request);
        for (let i = 0; i < bytes.length; i += 7) sock.write(bytes.subarray(i, i + 7));
      });
      sock.on('data', (chunk: string) => {
        data += chunk;
        if (data.split('errno=').length - 1 >= expectReplies && data.endsWith('\n\n')) sock.end();
      });
      sock.on('close', () => resolve(data));
      sock.on('error', reject);
    });
  }

  test('get and set on one connection, in order; modes 0600 and 0700; close removes the socket', async () => {
    let device = state();
    const sockDir = path.join(dir, 'run');
    const server = await UapiServer.listen({
      name: 'wgt0',
      dir: sockDir,
      provider: {
        get: () => device,
        set: (r) => {
          if (r.listenPort === 1) return 98;
          device = applySetRequest(device, r);
          return 0;
        },
      },
    });
    try {
      assert.equal(server.socketPath, path.join(sockDir, 'wgt0.sock'));
      assert.equal(statSync(server.socketPath).mode & 0o777, 0o600);
      assert.equal(statSync(sockDir).mode & 0o777, 0o700);
      const out = await exchange(server.socketPath, `set=1\nlisten_port=4000\n\nget=1\n\nset=1\nlisten_port=1\n\nset=1\nbad\n\n`, 4);
      const replies = out.split('\n\n').filter(Boolean);
      assert.equal(replies[0], 'errno=0');
      assert.ok(replies[1]!.includes('listen_port=4000\n'), 'the set was applied before the get');
      assert.ok(replies[1]!.endsWith('errno=0'));
      assert.equal(replies[2], 'errno=-98');
      assert.equal(replies[3], 'errno=-71');
      assert.equal(device.listenPort, 4000);
    } finally {
      server.close();
    }
    assert.throws(() => statSync(server.socketPath));
  });

  test('an unknown operation closes the connection; a live socket is not taken; a stale one is', async () => {
    const provider = { get: state, set: () => 0 };
    const a = await UapiServer.listen({ name: 'wgt1', dir, provider });
    try {
      assert.equal(await exchange(a.socketPath, 'hello=1\n\n', 1), '');
      await assert.rejects(UapiServer.listen({ name: 'wgt1', dir, provider }), (e: unknown) => e instanceof TundError && /is in use/.test(e.message));
    } finally {
      a.close();
    }
    // a stale socket: a listener that died without unlinking (a child process)
    const stalePath = path.join(dir, 'wgt2.sock');
    const r = spawnSync('python3', ['-c', 'import socket,sys; s=socket.socket(socket.AF_UNIX); s.bind(sys.argv[1]); s.listen(1)', stalePath]);
    assert.equal(r.status, 0);
    const b = await UapiServer.listen({ name: 'wgt2', dir, provider });
    assert.ok((await exchange(b.socketPath, 'get=1\n\n', 1)).includes('errno=0'));
    b.close();
    writeFileSync(path.join(dir, 'wgt3.sock'), 'not a socket');
    await assert.rejects(UapiServer.listen({ name: 'wgt3', dir, provider }), /not a socket/);
  });
});
