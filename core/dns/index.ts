// Per-session DNS. systemd-resolved first (per-link servers and domains through resolvectl, as
// systemd.io/RESOLVED-VPNS describes): routing domains (~corp.example) for a split tunnel,
// "~." plus default-route for a full tunnel. Otherwise Debian's resolvconf (an interface record
// LINK.tund). Otherwise a clear error (exit 69). /etc/resolv.conf is never edited by us.
import { promises as fs, constants as fsc } from 'node:fs';
import path from 'node:path';
import { TundError } from '../errors.js';
import { ExitCode } from '../exit.js';
import type { SystemRunner } from '../ip.js';

export type DnsBackend = 'resolved' | 'resolvconf';

export interface DnsRequest {
  link: string;
  servers: string[];
  domains: string[];
  mode: 'split' | 'full' | 'none';
}

export interface DnsSetting {
  backend: DnsBackend;
  link: string;
  servers: string[];
  domains: string[];
  defaultRoute: boolean | null;
  record: string | null;
}

export class DnsUnavailable extends TundError {
  constructor(message: string, hint?: string) {
    super(message, { exitCode: ExitCode.noTun, hint });
  }
}

/** Where resolved keeps its runtime files; overridable for tests of the detection only. */
function resolvedRunDir(): string {
  return process.env.TUNROUTE_RESOLVED_DIR || '/run/systemd/resolve';
}

async function isDir(p: string): Promise<boolean> {
  try {
    return (await fs.stat(p)).isDirectory();
  } catch {
    return false;
  }
}

async function findExecutable(name: string): Promise<string | null> {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/sbin', '/usr/bin', '/bin'];
  for (const dir of dirs) {
    if (!dir) continue;
    const file = path.join(dir, name);
    try {
      await fs.access(file, fsc.X_OK);
      return file;
    } catch {
      // next
    }
  }
  return null;
}

/** resolved when its run dir exists and resolvectl answers; else resolvconf if installed; else null. */
export async function detectBackend(system: SystemRunner): Promise<DnsBackend | null> {
  if ((await isDir(resolvedRunDir())) && (await findExecutable('resolvectl'))) {
    try {
      await system.query('resolvectl', ['--no-pager', 'status']);
      return 'resolved';
    } catch {
      // resolved is installed but not running: try the next backend
    }
  }
  if (await findExecutable('resolvconf')) return 'resolvconf';
  return null;
}

/** Domains as given, each routing-only for a split tunnel; "~." added for a full tunnel. */
export function effectiveDomains(req: DnsRequest): string[] {
  const out: string[] = [];
  for (const d of req.domains) {
    const name = d.trim();
    if (!name) continue;
    out.push(req.mode === 'split' && !name.startsWith('~') ? `~${name}` : name);
  }
  if (req.mode === 'full' && !out.includes('~.')) out.unshift('~.');
  return [...new Set(out)];
}

export function recordName(link: string): string {
  return `${link}.tund`;
}

/** What applyDns would set (computed without touching the system). */
export function planDns(backend: DnsBackend, req: DnsRequest): DnsSetting {
  const domains = effectiveDomains(req);
  if (backend === 'resolved') {
    const defaultRoute = req.mode === 'full' ? true : domains.length > 0 ? false : null;
    return { backend, link: req.link, servers: req.servers, domains, defaultRoute, record: null };
  }
  // resolvconf knows no routing domains: "~d" becomes the search domain "d", "~." is dropped
  const search = domains.map((d) => d.replace(/^~/, '')).filter((d) => d !== '.' && d !== '');
  return { backend, link: req.link, servers: req.servers, domains: search, defaultRoute: null, record: recordName(req.link) };
}

export function resolvconfText(s: DnsSetting): string {
  const lines = s.servers.map((ip) => `nameserver ${ip}`);
  if (s.domains.length > 0) lines.push(`search ${s.domains.join(' ')}`);
  return `${lines.join('\n')}\n`;
}

export async function applyDns(system: SystemRunner, s: DnsSetting): Promise<void> {
  try {
    await applyDnsSetting(system, s);
  } catch (error) {
    const uid = process.getuid?.() ?? 0;
    if (uid === 0) throw error;
    // resolvconf writes root's files, resolved takes per-link DNS from root (or whom polkit
    // allows): a session that is not root asks root instead (TUND_DNS=delegate, as tund@.service
    // runs it; core/route/dns-follow.ts)
    throw new TundError(`${error instanceof Error ? error.message : String(error)} (running as uid ${uid}, not root)`, {
      cause: error,
      hint: `setting DNS with ${s.backend} needs root: run the session as tund@.service (root applies its DNS with "tunroute dns"), or as root`,
    });
  }
}

async function applyDnsSetting(system: SystemRunner, s: DnsSetting): Promise<void> {
  if (s.backend === 'resolved') {
    if (s.servers.length > 0) await system.change('resolvectl', ['dns', s.link, ...s.servers]);
    if (s.domains.length > 0) await system.change('resolvectl', ['domain', s.link, ...s.domains]);
    if (s.defaultRoute !== null) await system.change('resolvectl', ['default-route', s.link, s.defaultRoute ? 'yes' : 'no']);
    return;
  }
  await system.change('resolvconf', ['-a', s.record ?? recordName(s.link)], { input: resolvconfText(s) });
}

/** Removes a setting; missing links / records are not an error (idempotent). */
export async function removeDns(system: SystemRunner, s: Pick<DnsSetting, 'backend' | 'link' | 'record'>): Promise<void> {
  if (s.backend === 'resolved') {
    if (!(await isDir(resolvedRunDir()))) return; // resolved gone: it forgot the link settings with it
    const r = await system.tryChange('resolvectl', ['revert', s.link]);
    if (r.exitCode !== 0 && !/No such device|not found|Failed to resolve interface|Unknown interface/i.test(r.stderr)) {
      throw new TundError(`resolvectl revert ${s.link}: ${r.stderr.trim().split('\n').pop() ?? `exit status ${r.exitCode}`}`);
    }
    return;
  }
  if (!(await findExecutable('resolvconf'))) return;
  const r = await system.tryChange('resolvconf', ['-d', s.record ?? recordName(s.link), '-f']);
  if (r.exitCode !== 0) {
    throw new TundError(`resolvconf -d ${s.record ?? recordName(s.link)}: ${r.stderr.trim().split('\n').pop() ?? `exit status ${r.exitCode}`}`);
  }
}

export function noBackendError(name: string): DnsUnavailable {
  return new DnsUnavailable(
    `${name}: cannot set DNS: neither systemd-resolved (running) nor resolvconf found`,
    'start systemd-resolved or install resolvconf, or remove DNS= from [Route]; /etc/resolv.conf is never edited by tunroute',
  );
}
