// tund.conf(5) parser: every key valid and invalid, all problems at once with line numbers,
// did-you-mean, repeated keys, comments, cross-key checks and warnings.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import path from 'node:path';
import { parseSessionConfig, knownKeys } from '../../core/config/index.js';
import { parseIni } from '../../core/config/ini.js';
import { closest, editDistance } from '../../core/config/suggest.js';
import { parsePrefix } from '../../core/net.js';

const FILE = '/etc/tund/office.conf';
const CLIENT = '[Session]\nRole = client\nEndpoint = 198.18.0.2\n';
const SERVER = '[Session]\nRole = server\n';

function parse(text: string, name = 'office') {
  return parseSessionConfig(text, FILE, name);
}

function ok(text: string, name = 'office') {
  const r = parse(text, name);
  assert.deepEqual(r.problems, [], `unexpected problems: ${r.problems.map((p) => `${p.line}: ${p.message}`).join('; ')}`);
  assert.ok(r.config);
  return r;
}

/** The only problem of `text`, on `line`, matching `re`. */
function problem(text: string, line: number, re: RegExp) {
  const r = parse(text);
  assert.equal(r.config, null, 'expected a failure');
  assert.equal(r.problems.length, 1, `expected one problem, got: ${r.problems.map((p) => `${p.line}: ${p.message}`).join('; ')}`);
  assert.equal(r.problems[0]!.line, line);
  assert.equal(r.problems[0]!.file, FILE);
  assert.match(r.problems[0]!.message, re);
}

describe('ini line parser', () => {
  test('sections, keys, comments, line numbers, CRLF', () => {
    const doc = parseIni('# c\n; c2\n\n[Session]\r\n  Role =  client  \r\nEmpty =\n[ Device ]\nMTU=1400\n');
    assert.deepEqual(doc.problems, []);
    assert.equal(doc.sections.length, 2);
    assert.deepEqual(doc.sections[0], { name: 'Session', line: 4, entries: [{ key: 'Role', value: 'client', line: 5 }, { key: 'Empty', value: '', line: 6 }] });
    assert.deepEqual(doc.sections[1]!.entries, [{ key: 'MTU', value: '1400', line: 8 }]);
    assert.equal(doc.sections[1]!.name, 'Device');
  });
  test('malformed lines are problems with their line', () => {
    const doc = parseIni('[Session\nRole client\n = x\nbad key = 1\n');
    assert.deepEqual(doc.problems.map((p) => p.line), [1, 2, 3, 4]);
  });
  test('a value may contain "=" and "#"', () => {
    const doc = parseIni('[Hooks]\nUp = echo a=b # not a comment\n');
    assert.equal(doc.sections[0]!.entries[0]!.value, 'echo a=b # not a comment');
  });
});

describe('did you mean', () => {
  test('edit distance', () => {
    assert.equal(editDistance('Adress', 'Address'), 1);
    assert.equal(editDistance('MTU', 'mtu'), 0);
    assert.equal(editDistance('Rloe', 'Role'), 1); // transposition
  });
  test('closest only for plausible typos', () => {
    assert.equal(closest('Adress', ['Address', 'Peer']), 'Address');
    assert.equal(closest('Zebra', ['Address', 'Peer']), undefined);
  });
});

describe('defaults', () => {
  test('minimal client', () => {
    const { config, warnings } = ok(CLIENT);
    assert.deepEqual(warnings, []);
    assert.deepEqual(config, {
      name: 'office',
      file: FILE,
      session: {
        protocol: 'vtun', role: 'client', endpoint: { host: '198.18.0.2', port: 5000 }, listen: { host: '0.0.0.0', port: 5000 },
        host: 'office', transport: 'tcp', cipher: 'no', compression: { kind: 'none' }, keepalive: { enabled: false, interval: 30, count: 4 },
        persist: 'no', multi: 'yes', timeout: 30, natHack: false, speed: { out: 0, in: 0 }, sslAuth: true, secretFile: '/etc/tund/office.secret',
        handshakeLimits: { total: 64, perSource: 8 }, explicit: { encrypt: false, compress: false, transport: false, mode: false },
        vpnws: { url: null, path: null, proxy: null, user: null, ca: null, certificate: null, privateKey: null, clientCa: null, ownDevice: false, proxyUser: null, proxySecretFile: '/etc/tund/office.proxy-secret' },
      },
      device: { mode: 'tun', name: 'office', addresses: [], peer: null, mtu: null, multiQueue: false, mac: null, bridge: null, program: null },
      route: { mode: 'none', allowedIps: [], exclude: [], table: 'auto', metric: null, dns: [], dnsDomains: [] },
      hooks: { up: [], down: [] },
    });
  });
  test('minimal server', () => {
    const { config } = ok(SERVER);
    assert.equal(config!.session.role, 'server');
    assert.equal(config!.session.endpoint, null);
    assert.deepEqual(config!.session.listen, { host: '0.0.0.0', port: 5000 });
  });
  test('keys and sections are case-insensitive', () => {
    const { config } = ok('[session]\nROLE = Client\nendpoint = h.example:7\n[DEVICE]\nmtu = 1400\n');
    assert.equal(config!.session.role, 'client');
    assert.deepEqual(config!.session.endpoint, { host: 'h.example', port: 7 });
    assert.equal(config!.device.mtu, 1400);
  });
});

