// tund serve: the VTun server for many sessions on one port, as `vtund -s` / inetd + `vtund -i`
// (core/session/serve.ts does the work).
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { BaseCommand } from '../../core/cli/base.js';
import { processIo } from '../../core/cli/process-io.js';
import { placeholder } from '../../core/cli/spec.js';
import { DEFAULT_HANDSHAKE_LIMITS } from '../../core/config/types.js';
import { HANDSHAKE_LIMIT_RANGE, TIMEOUT_RANGE } from '../../core/config/values.js';
import { UsageFailure } from '../../core/errors.js';
import { parseEndpoint } from '../../core/net.js';
import { runServe } from '../../core/session/index.js';

export class ServeCommand extends BaseCommand {
  static override paths = [['serve']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'accept VTun clients for every server session on one port',
    details: `
      Listens on \`--listen\` (default \`0.0.0.0:5000\`, VTun's port) and serves each client in a process of its own, as inetd runs \`vtund -i\`, but one started ahead of need (a client does not wait for a process to start; one waits at all times): the client's \`HOST:\` line picks the session among the files in \`/etc/tund\` with \`Role = server\` whose \`Host\` (default: the file's NAME) matches. An unknown session or a wrong password gets \`ERR\` (and a log line); the listener keeps serving. Not run as root (as tund-inetd.service runs it), it does not serve a session with \`DNS\` or \`DNSDomains\` (nothing would apply them as root): it logs \`file:line: problem\` for each such session when it starts and refuses their connections with it; run them as \`tund@NAME.service\`.

      \`Multi\` in the session decides about a second connection of the same session: \`yes\` allows it, \`no\` refuses it, \`killold\` stops the old one first (lock files under \`$TUND_RUN_DIR/lock/\`).

      \`--inetd\` serves the one connection on stdin and exits (for inetd, or a systemd unit with \`StandardInput=socket\`). Under systemd socket activation (\`LISTEN_FDS\`) fd 3 is used: a connected socket (\`Accept=yes\`) is served like \`--inetd\`, a listening one (\`Accept=no\`) is listened on.

      SIGTERM or SIGINT stops the listener at once and each child with one SIGTERM (it sends CONN_CLOSE and closes its device; the children run in process groups of their own, so Ctrl-C reaches the listener only); exit status 0.
    `,
    examples: [
      ['Serve all server sessions on the default port 5000', '$0 serve'],
      ['Listen on one address and port', '$0 serve --listen 198.18.0.1:5000'],
      ['Serve the connection on stdin (inetd)', '$0 serve --inetd'],
    ],
  });

  listen = placeholder('ADDR:PORT', Option.String('--listen', { description: 'Address and port to listen on, ADDR:PORT (default 0.0.0.0:5000)' }));

  inetd = Option.Boolean('--inetd', false, { description: 'Serve the one connection on stdin, then exit (inetd style)' });

  timeout = placeholder('SECONDS', Option.String('--timeout', '30', {
    description: 'Seconds a client has for its whole handshake (VTun timeout, default 30)',
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(...TIMEOUT_RANGE)]),
  }));

  maxHandshakes = placeholder('N', Option.String('--max-handshakes', String(DEFAULT_HANDSHAKE_LIMITS.total), {
    description: `Connections that have not finished their handshake, at most (MaxHandshakes, default ${DEFAULT_HANDSHAKE_LIMITS.total})`,
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(...HANDSHAKE_LIMIT_RANGE)]),
  }));

  maxHandshakesPerSource = placeholder('N', Option.String('--max-handshakes-per-source', String(DEFAULT_HANDSHAKE_LIMITS.perSource), {
    description: `The same from one source address (MaxHandshakesPerSource, default ${DEFAULT_HANDSHAKE_LIMITS.perSource})`,
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(...HANDSHAKE_LIMIT_RANGE)]),
  }));

  // internal: a session process the listener started ahead of need (core/session/pre-started.ts)
  preStarted = Option.Boolean('--pre-started', false, { hidden: true });

  async run(): Promise<number> {
    if (this.inetd && this.listen !== undefined) throw new UsageFailure('serve: --inetd and --listen exclude each other');
    let listen: { host: string; port: number } | null = null;
    if (this.listen !== undefined) {
      const ep = parseEndpoint(this.listen, 5000);
      if ('problem' in ep) throw new UsageFailure(`serve: --listen "${this.listen}": ${ep.problem} (expected ADDR:PORT)`);
      listen = ep;
    }
    if (this.maxHandshakesPerSource > this.maxHandshakes) {
      throw new UsageFailure(`serve: --max-handshakes-per-source ${this.maxHandshakesPerSource} is more than --max-handshakes ${this.maxHandshakes}`);
    }
    if (this.preStarted && (this.inetd || this.listen !== undefined)) {
      throw new UsageFailure('serve: --pre-started is internal (a session process of "tund serve")');
    }
    // a session process serves one connection the listener hands it, with the same timeout and verbosity
    const childArgs = [process.argv[1]!, 'serve', '--pre-started', '--timeout', String(this.timeout), ...(this.quiet ? ['--quiet'] : []), ...Array<string>(this.verbose).fill('-v')];
    const limits = { total: this.maxHandshakes, perSource: this.maxHandshakesPerSource };
    return runServe({ listen, inetd: this.inetd, timeoutMs: this.timeout * 1000, limits, preStarted: this.preStarted, childArgs, verbose: this.verbose > 0 }, processIo(this));
  }
}
