// `tund serve`: the VTun server for many sessions on one port, as `vtund -s` / inetd + `vtund -i`.
// The listener accepts TCP connections and starts one child process per connection with the
// socket as its stdin; the child's handshake picks the session (serveConnection). Under systemd
// socket activation fd 3 is either the connection itself (Accept=yes) or the listening socket
// (Accept=no).
import { spawn, type ChildProcess } from 'node:child_process';
import { fstatSync } from 'node:fs';
import { native } from '../../native/index.js';
import { TundError, UsageFailure } from '../errors.js';
import { ExitCode } from '../exit.js';
import { formatEndpoint } from '../net.js';
import { StreamListener } from '../socket.js';
import { listenFds } from '../systemd/listen-fds.js';
import { Notifier } from '../systemd/notify.js';
import { processContext, type ProcessIo } from './process.js';
import { CAP_NET_ADMIN, dropCapabilities } from './privileges.js';
import { connectionProtocolFor } from './protocols.js';
import { aborted } from './session.js';
import { serveConnection } from './server.js';

export interface ServeOptions {
  /** --listen ADDR:PORT (default 0.0.0.0:5000), ignored under socket activation */
  listen: { host: string; port: number } | null;
  /** serve the one connection on stdin (inetd) */
  inetd: boolean;
  /** per handshake message, ms */
  timeoutMs: number;
  /** how to start a child for one connection (its stdin is the connection): argv without argv[0] */
  childArgs: string[];
  /** log each child */
  verbose: boolean;
}

/** How long stopping children may take before they are killed. */
const CHILD_STOP_MS = 5000;

export async function runServe(o: ServeOptions, io: ProcessIo): Promise<number> {
  const proc = processContext(io, { controlSocket: true });
  const ctx = proc.ctx;
  const protocol = connectionProtocolFor('vtun');
  try {
    if (o.inetd) {
      if (!fstatSync(0).isSocket()) {
        throw new UsageFailure('serve --inetd: stdin is not a socket', 'inetd (or systemd with StandardInput=socket) passes the connection as stdin; to listen, run "tund serve"');
      }
      dropCapabilities([CAP_NET_ADMIN], io.warn);
      return await serveConnection(0, ctx, { protocol, timeoutMs: o.timeoutMs });
    }
    const passed = listenFds()[0];
    let listener: StreamListener;
    if (passed) {
      if (o.listen) io.warn('--listen is ignored: systemd passed a socket (LISTEN_FDS)');
      if (!native().socketAcceptsConnections(passed.fd)) {
        dropCapabilities([CAP_NET_ADMIN], io.warn);
        return await serveConnection(passed.fd, ctx, { protocol, timeoutMs: o.timeoutMs });
      }
      listener = StreamListener.adopt(passed.fd);
    } else {
      const at = o.listen ?? { host: '0.0.0.0', port: 5000 };
      try {
        listener = StreamListener.listen(at.host, at.port);
      } catch (error) {
        throw error instanceof TundError ? new TundError(`serve: ${error.message}`, { exitCode: error.exitCode, hint: error.hint }) : error;
      }
    }
    // bound: the children (and this process) need CAP_NET_ADMIN for their devices, nothing else
    dropCapabilities([CAP_NET_ADMIN], io.warn);
    return await runChildren(listener, o, ctx.signal, io.log);
  } finally {
    proc.dispose();
  }
}

/** Accepts until stopped; one child per connection; SIGTERM to the children on stop. */
async function runChildren(listener: StreamListener, o: ServeOptions, signal: AbortSignal, log: (line: string) => void): Promise<number> {
  log(`serve: listening on ${listener.label}`);
  const notifier = new Notifier();
  notifier.ready(`listening on ${listener.label}`);
  notifier.startWatchdog();
  const children = new Set<ChildProcess>();
  // children must not talk to systemd in our name
  const env = { ...process.env };
  for (const k of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']) delete env[k];
  const addon = native();
  listener.accept(
    (connection) => {
      const peer = connection.peer ? formatEndpoint(connection.peer.address, connection.peer.port) : '?';
      let child: ChildProcess;
      try {
        addon.setNonBlocking(connection.fd, false); // the child's stdin, as inetd passes it
        child = spawn(process.execPath, o.childArgs, { stdio: [connection.fd, 'inherit', 'inherit'], env });
      } catch (error) {
        log(`serve: cannot start a session process for ${peer}: ${(error as Error).message}`);
        addon.closeFd(connection.fd);
        return;
      }
      addon.closeFd(connection.fd); // the child has its own copy
      children.add(child);
      if (o.verbose) log(`serve: connection from ${peer}: pid ${child.pid}`);
      child.on('error', (error) => log(`serve: session process for ${peer}: ${error.message}`));
      child.on('exit', () => children.delete(child));
    },
    (error) => log(`serve: ${error.message}`),
  );
  await aborted(signal);
  log('serve: stopping');
  notifier.stopping('stopping');
  listener.close();
  for (const c of children) c.kill('SIGTERM');
  await Promise.race([
    Promise.all([...children].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r))))),
    new Promise((r) => setTimeout(r, CHILD_STOP_MS)),
  ]);
  for (const c of children) c.kill('SIGKILL');
  notifier.stopWatchdog();
  return ExitCode.ok;
}
