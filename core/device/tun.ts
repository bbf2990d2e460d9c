// TunDevice: a real TUN/TAP device over the native addon (native/src/tun.cc). Opens a new device
// (named, or named by the kernel from a pattern such as "tun%d" or ""), or attaches to an existing
// persistent one; reads and writes batches of packets without blocking; maps the kernel's refusals
// to the documented exit codes (69 no /dev/net/tun, 77 no CAP_NET_ADMIN).
import { readFileSync } from 'node:fs';
import { native, type NativeAddon, type TunFlags } from '../../native/index.js';
import { errnoOf, NoTunFailure, PermissionFailure, TundError } from '../errors.js';
import type { Device, DeviceKind } from './device.js';

export const DEFAULT_BATCH_SIZE = 32;

export const CAP_NET_ADMIN_HINT =
  'this needs CAP_NET_ADMIN: run as root, or give the program the capability (e.g. AmbientCapabilities=CAP_NET_ADMIN in the unit)';

export interface TunOpenOptions {
  kind?: DeviceKind; // default tun
  multiQueue?: boolean;
  vnetHdr?: boolean;
  /** Packets per readBatch (default 32). */
  batchSize?: number;
  /** The addon; tests may pass a stand-in. */
  addon?: NativeAddon;
}

/**
 * Whether a tun handed to the native packet engine opens with IFF_VNET_HDR, so that the engine can
 * use the kernel's TSO/USO and checksum offloads (docs/engine.md, "Offloads"). On unless
 * TUND_NO_TUN_OFFLOAD is set (to anything but "" or "0"). Such a device is for the engine only:
 * every read and write carries a virtio_net_hdr, which readBatch/writeBatch do not speak.
 */
export function engineVnetHdr(env: NodeJS.ProcessEnv = process.env): boolean {
  const off = env.TUND_NO_TUN_OFFLOAD;
  return off === undefined || off === '' || off === '0';
}

/** Turns an error thrown by the addon into a TundError with the right exit code and a hint. */
export function tunFailure(error: unknown, name: string, action = 'cannot open TUN/TAP device'): Error {
  const code = errnoOf(error);
  const syscall = error && typeof error === 'object' && 'syscall' in error ? String((error as { syscall: unknown }).syscall) : '';
  const label = name === '' || name.includes('%') ? action : `${name}: ${action}`;
  if (syscall === 'open' && (code === 'ENOENT' || code === 'ENODEV' || code === 'ENXIO')) {
    return new NoTunFailure(
      `${label}: /dev/net/tun is missing (${code})`,
      'load the tun module ("modprobe tun") or create the node ("mkdir -p /dev/net && mknod /dev/net/tun c 10 200"); in a container, pass /dev/net/tun in',
      error,
    );
  }
  if (code === 'EPERM' || code === 'EACCES') {
    const hint = syscall === 'TUNSETIFF' && name !== '' && !name.includes('%')
      ? `${CAP_NET_ADMIN_HINT}; an existing persistent device may also be opened by its owner or group ("tunctl add NAME --owner USER")`
      : CAP_NET_ADMIN_HINT;
    return new PermissionFailure(`${label}: operation not permitted (${code}): CAP_NET_ADMIN is needed`, hint, error);
  }
  if (code === 'EBUSY') {
    return new TundError(`${label}: device is busy (${code}): another process has it open`, {
      hint: 'only multi-queue devices can be opened by several processes ("tunctl add NAME --multi-queue")',
      cause: error,
    });
  }
  if (code === 'EINVAL' && syscall === 'TUNSETIFF') {
    return new TundError(`${label}: the kernel refused the request (${code})`, {
      hint: 'an interface of that name may exist with another kind (tun/tap), another multi-queue setting, or not be a TUN/TAP device: see "tunctl show"',
      cause: error,
    });
  }
  const message = error instanceof Error ? error.message : String(error);
  return new TundError(`${label}: ${message}`, { cause: error });
}

/** The kernel's flags of an existing TUN/TAP device, from sysfs; undefined when unreadable. */
export function sysfsTunFlags(name: string): { kind: DeviceKind; multiQueue: boolean; vnetHdr: boolean } | undefined {
  try {
    const value = parseInt(readFileSync(`/sys/class/net/${name}/tun_flags`, 'utf8').trim(), 16);
    if (!Number.isFinite(value)) return undefined;
    // IFF_TUN 0x0001, IFF_TAP 0x0002, IFF_VNET_HDR 0x4000, IFF_MULTI_QUEUE 0x0100
    return { kind: value & 0x0002 ? 'tap' : 'tun', multiQueue: (value & 0x0100) !== 0, vnetHdr: (value & 0x4000) !== 0 };
  } catch {
    return undefined;
  }
}

export class TunDevice implements Device {
  readonly name: string;
  readonly kind: DeviceKind;
  private fdValue: number;
  private readonly addon: NativeAddon;
  private readonly batch: number;

