// WgInterface's hold on the UDP socket it is given (core/wireguard/interface.ts): the native
// engine closes its socket only when it stops after a start (docs/engine.md, Lifecycle), so an
// interface that never got its engine running (a constructor that threw, a start that failed
// half-way, a stop before start) closes it itself, and one that ran leaves it to the engine. A
// socket left open kept ListenPort bound: every later attempt of the session failed with "UDP
// port ... is in use" instead of its real cause. The real engine, over AF_UNIX socketpairs.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { test } from 'node:test';
import { native, type NativeWgEngine, type WgEngineOptions, type WgEvent } from '../../native/index.js';
import { WgInterface, type WgInterfaceOptions, type WgPeerSpec } from '../../core/wireguard/interface.js';

const addon = native();

const isOpen = (fd: number): boolean => existsSync(`/proc/self/fd/${fd}`);

/** The fds of one interface: its tun (a seqpacket pair) and its UDP socket (a datagram pair). */
function fds(): { dev: number; devPeer: number; net: number; netPeer: number; close(): void } {
  const [dev, devPeer] = addon.socketPair('seqpacket');
  const [net, netPeer] = addon.socketPair('dgram');
  return {
    dev,
    devPeer,
    net,
    netPeer,
    close() {
      // the tun and the far ends are the test's (an interface never closes its tun)
      for (const fd of [dev, devPeer, netPeer]) addon.closeFd(fd);
    },
  };
}

function options(f: { dev: number; net: number }, more: Partial<WgInterfaceOptions> = {}): WgInterfaceOptions {
  return { privateKey: Buffer.alloc(32, 7), listenPort: 51820, fwMark: 0, peers: [], deviceFd: f.dev, netFd: f.net, mtu: 1420, log: () => {}, ...more };
}

/** The addon's engine, with start() replaced by `start` when given; `made` gets the real one. */
function engineFactory(made: NativeWgEngine[], start?: () => void): NonNullable<WgInterfaceOptions['createEngine']> {
  return (o: WgEngineOptions, onEvent: (event: WgEvent) => void) => {
    const real = new addon.WgEngine(o, onEvent);
    made.push(real);
    if (!start) return real;
    return new Proxy(real, {
      get: (target, key) => {
        if (key === 'start') return start;
        const value = Reflect.get(target, key) as unknown;
        return typeof value === 'function' ? (value as (...a: unknown[]) => unknown).bind(target) : value;
      },
    });
  };
}

const peer = (allowedIps: string[]): WgPeerSpec => ({ publicKey: Buffer.alloc(32, 9), presharedKey: null, endpoint: null, allowedIps, persistentKeepalive: 0 });

test('stopped before start(): the interface closes the UDP socket the engine never took, and leaves the tun', async () => {
  const f = fds();
  try {
    const iface = new WgInterface(options(f));
    assert.ok(isOpen(f.net));
    iface.stop();
    assert.equal(isOpen(f.net), false, 'the UDP socket is still open');
    assert.ok(isOpen(f.dev), 'the tun is not the interface to close');
    assert.deepEqual(await iface.ended, { reason: 'stopped', message: 'stopped' });
  } finally {
    f.close();
  }
});

test('a constructor that throws (a peer the engine refuses) closes the socket and stops the engine it made', () => {
  const f = fds();
  const made: NativeWgEngine[] = [];
  try {
    assert.throws(() => new WgInterface(options(f, { peers: [peer(['nonsense'])], createEngine: engineFactory(made) })), /nonsense/);
    assert.equal(made.length, 1);
    assert.equal(isOpen(f.net), false, 'the UDP socket is still open');
    // stopped: it can never run, and no longer holds its callback (nor, through it, the interface)
    assert.throws(() => made[0]!.start(), /stopped .*runs once/);
    assert.ok(isOpen(f.dev));
  } finally {
    f.close();
  }
});

test('an engine whose start() fails: stop() closes the socket (it is still the interface\'s)', () => {
  const f = fds();
  const made: NativeWgEngine[] = [];
  try {
    const iface = new WgInterface(
      options(f, {
        createEngine: engineFactory(made, () => {
          throw new Error('WgEngine: eventfd: Too many open files');
        }),
      }),
    );
    assert.throws(() => iface.start(), /Too many open files/);
    assert.ok(isOpen(f.net));
    iface.stop();
    assert.equal(isOpen(f.net), false, 'the UDP socket is still open');
  } finally {
    f.close();
  }
});

test('a started interface leaves the socket to the engine: closed once at stop(), not again by a second stop()', () => {
  const f = fds();
  let other: [number, number] | null = null;
  try {
    const iface = new WgInterface(options(f));
    iface.start();
    iface.stop();
    assert.equal(isOpen(f.net), false, 'the engine did not close its socket');
    // the number is free again and likely reused at once: a second stop must not close the new owner's fd
    other = addon.socketPair('dgram');
    iface.stop();
    for (const fd of other) assert.ok(isOpen(fd), `fd ${fd} of another owner was closed`);
  } finally {
    if (other) for (const fd of other) addon.closeFd(fd);
    f.close();
  }
});
