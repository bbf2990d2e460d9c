// tunroute down NAME: remove what `up` (or `full`) made.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { removeSessionRoutes } from '../../core/route/index.js';
import { routeOptionsFor, sessionName } from '../../core/route/cli.js';

export class RouteDownCommand extends BaseCommand {
  static override paths = [['down']];

  static override usage = Command.Usage({
    category: 'Session routes',
    description: 'remove the routes and DNS settings that up or full applied',
    details: `
      Removes the routes, rules and DNS settings that \`tunroute up NAME\` or \`tunroute full NAME\`
      recorded for the session, in reverse order, and only those the kernel still has. Ad-hoc
      routes from \`tunroute add\` stay (remove them with \`tunroute del\` or \`tunroute cleanup\`).
      Nothing recorded: nothing to do, exit 0.
    `,
    examples: [
      ['Take down the routes of session office', '$0 down office'],
      ['Show what would be removed', '$0 down office --dry-run'],
    ],
  });

  name = Option.String({ name: 'NAME' });

  dryRun = Option.Boolean('-n,--dry-run', false, {
    description: 'Print the [#] plan of commands without running them',
  });

  async run(): Promise<number> {
    sessionName(this.name);
    const changes = await removeSessionRoutes(this.name, routeOptionsFor(this, this.dryRun));
    if (this.verbose > 0) this.note(`${this.name}: ${changes} change(s)`);
    return 0;
  }
}
