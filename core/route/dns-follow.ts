// Root's half of a session's DNS when the session is not root (tund@.service runs it as the user
// tund, with TUND_DNS=delegate). resolvconf writes root's files and systemd-resolved takes per-link
// DNS from root, so the session only *asks*: while its link is up, its route state
// (routes/NAME.json) carries `dnsRequest`. `tunroute dns NAME` makes the system match that
// request once (ExecStartPost=+: the unit is active with its DNS set); `tunroute dns NAME --follow`
// (tund-dns@NAME.service, as root) does so on every change until it is stopped, then reverts:
// a reconnect withdraws the request and asks again, a reload that changes DNS asks for the new one.
//
// What root applies is recorded as `dns` in the same state file before the system changes (the
// intent log), so `tunroute cleanup NAME` (ExecStopPost=+) reverts it after any crash. The file
// belongs to the session's user: root checks the request field by field (a link name, IP
// literals, domain names: saneDnsRequest) and sets DNS only on the session's own device.
import { watch, type FSWatcher } from 'node:fs';
import { isDeepStrictEqual } from 'node:util';
import { TundError } from '../errors.js';
import { applyDns, detectBackend, noBackendError, planDns, removeDns, type DnsRequest, type DnsSetting } from '../dns/index.js';
import { makeRunDirectory } from '../auth/account.js';
import { makeContext, type RouteOptions } from './engine.js';
import { readState, saneDnsRequest, saveOrDelete, stateDir, withSessionLock, writeState, type DnsEntry } from './state.js';

export type DnsSync = 'applied' | 'reverted' | 'replaced' | 'unchanged';

/**
 * The session's device as root knows it: its [Device] Name. `reread` reads the session's file
 * again; it is asked only when a request names another link, since a reload that renamed the
 * device asks for the new one. Root takes that name from the file, never from the request, and
 * then forgets the old one. A file edited but not reloaded yet changes nothing while the session
 * asks for the device root knows; a follower that starts between such an edit and the reload
 * knows the new name first and ignores the running device's request until the reload.
 */
export interface SessionDevice {
  name: string;
  reread?: () => Promise<string | null>;
}

/** Is SETTING what root would make of REQUEST with this backend? */
function matches(setting: DnsEntry, request: DnsRequest): boolean {
  const { origin: _origin, ...made } = setting;
  return isDeepStrictEqual(made, planDns(setting.backend, request));
}

/**
 * Makes the system's DNS for session NAME what its state asks for: applies a request, replaces a
 * setting that differs, reverts one that nobody asks for any more. DEVICE is the session's device
 * (its config's [Device] Name): a request for another link is refused, unless the file names that
 * link now (a reload renamed the device: DEVICE then names it, and `renamed` says so).
 */
export async function syncSessionDns(
  name: string,
  device: SessionDevice,
  opts: RouteOptions & { renamed?: (from: string, to: string) => void } = {},
): Promise<DnsSync> {
  return withSessionLock(name, async () => {
    const ctx = makeContext(opts);
    const state = await readState(name);
    if (!state) return 'unchanged';
    let request: DnsRequest | null = null;
    if (state.dnsRequest !== undefined && state.dnsRequest !== null) {
      if (!saneDnsRequest(state.dnsRequest)) {
        opts.warn?.(`${name}: ignoring a DNS request that is not a link name, IP addresses and domain names`);
      } else if (state.dnsRequest.link === device.name || (await renamedTo(device, state.dnsRequest.link, opts.renamed))) {
        request = state.dnsRequest;
      } else {
        opts.warn?.(`${name}: ignoring a DNS request for "${state.dnsRequest.link}": the session's device is "${device.name}"`);
      }
    }
    const current = state.dns;
    if (current && request && matches(current, request)) return 'unchanged';
    if (!current && !request) return 'unchanged';
    if (current) {
      await removeDns(ctx.system, current);
      state.dns = null;
      await saveOrDelete(state);
      if (!request) return 'reverted';
    }
    const backend = await detectBackend(ctx.system);
    if (!backend) throw noBackendError(name);
    const setting: DnsSetting = planDns(backend, request!);
    state.dns = { ...setting, origin: 'up' };
    await writeState(state); // intent first
    try {
      await applyDns(ctx.system, setting);
    } catch (error) {
      await removeDns(ctx.system, setting).catch(() => undefined);
      state.dns = null;
      await saveOrDelete(state);
      throw error;
    }
    return current ? 'replaced' : 'applied';
  });
}

/** Does the session's file name LINK as its device now? Then DEVICE becomes LINK. */
async function renamedTo(device: SessionDevice, link: string, renamed?: (from: string, to: string) => void): Promise<boolean> {
  const now = device.reread ? await device.reread() : null;
  if (now !== link) return false;
  const from = device.name;
  device.name = now;
  renamed?.(from, now);
  return true;
}

/** Reverts the DNS setting root made for NAME (the end of --follow); the request stays. */
export async function revertSessionDns(name: string, opts: RouteOptions = {}): Promise<boolean> {
  return withSessionLock(name, async () => {
    const state = await readState(name);
    if (!state?.dns) return false;
    await removeDns(makeContext(opts).system, state.dns);
    state.dns = null;
    await saveOrDelete(state);
    return true;
  });
}

/** How often --follow looks even without a change notice (inotify may miss none, but cheaply safe). */
const POLL_MS = 5000;

/**
 * Follows session NAME's DNS request until SIGNAL is aborted, then reverts what it set. Each
 * change of the state directory syncs once more; changes during a sync give one more sync after
 * it. A failing sync is reported through `warn` and retried at the next change or poll.
 */
export async function followSessionDns(
  name: string,
  device: SessionDevice,
  signal: AbortSignal,
  opts: RouteOptions & { onSync?: (r: DnsSync) => void; renamed?: (from: string, to: string) => void } = {},
): Promise<void> {
  makeRunDirectory(stateDir());
  let running: Promise<void> | null = null;
  let again = false;
  const sync = (): void => {
    if (signal.aborted) return;
    if (running) {
      again = true;
      return;
    }
    running = syncSessionDns(name, device, opts)
      .then((r) => opts.onSync?.(r))
      .catch((error) => opts.warn?.(`${name}: DNS: ${error instanceof Error ? error.message : String(error)}`))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          sync();
        }
      });
  };
  let watcher: FSWatcher | null = null;
  try {
    watcher = watch(stateDir(), (_event, file) => {
      if (file === null || file === `${name}.json`) sync();
    });
  } catch (error) {
    throw new TundError(`${name}: cannot watch ${stateDir()}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const timer = setInterval(sync, POLL_MS);
  sync();
  await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
  clearInterval(timer);
  watcher.close();
  while (running) await running;
  await revertSessionDns(name, opts);
}
