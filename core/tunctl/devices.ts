// The work behind `tunctl add/del/up/down`: persistent TUN/TAP devices through the addon, and their
// addresses, MTU and state through `ip` (each change echoed as `[#] ...`). Everything is checked
// against what the kernel reports before anything is changed.
import type { NativeAddon } from '../../native/index.js';
import { TundError, UsageFailure } from '../errors.js';
import type { Ip } from '../ip.js';
import { parsePrefix } from '../net.js';
import type { DeviceKind } from '../device/device.js';
import { linkKindOf, lookupLink, tunKindOf } from '../device/facts.js';
import { checkLayer2Kind, layer2Of, prepareLayer2, type Layer2Wanted } from '../device/layer2.js';
import { TunDevice } from '../device/tun.js';

export interface AddDeviceOptions {
  name: string;
  kind: DeviceKind;
  multiQueue: boolean;
  uid?: number;
  gid?: number;
  existOk: boolean;
  /** tap only: the Ethernet address to give the device (lower case, unicast) */
  mac?: string;
  ip: Ip;
  echo: (line: string) => void;
  addon?: NativeAddon;
}

type Link = Record<string, unknown>;

function describeLink(link: Link): string {
  const kind = tunKindOf(link);
  if (kind === undefined) return `a ${linkKindOf(link)} interface`;
  const data = (link.linkinfo as Link).info_data as Link | undefined;
  return `a ${kind} device${data?.multi_queue === true ? ' (multi-queue)' : ''}`;
}

/** Creates a persistent device; returns "exists" when --exist-ok accepted an identical one. */
export async function addDevice(o: AddDeviceOptions): Promise<'created' | 'exists'> {
  checkLayer2Kind(o.name, o.kind, { ...(o.mac === undefined ? {} : { mac: o.mac }) }, LAYER2_FLAGS);
  const existing = await lookupLink(o.ip, o.name);
  if (existing !== undefined) {
    const kind = tunKindOf(existing);
    if (!o.existOk) {
      throw new TundError(`${o.name}: cannot add device: "${o.name}" already exists (${describeLink(existing)})`, {
        hint: kind === undefined ? 'choose another name' : `use --exist-ok to accept it, or remove it first with "tunctl del ${o.name}"`,
      });
    }
    const data = ((existing.linkinfo as Link | undefined)?.info_data ?? {}) as Link;
    const multiQueue = data.multi_queue === true;
    if (kind !== o.kind || multiQueue !== o.multiQueue) {
      const wanted = `a ${o.kind} device${o.multiQueue ? ' (multi-queue)' : ''}`;
      throw new TundError(`${o.name}: device exists as ${describeLink(existing)} (expected ${wanted})`, {
        hint: kind === undefined ? 'choose another name' : `remove it first with "tunctl del ${o.name}"`,
      });
    }
    const mac = layer2Of(existing).mac;
    if (o.mac !== undefined && mac !== o.mac) {
      throw new TundError(`${o.name}: device exists with Ethernet address "${mac ?? 'none'}" (expected "${o.mac}")`, {
        hint: `remove it first with "tunctl del ${o.name}", or change it with "ip link set dev ${o.name} address ${o.mac}"`,
      });
    }
    return 'exists';
  }

  const device = TunDevice.open(o.name, { kind: o.kind, multiQueue: o.multiQueue, ...(o.addon ? { addon: o.addon } : {}) });
  try {
    o.echo(`TUNSETIFF ${device.name} ${o.kind} no_pi${o.multiQueue ? ' multi_queue' : ''}`);
    // Owner and group before persist: if they fail, closing the fd removes the half-made device.
    if (o.uid !== undefined) {
      o.echo(`TUNSETOWNER ${device.name} ${o.uid}`);
      device.setOwner(o.uid);
    }
    if (o.gid !== undefined) {
      o.echo(`TUNSETGROUP ${device.name} ${o.gid}`);
      device.setGroup(o.gid);
    }
    // The address while the fd still holds a non-persistent device: if `ip` fails, nothing is left.
    if (o.mac !== undefined) await o.ip.run(['link', 'set', 'dev', device.name, 'address', o.mac]);
    o.echo(`TUNSETPERSIST ${device.name} 1`);
    device.setPersist(true);
  } finally {
    device.close();
  }
  return 'created';
}

