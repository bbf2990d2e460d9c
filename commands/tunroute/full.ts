// tunroute full NAME --endpoint ADDR [--exclude PREFIX...]: ad-hoc full tunnel.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { UsageFailure } from '../../core/errors.js';
import { parseEndpoint } from '../../core/net.js';
import { deviceOf, fullTunnel, resolveEndpoint } from '../../core/route/index.js';
import { listOption, parseMetricOption, parseTableOption, routeOptionsFor, sessionName } from '../../core/route/cli.js';

export class RouteFullCommand extends BaseCommand {
  static override paths = [['full']];

  static override usage = Command.Usage({
    category: 'Ad-hoc routes',
    description: 'send all traffic through a session\'s device, except the endpoint',
    details: `
      Sends all IPv4 and IPv6 traffic into the device of session NAME with policy routing: the
      default routes go into a table of their own (the first free one from 51820 upward, or
      \`--table N\`), and three rules (priorities 31000-31002) keep the endpoint ADDR and every
      \`--exclude\` prefix on the main table (the previous gateway), let the more specific routes
      of main win (LAN, connected subnets), and send the rest to the tunnel table. The main table
      itself is not changed.

      ADDR is an address or host name, with or without a port (\`198.18.9.1\`,
      \`vpn.example.org:5000\`, \`[2001:db8::1]:5000\`); every address of a name is kept outside.
      Undo with \`tunroute down NAME\` or \`tunroute cleanup NAME\`.
    `,
    examples: [
      ['All traffic through office, the peer at 198.18.9.1 stays on the old gateway', '$0 full office --endpoint 198.18.9.1'],
      ['The same, keeping a LAN prefix outside the tunnel', '$0 full office --endpoint 198.18.9.1:5000 --exclude 198.19.100.0/24'],
      ['Show the plan only', '$0 full office --endpoint 198.18.9.1 --dry-run'],
    ],
  });

  name = Option.String({ name: 'NAME' });

  endpoint = placeholder('ADDR', Option.String('--endpoint', { required: true, description: 'The peer\'s address (ADDR, HOST, HOST:PORT or [V6]:PORT), kept outside the tunnel' }));
  exclude = placeholder('PREFIX', Option.Array('--exclude', { description: 'Prefix kept outside the tunnel (repeatable, or comma-separated)' }));
  table = placeholder('TABLE', Option.String('--table', { description: 'Routing table for the tunnel: auto (default, 51820 upward) or a number' }));
  metric = placeholder('METRIC', Option.String('--metric', { description: 'Metric of the default routes in the tunnel table' }));

  dryRun = Option.Boolean('-n,--dry-run', false, {
    description: 'Print the [#] plan of commands without running them',
  });

  async run(): Promise<number> {
    sessionName(this.name);
    const ep = parseEndpoint(this.endpoint, 1);
    if (!ep.ok) throw new UsageFailure(`--endpoint ${JSON.stringify(this.endpoint)}: ${ep.problem} (expected ADDR, HOST:PORT or [V6]:PORT)`);
    const table = parseTableOption(this.table, true);
    const endpoints = await resolveEndpoint(ep.host);
    const device = await deviceOf(this.name);
    await fullTunnel(this.name, {
      ...routeOptionsFor(this, this.dryRun),
      device,
      endpoints,
      exclude: listOption(this.exclude),
      table: table === undefined || table === 'main' ? (table === 'main' ? 254 : 'auto') : table,
      metric: parseMetricOption(this.metric),
    });
    return 0;
  }
}
