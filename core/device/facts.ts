// What the kernel says about TUN/TAP devices, from `ip -j -d -s link` and `ip -j addr`, in the
// JSON shape of `tunctl show --json` (snake_case, every key always present, null when unknown;
// the device fields mirror `ip -j -d link`'s linkinfo.info_data). Reused by `tunctl status`.
import type { Ip } from '../ip.js';
import type { DeviceKind } from './device.js';

export const DEVICES_FORMAT = 1;

export interface AddressFact {
  family: 'inet' | 'inet6';
  /** the local address */
  local: string;
  prefixlen: number;
  /** the peer address of a point-to-point address, else null */
  peer: string | null;
  scope: string | null;
}

export interface DeviceFacts {
  ifname: string;
  ifindex: number;
  kind: DeviceKind;
  /** administratively up (IFF_UP) */
  up: boolean;
  /** the kernel's operstate: UP, DOWN, UNKNOWN, ... */
  operstate: string | null;
  mtu: number | null;
  /** the Ethernet address of a tap (ip's "address"); null for a tun, which has none */
  mac: string | null;
  /** the Linux bridge the device is a port of (ip's "master" when info_slave_kind is bridge), else null */
  bridge: string | null;
  // linkinfo.info_data of `ip -j -d link`
  pi: boolean | null;
  vnet_hdr: boolean | null;
  multi_queue: boolean | null;
  numqueues: number | null;
  numdisabled: number | null;
  persist: boolean | null;
  /** owner as `ip` prints it (user name, or the uid when it has no name); null when unset */
  user: string | null;
  group: string | null;
  addresses: AddressFact[];
  rx_bytes: number | null;
  tx_bytes: number | null;
  rx_packets: number | null;
  tx_packets: number | null;
  rx_dropped: number | null;
  tx_dropped: number | null;
}

export interface DevicesReport {
  format: typeof DEVICES_FORMAT;
  devices: DeviceFacts[];
}

type Json = Record<string, unknown>;

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const num = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);
const bool = (v: unknown): boolean | null => (typeof v === 'boolean' ? v : null);
const str = (v: unknown): string | null => (typeof v === 'string' ? v : typeof v === 'number' ? String(v) : null);

/** The TUN/TAP kind of one `ip -j -d link` object, or undefined for other interfaces. */
export function tunKindOf(link: unknown): DeviceKind | undefined {
  if (!isObject(link) || !isObject(link.linkinfo)) return undefined;
  if (link.linkinfo.info_kind !== 'tun') return undefined;
  const data = isObject(link.linkinfo.info_data) ? link.linkinfo.info_data : {};
  if (data.type === 'tap') return 'tap';
  if (data.type === 'tun') return 'tun';
  // Without info_data, a tap has an Ethernet address and a tun has none.
  return link.link_type === 'ether' ? 'tap' : 'tun';
}

/** The kind of any interface as `ip -d link` names it (veth, bridge, tun, ...), or "device". */
export function linkKindOf(link: unknown): string {
  if (isObject(link) && isObject(link.linkinfo) && typeof link.linkinfo.info_kind === 'string') return link.linkinfo.info_kind;
  if (isObject(link) && link.link_type === 'loopback') return 'loopback';
  return 'device';
}

/** The bridge an `ip -j -d link` object is a port of, or null (no master, or a bond, vrf, ...). */
export function bridgeOf(link: unknown): string | null {
  if (!isObject(link) || typeof link.master !== 'string') return null;
  return isObject(link.linkinfo) && link.linkinfo.info_slave_kind === 'bridge' ? link.master : null;
}

function addressesOf(entry: unknown): AddressFact[] {
  if (!isObject(entry) || !Array.isArray(entry.addr_info)) return [];
  const out: AddressFact[] = [];
  for (const a of entry.addr_info) {
    if (!isObject(a)) continue;
    if ((a.family !== 'inet' && a.family !== 'inet6') || typeof a.local !== 'string') continue;
    out.push({
      family: a.family,
      local: a.local,
      prefixlen: num(a.prefixlen) ?? (a.family === 'inet' ? 32 : 128),
      peer: typeof a.address === 'string' && a.address !== a.local ? a.address : null,
      scope: str(a.scope),
    });
  }
  return out;
}

/**
 * Builds the facts of every TUN/TAP device from parsed `ip -j -d -s link show` and `ip -j addr show`
 * output (other interfaces are left out), sorted by name.
 */
