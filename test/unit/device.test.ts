// FakeTun (the in-memory Device) and TunDevice's mapping of addon errors to exit codes, with a
// stand-in addon so that no kernel device is needed.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FakeTun } from '../../core/device/fake.js';
import { TunDevice, tunFailure } from '../../core/device/tun.js';
import type { Device } from '../../core/device/device.js';
import { NoTunFailure, PermissionFailure, TundError } from '../../core/errors.js';
import { ExitCode } from '../../core/exit.js';
import type { NativeAddon } from '../../native/index.js';

function packet(n: number, length = 20): Buffer {
  return Buffer.alloc(length, n);
}

test('FakeTun reads nothing when nothing is queued', () => {
  const dev: Device = new FakeTun();
  const sizes = new Int32Array(4);
  assert.equal(dev.readBatch([Buffer.alloc(100), Buffer.alloc(100)], sizes, 0), 0);
});

test('FakeTun reads injected packets in order, from the offset, up to the batch', () => {
  const dev = new FakeTun({ name: 'f0' });
  dev.inject(packet(1, 10), packet(2, 20), packet(3, 30));
  const bufs = [Buffer.alloc(64), Buffer.alloc(64), Buffer.alloc(64)];
  const sizes = new Int32Array(3);
  assert.equal(dev.readBatch(bufs, sizes, 1), 2);
  assert.deepEqual([...sizes], [0, 10, 20]);
  assert.equal(bufs[1]![0], 1);
  assert.equal(bufs[2]![0], 2);
  assert.equal(dev.pending, 1);
  assert.equal(dev.readBatch(bufs, sizes, 0), 1);
  assert.equal(sizes[0], 30);
  assert.equal(dev.pending, 0);
});

test('FakeTun truncates a packet larger than the buffer, as a real read does', () => {
  const dev = new FakeTun();
  dev.inject(packet(7, 100));
  const sizes = new Int32Array(1);
  assert.equal(dev.readBatch([Buffer.alloc(40)], sizes, 0), 1);
  assert.equal(sizes[0], 40);
});

test('FakeTun records written packets and stops when full (like EAGAIN)', () => {
  const dev = new FakeTun({ writeCapacity: 2 });
  assert.equal(dev.writeBatch([packet(1), packet(2), packet(3)], 0), 2);
  assert.deepEqual(dev.written().map((b) => b[0]), [1, 2]);
  assert.equal(dev.writeBatch([packet(3)], 0), 0);
  dev.setWriteCapacity(10);
  assert.equal(dev.writeBatch([packet(9), packet(3)], 1), 1);
  assert.deepEqual(dev.takeWritten().map((b) => b[0]), [1, 2, 3]);
  assert.equal(dev.written().length, 0);
});

test('FakeTun refuses a packet larger than the MTU', () => {
  const dev = new FakeTun({ mtu: 1280 });
  assert.throws(() => dev.writeBatch([Buffer.alloc(1281)], 0), TundError);
  assert.equal(dev.writeBatch([Buffer.alloc(1280)], 0), 1);
});

test('FakeTun reports its shape and refuses use after close', () => {
  const dev = new FakeTun({ name: 'f1', kind: 'tap', mtu: 9000, batchSize: 8 });
  assert.equal(dev.name, 'f1');
  assert.equal(dev.kind, 'tap');
  assert.equal(dev.fd, -1);
  assert.equal(dev.mtu(), 9000);
  assert.equal(dev.batchSize(), 8);
  dev.close();
  assert.equal(dev.closed, true);
  assert.throws(() => dev.readBatch([Buffer.alloc(1)], new Int32Array(1), 0), /closed/);
  assert.throws(() => dev.inject(packet(1)), /closed/);
});

test('FakeTun rejects an offset outside the batch', () => {
  const dev = new FakeTun();
  assert.throws(() => dev.readBatch([Buffer.alloc(1)], new Int32Array(1), 2), RangeError);
  assert.throws(() => dev.writeBatch([Buffer.alloc(1)], -1), RangeError);
});

function errnoError(code: string, syscall: string): Error {
  return Object.assign(new Error(`${syscall}: ${code}`), { code, errno: 1, syscall });
}

