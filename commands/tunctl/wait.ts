// tunctl wait NAME --state connected [--timeout 30s]: block until a session reaches a state, for
// ordering (openvpn#617): `connected` means a packet sent now is delivered now. A session that is
// not up yet is waited for.
import fs from 'node:fs';
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { BaseCommand } from '../../core/cli/base.js';
import { placeholder } from '../../core/cli/spec.js';
import { isDuration } from '../../core/cli/validators.js';
import { NotRunningFailure, TundError } from '../../core/errors.js';
import { checkName } from '../../core/names.js';
import { controlSocketPath, sessionConfigPath } from '../../core/paths.js';
import { ControlUnavailable, permissionFailure, sessionUnit, watchSession, type WatchHandle } from '../../core/status/client.js';
import { logHint } from '../../core/status/format.js';
import { SESSION_STATES, type StateEvent } from '../../core/status/protocol.js';
import type { SessionState } from '../../core/status/types.js';
import { parseDuration } from '../../core/duration.js';

const RETRY_MS = 200;

export class WaitSessionCommand extends BaseCommand {
  static override paths = [['wait']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'wait until a session reaches a state',
    details: `
      Follows the session's control socket (\`/run/tund/NAME.sock\`) and returns as soon as the session is in the state given with \`--state\` (default \`connected\`). \`connected\` means that a packet sent now is delivered now (routes included), the moment a client sends \`READY=1\` and \`systemctl start\` returns; this command waits for it from anywhere, and again after a reconnect.

      A session that is not running yet, or that restarts meanwhile, is waited for until the timeout: this makes \`tunctl wait\` usable in \`ExecStartPost=\` or right after \`systemctl start --no-block\`.

      Exits 0 when the state is reached, 1 on timeout, and 3 at once when the session is neither running nor configured (no \`/etc/tund/NAME.conf\`), since it can never come up.
    `,
    examples: [
      ['Wait up to 30 seconds for "office" to connect', '$0 wait office --state connected --timeout 30s'],
      ['Start a session and wait for its tunnel', 'systemctl start tund@office && $0 wait office'],
      ['Wait for a server to listen', '$0 wait hq --state listening --timeout 10'],
    ],
  });

  state = placeholder('STATE', Option.String('--state', 'connected', {
    description: `The state to wait for: ${SESSION_STATES.join(', ')} (default connected)`,
    validator: t.isEnum(SESSION_STATES as SessionState[]),
  }));

  timeout = placeholder('DURATION', Option.String('--timeout', '30s', {
    description: 'Give up after this long: seconds, or a number with ms, s, m or h (default 30s)',
    validator: isDuration,
  }));

  name = Option.String({ required: true, name: 'NAME' });

  async run(): Promise<number> {
    checkName(this.name, 'session');
    const timeoutMs = parseDuration(this.timeout)!;
    const name = this.name;
    const want = this.state as SessionState;
    const socketPath = controlSocketPath(name);
    if (!fs.existsSync(socketPath) && !fs.existsSync(sessionConfigPath(name))) {
      throw new NotRunningFailure(`${name}: no such session (not running and no "${sessionConfigPath(name)}")`, 'see "tunctl status"');
    }
    const deadline = Date.now() + timeoutMs;
    let current: StateEvent | null = null;

    const attempt = (): Promise<'reached' | 'retry' | 'denied'> =>
      new Promise((resolve) => {
        let handle: WatchHandle | null = null;
        let settled = false;
        const finish = (r: 'reached' | 'retry' | 'denied') => {
          if (settled) return;
          settled = true;
          clearTimeout(timer);
          handle?.close();
          resolve(r);
        };
        const timer = setTimeout(() => finish('retry'), Math.max(0, deadline - Date.now()));
        const seen = (e: StateEvent) => {
          current = e;
          if (e.state === want) finish('reached');
        };
        watchSession(socketPath, {
          history: (events) => {
            const last = events[events.length - 1];
            if (last) seen(last);
          },
          event: seen,
          end: () => finish('retry'),
        }).then(
          (h) => {
            handle = h;
            if (settled) h.close();
          },
          (error) => {
            if (error instanceof ControlUnavailable && (error.code === 'EACCES' || error.code === 'EPERM')) {
              finish('denied');
              return;
            }
            if (!(error instanceof ControlUnavailable)) this.note(`${name}: ${error instanceof Error ? error.message : String(error)}`);
            finish('retry');
          },
        );
      });

    for (;;) {
      const result = await attempt();
      if (result === 'reached') return 0;
      if (result === 'denied') throw permissionFailure(socketPath);
      const left = deadline - Date.now();
      if (left <= 0) break;
      await new Promise((r) => setTimeout(r, Math.min(RETRY_MS, left)));
      if (Date.now() >= deadline) break;
    }
    const now: StateEvent | null = current;
    throw new TundError(
      `${name}: timed out after ${this.timeout} waiting for state "${want}" (${now ? `current state: ${(now as StateEvent).status}` : 'session not running'})`,
      { hint: `${logHint(name, await sessionUnit(name))}, and "tunctl status ${name}"` },
    );
  }
}