  private constructor(addon: NativeAddon, fd: number, name: string, kind: DeviceKind, batch: number) {
    this.addon = addon;
    this.fdValue = fd;
    this.name = name;
    this.kind = kind;
    this.batch = batch;
  }

  /**
   * Opens (creating if needed) a TUN/TAP device. `name` may be "" or a pattern with "%d" to let the
   * kernel choose; the real name is in `.name`. An existing persistent device of the same kind is
   * attached to. The fd is non-blocking and close-on-exec; IFF_NO_PI is always set.
   */
  static open(name: string, options: TunOpenOptions = {}): TunDevice {
    const addon = options.addon ?? native();
    const kind = options.kind ?? 'tun';
    let opened: { fd: number; name: string };
    try {
      opened = addon.tunOpen(name, { tap: kind === 'tap', multiQueue: options.multiQueue ?? false, vnetHdr: options.vnetHdr ?? false });
    } catch (error) {
      throw tunFailure(error, name);
    }
    return new TunDevice(addon, opened.fd, opened.name, kind, options.batchSize ?? DEFAULT_BATCH_SIZE);
  }

  /**
   * Attaches to an existing (persistent) device; fails when there is no interface of that name.
   * Kind and multi-queue default to what the kernel reports for the device.
   */
  static attach(name: string, options: TunOpenOptions = {}): TunDevice {
    const addon = options.addon ?? native();
    try {
      addon.interfaceMtu(name);
    } catch (error) {
      if (errnoOf(error) === 'ENODEV') {
        throw new TundError(`${name}: no such device`, { hint: `create it first: "tunctl add ${name} --mode tun"`, cause: error });
      }
      throw tunFailure(error, name, 'cannot attach to the device');
    }
    const known = sysfsTunFlags(name);
    return TunDevice.open(name, {
      ...options,
      addon,
      kind: options.kind ?? known?.kind ?? 'tun',
      multiQueue: options.multiQueue ?? known?.multiQueue ?? false,
      vnetHdr: options.vnetHdr ?? known?.vnetHdr ?? false,
    });
  }

  get fd(): number {
    return this.fdValue;
  }

  get closed(): boolean {
    return this.fdValue < 0;
  }

  private liveFd(): number {
    if (this.fdValue < 0) throw new TundError(`${this.name}: device is closed`);
    return this.fdValue;
  }

  /**
   * Non-blocking: reads until EAGAIN or the batch is full; 0 when nothing is ready. A read error
   * after some packets ends the batch early (the error comes back on the next call).
   */
  readBatch(bufs: Buffer[], sizes: Int32Array, offset: number): number {
    return this.addon.readBatch(this.liveFd(), bufs, sizes, offset);
  }

  /**
   * Writes one packet per buffer until EAGAIN; returns how many were written. A packet the kernel
   * refuses (e.g. EINVAL: not IPv4/IPv6 on a tun) throws when it is first in the batch, else ends
   * the batch there: call again with the returned offset, and skip a packet that throws.
   */
  writeBatch(bufs: Buffer[], offset: number): number {
    return this.addon.writeBatch(this.liveFd(), bufs, offset);
  }

  mtu(): number {
    try {
      return this.addon.interfaceMtu(this.name);
    } catch (error) {
      throw tunFailure(error, this.name, 'cannot read the MTU');
    }
  }

  batchSize(): number {
    return this.batch;
  }

  /** The flags the kernel reports for this fd (TUNGETIFF). */
  flags(): TunFlags {
    return this.addon.tunGetFlags(this.liveFd());
  }

  /** Keep the device after the fd is closed (TUNSETPERSIST). */
  setPersist(persist: boolean): void {
    try {
      this.addon.tunSetPersist(this.liveFd(), persist);
    } catch (error) {
      throw tunFailure(error, this.name, persist ? 'cannot make the device persistent' : 'cannot clear the persist flag');
    }
  }

  /** Let this uid open the device without CAP_NET_ADMIN (TUNSETOWNER). */
  setOwner(uid: number): void {
    try {
      this.addon.tunSetOwner(this.liveFd(), uid);
    } catch (error) {
      throw tunFailure(error, this.name, `cannot set the owner to uid ${uid}`);
    }
  }

  /** Let this gid open the device without CAP_NET_ADMIN (TUNSETGROUP). */
  setGroup(gid: number): void {
    try {
      this.addon.tunSetGroup(this.liveFd(), gid);
    } catch (error) {
      throw tunFailure(error, this.name, `cannot set the group to gid ${gid}`);
    }
  }

  /** Closes the fd (a non-persistent device disappears). Idempotent. */
  close(): void {
    if (this.fdValue < 0) return;
    const fd = this.fdValue;
    this.fdValue = -1;
    this.addon.closeFd(fd);
  }
}
