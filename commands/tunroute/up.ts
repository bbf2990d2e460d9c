// tunroute up NAME: apply what the session config asks ([Route] and DNS).
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { loadSessionConfig } from '../../core/config/load.js';
import { formatConfigProblem } from '../../core/errors.js';
import { applySessionRoutes } from '../../core/route/index.js';
import { routeOptionsFor, sessionName } from '../../core/route/cli.js';

export class RouteUpCommand extends BaseCommand {
  static override paths = [['up']];

  static override usage = Command.Usage({
    category: 'Session routes',
    description: 'apply the routes and DNS settings of a session config',
    details: `
      Reads \`[Route]\` of /etc/tund/NAME.conf (\`TUND_CONFIG_DIR\` overrides the directory) and
      applies it through the session's device (\`[Device] Name\`, default NAME):

      - \`Mode = split\`: a route for every \`AllowedIPs\` prefix, in the main table (\`Table = auto\`
        or \`off\`) or in table N with a rule \`lookup N\` (\`Table = N\`), with \`Metric\` if set;
      - \`Mode = full\`: all IPv4 and IPv6 traffic into the tunnel through policy routing (a table
        from 51820 upward, or \`Table = N\`); the host of \`[Session] Endpoint\` and every \`Exclude\`
        prefix keep using the main table, so the peer stays reachable through the old gateway;
      - \`DNS\`/\`DNSDomains\`: per-link DNS through systemd-resolved (routing domains such as
        \`~corp.example\` for split, \`~.\` and default-route for full), or resolvconf (record
        DEVICE.tund); neither available: exit 69. /etc/resolv.conf is never edited.

      Every route carries \`proto 250\` and every rule \`protocol 250\`; what was made is recorded
      in /run/tund/routes/NAME.json before the change, so \`tunroute cleanup NAME\` finds it even
      after a crash. A failure half-way (a conflicting route, say) rolls back what was added and
      exits 1. Running \`up\` twice fails: use \`down\` first.
    `,
    examples: [
      ['Apply the routes of /etc/tund/office.conf', '$0 up office'],
      ['Show the plan without changing anything', '$0 up office --dry-run'],
      ['Apply quietly (no [#] lines)', '$0 up office -q'],
    ],
  });

  name = Option.String({ name: 'NAME' });

  dryRun = Option.Boolean('-n,--dry-run', false, {
    description: 'Print the [#] plan of commands without running them (nothing is changed or recorded)',
  });

  async run(): Promise<number> {
    sessionName(this.name);
    const { config, warnings } = await loadSessionConfig(this.name);
    for (const w of warnings) this.warn(formatConfigProblem(w));
    const result = await applySessionRoutes(config, routeOptionsFor(this, this.dryRun));
    if (this.verbose > 0) {
      this.note(`${this.name}: ${result.mode} via ${result.device}: ${result.entries.length} route/rule change(s)${result.dns ? `, DNS via ${result.dns.backend}` : ''}`);
    }
    return 0;
  }
}
