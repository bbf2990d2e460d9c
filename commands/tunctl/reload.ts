// tunctl reload NAME: ask a running session to reload (as SIGHUP) over its control socket, wait for
// the outcome and report it: a broken file's problems on stderr and exit 1 (the session keeps its
// old configuration). tund@.service runs it as ExecReload=, so that `systemctl reload` fails the
// same way, and systemd 252 (no notify-reload) sees RELOADING=1 and READY=1 inside the reload job.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { isDuration } from '../../core/cli/validators.js';
import { parseDuration } from '../../core/duration.js';
import { NotRunningFailure, TundError } from '../../core/errors.js';
import { checkName } from '../../core/names.js';
import { controlSocketPath } from '../../core/paths.js';
import { ControlUnavailable, permissionFailure, requestReload, sessionUnit } from '../../core/status/client.js';
import { logHint } from '../../core/status/format.js';

export class ReloadSessionCommand extends BaseCommand {
  static override paths = [['reload']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'reload a running session and wait until it is done',
    details: `
      Asks the session over its control socket (\`/run/tund/NAME.sock\`) to reload, exactly as SIGHUP does, and waits for the outcome. The session re-reads \`/etc/tund/NAME.conf\` and its secret: a client keeps a healthy link when nothing changed and reconnects with the new configuration when something did; a server applies it to the next connection. A broken file changes nothing: its problems are printed on stderr as \`file:line: problem\` and the session keeps running with its old configuration. \`systemctl reload tund@NAME\` runs this command, so it fails the same way.

      Exits 0 when the session reloaded, 1 when the file is broken or the reload did not finish within \`--timeout\`, 3 when the session is not running.
    `,
    examples: [
      ['Reload the session "office" (what systemctl reload tund@office runs)', '$0 reload office'],
      ['Give a slow reload up to two minutes', '$0 reload office --timeout 2m'],
    ],
  });

  timeout = placeholder('DURATION', Option.String('--timeout', '90s', {
    description: 'Give up after this long: seconds, or a number with ms, s, m or h (default 90s)',
    validator: isDuration,
  }));

  name = Option.String({ required: true, name: 'NAME' });

  async run(): Promise<number> {
    checkName(this.name, 'session');
    const timeoutMs = parseDuration(this.timeout)!; // isDuration validated it
    let outcome;
    try {
      outcome = await requestReload(controlSocketPath(this.name), timeoutMs);
    } catch (error) {
      if (error instanceof ControlUnavailable && (error.code === 'EACCES' || error.code === 'EPERM')) throw permissionFailure(error.socketPath);
      if (error instanceof ControlUnavailable && error.code !== 'ECONNRESET') {
        throw new NotRunningFailure(`${this.name}: session is not running`, `start it with "systemctl start tund@${this.name}"`);
      }
      throw new TundError(`${this.name}: ${error instanceof Error ? error.message : String(error)}`, { hint: logHint(this.name, await sessionUnit(this.name)) });
    }
    if (!outcome.ok) {
      for (const problem of outcome.problems) this.context.stderr.write(`${problem}\n`);
      throw new TundError(`${this.name}: reload failed, the session keeps its old configuration`, { hint: `fix what it says (the file, or what the session could not set up), then run "tunctl reload ${this.name}" again` });
    }
    if (this.verbose > 0) this.note(`${this.name}: reloaded: ${outcome.message}`);
    return 0;
  }
}
