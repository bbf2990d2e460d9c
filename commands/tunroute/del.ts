// tunroute del NAME PREFIX...: remove routes of the session.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { delRoutes } from '../../core/route/index.js';
import { parseTableOption, routeOptionsFor, sessionName } from '../../core/route/cli.js';
import type { TableRef } from '../../core/route/state.js';

export class RouteDelCommand extends BaseCommand {
  static override paths = [['del']];

  static override usage = Command.Usage({
    category: 'Ad-hoc routes',
    description: 'remove routes that tunroute made for a session',
    details: `
      Removes the routes with these prefixes that are recorded for session NAME (from \`add\`,
      \`up\` or \`full\`). A prefix that NAME has no route for is an error (exit 1) and nothing is
      removed; a route with the same prefix that tunroute did not make is never touched.
    `,
    examples: [
      ['Remove one ad-hoc route', '$0 del office 198.19.10.0/24'],
      ['Remove a route from table 100 only', '$0 del office 198.19.40.0/24 --table 100'],
    ],
  });

  name = Option.String({ name: 'NAME' });
  prefixes = Option.Rest({ name: 'PREFIX', required: 1 });

  table = placeholder('TABLE', Option.String('--table', { description: 'Only the route in this table (main or a number)' }));

  dryRun = Option.Boolean('-n,--dry-run', false, {
    description: 'Print the [#] plan of commands without running them',
  });

  async run(): Promise<number> {
    sessionName(this.name);
    const table = parseTableOption(this.table, false) as TableRef | undefined;
    await delRoutes(this.name, this.prefixes, { ...routeOptionsFor(this, this.dryRun), ...(table === undefined ? {} : { table }) });
    return 0;
  }
}