export function buildDeviceFacts(links: unknown, addrs: unknown): DeviceFacts[] {
  const linkList = Array.isArray(links) ? links : [];
  const addrList = Array.isArray(addrs) ? addrs : [];
  const out: DeviceFacts[] = [];
  for (const link of linkList) {
    const kind = tunKindOf(link);
    if (kind === undefined || !isObject(link) || typeof link.ifname !== 'string') continue;
    const linkinfo = link.linkinfo as Json;
    const data = isObject(linkinfo.info_data) ? linkinfo.info_data : {};
    const flags = Array.isArray(link.flags) ? link.flags : [];
    const stats = isObject(link.stats64) ? link.stats64 : isObject(link.stats) ? link.stats : {};
    const rx = isObject(stats.rx) ? stats.rx : {};
    const tx = isObject(stats.tx) ? stats.tx : {};
    const addrEntry = addrList.find((a) => isObject(a) && (a.ifindex === link.ifindex || a.ifname === link.ifname));
    out.push({
      ifname: link.ifname,
      ifindex: num(link.ifindex) ?? 0,
      kind,
      up: flags.includes('UP'),
      operstate: str(link.operstate),
      mtu: num(link.mtu),
      mac: kind === 'tap' ? str(link.address) : null,
      bridge: bridgeOf(link),
      pi: bool(data.pi),
      vnet_hdr: bool(data.vnet_hdr),
      multi_queue: bool(data.multi_queue),
      numqueues: num(data.numqueues),
      numdisabled: num(data.numdisabled),
      persist: bool(data.persist),
      user: str(data.user),
      group: str(data.group),
      addresses: addressesOf(addrEntry),
      rx_bytes: num(rx.bytes),
      tx_bytes: num(tx.bytes),
      rx_packets: num(rx.packets),
      tx_packets: num(tx.packets),
      rx_dropped: num(rx.dropped),
      tx_dropped: num(tx.dropped),
    });
  }
  return out.sort((a, b) => (a.ifname < b.ifname ? -1 : a.ifname > b.ifname ? 1 : 0));
}

/** One interface as `ip -j -d link show dev NAME` reports it, or undefined when it does not exist. */
export async function lookupLink(ip: Ip, name: string): Promise<Json | undefined> {
  const links = await ip.jsonOrEmpty<unknown[]>(['-d', 'link', 'show', 'dev', name]);
  const link = Array.isArray(links) ? links.find((l) => isObject(l) && l.ifname === name) : undefined;
  return isObject(link) ? link : undefined;
}

/** Facts of every TUN/TAP device (or only NAME: [] when it does not exist or is not TUN/TAP). */
export async function readDeviceFacts(ip: Ip, name?: string): Promise<DeviceFacts[]> {
  const dev = name === undefined ? [] : ['dev', name];
  const links = await ip.jsonOrEmpty<unknown[]>(['-d', '-s', 'link', 'show', ...dev]);
  if (!Array.isArray(links) || links.length === 0) return [];
  const addrs = await ip.jsonOrEmpty<unknown[]>(['addr', 'show', ...dev]);
  return buildDeviceFacts(links, addrs);
}

export function devicesReport(devices: DeviceFacts[]): DevicesReport {
  return { format: DEVICES_FORMAT, devices };
}

export function addressText(a: AddressFact): string {
  return a.peer === null ? `${a.local}/${a.prefixlen}` : `${a.local} peer ${a.peer}/${a.prefixlen}`;
}

const yesNo = (v: boolean | null): string => (v === null ? 'unknown' : v ? 'yes' : 'no');

/** Bytes in the units wg show uses: B, KiB, MiB, GiB, TiB. */
export function formatBytes(bytes: number | null): string {
  if (bytes === null) return 'unknown';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${bytes} B` : `${value.toFixed(2)} ${units[unit]}`;
}

/** The human view, like `wg show`: a header line per device, then indented `key: value` lines. */
export function formatDevices(devices: DeviceFacts[]): string {
  const blocks = devices.map((d) => {
    const lines = [`device: ${d.ifname}`];
    const add = (key: string, value: string): void => {
      lines.push(`  ${key}: ${value}`);
    };
    add('kind', d.kind);
    add('state', `${d.up ? 'up' : 'down'}${d.operstate ? ` (operstate ${d.operstate.toLowerCase()})` : ''}`);
    add('mtu', d.mtu === null ? 'unknown' : String(d.mtu));
    if (d.kind === 'tap') add('mac', d.mac ?? 'unknown');
    if (d.kind === 'tap') add('bridge', d.bridge ?? 'none');
    add('persistent', yesNo(d.persist));
    add('owner', d.user ?? 'none');
    add('group', d.group ?? 'none');
    add('multi-queue', yesNo(d.multi_queue));
    add('vnet header', yesNo(d.vnet_hdr));
    add('addresses', d.addresses.length === 0 ? 'none' : d.addresses.map(addressText).join(', '));
    add('received', `${formatBytes(d.rx_bytes)}, ${d.rx_packets ?? 'unknown'} packets`);
    add('sent', `${formatBytes(d.tx_bytes)}, ${d.tx_packets ?? 'unknown'} packets`);
    return lines.join('\n');
  });
  return blocks.length === 0 ? '' : `${blocks.join('\n\n')}\n`;
}
