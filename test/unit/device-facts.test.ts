// The `tunctl show --json` shape, built from `ip -j` output given by a fake ProcessRunner (no
// kernel needed): only TUN/TAP devices, every key present, nulls when ip does not say, addresses
// joined by interface, and the human view.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Ip, SystemRunner, type CommandResult, type ProcessRunner } from '../../core/ip.js';
import { buildDeviceFacts, devicesReport, formatBytes, formatDevices, lookupLink, readDeviceFacts, tunKindOf } from '../../core/device/facts.js';

// Trimmed from real `ip -j -d -s link show` output (iproute2 6.1).
const LINKS = [
  { ifindex: 1, ifname: 'lo', flags: ['LOOPBACK', 'UP', 'LOWER_UP'], mtu: 65536, operstate: 'UNKNOWN', link_type: 'loopback' },
  {
    ifindex: 2, ifname: 'tq0', flags: ['POINTOPOINT', 'MULTICAST', 'NOARP', 'UP'], mtu: 1400, operstate: 'DOWN', link_type: 'none',
    linkinfo: { info_kind: 'tun', info_data: { type: 'tun', pi: false, vnet_hdr: false, multi_queue: true, numqueues: 0, numdisabled: 0, persist: true, user: 'nobody', group: 'nogroup' } },
    stats64: { rx: { bytes: 1500, packets: 3, errors: 0, dropped: 1 }, tx: { bytes: 84, packets: 1, errors: 0, dropped: 0 } },
  },
  {
    ifindex: 3, ifname: 'lan0', flags: ['BROADCAST', 'MULTICAST'], mtu: 1500, operstate: 'DOWN', link_type: 'ether',
    address: '02:00:5e:10:00:01', broadcast: 'ff:ff:ff:ff:ff:ff', master: 'br0',
    linkinfo: {
      info_kind: 'tun', info_data: { type: 'tap', pi: false, vnet_hdr: true, multi_queue: false, persist: true, user: 1234 },
      info_slave_kind: 'bridge', info_slave_data: { state: 'disabled', priority: 32 },
    },
    stats64: { rx: { bytes: 0, packets: 0, dropped: 0 }, tx: { bytes: 0, packets: 0, dropped: 0 } },
  },
  { ifindex: 4, ifname: 'veth0', flags: ['BROADCAST', 'UP'], mtu: 1500, operstate: 'UP', link_type: 'ether', linkinfo: { info_kind: 'veth' } },
  // a tap that is the port of a bond, not a bridge: no bridge to show
  {
    ifindex: 5, ifname: 'tb0', flags: ['BROADCAST'], mtu: 1500, operstate: 'DOWN', link_type: 'ether', address: '02:00:5e:10:00:02', master: 'bond0',
    linkinfo: { info_kind: 'tun', info_data: { type: 'tap' }, info_slave_kind: 'bond' },
  },
];

const ADDRS = [
  { ifindex: 1, ifname: 'lo', addr_info: [{ family: 'inet', local: '127.0.0.1', prefixlen: 8, scope: 'host' }] },
  {
    ifindex: 2, ifname: 'tq0',
    addr_info: [
      { family: 'inet', local: '198.18.0.1', address: '198.18.0.2', prefixlen: 30, scope: 'global' },
      { family: 'inet6', local: '2001:2::1', prefixlen: 64, scope: 'global' },
    ],
  },
  { ifindex: 3, ifname: 'lan0', addr_info: [] },
];

const KEYS = [
  'ifname', 'ifindex', 'kind', 'up', 'operstate', 'mtu', 'mac', 'bridge', 'pi', 'vnet_hdr', 'multi_queue', 'numqueues', 'numdisabled', 'persist',
  'user', 'group', 'addresses', 'rx_bytes', 'tx_bytes', 'rx_packets', 'tx_packets', 'rx_dropped', 'tx_dropped',
].sort();

/** Answers `ip -json ...` calls from a table; records every call. */
class FakeIpRunner implements ProcessRunner {
  calls: string[][] = [];
  constructor(private readonly answer: (args: string[]) => CommandResult) {}
  async run(file: string, args: string[]): Promise<CommandResult> {
    this.calls.push([file, ...args]);
    return this.answer(args);
  }
}

const ok = (value: unknown): CommandResult => ({ stdout: JSON.stringify(value), stderr: '', exitCode: 0 });

test('buildDeviceFacts keeps only TUN/TAP devices, sorted, with every key', () => {
  const facts = buildDeviceFacts(LINKS, ADDRS);
  assert.deepEqual(facts.map((d) => d.ifname), ['lan0', 'tb0', 'tq0']);
  for (const d of facts) assert.deepEqual(Object.keys(d).sort(), KEYS);
});

test('buildDeviceFacts mirrors info_data, stats and addresses', () => {
  const tq0 = buildDeviceFacts(LINKS, ADDRS).find((d) => d.ifname === 'tq0')!;
  assert.deepEqual(tq0, {
    ifname: 'tq0', ifindex: 2, kind: 'tun', up: true, operstate: 'DOWN', mtu: 1400, mac: null, bridge: null,
    pi: false, vnet_hdr: false, multi_queue: true, numqueues: 0, numdisabled: 0, persist: true, user: 'nobody', group: 'nogroup',
    addresses: [
      { family: 'inet', local: '198.18.0.1', prefixlen: 30, peer: '198.18.0.2', scope: 'global' },
      { family: 'inet6', local: '2001:2::1', prefixlen: 64, peer: null, scope: 'global' },
    ],
    rx_bytes: 1500, tx_bytes: 84, rx_packets: 3, tx_packets: 1, rx_dropped: 1, tx_dropped: 0,
  });
});

