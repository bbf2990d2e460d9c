// tunroute add NAME PREFIX...: ad-hoc routes through the session's device.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { isAddress } from '../../core/cli/validators.js';
import { addRoutes, deviceOf } from '../../core/route/index.js';
import { parseMetricOption, parseTableOption, routeOptionsFor, sessionName } from '../../core/route/cli.js';
import type { TableRef } from '../../core/route/state.js';

export class RouteAddCommand extends BaseCommand {
  static override paths = [['add']];

  static override usage = Command.Usage({
    category: 'Ad-hoc routes',
    description: 'route prefixes through a session\'s device',
    details: `
      Adds a route for every PREFIX (IPv4 or IPv6, host bits are cleared with a warning) through
      the device of session NAME: \`[Device] Name\` of its config, or NAME when there is no config.
      The routes carry \`proto 250\` and are recorded for NAME, so \`del\` and \`cleanup\` find them.
      All or nothing: if one route cannot be added (it exists already, say), the ones added before
      are removed again and the command exits 1.

      \`--table N\` puts the routes into table N (no rule is added for it); the default is main.
    `,
    examples: [
      ['Route two prefixes into the tunnel of session office', '$0 add office 198.19.10.0/24 198.19.20.0/24'],
      ['Route through a gateway on the tunnel, with a metric', '$0 add office 198.19.30.0/24 --via 198.18.100.1 --metric 50'],
      ['Put a route into table 100', '$0 add office 198.19.40.0/24 --table 100'],
    ],
  });

  name = Option.String({ name: 'NAME' });
  prefixes = Option.Rest({ name: 'PREFIX', required: 1 });

  via = placeholder('ADDR', Option.String('--via', { description: 'Next hop (gateway) on the tunnel side', validator: isAddress }));
  table = placeholder('TABLE', Option.String('--table', { description: 'Routing table: main (default; off is the same) or a number' }));
  metric = placeholder('METRIC', Option.String('--metric', { description: 'Route metric (priority), 0-4294967295' }));

  dryRun = Option.Boolean('-n,--dry-run', false, {
    description: 'Print the [#] plan of commands without running them',
  });

  async run(): Promise<number> {
    sessionName(this.name);
    const table = parseTableOption(this.table, false) as TableRef | undefined;
    const metric = parseMetricOption(this.metric);
    const device = await deviceOf(this.name);
    await addRoutes(this.name, this.prefixes, {
      ...routeOptionsFor(this, this.dryRun),
      device,
      via: this.via ?? null,
      ...(table === undefined ? {} : { table }),
      metric,
    });
    return 0;
  }
}
