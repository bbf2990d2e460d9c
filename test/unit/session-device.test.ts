// core/session/device.ts: what `ip` commands a session runs on its device (fake runner), and that
// addresses already there (Persist = keep, a persistent device) are not added twice.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Ip, SystemRunner, type ProcessRunner } from '../../core/ip.js';
import { configureDevice, openSessionDevice } from '../../core/session/device.js';
import { deviceKindFor } from '../../core/vtun/flags.js';
import type { SessionConfig } from '../../core/config/types.js';
import { TundError } from '../../core/errors.js';

function config(device: Partial<SessionConfig['device']>): SessionConfig {
  return {
    name: 'office',
    file: '/etc/tund/office.conf',
    session: {} as SessionConfig['session'],
    device: { mode: 'tun', name: 'office', addresses: [], peer: null, mtu: null, multiQueue: false, mac: null, bridge: null, program: null, ...device },
    route: {} as SessionConfig['route'],
    hooks: { up: [], down: [] },
  };
}

function fakeIp(addrJson: unknown, linkJson: unknown = [{ mtu: 1500 }]): { ip: Ip; ran: string[]; echoed: string[] } {
  const ran: string[] = [];
  const echoed: string[] = [];
  const runner: ProcessRunner = {
    async run(file, args, { echo }) {
      if (args[0] === '-json') {
        const out = args[1] === 'addr' ? addrJson : linkJson;
        return { stdout: JSON.stringify(out), stderr: '', exitCode: 0 };
      }
      const line = [file, ...args].join(' ');
      ran.push(line);
      echo?.(line);
      return { stdout: '', stderr: '', exitCode: 0 };
    },
  };
  return { ip: new Ip(new SystemRunner({ runner, echo: (l) => echoed.push(l) })), ran, echoed };
}

test('tun with a peer: ip addr add LOCAL peer PEER, MTU only when it differs, then up (echoed)', async () => {
  const { ip, ran, echoed } = fakeIp([{ addr_info: [] }]);
  await configureDevice('office', config({ addresses: ['198.19.0.2/32'], peer: '198.19.0.1', mtu: 1400 }), 'tun', ip);
  assert.deepEqual(ran, [
    'ip link set dev office mtu 1400',
    'ip -4 addr add 198.19.0.2 peer 198.19.0.1 dev office',
    'ip link set dev office up',
  ]);
  assert.deepEqual(echoed, ran);
});

test('tap: addresses with their prefix; addresses already present are left alone', async () => {
  const { ip, ran } = fakeIp([{ addr_info: [{ family: 'inet', local: '198.19.0.2', prefixlen: 24 }] }]);
  await configureDevice('office', config({ mode: 'tap', addresses: ['198.19.0.2/24', '198.19.1.2/24'], mtu: 1500 }), 'tap', ip);
  assert.deepEqual(ran, ['ip -4 addr add 198.19.1.2/24 dev office', 'ip link set dev office up']);
});

test('the server chooses the device kind (pipe and tty are byte streams, stream-device.ts)', () => {
  assert.equal(deviceKindFor('tun'), 'tun');
  assert.equal(deviceKindFor('ether'), 'tap');
  assert.equal(deviceKindFor('tty'), 'tty');
  assert.equal(deviceKindFor('pipe'), 'pipe');
});

test('a client whose config has no Program refuses a pipe/tty session from the server (exit 78, hint)', async () => {
  const ip = new Ip(new SystemRunner({ context: 'test' }));
  for (const type of ['pipe', 'tty'] as const) {
    await assert.rejects(
      openSessionDevice(config({ mode: 'tun' }), type, ip, () => {}),
      (e: unknown) => e instanceof TundError && e.exitCode === 78 && new RegExp(`asked for a VTun ${type} session`).test(e.message) && /Program/.test(e.hint ?? ''),
    );
  }
});