test('buildDeviceFacts: unknown values are null, a numeric owner becomes a string', () => {
  const lan0 = buildDeviceFacts(LINKS, ADDRS).find((d) => d.ifname === 'lan0')!;
  assert.equal(lan0.kind, 'tap');
  assert.equal(lan0.up, false);
  assert.equal(lan0.user, '1234');
  assert.equal(lan0.group, null);
  assert.equal(lan0.numqueues, null);
  assert.deepEqual(lan0.addresses, []);
});

test('buildDeviceFacts: the MAC of a tap, and its bridge only when the master is a bridge', () => {
  const facts = buildDeviceFacts(LINKS, ADDRS);
  const lan0 = facts.find((d) => d.ifname === 'lan0')!;
  assert.equal(lan0.mac, '02:00:5e:10:00:01');
  assert.equal(lan0.bridge, 'br0');
  const tb0 = facts.find((d) => d.ifname === 'tb0')!;
  assert.equal(tb0.mac, '02:00:5e:10:00:02');
  assert.equal(tb0.bridge, null);
});

test('buildDeviceFacts copes with garbage and missing sections', () => {
  assert.deepEqual(buildDeviceFacts(null, null), []);
  const facts = buildDeviceFacts([{ ifindex: 9, ifname: 'x', linkinfo: { info_kind: 'tun' }, link_type: 'none' }, 'nonsense', 7], undefined);
  assert.equal(facts.length, 1);
  assert.deepEqual(Object.keys(facts[0]!).sort(), KEYS);
  assert.equal(facts[0]!.kind, 'tun');
  assert.equal(facts[0]!.persist, null);
  assert.equal(facts[0]!.rx_bytes, null);
});

test('tunKindOf tells tun, tap and other interfaces apart', () => {
  assert.equal(tunKindOf(LINKS[1]), 'tun');
  assert.equal(tunKindOf(LINKS[2]), 'tap');
  assert.equal(tunKindOf(LINKS[3]), undefined);
  assert.equal(tunKindOf(LINKS[0]), undefined);
});

test('readDeviceFacts asks ip for links with details and stats, then addresses', async () => {
  const runner = new FakeIpRunner((args) => (args.includes('link') ? ok(LINKS) : ok(ADDRS)));
  const ip = new Ip(new SystemRunner({ runner }));
  const report = devicesReport(await readDeviceFacts(ip));
  assert.equal(report.format, 1);
  assert.equal(report.devices.length, 3);
  assert.deepEqual(runner.calls, [
    ['ip', '-json', '-d', '-s', 'link', 'show'],
    ['ip', '-json', 'addr', 'show'],
  ]);
  // The document survives a JSON round trip unchanged (no undefined values dropped).
  assert.deepEqual(JSON.parse(JSON.stringify(report)), report);
});

test('readDeviceFacts of a missing device is empty, not an error', async () => {
  const runner = new FakeIpRunner(() => ({ stdout: '', stderr: 'Device "nope" does not exist.\n', exitCode: 1 }));
  const ip = new Ip(new SystemRunner({ runner }));
  assert.deepEqual(await readDeviceFacts(ip, 'nope'), []);
  assert.deepEqual(runner.calls, [['ip', '-json', '-d', '-s', 'link', 'show', 'dev', 'nope']]);
  assert.equal(await lookupLink(ip, 'nope'), undefined);
});

test('readDeviceFacts passes other ip failures on', async () => {
  const runner = new FakeIpRunner(() => ({ stdout: '', stderr: 'RTNETLINK answers: Operation not permitted\n', exitCode: 2 }));
  const ip = new Ip(new SystemRunner({ runner }));
  await assert.rejects(readDeviceFacts(ip), (e: unknown) => (e as { exitCode?: number }).exitCode === 77);
});

test('formatDevices: a header per device, two-space indented key: value lines', () => {
  const text = formatDevices(buildDeviceFacts(LINKS, ADDRS));
  const blocks = text.trimEnd().split('\n\n');
  assert.equal(blocks.length, 3);
  assert.match(blocks[0]!, /^device: lan0\n/);
  assert.match(blocks[0]!, /\n {2}mac: 02:00:5e:10:00:01\n {2}bridge: br0\n/);
  assert.match(blocks[1]!, /\n {2}bridge: none\n/);
  blocks.splice(1, 1);
  assert.match(blocks[1]!, /^device: tq0\n/);
  assert.doesNotMatch(blocks[1]!, /mac:|bridge:/);
  for (const line of text.trimEnd().split('\n').filter((l) => l !== '' && !l.startsWith('device: '))) {
    assert.match(line, /^ {2}[a-z -]+: \S/);
  }
  assert.match(blocks[1]!, /\n {2}kind: tun\n/);
  assert.match(blocks[1]!, /\n {2}multi-queue: yes\n/);
  assert.match(blocks[1]!, /\n {2}addresses: 198\.18\.0\.1 peer 198\.18\.0\.2\/30, 2001:2::1\/64\n/);
  assert.match(blocks[1]!, /\n {2}received: 1\.46 KiB, 3 packets\n/);
  assert.equal(formatDevices([]), '');
});

test('formatBytes uses binary units', () => {
  assert.equal(formatBytes(0), '0 B');
  assert.equal(formatBytes(1023), '1023 B');
  assert.equal(formatBytes(1024), '1.00 KiB');
  assert.equal(formatBytes(5 * 1024 * 1024), '5.00 MiB');
  assert.equal(formatBytes(null), 'unknown');
});
