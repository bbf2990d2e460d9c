// The tunctl command line: usage errors exit 2 with the message on stderr and nothing on stdout,
// before anything touches the system; every verb documents itself (description, >= 2 examples,
// a description on every option); the CLI base maps typed failures to exit codes; and show/list
// run in-process against a fake `ip`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { Cli, Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { buildCli } from '../../core/cli/main.js';
import { colorEnabled, jsonText, palette } from '../../core/cli/output.js';
import { NoTunFailure, PermissionFailure, UsageFailure } from '../../core/errors.js';
import type { CommandResult, ProcessRunner } from '../../core/ip.js';
import { setProcessRunner } from '../../core/tunctl/system.js';
import { ListDevicesCommand } from '../../commands/tunctl/list.js';
import { ShowDeviceCommand } from '../../commands/tunctl/show.js';
import { UpDeviceCommand } from '../../commands/tunctl/up.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const TUNCTL = path.join(ROOT, 'bin', 'tunctl');

function tunctl(...args: string[]) {
  // PATH without ip: if a usage error ever reached the system, the command would fail differently.
  const r = spawnSync(process.execPath, [TUNCTL, ...args], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent' }, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const usageCases: Array<[string, string[], RegExp]> = [
  ['unknown verb', ['frobnicate'], /^tunctl: unknown command "frobnicate" \(expected add, del, .* or completion\)\n/],
  ['unknown option', ['add', 't0', '--nope'], /^tunctl: add: unknown option "--nope"\nhint: see "tunctl add --help"\n$/],
  ['missing NAME', ['add'], /^tunctl: add: missing argument NAME\n/],
  ['an argument too many', ['down', 't0', 't1'], /^tunctl: down: unexpected argument "t1"\n/],
  ['an option without its value', ['add', 't0', '--mode'], /^tunctl: add: option --mode needs a value \(--mode tun\|tap\)\n/],
  ['a flag with a value', ['show', '--json=yes'], /^tunctl: show: option --json takes no value/],
  ['no command, only -v', ['-v'], /^tunctl: missing command \(expected add, /],
  ['bad --mode', ['add', 't0', '--mode', 'bridge'], /--mode.*"tun" or "tap"/],
  ['name with a slash', ['add', 'a/b', '--mode', 'tun'], /invalid device name "a\/b"/],
  ['name too long', ['add', 'abcdefghijklmnop', '--mode', 'tun'], /16 characters long \(expected 1-15\)/],
  ['name with a blank', ['del', 'a b'], /invalid device name "a b"/],
  ['empty name', ['up', ''], /invalid device name "": is empty/],
  ['bad CIDR', ['up', 't0', '--address', '198.18.0.1/33'], /^tunctl: invalid value for --address: .*198\.18\.0\.1\/33/],
  ['not an address', ['up', 't0', '--address', 'office'], /--address/],
  ['MTU too small', ['up', 't0', '--mtu', '100'], /--mtu.*576; 65535/],
  ['MTU not a number', ['up', 't0', '--mtu', 'big'], /--mtu.*expected a number/],
  ['peer with a prefix', ['up', 't0', '--address', '198.18.0.1/30', '--peer', '198.18.0.2/30'], /--peer/],
  ['bad name for show', ['show', 'x/y'], /invalid device name/],
];

for (const [label, args, message] of usageCases) {
  test(`usage error exits 2, stderr only: ${label}`, () => {
    const r = tunctl(...args);
    assert.equal(r.status, 2, r.stderr);
    assert.equal(r.stdout, '');
    assert.match(r.stderr, message);
    assert.match(r.stderr, /^tunctl: /);
  });
}

test('tunctl --help lists every verb with its description, on stdout, exit 0', () => {
  const r = tunctl('--help');
  assert.equal(r.status, 0);
  assert.match(r.stdout, /tunctl — TUN\/TAP devices and tund sessions/);
  for (const verb of ['add', 'del', 'up', 'down', 'show', 'list']) assert.match(r.stdout, new RegExp(`tunctl ${verb} `));
  assert.match(r.stdout, /create a persistent TUN\/TAP device/);
  // a bare tunctl shows the same
  assert.equal(tunctl().stdout, r.stdout);
});

const BINARIES = ['tunctl', 'tund', 'tunauth', 'tunroute'];
const run = (bin: string, ...args: string[]) => {
  const r = spawnSync(process.execPath, [path.join(ROOT, 'bin', bin), ...args], { encoding: 'utf8', env: { ...process.env, PATH: '/nonexistent', NO_COLOR: '1' }, timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
};
// what clipanion shows by itself and a user must never see
const INTERNALS = /--clipanion|__complete|#0|--[a-z-]+\[0\]|command not found|While running/;

test('a mistyped verb: one line with did-you-mean on stderr, exit 2, nothing else', () => {
  const r = tunctl('stauts');
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'tunctl: unknown command "stauts" (did you mean "status"?)\n');
  // the same for every binary, and for the verbs of a binary with a default command
  assert.equal(run('tunroute', 'ful', 'office').stderr, 'tunroute: unknown command "ful" (did you mean "full"?)\n');
  assert.equal(run('tund', 'chekc', 'office').stderr, 'tund: unknown command "chekc" (did you mean "check"?)\n');
  assert.equal(run('tunauth', 'prob', 'office').status, 2);
});

test('a mistyped option: did-you-mean, named as typed', () => {
  const r = tunctl('add', 't0', '--mdoe', 'tun');
  assert.equal(r.status, 2);
  assert.equal(r.stderr, 'tunctl: add: unknown option "--mdoe" (did you mean "--mode"?)\n');
  const a = tunctl('up', 't0', '--address', '1.2.3');
  assert.equal(a.status, 2);
  assert.match(a.stderr, /^tunctl: invalid value for --address: /);
  assert.doesNotMatch(a.stderr, INTERNALS);
  assert.match(run('tunroute', 'up', 'office', '--dryrun').stderr, /unknown option "--dryrun" \(did you mean "--dry-run"\?\)/);
});

test('a missing required option is named, not "command not found"', () => {
  const r = run('tunroute', 'full', 'office');
  assert.equal(r.status, 2);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, 'tunroute: full: missing option --endpoint ADDR\nhint: see "tunroute full --help"\n');
});

test('NAME --help is the help of the command, once, on stdout', () => {
  const r = run('tund', 'office', '--help');
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.match(r.stdout, /^Run one session \(WireGuard or VTun\) in the foreground\n/);
  assert.equal(r.stdout.match(/^Usage: /gm)?.length, 1);
  assert.match(r.stdout, /^Usage: tund \[--instance NAME\] \[NAME\]$/m);
  assert.doesNotMatch(r.stdout, INTERNALS);
  // --help anywhere before "--", and -h
  assert.equal(tunctl('add', 't0', '--mode', 'tun', '--help').stdout, tunctl('add', '-h').stdout);
  assert.match(tunctl('add', '--help').stdout, /^Usage: tunctl add \[--mode tun\|tap\] \[--mac ADDR\] \[--owner USER\] \[--group GROUP\] \[--multi-queue\] \[--exist-ok\] <NAME>$/m);
  // `tund --help` lists the commands, the default one first
  assert.match(run('tund', '--help').stdout, /^  tund \[--instance NAME\] \[NAME\]\n    run one session \(WireGuard or VTun\)/m);
});

test('help and definitions: real placeholders, no internals, every value named', () => {
  for (const bin of BINARIES) {
    const help = run(bin, '--help');
    assert.equal(help.status, 0);
    assert.doesNotMatch(help.stdout, INTERNALS, bin);
    assert.match(help.stdout, /-V, --version/);
    const defs = JSON.parse(run(bin, '--clipanion=definitions').stdout) as Array<{ path: string; options: Array<{ definition: string }> }>;
    for (const d of defs) {
      assert.doesNotMatch(d.path, /__complete|clipanion|^\S+ -/, d.path);
      const verb = d.path.split(' ').slice(1);
      const text = run(bin, ...(verb.length > 0 ? verb : ['office']), '--help').stdout;
      assert.doesNotMatch(text, INTERNALS, d.path);
      for (const o of d.options) {
        // an option that takes a value says what value (`--mode tun|tap`), never #0 or VALUE
        assert.doesNotMatch(o.definition, /#\d|\bVALUE\b/, `${d.path} ${o.definition}`);
        assert.ok(text.includes(o.definition.replace(',', ', ')), `${d.path}: help lacks ${o.definition}`);
      }
    }
  }
  assert.match(tunctl('up', '--help').stdout, /--address CIDR/);
});

test('-V and --version print the version; -v is --verbose everywhere', () => {
  for (const bin of BINARIES) {
    for (const flag of ['-V', '--version']) {
      const r = run(bin, flag);
      assert.equal(r.status, 0, `${bin} ${flag}: ${r.stderr}`);
      assert.match(r.stdout, /^\d+\.\d+\.\d+\n$/);
    }
    const defs = JSON.parse(run(bin, '--clipanion=definitions').stdout) as Array<{ path: string; options: Array<{ definition: string }> }>;
    for (const d of defs) assert.ok(d.options.some((o) => o.definition === '-v,--verbose'), `${d.path}: -v is not --verbose`);
  }
  assert.notEqual(tunctl('-v').status, 0);
  assert.doesNotMatch(tunctl('-v').stdout, /\d+\.\d+\.\d+/);
});

test('the internals still work for completion', () => {
  assert.equal(tunctl('__complete', 'nothing-such', 'x').status, 0);
  assert.equal(JSON.parse(tunctl('--clipanion=definitions').stdout).length > 5, true);
});

test('every verb: lower-case description, >= 2 examples, a description on every option', () => {
  const r = tunctl('--clipanion=definitions');
  assert.equal(r.status, 0, r.stderr);
  const defs = JSON.parse(r.stdout) as Array<{ path: string; description?: string; examples?: unknown[]; options: Array<{ definition: string; description?: string }> }>;
  const verbs = defs.filter((d) => /^tunctl [a-z]/.test(d.path));
  assert.ok(verbs.length >= 6, `verbs: ${verbs.map((d) => d.path).join(', ')}`);
  for (const d of verbs) {
    assert.ok(d.description && /^[a-z]/.test(d.description), `${d.path}: description`);
    assert.ok((d.examples?.length ?? 0) >= 2, `${d.path}: examples`);
    for (const o of d.options) assert.ok(o.description && o.description.length > 0, `${d.path} ${o.definition}: description`);
  }
});

function streams() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (c) => (out += String(c)));
  stderr.on('data', (c) => (err += String(c)));
  return { context: { ...Cli.defaultContext, stdin: process.stdin, stdout, stderr }, out: () => out, err: () => err };
}

class ThrowCommand extends BaseCommand {
  static override paths = [['throw']];
  static override usage = Command.Usage({ description: 'test', examples: [['a', '$0 throw'], ['b', '$0 throw']] });
  kind = Option.String();
  async run(): Promise<number> {
    if (this.kind === 'usage') throw new UsageFailure('t0: bad thing "x" (expected y)', 'try z');
    if (this.kind === 'perm') throw new PermissionFailure('t0: operation not permitted', 'this needs CAP_NET_ADMIN');
    if (this.kind === 'notun') throw new NoTunFailure('no /dev/net/tun');
    if (this.kind === 'eperm') throw Object.assign(new Error('Operation not permitted'), { code: 'EPERM' });
    if (this.kind === 'plain') throw new Error('Boom happened');
    this.out('data');
    this.echo('ip link set dev t0 up');
    return 0;
  }
}

test('CLI base: typed failures become exit codes, messages go to stderr with hints', async () => {
  const cli = buildCli({ name: 'tunctl', label: 'test', commands: [ThrowCommand] });
  const cases: Array<[string, number, RegExp]> = [
    ['usage', 2, /^tunctl: t0: bad thing "x" \(expected y\)\nhint: try z\n$/],
    ['perm', 77, /^tunctl: t0: operation not permitted\nhint: this needs CAP_NET_ADMIN\n$/],
    ['notun', 69, /no \/dev\/net\/tun/],
    ['eperm', 77, /CAP_NET_ADMIN/],
    ['plain', 1, /^tunctl: boom happened\n$/],
  ];
  for (const [kind, code, message] of cases) {
    const s = streams();
    assert.equal(await cli.run(['throw', kind], s.context), code, kind);
    assert.equal(s.out(), '', kind);
    assert.match(s.err(), message, kind);
  }
  const s = streams();
  assert.equal(await cli.run(['throw', 'fine'], s.context), 0);
  assert.equal(s.out(), 'data\n');
  assert.equal(s.err(), '[#] ip link set dev t0 up\n');
  const q = streams();
  assert.equal(await cli.run(['throw', 'fine', '-q'], q.context), 0);
  assert.equal(q.err(), '');
});

const LINKS = [
  { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP'], mtu: 65536, link_type: 'loopback' },
  {
    ifindex: 5, ifname: 't0', flags: ['POINTOPOINT', 'UP'], mtu: 1420, operstate: 'UNKNOWN', link_type: 'none',
    linkinfo: { info_kind: 'tun', info_data: { type: 'tun', pi: false, vnet_hdr: false, multi_queue: false, persist: true } },
    stats64: { rx: { bytes: 10, packets: 1, dropped: 0 }, tx: { bytes: 20, packets: 2, dropped: 0 } },
  },
];

function fakeIp(calls: string[][]): ProcessRunner {
  return {
    async run(file, args, { echo }): Promise<CommandResult> {
      calls.push([file, ...args]);
      if (args[0] !== '-json') echo?.([file, ...args].join(' '));
      if (args.includes('link') && args[0] === '-json') {
        const dev = args.indexOf('dev');
        const wanted = dev >= 0 ? LINKS.filter((l) => l.ifname === args[dev + 1]) : LINKS;
        if (dev >= 0 && wanted.length === 0) return { stdout: '', stderr: `Device "${args[dev + 1]}" does not exist.\n`, exitCode: 1 };
        return { stdout: JSON.stringify(wanted), stderr: '', exitCode: 0 };
      }
      if (args[0] === '-json') return { stdout: '[]', stderr: '', exitCode: 0 };
      return { stdout: '', stderr: '', exitCode: 0 };
    },
  };
}

test('show --json and list run against a fake ip; show of a missing device exits 1', async (t) => {
  const calls: string[][] = [];
  setProcessRunner(fakeIp(calls));
  t.after(() => setProcessRunner(undefined));
  const cli = buildCli({ name: 'tunctl', label: 'test', commands: [ShowDeviceCommand, ListDevicesCommand] });

  const s = streams();
  assert.equal(await cli.run(['show', '--json'], s.context), 0, s.err());
  const doc = JSON.parse(s.out());
  assert.equal(doc.format, 1);
  assert.deepEqual(doc.devices.map((d: { ifname: string }) => d.ifname), ['t0']);
  assert.equal(doc.devices[0].mtu, 1420);
  assert.equal(doc.devices[0].user, null);

  const l = streams();
  assert.equal(await cli.run(['list'], l.context), 0);
  assert.equal(l.out(), 't0\n');

  const m = streams();
  assert.equal(await cli.run(['show', 'gone'], m.context), 1);
  assert.equal(m.out(), '');
  assert.match(m.err(), /gone: no such TUN\/TAP device/);
});

test('up runs the plan through ip with echo, after checking the device is TUN/TAP', async (t) => {
  const calls: string[][] = [];
  setProcessRunner(fakeIp(calls));
  t.after(() => setProcessRunner(undefined));
  const cli = buildCli({ name: 'tunctl', label: 'test', commands: [UpDeviceCommand] });
  const s = streams();
  assert.equal(await cli.run(['up', 't0', '--address', '198.18.0.1/24', '--mtu', '1400'], s.context), 0, s.err());
  assert.deepEqual(calls.slice(1), [
    ['ip', 'link', 'set', 'dev', 't0', 'mtu', '1400'],
    ['ip', 'addr', 'replace', '198.18.0.1/24', 'dev', 't0'],
    ['ip', 'link', 'set', 'dev', 't0', 'up'],
  ]);
  assert.equal(s.out(), '');
  assert.match(s.err(), /^\[#\] ip link set dev t0 mtu 1400\n/);

  calls.length = 0;
  const lo = streams();
  assert.equal(await cli.run(['up', 'lo'], lo.context), 1);
  assert.match(lo.err(), /"lo" is a loopback interface, not a TUN\/TAP device/);
  assert.equal(calls.length, 1, 'nothing changed on a non-TUN device');
});

test('output: JSON indented on a terminal and compact in a pipe; colour only on a terminal, NO_COLOR and TUND_COLOR', () => {
  const doc = { format: 1, sessions: [] };
  assert.equal(jsonText(doc, { isTTY: true }), '{\n  "format": 1,\n  "sessions": []\n}\n');
  assert.equal(jsonText(doc, {}), '{"format":1,"sessions":[]}\n');
  assert.equal(colorEnabled({ isTTY: true }, {}), true);
  assert.equal(colorEnabled({ isTTY: false }, {}), false);
  assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '1' }), false);
  assert.equal(colorEnabled({ isTTY: true }, { NO_COLOR: '' }), true);
  assert.equal(colorEnabled({ isTTY: true }, { TUND_COLOR: 'never' }), false);
  assert.equal(colorEnabled({ isTTY: false }, { TUND_COLOR: 'always', NO_COLOR: '1' }), true);
  assert.equal(palette(false).green('connected'), 'connected');
  assert.equal(palette(true).green('connected'), '\x1b[32mconnected\x1b[39m');
});

test('a verb never imports another verb: what they share lives in core/', () => {
  for (const binary of BINARIES) {
    const dir = path.join(ROOT, 'commands', binary);
    // index.ts and tund's cli.ts are the tables of verbs
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts') && f !== 'index.ts' && f !== 'cli.ts')) {
      const text = readFileSync(path.join(dir, file), 'utf8');
      // session-args.ts is not a verb: which command lines tund's session entry takes
      const siblings = [...text.matchAll(/from '\.\/([^']+)\.js'/g)].map((m) => m[1]).filter((f) => f !== 'session-args');
      assert.deepEqual(siblings, [], `commands/${binary}/${file} imports ${siblings.join(', ')}`);
    }
  }
});
