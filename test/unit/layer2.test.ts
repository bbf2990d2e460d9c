// The layer-2 settings of a TAP device (core/device/layer2.ts) and their use by `tunctl up` and
// `tunctl add` (core/tunctl/devices.ts), against a fake `ip` that answers from a table of links
// and records every call: the MAC parser, the pure plan, and the checks that run before any
// change (the bridge exists and is a bridge, tun devices refused). The kernel side is in
// test/bats/tunctl.bats.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isMac } from '../../core/cli/validators.js';
import { layer2Of, layer2Plan } from '../../core/device/layer2.js';
import { TundError, UsageFailure } from '../../core/errors.js';
import { Ip, SystemRunner, type CommandResult, type ProcessRunner } from '../../core/ip.js';
import { parseMac } from '../../core/net.js';
import { addDevice, upDevice } from '../../core/tunctl/devices.js';
import * as t from 'typanion';

type Link = Record<string, unknown>;

const tap = (name: string, extra: Link = {}): Link => ({
  ifname: name, link_type: 'ether', address: '02:aa:bb:cc:dd:ee',
  linkinfo: { info_kind: 'tun', info_data: { type: 'tap', multi_queue: false } }, ...extra,
});
const tun = (name: string): Link => ({ ifname: name, link_type: 'none', linkinfo: { info_kind: 'tun', info_data: { type: 'tun' } } });
const bridge = (name: string): Link => ({ ifname: name, link_type: 'ether', linkinfo: { info_kind: 'bridge' } });
const veth = (name: string): Link => ({ ifname: name, link_type: 'ether', linkinfo: { info_kind: 'veth' } });

/** `ip -json -d link show dev NAME` from a table; every change recorded (and successful). */
class FakeIp implements ProcessRunner {
  changes: string[][] = [];
  constructor(private readonly links: Link[]) {}
  async run(_file: string, args: string[], options: { echo: ((line: string) => void) | undefined }): Promise<CommandResult> {
    if (args[0] === '-json') {
      const dev = args[args.indexOf('dev') + 1];
      const found = this.links.filter((l) => l.ifname === dev);
      if (found.length === 0) return { stdout: '', stderr: `Device "${dev}" does not exist.\n`, exitCode: 1 };
      return { stdout: JSON.stringify(found), stderr: '', exitCode: 0 };
    }
    options.echo?.(['ip', ...args].join(' '));
    this.changes.push(args);
    return { stdout: '', stderr: '', exitCode: 0 };
  }
}

const ipOver = (fake: FakeIp, echoed: string[] = []): Ip => new Ip(new SystemRunner({ runner: fake, echo: (l) => echoed.push(l) }));

test('parseMac: unicast addresses in any case, lower-cased; zero, multicast and malformed refused', () => {
  assert.deepEqual(parseMac('02:00:5E:10:00:01'), { ok: true, mac: '02:00:5e:10:00:01' });
  assert.deepEqual(parseMac('fe:ff:ff:ff:ff:ff'), { ok: true, mac: 'fe:ff:ff:ff:ff:ff' });
  for (const [text, problem] of [
    ['00:00:00:00:00:00', /zero address/],
    ['01:00:5e:00:00:01', /multicast/],
    ['ff:ff:ff:ff:ff:ff', /multicast/],
    ['33:33:00:00:00:01', /multicast/],
    ['2:0:5e:10:0:1', /not an Ethernet address/],
    ['02-00-5e-10-00-01', /not an Ethernet address/],
    ['02:00:5e:10:00:01:02', /not an Ethernet address/],
    ['', /not an Ethernet address/],
  ] as const) {
    const r = parseMac(text);
    assert.ok(!r.ok && problem.test(r.problem), `${text}: ${JSON.stringify(r)}`);
  }
});