/** A stand-in addon: records calls, and throws what a test asks for. */
function fakeAddon(overrides: Partial<NativeAddon> = {}): { addon: NativeAddon; calls: string[] } {
  const calls: string[] = [];
  const addon = {
    tunOpen(name: string, flags: { tap: boolean; multiQueue: boolean }) {
      calls.push(`open ${name} ${flags.tap ? 'tap' : 'tun'}${flags.multiQueue ? ' mq' : ''}`);
      return { fd: 42, name: name.includes('%') ? name.replace('%d', '0') : name };
    },
    tunSetPersist: (fd: number, on: boolean) => void calls.push(`persist ${fd} ${on}`),
    tunSetOwner: (fd: number, uid: number) => void calls.push(`owner ${fd} ${uid}`),
    tunSetGroup: (fd: number, gid: number) => void calls.push(`group ${fd} ${gid}`),
    tunGetFlags: () => ({ tap: false, multiQueue: false, vnetHdr: false, noPi: true }),
    setNonBlocking: () => undefined,
    closeFd: (fd: number) => void calls.push(`close ${fd}`),
    dupFd: () => 43,
    readBatch: (_fd: number, _bufs: Buffer[], sizes: Int32Array, offset: number) => {
      sizes[offset] = 5;
      return 1;
    },
    writeBatch: (_fd: number, bufs: Buffer[], offset: number) => bufs.length - offset,
    interfaceMtu: () => 1420,
    ...overrides,
  } as unknown as NativeAddon;
  return { addon, calls };
}

test('TunDevice opens through the addon and reports the kernel-chosen name', () => {
  const { addon, calls } = fakeAddon();
  const dev = TunDevice.open('tq%d', { kind: 'tap', multiQueue: true, addon, batchSize: 16 });
  assert.equal(dev.name, 'tq0');
  assert.equal(dev.kind, 'tap');
  assert.equal(dev.fd, 42);
  assert.equal(dev.mtu(), 1420);
  assert.equal(dev.batchSize(), 16);
  const sizes = new Int32Array(2);
  assert.equal(dev.readBatch([Buffer.alloc(9), Buffer.alloc(9)], sizes, 1), 1);
  assert.equal(sizes[1], 5);
  assert.equal(dev.writeBatch([Buffer.alloc(9), Buffer.alloc(9)], 0), 2);
  dev.setOwner(1000);
  dev.setPersist(true);
  dev.close();
  dev.close(); // idempotent
  assert.deepEqual(calls, ['open tq%d tap mq', 'owner 42 1000', 'persist 42 true', 'close 42']);
  assert.throws(() => dev.readBatch([Buffer.alloc(1)], new Int32Array(1), 0), /closed/);
});

test('TunDevice: no /dev/net/tun is exit 69, with a hint', () => {
  const { addon } = fakeAddon({
    tunOpen: () => {
      throw errnoError('ENOENT', 'open');
    },
  });
  assert.throws(
    () => TunDevice.open('t0', { addon }),
    (e: unknown) => e instanceof NoTunFailure && e.exitCode === ExitCode.noTun && /\/dev\/net\/tun/.test(e.message) && /modprobe tun/.test(e.hint ?? ''),
  );
});

test('TunDevice: EPERM and EACCES are exit 77 and say CAP_NET_ADMIN is needed', () => {
  for (const code of ['EPERM', 'EACCES']) {
    const { addon } = fakeAddon({
      tunOpen: () => {
        throw errnoError(code, 'TUNSETIFF');
      },
    });
    assert.throws(
      () => TunDevice.open('t0', { addon }),
      (e: unknown) => e instanceof PermissionFailure && e.exitCode === ExitCode.noPermission && /CAP_NET_ADMIN/.test(e.message) && /CAP_NET_ADMIN/.test(e.hint ?? ''),
    );
  }
});

test('TunDevice: EBUSY and EINVAL become clear runtime failures (exit 1)', () => {
  const busy = tunFailure(errnoError('EBUSY', 'TUNSETIFF'), 't0');
  assert.ok(busy instanceof TundError && busy.exitCode === ExitCode.failure && /busy/.test(busy.message));
  const invalid = tunFailure(errnoError('EINVAL', 'TUNSETIFF'), 't0');
  assert.ok(invalid instanceof TundError && invalid.exitCode === ExitCode.failure && /another kind/.test(invalid.hint ?? ''));
});

test('TunDevice.attach fails clearly when the device does not exist', () => {
  const { addon, calls } = fakeAddon({
    interfaceMtu: () => {
      throw errnoError('ENODEV', 'SIOCGIFMTU');
    },
  });
  assert.throws(() => TunDevice.attach('gone0', { addon }), /gone0: no such device/);
  assert.deepEqual(calls, []);
});

test('TunDevice.attach opens an existing device with the given kind', () => {
  const { addon, calls } = fakeAddon();
  const dev = TunDevice.attach('nosuchdev0', { addon, kind: 'tap', multiQueue: true });
  assert.equal(dev.name, 'nosuchdev0');
  assert.deepEqual(calls, ['open nosuchdev0 tap mq']);
});
