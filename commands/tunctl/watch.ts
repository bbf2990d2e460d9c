// tunctl watch NAME [--json]: the session's state history, then every state change as it happens
// (OpenVPN's `state on all`), until the session ends.
import { Command, Option } from 'clipanion';
import { BaseCommand } from '../../core/cli/base.js';
import { NotRunningFailure } from '../../core/errors.js';
import { checkName } from '../../core/names.js';
import { controlSocketPath } from '../../core/paths.js';
import { ControlUnavailable, permissionFailure, watchSession } from '../../core/status/client.js';
import { eventJson, eventLine } from '../../core/status/format.js';
import type { StateEvent } from '../../core/status/protocol.js';

export class WatchSessionCommand extends BaseCommand {
  static override paths = [['watch']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'follow the state changes of a session',
    details: `
      Prints the states the session went through so far (the last one is the current state), then one line per state change as it happens, until the session stops or the command is interrupted.

      With \`--json\`, each line is one JSON object (NDJSON): \`{"time":...,"name":...,"state":...,"reason":...,"endpoint":...,"status":...}\`, with the same state names as the unit's \`STATUS=\` text.

      Exits 0 when the session ends the stream, 3 when the session is not running.
    `,
    examples: [
      ['Follow the session "office"', '$0 watch office'],
      ['Log every reconnect reason', '$0 watch office --json | jq -r "select(.state == \\"reconnecting\\") | .reason"'],
    ],
  });

  json = Option.Boolean('--json', false, {
    description: 'Print one JSON object per line (NDJSON) instead of text',
  });

  name = Option.String({ required: true, name: 'NAME' });

  async run(): Promise<number> {
    checkName(this.name, 'session');
    const print = (e: StateEvent) => this.out(this.json ? eventJson(e) : eventLine(e));
    let done!: () => void;
    const finished = new Promise<void>((resolve) => (done = resolve));
    try {
      await watchSession(controlSocketPath(this.name), {
        history: (events) => events.forEach(print),
        event: print,
        end: () => done(),
      });
    } catch (error) {
      if (error instanceof ControlUnavailable && (error.code === 'EACCES' || error.code === 'EPERM')) throw permissionFailure(error.socketPath);
      if (error instanceof ControlUnavailable) {
        throw new NotRunningFailure(`${this.name}: session is not running`, `start it with "systemctl start tund@${this.name}"`);
      }
      throw error;
    }
    await finished;
    return 0;
  }
}
