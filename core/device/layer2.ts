// The layer-2 settings of a TAP device: its Ethernet address and the Linux bridge it is a port
// of. Used by `tunctl add --mac`, `tunctl up --bridge/--nobridge` and a session's [Device] MAC and
// Bridge keys. Split like core/route/: a pure plan from what is wanted and what the kernel
// reports (so running it twice changes nothing the second time), and checks that read the kernel
// before anything is changed.
import { TundError, UsageFailure } from '../errors.js';
import type { Ip } from '../ip.js';
import type { DeviceKind } from './device.js';
import { bridgeOf, linkKindOf, lookupLink } from './facts.js';

export interface Layer2Wanted {
  /** the Ethernet address to set (lower case, unicast); undefined leaves it as it is */
  mac?: string;
  /** the bridge to join; false leaves any bridge; undefined leaves the membership as it is */
  bridge?: string | false;
}

export interface Layer2Current {
  mac: string | null;
  bridge: string | null;
  /** the interface has a master that is not a bridge (bond, vrf, ...) */
  otherMaster: string | null;
}

type Link = Record<string, unknown>;

/** What the kernel reports about one `ip -j -d link` object, for layer2Plan. */
export function layer2Of(link: Link): Layer2Current {
  const bridge = bridgeOf(link);
  const master = typeof link.master === 'string' ? link.master : null;
  return {
    mac: typeof link.address === 'string' ? link.address.toLowerCase() : null,
    bridge,
    otherMaster: bridge === null ? master : null,
  };
}

/**
 * The `ip` argument lists that make `name` match `wanted`; pure. The address is set before the
 * device joins a bridge (the bridge learns the new address, not the old one).
 */
export function layer2Plan(name: string, wanted: Layer2Wanted, current: Layer2Current): string[][] {
  const plan: string[][] = [];
  if (wanted.mac !== undefined && wanted.mac !== current.mac) plan.push(['link', 'set', 'dev', name, 'address', wanted.mac]);
  if (typeof wanted.bridge === 'string' && wanted.bridge !== current.bridge) plan.push(['link', 'set', 'dev', name, 'master', wanted.bridge]);
  if (wanted.bridge === false && current.bridge !== null) plan.push(['link', 'set', 'dev', name, 'nomaster']);
  return plan;
}

/**
 * Usage problems of `wanted` for a device of `kind`, before the system is touched: a TUN device
 * has no Ethernet address and cannot be a bridge port (the kernel refuses it with EINVAL).
 */
export function checkLayer2Kind(name: string, kind: DeviceKind, wanted: Layer2Wanted, options: { macFlag: string; bridgeFlag: string }): void {
  if (kind === 'tap') return;
  if (wanted.mac !== undefined) {
    throw new UsageFailure(`${name}: ${options.macFlag} needs a TAP device (a TUN device has no Ethernet address)`, `create a TAP device: "tunctl add ${name} --mode tap"`);
  }
  if (typeof wanted.bridge === 'string') {
    throw new UsageFailure(
      `${name}: cannot join bridge "${wanted.bridge}" (${options.bridgeFlag}): a TUN device carries IP packets, a bridge only takes Ethernet devices`,
      `use a TAP device: "tunctl add ${name} --mode tap"`,
    );
  }
}

/** Makes sure `bridge` exists and is a Linux bridge (clear errors otherwise). */
export async function requireBridge(ip: Ip, device: string, bridge: string): Promise<void> {
  const link = await lookupLink(ip, bridge);
  if (link === undefined) {
    throw new TundError(`${device}: cannot join bridge "${bridge}": no such device`, { hint: `create it first: "ip link add ${bridge} type bridge"` });
  }
  const kind = linkKindOf(link);
  if (kind !== 'bridge') {
    throw new TundError(`${device}: cannot join bridge "${bridge}": it is a ${kind} interface, not a bridge`, {
      hint: 'name a Linux bridge ("ip -d link show type bridge" lists them)',
    });
  }
}

/**
 * Checks `wanted` against the kernel (the bridge exists and is one; the device is not the port of
 * a master that is not a bridge) and returns the plan, without changing anything.
 */
export async function prepareLayer2(ip: Ip, name: string, link: Link, wanted: Layer2Wanted): Promise<string[][]> {
  const current = layer2Of(link);
  if (typeof wanted.bridge === 'string') {
    await requireBridge(ip, name, wanted.bridge);
    if (current.otherMaster !== null) {
      throw new TundError(`${name}: cannot join bridge "${wanted.bridge}": the device is a port of "${current.otherMaster}" (not a bridge)`, {
        hint: `detach it first: "ip link set dev ${name} nomaster"`,
      });
    }
  }
  return layer2Plan(name, wanted, current);
}

/** prepareLayer2, then each step, echoed as `[#] ip ...`. Returns the steps that ran. */
export async function applyLayer2(ip: Ip, name: string, link: Link, wanted: Layer2Wanted): Promise<string[][]> {
  const plan = await prepareLayer2(ip, name, link, wanted);
  for (const args of plan) await ip.run(args);
  return plan;
}