/** The TUN/TAP device NAME as `ip -d link` shows it; clear errors when missing or not TUN/TAP. */
export async function requireTunLink(ip: Ip, name: string, action: string, missingHint?: string): Promise<Link> {
  const link = await lookupLink(ip, name);
  if (link === undefined) {
    throw new TundError(`${name}: cannot ${action}: no such device`, { hint: missingHint ?? `create it with "tunctl add ${name} --mode tun"` });
  }
  if (tunKindOf(link) === undefined) {
    throw new TundError(`${name}: cannot ${action}: "${name}" is ${describeLink(link)}, not a TUN/TAP device`, {
      hint: 'tunctl only manages TUN/TAP devices; use "ip link" for other interfaces',
    });
  }
  return link;
}

/** Removes a TUN/TAP device; returns false when it did not exist and missingOk is set. */
export async function deleteDevice(ip: Ip, name: string, missingOk: boolean): Promise<boolean> {
  if (missingOk && (await lookupLink(ip, name)) === undefined) return false;
  await requireTunLink(ip, name, 'delete device', 'see "tunctl list"; --missing-ok accepts a missing device');
  await ip.run(['link', 'del', 'dev', name]);
  return true;
}

const LAYER2_FLAGS = { macFlag: '--mac', bridgeFlag: '--bridge' };

export interface UpOptions {
  name: string;
  addresses: string[];
  peer?: string;
  mtu?: number;
  /** tap only: join this Linux bridge (a string), or leave any bridge (false) */
  bridge?: string | false;
}

/** The `ip` argument lists that bring a device up; pure, so that tests can check the plan. */
export function upPlan(o: UpOptions): string[][] {
  const plan: string[][] = [];
  const peer = o.peer === undefined ? undefined : parsePrefix(o.peer);
  if (peer !== undefined && !peer.ok) throw new UsageFailure(`${o.name}: invalid peer address "${o.peer}": ${peer.problem}`);
  if (peer !== undefined && peer.ok) {
    const sameFamily = o.addresses.some((a) => {
      const c = parsePrefix(a);
      return c.ok && c.family === peer.family;
    });
    if (!sameFamily) {
      throw new UsageFailure(
        `${o.name}: --peer "${o.peer}" needs an --address of the same IP version`,
        `e.g. "tunctl up ${o.name} --address 198.18.0.1/30 --peer 198.18.0.2"`,
      );
    }
  }
  if (o.mtu !== undefined) plan.push(['link', 'set', 'dev', o.name, 'mtu', String(o.mtu)]);
  for (const address of o.addresses) {
    const c = parsePrefix(address);
    if (!c.ok) throw new UsageFailure(`${o.name}: invalid address "${address}": ${c.problem}`);
    if (peer !== undefined && peer.ok && peer.family === c.family) {
      // Point-to-point: the prefix goes to the peer side, so the route covers the peer's network.
      plan.push(['addr', 'replace', c.address, 'peer', `${peer.address}/${c.length}`, 'dev', o.name]);
    } else {
      plan.push(['addr', 'replace', c.text, 'dev', o.name]);
    }
  }
  plan.push(['link', 'set', 'dev', o.name, 'up']);
  return plan;
}

/**
 * Applies MTU and addresses (`ip addr replace`, so running it twice is fine), joins or leaves a
 * bridge (tap only; checked before anything changes) and sets the link up last, so that a new
 * bridge port starts forwarding with its final settings.
 */
export async function upDevice(ip: Ip, o: UpOptions): Promise<void> {
  const plan = upPlan(o); // usage problems first, before anything is touched
  const link = await requireTunLink(ip, o.name, 'bring device up');
  const layer2: Layer2Wanted = o.bridge === undefined ? {} : { bridge: o.bridge };
  checkLayer2Kind(o.name, tunKindOf(link)!, layer2, LAYER2_FLAGS);
  const bridgeSteps = await prepareLayer2(ip, o.name, link, layer2);
  const up = plan.pop()!; // ['link', 'set', 'dev', name, 'up']
  for (const args of [...plan, ...bridgeSteps, up]) await ip.run(args);
}

export async function downDevice(ip: Ip, name: string): Promise<void> {
  await requireTunLink(ip, name, 'bring device down');
  await ip.run(['link', 'set', 'dev', name, 'down']);
}
