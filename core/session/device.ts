// The session's tun/tap device: opened once the protocol knows the kind (VTun: the server decides), attached
// to when a persistent device of that name exists, addressed and brought up with `ip` (each call
// echoed as `[#] ip ...`). Addresses already present (Persist = keep, or a device that survived
// a restart) are left alone.
import fs from 'node:fs';
import type { SessionConfig } from '../config/types.js';
import { lookupLink } from '../device/facts.js';
import { applyLayer2 } from '../device/layer2.js';
import { engineVnetHdr, TunDevice } from '../device/tun.js';
import { TundError } from '../errors.js';
import { ExitCode } from '../exit.js';
import type { Ip } from '../ip.js';
import type { DeviceInfo } from '../status/types.js';
import { StreamDevice } from './stream-device.js';

export type SessionDeviceKind = 'tun' | 'tap' | 'pipe' | 'tty';

export interface SessionDevice {
  /** a tun/tap, or the socketpair/pty of a pipe/tty session (stream-device.ts) */
  device: TunDevice | StreamDevice;
  kind: SessionDeviceKind;
  /** the interface existed before we opened it (a persistent device, e.g. from tunctl) */
  preexisting: boolean;
  info: DeviceInfo;
}

interface AddrInfo {
  family: string;
  local: string;
  prefixlen: number;
  address?: string;
}

export async function openSessionDevice(config: SessionConfig, kind: SessionDeviceKind, ip: Ip, log: (line: string) => void): Promise<SessionDevice> {
  if (kind === 'pipe' || kind === 'tty') return openStreamSessionDevice(config, kind, log);
  const name = config.device.name;
  const configured = config.device.mode === 'tap' ? 'tap' : config.device.mode === 'tun' ? 'tun' : null;
  if (configured && configured !== kind) log(`the server asked for a ${kind} device (this config says ${configured}); using ${kind}`);
  const preexisting = fs.existsSync(`/sys/class/net/${name}`);
  // (a tun is the packet engine's alone: it may take the kernel's offloads)
  const device = TunDevice.open(name, { kind, multiQueue: config.device.multiQueue, vnetHdr: kind === 'tun' && engineVnetHdr() });
  try {
    await configureDevice(device.name, config, kind, ip);
  } catch (error) {
    device.close();
    throw error;
  }
  return {
    device,
    kind,
    preexisting,
    info: { ifname: device.name, kind, mtu: safeMtu(device), multi_queue: config.device.multiQueue, persist: preexisting },
  };
}

function openStreamSessionDevice(config: SessionConfig, kind: 'pipe' | 'tty', log: (line: string) => void): SessionDevice {
  const mode = config.device.mode;
  if (mode !== kind) {
    if (config.device.program === null) {
      throw new TundError(`the server asked for a VTun ${kind} session, but this config has Mode = ${mode} and no [Device] Program`, {
        exitCode: ExitCode.badConfig,
        hint: `set "Mode = ${kind}" and "Program = COMMAND" in [Device] of ${config.file}, or make the server use tun/ether`,
      });
    }
    log(`the server asked for a ${kind} device (this config says ${mode}); using ${kind}`);
  }
  const device = StreamDevice.open(kind);
  return { device, kind, preexisting: false, info: device.info() };
}

function safeMtu(device: TunDevice): number | null {
  try {
    return device.mtu();
  } catch {
    return null;
  }
}

function stripPrefix(a: string): string {
  const i = a.indexOf('/');
  return i < 0 ? a : a.slice(0, i);
}

export async function configureDevice(ifname: string, config: SessionConfig, kind: 'tun' | 'tap', ip: Ip): Promise<void> {
  const d = config.device;
  if (d.mtu !== null) {
    const links = await ip.jsonOrEmpty<Array<{ mtu?: number }>>(['link', 'show', 'dev', ifname]);
    if (links[0]?.mtu !== d.mtu) await ip.run(['link', 'set', 'dev', ifname, 'mtu', String(d.mtu)]);
  }
  if (kind === 'tap' && (d.mac !== null || d.bridge !== null)) {
    // [Device] MAC and Bridge (the address first: the bridge learns the new one)
    const link = await lookupLink(ip, ifname);
    if (link) await applyLayer2(ip, ifname, link, { mac: d.mac ?? undefined, bridge: d.bridge ?? undefined });
  }
  const present = await ip.jsonOrEmpty<Array<{ addr_info?: AddrInfo[] }>>(['addr', 'show', 'dev', ifname]);
  const have = new Set((present[0]?.addr_info ?? []).map((a) => a.local));
  for (const address of d.addresses) {
    const local = stripPrefix(address);
    if (have.has(local)) continue;
    const family = local.includes(':') ? '-6' : '-4';
    if (d.peer !== null && kind === 'tun' && !local.includes(':') === !d.peer.includes(':')) {
      await ip.run([family, 'addr', 'add', local, 'peer', d.peer, 'dev', ifname]);
    } else {
      await ip.run([family, 'addr', 'add', address, 'dev', ifname]);
    }
  }
  await ip.run(['link', 'set', 'dev', ifname, 'up']);
}