test('isMac: the typanion validator of --mac explains the problem', () => {
  const errors: string[] = [];
  assert.equal(isMac('01:00:5e:00:00:01', { errors }), false);
  assert.match(errors[0]!, /expected a unicast Ethernet address such as 02:00:5e:10:00:01 \(got "01:00:5e:00:00:01", which is a multicast address/);
  assert.equal(isMac('02:00:5e:10:00:01'), true);
  assert.equal(t.isArray(isMac)(['02:00:5e:10:00:01']), true);
});

test('layer2Of reads the address, the bridge and a master that is no bridge', () => {
  assert.deepEqual(layer2Of(tap('t', { address: '02:AA:BB:CC:DD:EE' })), { mac: '02:aa:bb:cc:dd:ee', bridge: null, otherMaster: null });
  const inBridge = tap('t', { master: 'br0', linkinfo: { info_kind: 'tun', info_slave_kind: 'bridge' } });
  assert.deepEqual(layer2Of(inBridge), { mac: '02:aa:bb:cc:dd:ee', bridge: 'br0', otherMaster: null });
  const inBond = tap('t', { master: 'bond0', linkinfo: { info_kind: 'tun', info_slave_kind: 'bond' } });
  assert.deepEqual(layer2Of(inBond), { mac: '02:aa:bb:cc:dd:ee', bridge: null, otherMaster: 'bond0' });
});

test('layer2Plan: address before master; nothing when the device already is as wanted', () => {
  const current = { mac: '02:aa:bb:cc:dd:ee', bridge: null, otherMaster: null };
  assert.deepEqual(layer2Plan('t', { mac: '02:00:5e:10:00:01', bridge: 'br0' }, current), [
    ['link', 'set', 'dev', 't', 'address', '02:00:5e:10:00:01'],
    ['link', 'set', 'dev', 't', 'master', 'br0'],
  ]);
  assert.deepEqual(layer2Plan('t', { mac: '02:aa:bb:cc:dd:ee', bridge: false }, current), []);
  assert.deepEqual(layer2Plan('t', {}, { ...current, bridge: 'br0' }), []);
  assert.deepEqual(layer2Plan('t', { bridge: 'br0' }, { ...current, bridge: 'br0' }), []);
  assert.deepEqual(layer2Plan('t', { bridge: 'br1' }, { ...current, bridge: 'br0' }), [['link', 'set', 'dev', 't', 'master', 'br1']]);
  assert.deepEqual(layer2Plan('t', { bridge: false }, { ...current, bridge: 'br0' }), [['link', 'set', 'dev', 't', 'nomaster']]);
});

test('upDevice --bridge: addresses, then master, then up, each echoed', async () => {
  const fake = new FakeIp([tap('lan0'), bridge('br0')]);
  const echoed: string[] = [];
  await upDevice(ipOver(fake, echoed), { name: 'lan0', addresses: ['198.18.0.1/24'], bridge: 'br0' });
  assert.deepEqual(fake.changes, [
    ['addr', 'replace', '198.18.0.1/24', 'dev', 'lan0'],
    ['link', 'set', 'dev', 'lan0', 'master', 'br0'],
    ['link', 'set', 'dev', 'lan0', 'up'],
  ]);
  assert.deepEqual(echoed, fake.changes.map((a) => ['ip', ...a].join(' ')));
});

test('upDevice --nobridge leaves a bridge, and is a no-op outside one', async () => {
  const inBridge = new FakeIp([tap('lan0', { master: 'br0', linkinfo: { info_kind: 'tun', info_data: { type: 'tap' }, info_slave_kind: 'bridge' } })]);
  await upDevice(ipOver(inBridge), { name: 'lan0', addresses: [], bridge: false });
  assert.deepEqual(inBridge.changes, [['link', 'set', 'dev', 'lan0', 'nomaster'], ['link', 'set', 'dev', 'lan0', 'up']]);
  const outside = new FakeIp([tap('lan0')]);
  await upDevice(ipOver(outside), { name: 'lan0', addresses: [], bridge: false });
  assert.deepEqual(outside.changes, [['link', 'set', 'dev', 'lan0', 'up']]);
});

test('upDevice --bridge: refused before any change when the bridge is missing, not a bridge, or the device is a tun', async () => {
  const cases: Array<[Link[], string, RegExp, new (...a: never[]) => Error]> = [
    [[tap('lan0')], 'br0', /^lan0: cannot join bridge "br0": no such device/, TundError],
    [[tap('lan0'), veth('br0')], 'br0', /^lan0: cannot join bridge "br0": it is a veth interface, not a bridge/, TundError],
    [[tun('lan0'), bridge('br0')], 'br0', /^lan0: cannot join bridge "br0" \(--bridge\): a TUN device carries IP packets/, UsageFailure],
    [
      [tap('lan0', { master: 'bond0', linkinfo: { info_kind: 'tun', info_data: { type: 'tap' }, info_slave_kind: 'bond' } }), bridge('br0')],
      'br0', /the device is a port of "bond0" \(not a bridge\)/, TundError,
    ],
  ];
  for (const [links, br, message, kind] of cases) {
    const fake = new FakeIp(links);
    await assert.rejects(upDevice(ipOver(fake), { name: 'lan0', addresses: ['198.18.0.1/24'], mtu: 1400, bridge: br }), (e: unknown) => {
      assert.ok(e instanceof kind, String(e));
      assert.match((e as Error).message, message);
      return true;
    });
    assert.deepEqual(fake.changes, [], 'nothing changed');
  }
});

test('addDevice --mac: refused for a tun before anything is made; an existing device must have that address', async () => {
  const fake = new FakeIp([tap('lan0')]);
  const base = { multiQueue: false, existOk: true, ip: ipOver(fake), echo: () => {} };
  await assert.rejects(addDevice({ ...base, name: 'tn0', kind: 'tun', mac: '02:00:5e:10:00:01' }), (e: unknown) => e instanceof UsageFailure && /--mac needs a TAP device/.test(e.message));
  assert.equal(await addDevice({ ...base, name: 'lan0', kind: 'tap', mac: '02:aa:bb:cc:dd:ee' }), 'exists');
  await assert.rejects(addDevice({ ...base, name: 'lan0', kind: 'tap', mac: '02:00:5e:10:00:01' }), (e: unknown) => {
    assert.ok(e instanceof TundError);
    assert.match(e.message, /^lan0: device exists with Ethernet address "02:aa:bb:cc:dd:ee" \(expected "02:00:5e:10:00:01"\)/);
    return true;
  });
  assert.deepEqual(fake.changes, []);
});
