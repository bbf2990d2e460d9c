// vtund.conf reader (lexer rules of docs/vtun-protocol.md §12.1, options/default/sessions) and the conversion to
// tund.conf on realistic fixtures; every converted file must pass tund's own parser.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { parseSessionConfig } from '../../core/config/index.js';
import { importVtundConf, writeImportedSession, type ImportedSession } from '../../core/vtun/import.js';
import { parseVtundConf, parseVtundSyntax, splitVtundArgs } from '../../core/vtun/vtund-conf.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const FIXTURES = path.join(ROOT, 'test', 'fixtures', 'vtund');
const fixture = (name: string) => readFileSync(path.join(FIXTURES, name), 'utf8');

function session(list: ImportedSession[], name: string): ImportedSession {
  const s = list.find((x) => x.name === name);
  assert.ok(s, `no session ${name}`);
  return s;
}

describe('vtund.conf lexer and syntax', () => {
  test('comments only where a keyword is expected; "#" inside a value is part of it', () => {
    const { sections, problems } = parseVtundSyntax('# top\nx { # c\n  passwd a#b; # c2\n  device tun0;\n}\n');
    assert.deepEqual(problems, []);
    assert.equal(sections.length, 1);
    assert.deepEqual(sections[0]!.statements.map((s) => [s.keyword, s.values.map((v) => v.text), s.line]), [
      ['passwd', ['a#b'], 3],
      ['device', ['tun0'], 4],
    ]);
  });
  test('a quoted string ends at the quote that can end a value; quotes inside it stay', () => {
    const { sections, warnings } = parseVtundSyntax('x {\n up {\n  program "echo "hi" there";\n  program /bin/echo "a "b"" wait;\n };\n}\n');
    const up = sections[0]!.statements[0]!;
    assert.equal(up.keyword, 'up');
    assert.deepEqual(up.block![0]!.values, [{ text: 'echo "hi" there', quoted: true, line: 3 }]);
    assert.deepEqual(up.block![1]!.values.map((v) => v.text), ['/bin/echo', 'a "b"', 'wait']);
    assert.deepEqual(warnings, []);
  });
  test('statements that share a line are separate statements (tokens and ";", not lines)', () => {
    const { sections, problems, warnings } = parseVtundSyntax('x { up { ip "addr add 198.19.0.1 peer 198.19.0.2 dev %%"; ip "link set %% up"; }; passwd p; }\n');
    assert.deepEqual(problems, []);
    const st = sections[0]!.statements;
    assert.deepEqual(st.map((x) => x.keyword), ['up', 'passwd']);
    assert.deepEqual(st[0]!.block!.map((c) => [c.keyword, c.values.map((v) => v.text)]), [
      ['ip', ['addr add 198.19.0.1 peer 198.19.0.2 dev %%']],
      ['ip', ['link set %% up']],
    ]);
    // vtund 3.0.4 itself would read both strings as one: the import says so
    assert.equal(warnings.length, 1);
    assert.equal(warnings[0]!.line, 1);
    assert.match(warnings[0]!.message, /^vtund 3\.0\.4 reads the quoted strings on this line as one/);
  });
  test('values may continue on the next line; line numbers stay right', () => {
    const { sections } = parseVtundSyntax('x {\n  program /bin/true\n   "a b"\n   wait;\n  passwd p;\n}\n');
    const st = sections[0]!.statements;
    assert.deepEqual(st[0]!.values.map((v) => [v.text, v.line]), [['/bin/true', 2], ['a b', 3], ['wait', 4]]);
    assert.equal(st[1]!.line, 5);
  });
  test('syntax problems carry their line', () => {
    const r = parseVtundSyntax('x {\n  type tun\n}\ny {\n  ip "unterminated;\n};\n');
    assert.deepEqual(r.problems.map((p) => p.line), [3, 5, 6]);
    assert.match(r.problems[0]!.message, /^missing ";" after "type" \(line 2\)/);
    assert.match(r.problems[1]!.message, /^unterminated string/);
  });
  test('a missing closing brace is reported at the opening line', () => {
    const r = parseVtundSyntax('x {\n  passwd p;\n');
    assert.deepEqual(r.problems, [{ line: 1, message: 'missing "}" for section "x" opened here' }]);
  });
  test('argument splitting: spaces, single quotes, backslash', () => {
    assert.deepEqual(splitVtundArgs("-c 'tar cf - /etc/*'"), ['-c', 'tar cf - /etc/*']);
    assert.deepEqual(splitVtundArgs('a\\ b  c'), ['a b', 'c']);
    assert.deepEqual(splitVtundArgs("''"), ['']);
    assert.deepEqual(splitVtundArgs('  '), []);
  });
});

