// tunroute cleanup NAME: remove everything tunroute made for NAME (idempotent; crash recovery).
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { cleanupSession } from '../../core/route/index.js';
import { routeOptionsFor, sessionName } from '../../core/route/cli.js';

export class RouteCleanupCommand extends BaseCommand {
  static override paths = [['cleanup']];

  static override usage = Command.Usage({
    category: 'Session routes',
    description: 'remove everything tunroute made for a session (idempotent)',
    details: `
      Removes every route, rule and DNS setting recorded for NAME in /run/tund/routes/NAME.json
      (whatever verb made it), plus any route tagged \`proto 250\` on the session's device that the
      record misses. Routes without our tag (a route added by hand with the same prefix) and the
      routes of other sessions are never touched.

      Idempotent: with nothing to remove it changes nothing and exits 0. tund@.service runs it in
      ExecStartPre and ExecStopPost, so a crashed session leaves nothing behind.
    `,
    examples: [
      ['Remove whatever session office left behind', '$0 cleanup office'],
      ['Show what would be removed', '$0 cleanup office --dry-run'],
      ['Clean up quietly (as the unit does)', '$0 cleanup office -q'],
    ],
  });

  name = Option.String({ name: 'NAME' });

  dryRun = Option.Boolean('-n,--dry-run', false, {
    description: 'Print the [#] plan of commands without running them',
  });

  async run(): Promise<number> {
    sessionName(this.name);
    const changes = await cleanupSession(this.name, routeOptionsFor(this, this.dryRun));
    if (this.verbose > 0) this.note(changes === 0 ? `${this.name}: nothing to clean up` : `${this.name}: ${changes} change(s)`);
    return 0;
  }
}
