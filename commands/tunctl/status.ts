// tunctl status [NAME] [--json]: what every running session (or one) says over its control socket
// runDir()/NAME.sock, as `wg show` prints interfaces.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { NotRunningFailure } from '../../core/errors.js';
import { checkName } from '../../core/names.js';
import { runDir } from '../../core/paths.js';
import { collectStatus } from '../../core/status/client.js';
import { renderStatus, statusDocument } from '../../core/status/format.js';

export class StatusSessionCommand extends BaseCommand {
  static override paths = [['status']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'show the state of running sessions',
    details: `
      Asks every running session (each has a control socket \`/run/tund/NAME.sock\`; \`$TUND_RUN_DIR\` overrides the directory) or only NAME for its state and prints one block per session, most recent activity first: state and since, device and MTU, endpoint, latest handshake, transfer, routes.

      With \`--json\`, prints one document \`{"format":1,"sessions":[...]}\` with snake_case keys that are always present (\`null\` when unknown), counters in bytes and RFC 3339 UTC timestamps.

      Exits 0 when the session (or any session) is running, whatever its state, and 3 when NAME is not running or no session runs (as \`systemctl is-active\`).
    `,
    examples: [
      ['Show every running session', '$0 status'],
      ['Show the session "office"', '$0 status office'],
      ['Print the state of "office" as JSON for jq', '$0 status office --json | jq -r ".sessions[0].state"'],
    ],
  });

  json = Option.Boolean('--json', false, {
    description: 'Print one JSON document {"format":1,"sessions":[...]} instead of the human view',
  });

  name = Option.String({ required: false, name: 'NAME' });

  async run(): Promise<number> {
    if (this.name !== undefined) checkName(this.name, 'session');
    const sessions = await collectStatus(this.name !== undefined ? [this.name] : undefined);
    const doc = statusDocument(sessions);
    if (this.json) {
      this.printJson(doc);
    } else if (doc.sessions.length > 0) {
      this.out(renderStatus(doc, Date.now(), this.colors));
    }
    if (doc.sessions.length === 0) {
      if (this.name !== undefined) {
        throw new NotRunningFailure(`${this.name}: session is not running`, `start it with "systemctl start tund@${this.name}"`);
      }
      throw new NotRunningFailure(`no session is running (no control socket answers in "${runDir()}")`, 'start one with "systemctl start tund@NAME"');
    }
    return 0;
  }
}