describe('[Session] keys', () => {
  const valid: Array<[string, (c: NonNullable<ReturnType<typeof parse>['config']>) => unknown, unknown]> = [
    ['Protocol = vtun', (c) => c.session.protocol, 'vtun'],
    ['Endpoint = 198.18.0.9:6000', (c) => c.session.endpoint, { host: '198.18.0.9', port: 6000 }],
    ['Endpoint = [2001:2::1]:6000', (c) => c.session.endpoint, { host: '2001:2::1', port: 6000 }],
    ['Endpoint = vpn.example.org', (c) => c.session.endpoint, { host: 'vpn.example.org', port: 5000 }],
    ['Host = Other-Name.1', (c) => c.session.host, 'Other-Name.1'],
    ['Transport = UDP', (c) => c.session.transport, 'udp'],
    ['Encrypt = yes', (c) => c.session.cipher, 'blowfish128ecb'],
    ['Encrypt = no', (c) => c.session.cipher, 'no'],
    ['Encrypt = aes256cfb', (c) => c.session.cipher, 'aes256cfb'],
    ['Encrypt = oldblowfish128ecb', (c) => c.session.cipher, 'oldblowfish128ecb'],
    ['Compress = no', (c) => c.session.compression, { kind: 'none' }],
    ['Compress = yes', (c) => c.session.compression, { kind: 'zlib', level: 1 }],
    ['Compress = zlib', (c) => c.session.compression, { kind: 'zlib', level: 1 }],
    ['Compress = zlib:9', (c) => c.session.compression, { kind: 'zlib', level: 9 }],
    ['Compress = lzo:1', (c) => c.session.compression, { kind: 'lzo', level: 1 }],
    ['Keepalive = yes', (c) => c.session.keepalive, { enabled: true, interval: 30, count: 4 }],
    ['Keepalive = no', (c) => c.session.keepalive, { enabled: false, interval: 30, count: 4 }],
    ['Keepalive = 10:3', (c) => c.session.keepalive, { enabled: true, interval: 10, count: 3 }],
    ['Persist = keep', (c) => c.session.persist, 'keep'],
    ['Persist = yes', (c) => c.session.persist, 'yes'],
    ['Multi = killold', (c) => c.session.multi, 'killold'],
    ['Multi = deny', (c) => c.session.multi, 'no'],
    ['Multi = allow', (c) => c.session.multi, 'yes'],
    ['Timeout = 3600', (c) => c.session.timeout, 3600],
    ['Timeout = 1', (c) => c.session.timeout, 1],
    ['Speed = 0', (c) => c.session.speed, { out: 0, in: 0 }],
    ['Speed = 128', (c) => c.session.speed, { out: 128, in: 128 }],
    ['Speed = 64:128', (c) => c.session.speed, { out: 64, in: 128 }],
    ['SslAuth = no', (c) => c.session.sslAuth, false],
    ['SecretFile = /run/keys/x', (c) => c.session.secretFile, '/run/keys/x'],
    ['SecretFile = keys/x.secret', (c) => c.session.secretFile, '/etc/tund/keys/x.secret'],
  ];
  for (const [line, pick, want] of valid) {
    test(`valid: ${line}`, () => {
      const base = line.startsWith('Endpoint') ? '[Session]\nRole = client\n' : CLIENT;
      const { config } = ok(`${base}${line}\n`);
      assert.deepEqual(pick(config!), want);
    });
  }
  test('valid: Listen forms (server)', () => {
    assert.deepEqual(ok(`${SERVER}Listen = 198.18.0.1:5001\n`).config!.session.listen, { host: '198.18.0.1', port: 5001 });
    assert.deepEqual(ok(`${SERVER}Listen = 6000\n`).config!.session.listen, { host: '0.0.0.0', port: 6000 });
    assert.deepEqual(ok(`${SERVER}Listen = [::]:6000\n`).config!.session.listen, { host: '::', port: 6000 });
  });
  test('valid: NatHack with udp', () => {
    assert.equal(ok(`${CLIENT}Transport = udp\nNatHack = yes\n`).config!.session.natHack, true);
  });

  const invalid: Array<[string, RegExp]> = [
    ['Protocol = wireguard', /^Protocol "wireguard" invalid \(expected vtun/],
    ['Endpoint = 198.18.0.2:70000', /^Endpoint "198\.18\.0\.2:70000" invalid: port "70000" out of range \(1-65535\)/],
    ['Endpoint = bad_host!', /^Endpoint "bad_host!" invalid: .* \(expected HOST\[:PORT\]/],
    ['Host = has space', /^Host "has space" invalid \(expected printable characters without spaces or ":"\)/],
    ['Host = a:b', /^Host "a:b" invalid/],
    [`Host = ${'x'.repeat(42)}`, /is 42 characters long \(expected 1-41 characters\)/],
    ['Transport = sctp', /^Transport "sctp" invalid \(expected tcp\|udp/],
    ['Encrypt = aes128gcm', /^Encrypt "aes128gcm" invalid \(expected no, yes or a cipher: .*did you mean "aes128ecb"\?/],
    ['Compress = lzo', /^Compress "lzo" needs a level \(expected lzo:1-9\)/],
    ['Compress = zlib:10', /^Compress "zlib:10" level "10" out of range \(expected zlib:1-9\)/],
    ['Compress = lz4:1', /^Compress "lz4:1" invalid \(expected no\|zlib:N\|lzo:N with N 1-9/],
    ['Keepalive = 0:4', /^Keepalive "0:4" interval "0" out of range \(expected 1-3600 seconds\)/],
    ['Keepalive = 30:0', /^Keepalive "30:0" count "0" out of range \(expected 1-1000\)/],
    ['Keepalive = often', /^Keepalive "often" invalid \(expected no, yes or INTERVAL:COUNT/],
    ['Persist = always', /^Persist "always" invalid \(expected no\|yes\|keep/],
    ['Multi = killnew', /^Multi "killnew" invalid \(expected yes\|no\|killold; did you mean "killold"\?\)/],
    ['Timeout = 0', /^Timeout "0" out of range \(1-3600\)/],
    ['Timeout = 3601', /^Timeout "3601" out of range \(1-3600\)/],
    ['Timeout = 5s', /^Timeout "5s" is not a whole number \(expected 1-3600\)/],
    ['NatHack = maybe', /^NatHack "maybe" invalid \(expected yes\|no/],
    ['Speed = fast', /^Speed "fast" is not a whole number \(expected KBITS or OUT:IN, 0-10000000 kbit\/s\)/],
    ['Speed = 1:2:3', /^Speed "1:2:3" invalid/],
    ['Speed = 99999999', /^Speed "99999999" out of range \(expected 0-10000000 kbit\/s\)/],
    ['SslAuth = perhaps', /^SslAuth "perhaps" invalid \(expected yes\|no/],
    ['SecretFile =', /^SecretFile has an empty value/],
  ];
  for (const [line, re] of invalid) {
    test(`invalid: ${line}`, () => {
      if (line.startsWith('Endpoint')) problem(`[Session]\nRole = client\n${line}\n`, 3, re);
      else problem(`${CLIENT}${line}\n`, 4, re);
    });
  }
  test('invalid: Listen must be an IP address', () => problem(`${SERVER}Listen = vpn.example:5000\n`, 3, /^Listen "vpn\.example:5000" invalid: "vpn\.example" is not an IP address/));
  test('invalid: Listen port', () => problem(`${SERVER}Listen = 70000\n`, 3, /^Listen "70000" port out of range \(expected 1-65535\)/));
  test('Role missing / invalid', () => {
    problem('[Session]\nTransport = tcp\n', 1, /^missing Role in \[Session\] \(expected client or server\)/);
    problem('[Session]\nRole = cliemt\n', 2, /^Role "cliemt" invalid \(expected client\|server; did you mean "client"\?\)/);
  });
  test('no [Session] section', () => {
    const r = parse('[Device]\nMTU = 1400\n');
    assert.equal(r.problems.length, 1);
    assert.equal(r.problems[0]!.line, 0);
    assert.match(r.problems[0]!.message, /^no \[Session\] section/);
  });
  test('Endpoint required for a client', () => problem('[Session]\nRole = client\n', 2, /^Role = client needs an Endpoint/));
  test('Endpoint for a server and Listen for a client are warnings', () => {
    assert.match(ok(`${SERVER}Endpoint = 198.18.0.2\n`).warnings[0]!.message, /^Endpoint is only used by Role = client/);
    assert.match(ok(`${CLIENT}Listen = 0.0.0.0:5000\n`).warnings[0]!.message, /^Listen is only used by Role = server/);
  });
  test('NatHack only with udp', () => problem(`${CLIENT}NatHack = yes\n`, 4, /^NatHack = yes needs Transport = udp \(the transport is tcp\)/));
});

describe('[Device] keys', () => {
  test('valid keys', () => {
    const { config } = ok(`${CLIENT}[Device]\nMode = ether\nName = lab0\nAddress = 198.19.0.1/24, 2001:2::1/64\nAddress = 198.19.9.9\nMTU = 576\nMultiQueue = yes\n`);
    assert.deepEqual(config!.device, { mode: 'tap', name: 'lab0', addresses: ['198.19.0.1/24', '2001:2::1/64', '198.19.9.9/32'], peer: null, mtu: 576, multiQueue: true, mac: null, bridge: null, program: null });
  });
  test('tun with Peer; host bits in Address are fine (no warning)', () => {
    const r = ok(`${CLIENT}[Device]\nMode = tun\nAddress = 198.19.0.1/24\nPeer = 198.19.0.2\nMTU = 65535\n`);
    assert.deepEqual(r.warnings, []);
    assert.equal(r.config!.device.peer, '198.19.0.2');
  });
  test('pipe and tty need a Program', () => {
    const pipe = ok(`${CLIENT}[Device]\nMode = pipe\nProgram = tar xf -\n`);
    assert.equal(pipe.config!.device.program, 'tar xf -');
    assert.deepEqual(pipe.warnings, []);
    assert.equal(ok(`${CLIENT}[Device]\nMode = tty\nProgram = /usr/sbin/pppd nodetach\n`).config!.device.mode, 'tty');
    problem(`${CLIENT}[Device]\nMode = pipe\n`, 5, /^Mode = pipe needs a Program in \[Device\]/);
    problem(`${CLIENT}[Device]\nProgram = cat\n`, 5, /^Program is only used with Mode = pipe or tty \(the mode is tun\)/);
  });
  test('MAC and Bridge of a tap (lower-cased), applied by the session', () => {
    const r = ok(`${CLIENT}[Device]\nMode = tap\nMAC = 02:00:5E:10:00:01\nBridge = br0\n`);
    assert.equal(r.config!.device.mac, '02:00:5e:10:00:01');
    assert.equal(r.config!.device.bridge, 'br0');
    assert.deepEqual(r.warnings, []);
    assert.equal(ok(`${CLIENT}[Device]\nMode = ether\n`).config!.device.mac, null);
  });
  test('MAC and Bridge need Mode = tap', () => {
    problem(`${CLIENT}[Device]\nMAC = 02:00:5e:10:00:01\n`, 5, /^MAC needs Mode = tap \(the mode is tun, which carries IP packets, not Ethernet frames\)/);
    problem(`${CLIENT}[Device]\nMode = pipe\nProgram = cat\nBridge = br0\n`, 7, /^Bridge needs Mode = tap \(the mode is pipe\)/);
  });
  test('did you mean: Mac spelled otherwise, Brige', () => {
    assert.equal(ok(`${CLIENT}[Device]\nMode = tap\nmac = 02:00:5e:10:00:01\n`).config!.device.mac, '02:00:5e:10:00:01');
    problem(`${CLIENT}[Device]\nMode = tap\nBrige = br0\n`, 6, /^unknown key "Brige" in \[Device\] \(did you mean "Bridge"\?\)/);
  });
  test('Peer only for tun, and needs an Address', () => {
    problem(`${CLIENT}[Device]\nMode = tap\nAddress = 198.19.0.1/24\nPeer = 198.19.0.2\n`, 7, /^Peer is only used with Mode = tun \(the mode is tap\)/);
    problem(`${CLIENT}[Device]\nPeer = 198.19.0.2\n`, 5, /^Peer needs an Address/);
  });
  test('no network settings on pipe/tty', () => {
    const r = parse(`${CLIENT}[Device]\nMode = tty\nProgram = x\nAddress = 198.19.0.1/24\nMTU = 1400\n[Route]\nMode = split\nAllowedIPs = 198.18.0.0/15\n`);
    assert.deepEqual(r.problems.map((p) => p.line), [7, 8, 10]);
    assert.match(r.problems[0]!.message, /^Address needs a network device \(the mode is tty/);
  });
  const invalid: Array<[string, RegExp]> = [
    ['Mode = tunnel', /^Mode "tunnel" invalid \(expected tun\|tap\|ether\|pipe\|tty; did you mean "tun"\?\)/],
    ['Name = this-name-is-too-long', /^Name "this-name-is-too-long" is 21 characters long \(expected 1-15\)/],
    ['Name = a/b', /^Name "a\/b" has characters other than/],
    ['Address = 198.19.0.1/33', /^Address "198\.19\.0\.1\/33" invalid: prefix length "33" out of range \(0-32\)/],
    ['Address = office', /^Address "office" invalid: "office" is not an IPv4 or IPv6 address/],
    ['Address = 198.19.0.1\nPeer = 198.19.0.2/32', /^Peer "198\.19\.0\.2\/32" is not an IP address \(expected an address such as 198\.18\.0\.2, without prefix length\)/],
    ['MTU = 575', /^MTU "575" out of range \(576-65535\)/],
    ['MTU = 90000', /^MTU "90000" out of range \(576-65535\)/],
    ['MultiQueue = 2', /^MultiQueue "2" invalid \(expected yes\|no/],
    ['Mode = tap\nMAC = 01:00:5e:00:00:01', /^MAC "01:00:5e:00:00:01" is a multicast address \(its first octet is odd\) \(expected a unicast Ethernet address such as 02:00:5e:10:00:01\)/],
    ['Mode = tap\nMAC = 00:00:00:00:00:00', /^MAC "00:00:00:00:00:00" is the zero address \(expected a unicast/],
    ['Mode = tap\nMAC = 02:00:5e:10:00', /^MAC "02:00:5e:10:00" is not an Ethernet address \(six hex pairs separated by ":"\)/],
    ['Mode = tap\nBridge = bridge/0', /^Bridge "bridge\/0" has characters other than/],
  ];
  for (const [line, re] of invalid) {
    test(`invalid: ${line}`, () => problem(`${CLIENT}[Device]\n${line}\n`, 4 + line.split('\n').length, re));
  }
});

describe('[Route] keys', () => {
  test('valid keys, comma lists and repeats accumulate', () => {
    const r = ok(`${CLIENT}[Device]\nAddress = 198.19.0.1/24\n[Route]\nMode = split\nAllowedIPs = 198.18.0.0/16, 198.19.0.0/16\nAllowedIPs = 2001:2::/48\nTable = 51820\nMetric = 10\nDNS = 198.18.0.53, 2001:2::53\nDNSDomains = corp.example, ~lab.example\nDNSDomains = ~.\n`);
    assert.deepEqual(r.config!.route, {
      mode: 'split', allowedIps: ['198.18.0.0/16', '198.19.0.0/16', '2001:2::/48'], exclude: [], table: 51820, metric: 10,
      dns: ['198.18.0.53', '2001:2::53'], dnsDomains: ['corp.example', '~lab.example', '~.'],
    });
    assert.deepEqual(r.warnings, []);
  });
  test('full with Exclude, Table auto/off', () => {
    const r = ok(`${CLIENT}[Route]\nMode = full\nExclude = 198.18.5.0/24\nTable = off\n`);
    assert.equal(r.config!.route.mode, 'full');
    assert.deepEqual(r.config!.route.exclude, ['198.18.5.0/24']);
    assert.equal(r.config!.route.table, 'off');
  });
  test('host bits in a route prefix: warning, network used', () => {
    const r = ok(`${CLIENT}[Route]\nMode = split\nAllowedIPs = 198.18.3.7/16\nAllowedIPs = 2001:2::1/48\n`);
    assert.deepEqual(r.config!.route.allowedIps, ['198.18.0.0/16', '2001:2::/48']);
    assert.equal(r.warnings.length, 2);
    assert.equal(r.warnings[0]!.line, 6);
    assert.match(r.warnings[0]!.message, /^AllowedIPs "198\.18\.3\.7\/16" has host bits set \(using 198\.18\.0\.0\/16\)/);
  });
  test('AllowedIPs without split, Exclude without full: warnings', () => {
    const r = ok(`${CLIENT}[Route]\nAllowedIPs = 198.18.0.0/16\nExclude = 198.19.0.0/16\n`);
    assert.deepEqual(r.warnings.map((w) => w.line), [5, 6]);
  });
  test('split needs AllowedIPs', () => problem(`${CLIENT}[Route]\nMode = split\n`, 5, /^Mode = split needs AllowedIPs/));
  const invalid: Array<[string, RegExp]> = [
    ['Mode = partial', /^Mode "partial" invalid \(expected none\|split\|full/],
    ['AllowedIPs = 198.18.0.0/16,', /^AllowedIPs has an empty value in its list/],
    ['AllowedIPs = 198.18.0.0/15/8', /^AllowedIPs "198\.18\.0\.0\/15\/8" invalid/],
    ['Exclude = nowhere', /^Exclude "nowhere" invalid/],
    ['Table = 254', /^Table "254" out of range \(expected 1-252 or 256-4294967294/],
    ['Table = main', /^Table "main" invalid \(expected auto\|off\|N/],
    ['Metric = -1', /^Metric "-1" is not a whole number \(expected 0-4294967295\)/],
    ['DNS = 198.18.0.0/24', /^DNS "198\.18\.0\.0\/24" is not an IP address/],
    ['DNSDomains = bad_domain', /^DNSDomains "bad_domain" is not a domain name/],
  ];
  for (const [line, re] of invalid) {
    test(`invalid: ${line}`, () => problem(`${CLIENT}[Route]\n${line}\n`, 5, re));
  }
});

describe('[Hooks] keys', () => {
  test('Up and Down repeat and keep order', () => {
    const { config } = ok(`${CLIENT}[Hooks]\nUp = echo 1\nDown = echo 3\nUp = echo "$TUND_DEVICE" # 2\n`);
    assert.deepEqual(config!.hooks, { up: ['echo 1', 'echo "$TUND_DEVICE" # 2'], down: ['echo 3'] });
  });
  test('empty hook', () => problem(`${CLIENT}[Hooks]\nUp =\n`, 5, /^Up has an empty value/));
});

describe('structure problems', () => {
  test('unknown key with did you mean (same section / other section)', () => {
    problem(`${CLIENT}[Device]\nAdress = 198.19.0.1/24\n`, 5, /^unknown key "Adress" in \[Device\] \(did you mean "Address"\?\)/);
    problem(`${CLIENT}Adress = 198.19.0.1/24\n`, 4, /^unknown key "Adress" in \[Session\] \(did you mean "Address" in \[Device\]\?\)/);
    problem(`${CLIENT}Zzyzx = 1\n`, 4, /^unknown key "Zzyzx" in \[Session\] \(expected one of Protocol, Role, Endpoint/);
  });
  test('a known key in the wrong section', () => problem(`${CLIENT}MTU = 1400\n`, 4, /^key "MTU" does not belong in \[Session\] \(it is a \[Device\] key\)/));
  test('unknown section with did you mean', () => problem(`${CLIENT}[Rout]\nMode = split\n`, 4, /^unknown section \[Rout\] \(did you mean \[Route\]\?\)/));
  test('key before any section', () => {
    const r = parse(`MTU = 1400\n${CLIENT}`);
    assert.equal(r.problems[0]!.line, 1);
    assert.match(r.problems[0]!.message, /^key "MTU" outside of a section \(expected it under \[Device\]\)/);
  });
  test('a key set twice is a problem naming the first line', () => problem(`${CLIENT}Timeout = 5\nTimeout = 6\n`, 5, /^Timeout set twice \(first at line 4;/));
  test('a key set twice is reported even when the first value was bad', () => {
    const r = parse(`${CLIENT}Timeout = x\nTimeout = 6\n`);
    assert.deepEqual(r.problems.map((p) => p.line), [4, 5]);
  });
  test('repeated sections merge', () => {
    const { config } = ok(`${CLIENT}[Device]\nMTU = 1400\n[Session]\nTransport = udp\n[Device]\nAddress = 198.19.0.1/24\n`);
    assert.equal(config!.session.transport, 'udp');
    assert.equal(config!.device.mtu, 1400);
    assert.deepEqual(config!.device.addresses, ['198.19.0.1/24']);
  });
  test('inline comments after whitespace, except in commands (kept whole for /bin/sh)', () => {
    const { config } = ok(`${CLIENT}Host = office   # the VTun name\n[Device]\nMTU = 1400 # small\nAddress = 198.19.0.1/24, 198.19.1.1/24 # two\n[Hooks]\nUp = echo 'a # b' # c\n`);
    assert.equal(config!.session.host, 'office');
    assert.equal(config!.device.mtu, 1400);
    assert.deepEqual(config!.device.addresses, ['198.19.0.1/24', '198.19.1.1/24']);
    assert.deepEqual(config!.hooks.up, ["echo 'a # b' # c"]);
    problem(`${CLIENT}[Device]\nMTU = 1400#small\n`, 5, /^MTU "1400#small" is not a whole number/);
    problem(`${CLIENT}[Device]\nMTU = # none\n`, 5, /^MTU has an empty value/);
  });
  test('full-line comments and blank lines anywhere', () => {
    ok(`# top\n\n[Session]\n  # indented\n; semicolon\nRole = server\n\n`);
  });
  test('an invalid session name is a problem of the whole file', () => {
    const r = parse(SERVER, 'name-that-is-too-long');
    assert.equal(r.problems[0]!.line, 0);
    assert.match(r.problems[0]!.message, /^session name "name-that-is-too-long" is 21 characters long/);
  });
});

describe('all problems at once', () => {
  test('every problem, sorted by line, config null, warnings kept', () => {
    const text = [
      '[Sesion]', //                           1 unknown section
      'Role = client',
      '[Session]', //                          3
      'Role = clinet', //                      4 bad enum
      'Endpoint = 198.18.0.2:0', //            5 port
      'Timeout = 0', //                        6 range
      'Compress = zlib:1', //                  7
      'Transport = udp', //                    8 (zlib over udp: warning)
      '[Device]', //                           9
      'MTU = 90000', //                        10 range
      'Adress = 198.19.0.1', //                11 unknown key
      '[Route]', //                            12
      'Mode = split',
      'AllowedIPs = 198.18.0.1/24', //         14 host bits: warning
      'Table = main', //                       15 bad
    ].join('\n');
    const r = parse(text);
    assert.equal(r.config, null);
    assert.deepEqual(r.problems.map((p) => p.line), [1, 4, 5, 6, 10, 11, 15]);
    assert.deepEqual(r.warnings.map((w) => w.line), [7, 14]);
    assert.match(r.problems[4]!.message, /^MTU "90000" out of range \(576-65535\)$/);
    assert.match(r.problems[5]!.message, /^unknown key "Adress" in \[Device\] \(did you mean "Address"\?\)$/);
  });
});

describe('VTun warnings', () => {
  test('zlib over udp', () => {
    const r = ok(`${CLIENT}Transport = udp\nCompress = zlib:3\n`);
    assert.equal(r.warnings.length, 1);
    assert.equal(r.warnings[0]!.line, 5);
    assert.match(r.warnings[0]!.message, /zlib compression over udp is fragile/);
    assert.deepEqual(ok(`${CLIENT}Transport = udp\nCompress = lzo:3\n`).warnings, []);
    assert.deepEqual(ok(`${CLIENT}Transport = tcp\nCompress = zlib:3\n`).warnings, []);
  });
  for (const c of ['blowfish128cbc', 'blowfish128cfb', 'blowfish128ofb', 'blowfish256cbc', 'blowfish256cfb', 'blowfish256ofb']) {
    test(`broken cipher ${c}`, () => {
      const r = ok(`${CLIENT}Encrypt = ${c}\n`);
      assert.match(r.warnings[0]!.message, /does not work with vtund on 64-bit systems/);
    });
  }
  for (const c of ['yes', 'blowfish128ecb', 'blowfish256ecb']) {
    test(`legacy provider cipher ${c}`, () => {
      const r = ok(`${CLIENT}Encrypt = ${c}\n`);
      assert.equal(r.warnings.length, 1);
      assert.match(r.warnings[0]!.message, /needs the OpenSSL legacy provider/);
    });
  }
  for (const c of ['no', 'oldblowfish128ecb', 'aes128ecb', 'aes256ofb']) {
    test(`no warning for ${c}`, () => assert.deepEqual(ok(`${CLIENT}Encrypt = ${c}\n`).warnings, []));
  }
});

describe('helpers', () => {
  test('knownKeys lists every documented key', () => {
    const k = knownKeys();
    assert.deepEqual(Object.keys(k), ['Session', 'Device', 'Route', 'Hooks']);
    assert.ok(k.Session!.includes('SecretFile'));
    assert.ok(k.Route!.includes('DNSDomains'));
  });
  test('the network of a prefix (core/net.ts parsePrefix)', () => {
    const network = (text: string) => {
      const p = parsePrefix(text);
      assert.ok(p.ok, text);
      return p.network;
    };
    assert.equal(network('198.18.3.7/16'), '198.18.0.0');
    assert.equal(network('198.18.3.7/0'), '0.0.0.0');
    assert.equal(network('2001:2:0:1:2::1/64'), '2001:2:0:1::');
    assert.equal(network('fe80::1/10'), 'fe80::');
    assert.equal(network('::ffff:198.18.0.1/128'), '::ffff:c612:1');
  });
});

describe('MaxHandshakes, MaxHandshakesPerSource', () => {
  test('defaults and values', () => {
    assert.deepEqual(ok(SERVER).config!.session.handshakeLimits, { total: 64, perSource: 8 });
    assert.deepEqual(ok(`${SERVER}MaxHandshakes = 100\nMaxHandshakesPerSource = 2\n`).config!.session.handshakeLimits, { total: 100, perSource: 2 });
  });
  test('range, and per source no more than overall', () => {
    problem(`${SERVER}MaxHandshakes = 0\n`, 3, /^MaxHandshakes "0"/);
    problem(`${SERVER}MaxHandshakesPerSource = 70000\n`, 3, /^MaxHandshakesPerSource "70000"/);
    problem(`${SERVER}MaxHandshakes = 4\nMaxHandshakesPerSource = 5\n`, 4, /MaxHandshakesPerSource \(5\) is more than MaxHandshakes \(4\)/);
  });
  test('a client gets a warning', () => {
    assert.match(ok(`${CLIENT}MaxHandshakes = 4\n`).warnings[0]!.message, /only used by Role = server/);
  });
});

describe('Protocol = vpn-ws', () => {
  const VC = '[Session]\nProtocol = vpn-ws\nRole = client\n';
  const VS = '[Session]\nProtocol = vpn-ws\nRole = server\nListen = 198.18.0.1:8080\n';
  test('a client: the URL, proxy, user, CA and client certificate (relative to the file); a tap by default', () => {
    const r = ok(`${VC}Endpoint = wss://hub.example:8443/vpn\nProxy = http://198.18.0.8:3128\nUser = alice\nCA = ca.pem\nCertificate = c.pem\nPrivateKey = /k/c.key\n`);
    assert.deepEqual(r.warnings, []);
    const v = r.config!.session.vpnws;
    assert.equal(r.config!.session.protocol, 'vpn-ws');
    assert.equal(v.url!.hostHeader, 'hub.example:8443');
    assert.equal(v.url!.path, '/vpn');
    assert.deepEqual(r.config!.session.endpoint, { host: 'hub.example', port: 8443 });
    assert.deepEqual(v.proxy, { host: '198.18.0.8', port: 3128 });
    assert.equal(v.user, 'alice');
    assert.equal(v.ca, '/etc/tund/ca.pem');
    assert.equal(v.certificate, '/etc/tund/c.pem');
    assert.equal(v.privateKey, '/k/c.key');
    assert.equal(r.config!.device.mode, 'tap');
  });
  test('a hub: Path, TLS, ClientCA; its own TAP only with a [Device] section', () => {
    const plain = ok(`${VS}Path = /vpn\n`);
    assert.equal(plain.config!.session.vpnws.path, '/vpn');
    assert.equal(plain.config!.session.vpnws.ownDevice, false);
    const tls = ok(`${VS}Certificate = /h.pem\nPrivateKey = /h.key\nClientCA = /ca.pem\n[Device]\nBridge = br0\n`);
    assert.equal(tls.config!.session.vpnws.clientCa, '/ca.pem');
    assert.equal(tls.config!.session.vpnws.ownDevice, true);
    assert.equal(tls.config!.device.bridge, 'br0');
  });
  test('problems, all at once, with their lines', () => {
    problem(`${VC}Endpoint = 198.18.0.2:80\n`, 4, /^Protocol = vpn-ws needs a ws:\/\/ or wss:\/\/ URL as Endpoint/);
    problem(`[Session]\nRole = client\nEndpoint = ws://h/\n`, 3, /^a ws:\/\/ Endpoint needs Protocol = vpn-ws/);
    problem(`${VC}Endpoint = wss://u:p@h/\n`, 4, /credentials in it/);
    problem(`${VC}Endpoint = ws://h/\nEncrypt = aes128cbc\n`, 5, /^Encrypt is a VTun key; Protocol = vpn-ws does not use it/);
    problem(`${VC}Endpoint = ws://h/\nKeepalive = no\n`, 5, /^Protocol = vpn-ws always pings a silent hub/);
    problem(`${VC}Endpoint = ws://h/\nProxyUser = carol\n`, 5, /^ProxyUser needs Proxy = http/);
    problem(`${VC}Endpoint = ws://h/\nProxy = http://198.18.0.8:3128\nProxySecretFile = p\n`, 6, /^ProxySecretFile needs ProxyUser/);
    problem(`${VC}Endpoint = ws://h/\nProxy = http://198.18.0.8:3128\nProxyUser = a:b\n`, 6, /is not a user name for HTTP basic auth/);
    const proxied = ok(`${VC}Endpoint = ws://h/\nProxy = http://198.18.0.8:3128\nProxyUser = carol\n`, 'office').config!.session.vpnws;
    assert.equal(proxied.proxyUser, 'carol');
    assert.equal(proxied.proxySecretFile, path.join(path.dirname(path.resolve(FILE)), 'office.proxy-secret'));
    assert.deepEqual(ok(`${VC}Endpoint = ws://h/\nKeepalive = 5:2\n`).config!.session.keepalive, { enabled: true, interval: 5, count: 2 });
    problem(`${VC}Endpoint = ws://h/\n[Device]\nMode = tun\n`, 6, /^Protocol = vpn-ws carries Ethernet frames: it needs Mode = tap/);
    problem(`${VS}Certificate = /h.pem\n`, 5, /^Certificate and PrivateKey go together/);
    problem(`${VS}ClientCA = /ca.pem\n`, 5, /^ClientCA needs Certificate and PrivateKey/);
    problem(`${VS}Path = vpn\n`, 5, /is not a request path/);
    problem(`${VC}Endpoint = ws://h/\nUser = a:b\n`, 5, /is not a user name/);
    problem(`[Session]\nRole = client\nEndpoint = 198.18.0.2\nPath = /vpn\n`, 4, /^Path is only used with Protocol = vpn-ws/);
    problem(`${VC}Endpoint = ws://h/\nProxy = https://p:1\n`, 5, /only http:\/\/ proxies/);
  });
  test('keys of the other role are warnings', () => {
    const r = ok(`${VC}Endpoint = ws://h/\nPath = /vpn\nCA = /ca.pem\n`);
    assert.deepEqual(r.warnings.map((w) => w.line), [5, 6]);
    assert.match(r.warnings[0]!.message, /^Path is only used by Role = server/);
    assert.match(r.warnings[1]!.message, /^CA is only used with a wss:\/\/ Endpoint/);
  });
});
