// tunctl reload NAME: ask a running session to reload (as SIGHUP) over its control socket and wait
// until it is done. tund@.service runs it as ExecReload=, so that systemd 252 (no notify-reload)
// sees RELOADING=1 and READY=1 inside the reload job instead of racing a bare `kill -HUP`.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { NotRunningFailure, TundError, UsageFailure } from '../../core/errors.js';
import { checkName } from '../../core/names.js';
import { controlSocketPath } from '../../core/paths.js';
import { ControlUnavailable, permissionFailure, requestReload } from '../../core/status/client.js';
import { parseDuration } from './wait.js';

export class ReloadSessionCommand extends BaseCommand {
  static override paths = [['reload']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'reload a running session and wait until it is done',
    details: `
      Asks the session over its control socket (\`/run/tund/NAME.sock\`) to reload, exactly as SIGHUP does (the session re-reads \`/etc/tund/NAME.conf\`; a broken file is reported in the journal and the running configuration is kept), and returns when the session reports the reload finished. \`systemctl reload tund@NAME\` runs this command.

      Exits 0 when the reload finished, 1 when it failed or did not finish within \`--timeout\`, 3 when the session is not running.
    `,
    examples: [
      ['Reload the session "office" (what systemctl reload tund@office runs)', '$0 reload office'],
      ['Give a slow reload up to two minutes', '$0 reload office --timeout 2m'],
    ],
  });

  timeout = Option.String('--timeout', '90s', {
    description: 'Give up after this long: seconds, or a number with ms, s, m or h (default 90s)',
  });

  name = Option.String({ required: true, name: 'NAME' });

  async run(): Promise<number> {
    checkName(this.name, 'session');
    const timeoutMs = parseDuration(this.timeout);
    if (timeoutMs === null) throw new UsageFailure(`reload: invalid timeout "${this.timeout}" (expected seconds, or a number with ms, s, m or h, e.g. 90s)`);
    try {
      await requestReload(controlSocketPath(this.name), timeoutMs);
    } catch (error) {
      if (error instanceof ControlUnavailable && (error.code === 'EACCES' || error.code === 'EPERM')) throw permissionFailure(error.socketPath);
      if (error instanceof ControlUnavailable && error.code !== 'ECONNRESET') {
        throw new NotRunningFailure(`${this.name}: session is not running`, `start it with "systemctl start tund@${this.name}"`);
      }
      throw new TundError(`${this.name}: ${error instanceof Error ? error.message : String(error)}`, { hint: `see "journalctl -u tund@${this.name}"` });
    }
    if (this.verbose > 0) this.note(`${this.name}: reloaded`);
    return 0;
  }
}
