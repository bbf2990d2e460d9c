// What `tund serve` cannot do for a session it serves: set its DNS, unless it runs as root.
// resolvconf writes root's files and systemd-resolved takes per-link DNS from root; a session of
// tund@NAME.service asks root instead (TUND_DNS=delegate, tund-dns@NAME.service applies it), but
// the sessions of `tund serve` (tund-inetd.service, tund.socket: the user tund) come and go with
// their connections and no root helper follows them. Such a session with DNS would be accepted and
// then fail every link half-way, so it is refused up front, as a configuration problem at the DNS
// line: logged when the listener starts and for each connection that names it.
import { promises as fs } from 'node:fs';
import type { SessionConfig } from '../config/types.js';
import { parseIni } from '../config/ini.js';
import type { ConfigProblem } from '../errors.js';

/** The line of the first DNS or DNSDomains key (wg-quick: [Interface] DNS) in TEXT; 0 when none. */
export function dnsLineOf(text: string): number {
  const doc = parseIni(text);
  for (const section of doc.sections) {
    const name = section.name.toLowerCase();
    if (name !== 'route' && name !== 'interface') continue;
    const entry = section.entries.find((e) => ['dns', 'dnsdomains'].includes(e.key.toLowerCase()));
    if (entry) return entry.line;
  }
  return 0;
}

/**
 * Why `tund serve`, running as UID, cannot serve this session (its DNS), with the line of the
 * file's DNS key when TEXT (the file's text) is given; null when it can.
 */
export function servedDnsProblem(config: SessionConfig, uid: number, text = ''): ConfigProblem | null {
  if (uid === 0 || (config.route.dns.length === 0 && config.route.dnsDomains.length === 0)) return null;
  return {
    file: config.file,
    line: dnsLineOf(text),
    message:
      `DNS is not available to a session that "tund serve" serves (tund-inetd.service, tund.socket): it runs as uid ${uid}, not root, ` +
      `and no root helper applies the DNS of its sessions (expected no DNS or DNSDomains here; run the session as tund@${config.name}.service, whose DNS root applies, to keep them)`,
  };
}

/** servedDnsProblem for this process, with the line read from the session's file. */
export async function servedSessionProblem(config: SessionConfig): Promise<ConfigProblem | null> {
  const uid = process.getuid?.() ?? 0;
  if (!servedDnsProblem(config, uid)) return null;
  const text = await fs.readFile(config.file, 'utf8').catch(() => '');
  return servedDnsProblem(config, uid, text);
}

/**
 * For `tund check`: a VTun server session with DNS, which tund-inetd.service (`tund serve` as the
 * user tund) will refuse; null for any other session. A warning: tund@NAME.service runs it fine.
 */
export function servedDnsWarning(config: SessionConfig, text: string): ConfigProblem | null {
  if (config.session.protocol !== 'vtun' || config.session.role !== 'server') return null;
  if (config.route.dns.length === 0 && config.route.dnsDomains.length === 0) return null;
  return {
    file: config.file,
    line: dnsLineOf(text),
    message: `DNS: tund-inetd.service (tund.socket) refuses to serve this session (its "tund serve" runs as the user tund, and no root helper applies the DNS of its sessions); run it as tund@${config.name}.service`,
  };
}
