// tunroute dns NAME [--follow]: root applies the DNS that session NAME, not running as root, asks
// for (core/route/dns-follow.ts); tund@.service runs it in ExecStartPost=+, tund-dns@.service
// with --follow.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { loadSessionConfig } from '../../core/config/load.js';
import { ConfigFailure } from '../../core/errors.js';
import { followSessionDns, syncSessionDns, type DnsSync } from '../../core/route/dns-follow.js';
import { routeOptionsFor, sessionName } from '../../core/route/cli.js';

const SAID: Record<DnsSync, string> = {
  applied: 'DNS applied',
  replaced: 'DNS replaced with the new request',
  reverted: 'DNS reverted (no longer asked for)',
  unchanged: 'DNS unchanged',
};

export class RouteDnsCommand extends BaseCommand {
  static override paths = [['dns']];

  static override usage = Command.Usage({
    category: 'Session routes',
    description: "apply, as root, the DNS a session that is not root asks for",
    details: `
      A session that does not run as root (tund@.service runs it as the user tund) cannot set
      DNS: resolvconf writes root's files and systemd-resolved takes per-link DNS from root. With
      TUND_DNS=delegate (set by tund@.service) the session records what it wants in its route
      state, /run/tund/routes/NAME.json, while its link is up; this command, as root, makes the
      system match: it applies the request, replaces a setting that no longer matches, or reverts
      one nobody asks for. It records what it set before setting it, so \`tunroute cleanup NAME\`
      reverts it after a crash. Only the session's own device (its [Device] Name) gets DNS; when a
      reload renamed it, the request names the new device and the file does too, so the DNS moves
      there.

      \`--follow\` keeps doing so on every change (a reconnect, a reload with other DNS) until
      SIGTERM, then reverts. tund@.service runs \`tunroute dns NAME\` in ExecStartPost= (the unit is
      active with its DNS set) and tund-dns@NAME.service runs \`--follow\`; it exits at once when
      the session's file names no DNS, and each \`systemctl reload tund@NAME\` starts it again
      (so a reload that adds DNS gets it applied).
    `,
    examples: [
      ['Apply what session office asks for now', '$0 dns office'],
      ['Follow its requests until stopped (as tund-dns@office.service does)', '$0 dns office --follow'],
    ],
  });

  name = Option.String({ name: 'NAME' });

  follow = Option.Boolean('--follow', false, {
    description: 'Keep the DNS in step with the session until SIGTERM, then revert it',
  });

  async run(): Promise<number> {
    sessionName(this.name);
    const opts = routeOptionsFor(this, false);
    const read = await this.readConfig();
    // the session's file names its device; a reload may rename it, so a request for another
    // link makes root read the file again (dns-follow.ts)
    const device = { name: read?.device ?? this.name, reread: async () => (await this.readConfig())?.device ?? null };
    const wantsDns = read?.wantsDns ?? true;
    if (!this.follow) {
      const r = await syncSessionDns(this.name, device, opts);
      if (this.verbose > 0 || r !== 'unchanged') this.note(`${this.name}: ${SAID[r]}`);
      return 0;
    }
    const stop = new AbortController();
    const onSignal = () => stop.abort();
    process.once('SIGTERM', onSignal);
    process.once('SIGINT', onSignal);
    if (!wantsDns) {
      // revert what an earlier configuration asked for, then there is nothing to follow
      await syncSessionDns(this.name, device, opts);
      this.note(`${this.name}: no DNS in the session's file: nothing to follow`);
      return 0;
    }
    this.note(`${this.name}: following the session's DNS on ${device.name}`);
    await followSessionDns(this.name, device, stop.signal, {
      ...opts,
      onSync: (r) => r !== 'unchanged' && this.note(`${this.name}: ${SAID[r]}`),
      renamed: (from, to) => this.note(`${this.name}: the session renamed its device ${from} -> ${to}: following its DNS there`),
    });
    process.off('SIGTERM', onSignal);
    process.off('SIGINT', onSignal);
    return 0;
  }

  /** The session's device and whether its file asks for DNS; null without a readable file. */
  private async readConfig(): Promise<{ device: string; wantsDns: boolean } | null> {
    try {
      const { config } = await loadSessionConfig(this.name);
      return { device: config.device.name || this.name, wantsDns: config.route.dns.length > 0 || config.route.dnsDomains.length > 0 };
    } catch (error) {
      // no readable config: a request can only be for the device named like the session
      if (!(error instanceof ConfigFailure)) throw error;
      return null;
    }
  }
}
