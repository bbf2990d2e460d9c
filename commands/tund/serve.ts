// tund serve: the VTun server for many sessions on one port, as `vtund -s` / inetd + `vtund -i`.
// The listener accepts TCP connections and starts one child `tund serve --inetd` per connection
// with the socket as its stdin; the child's handshake (HOST) picks the session among the
// Role = server sessions in the config directory. With systemd socket activation (LISTEN_FDS),
// fd 3 is either the connection itself (Accept=yes) or the listening socket (Accept=no).
import { spawn, type ChildProcess } from 'node:child_process';
import { fstatSync } from 'node:fs';
import net from 'node:net';
import { Command, Option } from 'clipanion';
import * as t from 'typanion';
import { BaseCommand } from '../../core/cli/base.js';
import { TundError, UsageFailure } from '../../core/errors.js';
import { ExitCode } from '../../core/exit.js';
import { parseEndpoint } from '../../core/net.js';
import { serveConnection } from '../../core/session/index.js';
import { listenFds } from '../../core/systemd/listen-fds.js';
import { Notifier } from '../../core/systemd/notify.js';
import { native } from '../../native/index.js';
import { sessionContext } from './session-context.js';

export class ServeCommand extends BaseCommand {
  static override paths = [['serve']];

  static override usage = Command.Usage({
    category: 'Sessions',
    description: 'accept VTun clients for every server session on one port',
    details: `
      Listens on \`--listen\` (default \`0.0.0.0:5000\`, VTun's port) and serves each connection in a child process, exactly as inetd runs \`vtund -i\`: the client's \`HOST:\` line picks the session among the files in \`/etc/tund\` with \`Role = server\` whose \`Host\` (default: the file's NAME) matches. An unknown session or a wrong password gets \`ERR\` (and a log line); the listener keeps serving.

      \`Multi\` in the session decides about a second connection of the same session: \`yes\` allows it, \`no\` refuses it, \`killold\` stops the old one first (lock files under \`$TUND_RUN_DIR/lock/\`).

      \`--inetd\` serves the one connection on stdin and exits (for inetd, or a systemd unit with \`StandardInput=socket\`). Under systemd socket activation (\`LISTEN_FDS\`) fd 3 is used: a connected socket (\`Accept=yes\`) is served like \`--inetd\`, a listening one (\`Accept=no\`) is listened on.

      SIGTERM or SIGINT stops the listener and its children (each sends CONN_CLOSE and closes its device); exit status 0.
    `,
    examples: [
      ['Serve all server sessions on the default port 5000', '$0 serve'],
      ['Listen on one address and port', '$0 serve --listen 198.18.0.1:5000'],
      ['Serve the connection on stdin (inetd)', '$0 serve --inetd'],
    ],
  });

  listen = Option.String('--listen', { description: 'Address and port to listen on, ADDR:PORT (default 0.0.0.0:5000)' });

  inetd = Option.Boolean('--inetd', false, { description: 'Serve the one connection on stdin, then exit (inetd style)' });

  timeout = Option.String('--timeout', '30', {
    description: 'Seconds to wait for each handshake message of a client (VTun timeout, default 30)',
    validator: t.cascade(t.isNumber(), [t.isInteger(), t.isInInclusiveRange(1, 3600)]),
  });

  async run(): Promise<number> {
    const timeoutMs = this.timeout * 1000;
    native(); // load the addon now: a broken build fails here, not in the middle of a handshake
    const session = sessionContext(this, { controlSocket: true });
    const ctx = session.ctx;
    try {
      if (this.inetd) {
        if (this.listen !== undefined) throw new UsageFailure('serve: --inetd and --listen exclude each other');
        if (!fstatSync(0).isSocket()) {
          throw new UsageFailure('serve --inetd: stdin is not a socket', 'inetd (or systemd with StandardInput=socket) passes the connection as stdin; to listen, run "tund serve"');
        }
        const socket = new net.Socket({ fd: 0, readable: true, writable: true });
        return await serveConnection(socket, ctx, { timeoutMs });
      }
      const passed = listenFds()[0];
      if (passed) {
        if (this.listen !== undefined) this.warn('--listen is ignored: systemd passed a socket (LISTEN_FDS)');
        const listening = native().socketAcceptsConnections(passed.fd);
        if (!listening) return await serveConnection(new net.Socket({ fd: passed.fd, readable: true, writable: true }), ctx, { timeoutMs });
        return await this.listener({ fd: passed.fd }, `fd ${passed.fd}`, ctx.signal, ctx.log);
      }
      let host = '0.0.0.0';
      let port = 5000;
      if (this.listen !== undefined) {
        const ep = parseEndpoint(this.listen, 5000);
        if ('problem' in ep) throw new UsageFailure(`serve: --listen "${this.listen}": ${ep.problem} (expected ADDR:PORT)`);
        host = ep.host;
        port = ep.port;
      }
      return await this.listener({ host, port, backlog: 10 }, `${host}:${port}`, ctx.signal, ctx.log);
    } finally {
      session.dispose();
    }
  }

  private async listener(listenOpts: net.ListenOptions | { fd: number }, label: string, signal: AbortSignal, log: (l: string) => void): Promise<number> {
    const server = net.createServer({ pauseOnConnect: true });
    await new Promise<void>((resolve, reject) => {
      server.once('error', (error: NodeJS.ErrnoException) =>
        reject(
          new TundError(`serve: cannot listen on ${label}: ${error.code ?? error.message}`, {
            exitCode: error.code === 'EACCES' ? ExitCode.noPermission : ExitCode.failure,
          }),
        ),
      );
      server.listen(listenOpts as net.ListenOptions, () => resolve());
    });
    server.on('error', (error) => log(`serve: listener: ${error.message}`));
    log(`serve: listening on ${label}`);
    const notifier = new Notifier();
    notifier.ready(`listening on ${label}`);
    notifier.startWatchdog();
    const children = new Set<ChildProcess>();
    const script = process.argv[1]!;
    const childArgs = [script, 'serve', '--inetd', '--timeout', String(this.timeout), ...(this.quiet ? ['--quiet'] : []), ...Array(this.verbose).fill('-v')];
    // children must not talk to systemd in our name
    const env = { ...process.env };
    for (const k of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']) delete env[k];
    server.on('connection', (socket: net.Socket) => {
      const peer = `${socket.remoteAddress}:${socket.remotePort}`;
      let child: ChildProcess;
      try {
        child = spawn(process.execPath, childArgs, { stdio: [socket, 'inherit', 'inherit'], env });
      } catch (error) {
        log(`serve: cannot start a session process for ${peer}: ${(error as Error).message}`);
        socket.destroy();
        return;
      }
      socket.destroy(); // the child has its own copy
      children.add(child);
      if (this.verbose > 0) log(`serve: connection from ${peer}: pid ${child.pid}`);
      child.on('error', (error) => log(`serve: session process for ${peer}: ${error.message}`));
      child.on('exit', () => children.delete(child));
    });
    await new Promise<void>((resolve) => (signal.aborted ? resolve() : signal.addEventListener('abort', () => resolve(), { once: true })));
    log('serve: stopping');
    notifier.stopping('stopping');
    server.close();
    for (const c of children) c.kill('SIGTERM');
    const deadline = Date.now() + 5000;
    while (children.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    for (const c of children) c.kill('SIGKILL');
    notifier.stopWatchdog();
    return ExitCode.ok;
  }
}