describe('vtund.conf semantics', () => {
  test('options: port, bindaddr, program paths', () => {
    const c = parseVtundConf('options { port 5001; bindaddr { addr 198.18.0.1; }; ip /usr/bin/ip; ifconfig /usr/sbin/ifconfig; timeout 9; }\n');
    assert.deepEqual(c.problems, []);
    assert.equal(c.options.port!.value, '5001');
    assert.deepEqual(c.options.bindAddr, { kind: 'addr', value: '198.18.0.1', line: 1 });
    assert.equal(c.options.programs.ip, '/usr/bin/ip');
    assert.equal(c.options.programs.ifconfig, '/usr/sbin/ifconfig');
    assert.equal(c.options.programs.route, '/sbin/route');
    assert.equal(c.options.timeout!.value, '9');
  });
  test('default {} applies to later sessions only; passwd is never inherited; own up {} replaces', () => {
    const c = parseVtundConf([
      'early { passwd e; }',
      'default { compress lzo:1; passwd inherited; up { ip "link set %d up"; }; }',
      'late { passwd l; }',
      'own { passwd o; compress no; up { ip "link set %d mtu 1400"; }; }',
      'nopw { type tun; }',
    ].join('\n'));
    assert.deepEqual(c.problems, []);
    assert.deepEqual(c.sessions.map((s) => s.name), ['early', 'late', 'own']);
    const [early, late, own] = c.sessions;
    assert.equal(early!.settings.get('compress'), undefined);
    assert.deepEqual(late!.settings.get('compress'), { value: 'lzo:1', line: 2 });
    assert.equal(late!.password, 'l');
    assert.equal(late!.up[0]!.args, 'link set %d up');
    assert.equal(own!.settings.get('compress')!.value, 'no');
    assert.deepEqual(own!.up.map((u) => u.args), ['link set %d mtu 1400']);
    assert.deepEqual(c.warnings, [{ line: 5, message: 'session "nopw" has no passwd; ignored (vtund ignores it too)' }]);
  });
  test('two quoted strings on one line are two commands (vtund 3.0.4 would glue them: a warning says so)', () => {
    const c = parseVtundConf('s { passwd p; up { program /sbin/x "a" wait; program "b"; };\n}');
    assert.deepEqual(c.problems, []);
    assert.deepEqual(c.sessions[0]!.up.map((u) => [u.path, u.args, u.wait]), [['/sbin/x', 'a', true], [null, 'b', false]]);
    assert.deepEqual(c.warnings.map((w) => w.line), [1]);
  });
  test('aliases: password, delay_udp, ifcfg', () => {
    const c = parseVtundConf('s { password p; delay_udp client; up { ifcfg "%d 198.19.0.1"; }; }');
    assert.deepEqual(c.problems, []);
    assert.equal(c.sessions[0]!.password, 'p');
    assert.equal(c.sessions[0]!.settings.get('nat_hack')!.value, 'client');
    assert.equal(c.sessions[0]!.up[0]!.kind, 'ifconfig');
  });
  test('program: path, args, wait; shell form without a path', () => {
    const c = parseVtundConf('s { passwd p; up {\n program /sbin/x "a b" wait;\n program "echo %d";\n ppp "noauth";\n }; }');
    assert.deepEqual(c.sessions[0]!.up.map((u) => [u.kind, u.path, u.args, u.wait]), [
      ['program', '/sbin/x', 'a b', true],
      ['program', null, 'echo %d', false],
      ['ppp', null, 'noauth', false],
    ]);
  });
  test('problems vtund would also refuse, all at once with lines', () => {
    const c = parseVtundConf(fixture('broken.conf'));
    assert.deepEqual(c.problems.map((p) => p.line), [3, 7, 9, 10, 16, 16, 17]);
    assert.match(c.problems[0]!.message, /unknown keyword "persist" in options \(vtund does not accept persist here/);
    assert.match(c.problems[1]!.message, /unknown keyword "comp" in session "one" \(vtund does not accept abbreviations; write "compress"\)/);
    assert.match(c.problems[3]!.message, /a session may not be named "speed" \(it is a vtund keyword\)/);
  });
  test('a carriage return inside a quoted command is an error of that session, not an exception (fuzz finding)', () => {
    const text = 'cr {\n  passwd a;\n  type tun;\n  up {\n    ip "link set %d\r up";\n  };\n}\nok {\n  passwd b;\n  type tun;\n}\n';
    const r = importVtundConf(text, { file: 'cr.conf' });
    const cr = session(r.sessions, 'cr');
    assert.equal(cr.conf, null);
    assert.ok(cr.errors.some((e) => e.line === 1 && /\[Hooks\] Up would contain a line break \(".*\\r.*"\), which tund\.conf cannot hold/.test(e.message)), JSON.stringify(cr.errors));
    assert.ok(session(r.sessions, 'ok').conf, 'the other session is still converted');
  });
  test('a session defined twice: the first wins', () => {
    const c = parseVtundConf('a { passwd 1; }\na { passwd 2; }\n');
    assert.equal(c.sessions.length, 1);
    assert.equal(c.sessions[0]!.password, '1');
    assert.match(c.warnings[0]!.message, /defined again \(first at line 1\)/);
  });
});

describe('import: server-site.conf (servers)', () => {
  const r = importVtundConf(fixture('server-site.conf'), { file: 'server-site.conf' });
  test('file-level result', () => {
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.sessions.map((s) => s.name), ['branch', 'lab', 'kiosk', 'backup']);
    assert.deepEqual(r.warnings.map((w) => w.line), [90, 96]);
    for (const s of r.sessions) assert.deepEqual(s.errors, [], `${s.name}: ${JSON.stringify(s.errors)}`);
  });
  test('branch: ip addr/peer, link mtu, route -> split, default {} applied', () => {
    const s = session(r.sessions, 'branch');
    const c = s.config!;
    assert.equal(s.secret, 'Br4nch&^pw');
    assert.deepEqual(c.session.listen, { host: '198.18.0.1', port: 5000 });
    assert.equal(c.session.role, 'server');
    assert.equal(c.session.transport, 'udp');
    assert.deepEqual(c.session.compression, { kind: 'lzo', level: 9 });
    assert.equal(c.session.cipher, 'aes128cbc');
    assert.deepEqual(c.session.keepalive, { enabled: true, interval: 10, count: 3 });
    assert.equal(c.session.multi, 'killold');
    assert.equal(c.session.timeout, 60);
    assert.deepEqual(c.device, { mode: 'tun', name: 'branch', addresses: ['198.19.1.1/32'], peer: '198.19.1.2', mtu: 1450, multiQueue: false, mac: null, bridge: null, program: null });
    assert.deepEqual(c.route.allowedIps, ['198.19.100.0/24']);
    assert.equal(c.route.mode, 'split');
    // "multicast off" has no key: kept as a hook, with a warning naming line 35
    assert.deepEqual(c.hooks, { up: ['/sbin/ip link set dev "${TUND_DEVICE}" multicast off'], down: [] });
    assert.ok(s.warnings.some((w) => w.line === 35 && /multicast off/.test(w.message)));
  });
  test('lab: ether -> tap, device name, ifconfig netmask, gateway route and firewall kept as hooks', () => {
    const s = session(r.sessions, 'lab');
    const c = s.config!;
    assert.equal(s.secret, 'l4b#secret');
    assert.equal(c.device.mode, 'tap');
    assert.equal(c.device.name, 'tap7');
    assert.deepEqual(c.device.addresses, ['198.19.2.1/24']);
    assert.equal(c.session.cipher, 'oldblowfish128ecb');
    assert.deepEqual(c.session.compression, { kind: 'zlib', level: 6 });
    assert.equal(c.route.mode, 'none');
    assert.deepEqual(c.hooks.up, [
      '/sbin/route add -net 198.19.200.0 netmask 255.255.255.0 gw 198.19.2.2',
      '/sbin/iptables -t nat -A POSTROUTING -s 198.19.2.0/24 -o eth0 -j MASQUERADE',
    ]);
    assert.deepEqual(c.hooks.down, ['/sbin/iptables -t nat -D POSTROUTING -s 198.19.2.0/24 -o eth0 -j MASQUERADE']);
    assert.deepEqual(s.warnings.map((w) => w.line).sort((a, b) => a - b), [52, 55, 56, 59]);
  });
  test('kiosk: ifconfig pointopoint/mtu, route -net dev, nat_hack server, speed, %-variables', () => {
    const c = session(r.sessions, 'kiosk').config!;
    assert.deepEqual([c.device.addresses, c.device.peer, c.device.mtu], [['198.19.3.1/32'], '198.19.3.2', 1400]);
    assert.deepEqual(c.route.allowedIps, ['198.19.30.0/24']);
    assert.equal(c.session.natHack, true);
    assert.deepEqual(c.session.speed, { out: 512, in: 256 });
    assert.deepEqual(c.hooks.up, ['/usr/bin/logger -t vtund session "${TUND_SESSION}" up on "${TUND_DEVICE}" from "${TUND_REMOTE_ADDR}":"${TUND_REMOTE_PORT}"']);
  });
  test('backup: pipe with its program', () => {
    const c = session(r.sessions, 'backup').config!;
    assert.equal(c.device.mode, 'pipe');
    assert.equal(c.device.program, "/bin/sh -c 'tar cf - /srv/export'");
    assert.equal(c.session.cipher, 'blowfish128ecb');
  });
  test('every converted file passes tund check (parser) again from its text', () => {
    for (const s of r.sessions) {
      const again = parseSessionConfig(s.conf!, `${s.name}.conf`, s.name);
      assert.deepEqual(again.problems, []);
      assert.match(s.conf!, /^# tund session ".*", imported from .*server-site\.conf \(line \d+\)/);
    }
  });
});

describe('import: client-site.conf --client', () => {
  const r = importVtundConf(fixture('client-site.conf'), { file: 'client-site.conf', client: { host: '198.18.0.1', port: null } });
  test('sessions, with the long name refused on its own', () => {
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.sessions.map((s) => [s.name, s.conf !== null]), [['branch', true], ['kiosk', true], ['a-very-long-session-name', false]]);
    const bad = session(r.sessions, 'a-very-long-session-name');
    assert.equal(bad.errors[0]!.line, 40);
    assert.match(bad.errors[0]!.message, /cannot be a tund session name \(is 24 characters long; expected 1-15/);
  });
  test('branch: client of SERVER:options-port, persist keep, nat_hack -> udp, via route, hooks', () => {
    const s = session(r.sessions, 'branch');
    const c = s.config!;
    assert.equal(c.session.role, 'client');
    assert.deepEqual(c.session.endpoint, { host: '198.18.0.1', port: 5005 });
    assert.equal(c.session.persist, 'keep');
    assert.equal(c.session.timeout, 20);
    assert.equal(c.session.natHack, true);
    assert.equal(c.session.transport, 'udp');
    assert.equal(c.device.name, 'tun3');
    assert.deepEqual([c.device.addresses, c.device.peer], [['198.19.1.2/32'], '198.19.1.1']);
    assert.deepEqual(c.route.allowedIps, ['198.18.128.0/17']);
    assert.deepEqual(c.hooks.up, [
      '/usr/sbin/sysctl -q -w net.ipv6.conf."${TUND_DEVICE}".disable_ipv6=1',
      `echo tunnel "\${TUND_SESSION}" is up on "\${TUND_DEVICE}" >> '/var/log/tunnel '"\${TUND_SESSION}"'.log'`,
    ]);
    assert.deepEqual(c.hooks.down, [`logger -t vtund 'session '"\${TUND_SESSION}"' down on '"\${TUND_DEVICE}"''`]);
    assert.ok(s.warnings.some((w) => w.line === 12 && /no type/.test(w.message)));
  });
  test('kiosk: default route kept as a hook with a warning; persist from default {}', () => {
    const s = session(r.sessions, 'kiosk');
    assert.equal(s.config!.session.persist, 'yes');
    assert.deepEqual(s.config!.hooks.up, ['/sbin/route add default dev "${TUND_DEVICE}"']);
    assert.equal(s.config!.route.mode, 'none');
    assert.ok(s.warnings.some((w) => w.line === 35 && /full tunnel/.test(w.message)));
  });
  test('an explicit port in --client wins', () => {
    const r2 = importVtundConf(fixture('client-site.conf'), { file: 'c', client: { host: '2001:2::1', port: 6000 } });
    assert.deepEqual(session(r2.sessions, 'kiosk').config!.session.endpoint, { host: '2001:2::1', port: 6000 });
  });
});

describe('import: harness.conf (what the interop peer uses)', () => {
  const r = importVtundConf(fixture('harness.conf'), { file: 'harness.conf' });
  test('tun and ether sessions as a session needs them', () => {
    const tun = session(r.sessions, 'vtpeer').config!;
    assert.deepEqual([tun.session.transport, tun.session.cipher, tun.session.keepalive.enabled, tun.session.multi], ['tcp', 'no', true, 'yes']);
    assert.deepEqual([tun.device.mode, tun.device.addresses, tun.device.peer], ['tun', ['198.19.77.1/32'], '198.19.77.2']);
    const tap = session(r.sessions, 'vtpeer-tap').config!;
    assert.deepEqual([tap.session.transport, tap.session.cipher, tap.session.compression, tap.session.keepalive, tap.session.sslAuth],
      ['udp', 'aes256cbc', { kind: 'lzo', level: 1 }, { enabled: true, interval: 15, count: 5 }, false]);
    assert.deepEqual([tap.device.mode, tap.device.addresses, tap.device.peer], ['tap', ['198.19.78.1/24'], null]);
  });
});

/** The same vtund.conf in other layouts: only tokens and ";" matter, never lines. */
function layouts(text: string): Record<string, string> {
  // comments go first: "#" where a keyword may stand (line start, after ; { }) runs to the line end
  const bare = text.replace(/(^|[;{}])[ \t]*#.*$/gm, '$1');
  const severalPerLine = bare.replace(/;[ \t]*\n[ \t]*(?=[^\s}])/g, '; ');
  const blockPerLine = severalPerLine.replace(/\{[ \t]*\n[ \t]*/g, '{ ').replace(/[ \t]*\n[ \t]*(?=\})/g, ' ');
  return {
    'one statement per line': text,
    'several statements per line': severalPerLine,
    'nested braces on one line': blockPerLine,
    'the whole file on one line': bare.split('\n').join(' '),
    'braces and semicolons on lines of their own': bare.replace(/[ \t]*\{/g, '\n{\n').replace(/\};/g, '}\n;'),
  };
}

describe('import: every layout of the same file gives the same sessions', () => {
  const noLines = (conf: string | null) => conf?.replace(/ \(line \d+\)/, '');
  for (const [fixtureName, client] of [['harness.conf', undefined], ['server-site.conf', undefined], ['client-site.conf', { host: '198.18.0.1', port: null }]] as const) {
    const text = fixture(fixtureName);
    const reference = importVtundConf(text, { file: fixtureName, client });
    for (const [layout, variant] of Object.entries(layouts(text))) {
      test(`${fixtureName}: ${layout}`, () => {
        assert.notEqual(variant, '');
        const r = importVtundConf(variant, { file: fixtureName, client });
        assert.deepEqual(r.problems, reference.problems);
        assert.deepEqual(r.sessions.map((x) => x.name), reference.sessions.map((x) => x.name));
        for (const [i, got] of r.sessions.entries()) {
          const want = reference.sessions[i]!;
          assert.equal(noLines(got.conf), noLines(want.conf), got.name);
          assert.deepEqual(got.config, want.config, got.name);
        }
      });
    }
  }
  test('the line of the issue, in both roles: two hooks become Address and Peer, and the link goes up', () => {
    const text = 'options { port 5000; }\noffice { passwd pw; type tun; up { ip "addr add 198.19.0.1 peer 198.19.0.2 dev %%"; ip "link set %% up"; }; }\n';
    for (const client of [undefined, { host: '198.18.0.1', port: null }]) {
      const r = importVtundConf(text, { file: 'one-line.conf', client });
      assert.deepEqual(r.problems, []);
      const s = session(r.sessions, 'office');
      assert.deepEqual(s.errors, []);
      assert.deepEqual(s.config!.device.addresses, ['198.19.0.1/32']);
      assert.equal(s.config!.device.peer, '198.19.0.2');
      assert.deepEqual(s.config!.hooks.up, []);
      assert.match(r.warnings.map((w) => w.message).join('\n'), /vtund 3\.0\.4 reads the quoted strings on this line as one/);
    }
  });
});

describe('import: mapping details', () => {
  const one = (body: string, client = false) => {
    const r = importVtundConf(`options { port 5000; }\ns {\n passwd p;\n${body}\n}\n`, { file: 'x.conf', client: client ? { host: '198.18.0.1', port: null } : undefined });
    assert.deepEqual(r.problems, []);
    return r.sessions[0]!;
  };
  test('compress forms, including the lzo quirk', () => {
    const cases: Array<[string, unknown]> = [['yes', { kind: 'zlib', level: 1 }], ['zlib', { kind: 'zlib', level: 1 }], ['5', { kind: 'zlib', level: 5 }], ['no', { kind: 'none' }], ['lzo', { kind: 'zlib', level: 2 }], ['lzo:0', { kind: 'lzo', level: 1 }]];
    for (const [v, want] of cases) assert.deepEqual(one(`type tun; compress ${v};`).config!.session.compression, want, v);
    assert.ok(one('type tun; compress lzo;').warnings.some((w) => /quirk/.test(w.message)));
    assert.match(one('type tun; compress zlib:12;').errors[0]!.message, /level out of range/);
  });
  test('keepalive 0:N is off; encrypt names', () => {
    assert.equal(one('type tun; keepalive 0:4;').config!.session.keepalive.enabled, false);
    assert.equal(one('type tun; encrypt aes256ofb;').config!.session.cipher, 'aes256ofb');
    assert.match(one('type tun; encrypt rot13;').errors[0]!.message, /encrypt "rot13" invalid/);
  });
  test('server-only settings are dropped for a client with a note', () => {
    const s = one('type tun; multi no; speed 64;', true);
    assert.equal(s.config!.session.multi, 'yes');
    assert.deepEqual(s.config!.session.speed, { out: 0, in: 0 });
    assert.equal(s.notes.length, 2);
  });
  test('no type: tty for a server (needs a program), tun with a warning for a client', () => {
    assert.match(one('').errors[0]!.message, /type tty needs a program or ppp command/);
    assert.equal(one('', true).config!.device.mode, 'tun');
    assert.equal(one('up { ppp "noauth"; };').config!.device.program, '/usr/sbin/pppd noauth');
  });
  test('ifconfig without netmask: classful; down removal of a mapped route is dropped', () => {
    const s = one('type tun; up {\n ifconfig "%d 198.19.5.1";\n route "add -host 198.19.6.6 dev %d";\n };\n down {\n route "del -host 198.19.6.6 dev %d";\n ip "addr del 198.19.5.1/16 dev %d";\n };');
    assert.deepEqual(s.config!.device.addresses, ['198.19.5.1/24']); // 198/8 is class C
    assert.deepEqual(s.config!.route.allowedIps, ['198.19.6.6/32']);
    assert.deepEqual(s.config!.hooks.down, []);
  });
  test('tap: a route with a gateway stays a hook; tun: a route via the peer is mapped', () => {
    const tap = one('type ether; up {\n ip "addr add 198.19.5.1/24 dev %d";\n ip "route add 198.19.50.0/24 via 198.19.5.2 dev %d";\n };');
    assert.deepEqual(tap.config!.route.allowedIps, []);
    assert.equal(tap.config!.hooks.up.length, 1);
    const tun = one('type tun; up {\n ip "addr add 198.19.5.1 peer 198.19.5.2 dev %d";\n ip "route add 198.19.50.0/24 via 198.19.5.2";\n };');
    assert.deepEqual(tun.config!.route.allowedIps, ['198.19.50.0/24']);
  });
  test('unknown ip options stay hooks, untouched', () => {
    const s = one('type tun; up {\n ip "addr add 198.19.5.1/24 dev %d label x";\n ip "-6 route add 2001:2::/48 dev %d";\n };');
    assert.deepEqual(s.config!.device.addresses, []);
    assert.deepEqual(s.config!.hooks.up, ['/sbin/ip addr add 198.19.5.1/24 dev "${TUND_DEVICE}" label x']);
    assert.deepEqual(s.config!.route.allowedIps, ['2001:2::/48']);
  });
  test('srcaddr and stat are dropped with warnings; bindaddr iface resolved through the callback', () => {
    const s = one('type tun; stat yes; srcaddr { addr 198.18.0.9; };');
    assert.equal(s.warnings.length, 2);
    const r = importVtundConf('options { bindaddr { iface lo; }; }\ns { passwd p; type tun; }', { file: 'x', interfaceAddress: (n) => (n === 'lo' ? '127.0.0.1' : null) });
    assert.deepEqual(r.sessions[0]!.config!.session.listen, { host: '127.0.0.1', port: 5000 });
  });
  test('hooks run by /bin/sh give the arguments vtund would have given', () => {
    // vtund: %d and %% are the device, %h the session, %x is "x"; quotes group, \\ escapes
    const s = one([
      'type tun; up {',
      ` program /usr/bin/printargs "a%d 'b c %h' d\\ e %x $HOME";`,
      ` program "printargs '%d' "%h" %% x%d '$HOME'";`,
      ' };',
    ].join('\n'));
    const tmp = mkdtempSync(path.join(os.tmpdir(), 'tund-args-'));
    const script = path.join(tmp, 'printargs');
    writeFileSync(script, '#!/bin/sh\nfor a in "$@"; do printf "<%s>" "$a"; done\n', { mode: 0o755 });
    const env = { ...process.env, TUND_DEVICE: 'dev0', TUND_SESSION: 'sess', HOME: '/root' };
    try {
      const outs = s.config!.hooks.up.map((h) => spawnSync('/bin/sh', ['-c', h.replace(/^(\/usr\/bin\/)?printargs/, script)], { env, encoding: 'utf8' }).stdout);
      assert.deepEqual(outs, ['<adev0><b c sess><d e><x><$HOME>', '<dev0><sess><dev0><xdev0><$HOME>']);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });
});

describe('writeImportedSession', () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'tund-import-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const r = importVtundConf(fixture('harness.conf'), { file: 'harness.conf' });
  const s = session(r.sessions, 'vtpeer');
  test('writes NAME.conf and NAME.secret with mode 0600', async () => {
    const out = await writeImportedSession(dir, s, false);
    assert.equal(out.error, null);
    for (const f of [out.conf, out.secret]) assert.equal(statSync(f).mode & 0o777, 0o600, f);
    assert.equal(readFileSync(out.secret, 'utf8'), 'vtpeer-secret\n');
    assert.equal(readFileSync(out.conf, 'utf8'), s.conf);
  });
  test('does not overwrite without force; force replaces', async () => {
    writeFileSync(path.join(dir, 'vtpeer.secret'), 'keep me\n');
    const out = await writeImportedSession(dir, s, false);
    assert.match(out.error!, /already exist; not overwritten \(use --force to replace\)/);
    assert.equal(readFileSync(path.join(dir, 'vtpeer.secret'), 'utf8'), 'keep me\n');
    const forced = await writeImportedSession(dir, s, true);
    assert.equal(forced.error, null);
    assert.equal(readFileSync(path.join(dir, 'vtpeer.secret'), 'utf8'), 'vtpeer-secret\n');
    assert.equal(statSync(path.join(dir, 'vtpeer.secret')).mode & 0o777, 0o600);
  });
  test('no temporary files are left behind', () => {
    assert.ok(!existsSync(dir) || !readdir(dir).some((f) => f.endsWith('.tmp')));
  });
});

function readdir(dir: string): string[] {
  return spawnSync('ls', ['-A', dir], { encoding: 'utf8' }).stdout.split('\n').filter(Boolean);
}
