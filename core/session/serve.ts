// `tund serve`: the VTun server for many sessions on one port, as `vtund -s` / inetd + `vtund -i`.
// The listener runs the first step of every handshake itself (VTun: greeting out, HOST line in)
// under the HandshakeGate's caps and the one deadline, and gives the connection to a session
// process only for a peer that named a session that exists: to the pre-started one, which is past
// Node's start-up already (pre-started.ts), so the peer does not wait for a process to start. That
// process resumes the handshake from there (serveConnection) and tells the listener when it is
// over, which gives the connection's place in the gate back. A connection over a cap is closed
// before a byte is read; an idle or unknown peer costs no process. Each session still runs in its
// own process: a peer that breaks one cannot touch another.
// Under systemd socket activation fd 3 is either the connection itself (Accept=yes: served here,
// one process per connection, no caps) or the listening socket (Accept=no: listened on as above).
import { fstatSync } from 'node:fs';
import { native } from '../../native/index.js';
import type { HandshakeLimits } from '../config/types.js';
import { TundError, UsageFailure, formatConfigProblem, hintOf, logProblem } from '../errors.js';
import { ExitCode } from '../exit.js';
import { formatEndpoint } from '../net.js';
import { StreamListener, StreamSocket, type Accepted } from '../socket.js';
import { listenFds } from '../systemd/listen-fds.js';
import { Notifier } from '../systemd/notify.js';
import { HandshakeGate } from './handshake-gate.js';
import { PreStarter, awaitConnection, tellHandshakeOver } from './pre-started.js';
import { processContext, type ProcessIo } from './process.js';
import { CAP_NET_ADMIN, dropCapabilities } from './privileges.js';
import type { Protocol } from './protocol.js';
import { connectionProtocolFor } from './protocols.js';
import { aborted, errorText } from './session.js';
import { findServerSession, serveConnection, servedSessionProblems } from './server.js';
import { servedSessionProblem } from './served-dns.js';

export interface ServeOptions {
  /** --listen ADDR:PORT (default 0.0.0.0:5000), ignored under socket activation */
  listen: { host: string; port: number } | null;
  /** serve the one connection on stdin (inetd) */
  inetd: boolean;
  /** the whole handshake, ms */
  timeoutMs: number;
  /** the caps on connections that have not finished their handshake (MaxHandshakes, MaxHandshakesPerSource) */
  limits: HandshakeLimits;
  /** a session process the listener started ahead of need: it waits for its connection on fd 3 */
  preStarted: boolean;
  /** how to start a session process (`tund serve --pre-started ...`): argv without argv[0] */
  childArgs: string[];
  /** log each child */
  verbose: boolean;
}

export async function runServe(o: ServeOptions, io: ProcessIo): Promise<number> {
  const protocol = await connectionProtocolFor('vtun');
  const proc = processContext(io, { controlSocket: true });
  const ctx = proc.ctx;
  try {
    if (o.preStarted) {
      dropCapabilities([CAP_NET_ADMIN], io.warn);
      const handed = await awaitConnection(ctx.signal);
      if (!handed) return ExitCode.ok; // the listener went, or stopped us first
      // in ps and systemctl status: which session this process serves
      process.title = `tund serve: ${handed.session}`;
      return await serveConnection(handed.fd, ctx, {
        protocol,
        timeoutMs: o.timeoutMs,
        resume: { name: handed.host, leftMs: handed.leftMs },
        handshakeOver: tellHandshakeOver,
      });
    }
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
    return await runListener(listener, protocol, o, ctx.signal, io.log);
  } finally {
    proc.dispose();
  }
}

/** Accepts until stopped: caps, the first handshake step, a session process per identified peer; SIGTERM to them on stop. */
async function runListener(listener: StreamListener, protocol: Protocol, o: ServeOptions, signal: AbortSignal, log: (line: string) => void): Promise<number> {
  log(`serve: listening on ${listener.label} (MaxHandshakes = ${o.limits.total}, MaxHandshakesPerSource = ${o.limits.perSource})`);
  for (const problem of await servedSessionProblems(protocol.name)) log(`serve: ${formatConfigProblem(problem)}`);
  const logFailure = (message: string, error: unknown) => {
    logProblem(log, 'serve', message, hintOf(error));
  };
  const notifier = new Notifier();
  notifier.ready(`listening on ${listener.label}`);
  notifier.startWatchdog();
  const gate = new HandshakeGate(o.limits);
  const identifying = new Set<StreamSocket>();
  // session processes must not talk to systemd in our name
  const env = { ...process.env };
  for (const k of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']) delete env[k];
  // with our node flags (bin/tund's V8 settings for long-lived sessions), as we were started
  const sessions = new PreStarter({ args: [...process.execArgv, ...o.childArgs], env, log, verbose: o.verbose });
  sessions.start();
  const addon = native();

  const onConnection = async (connection: Accepted) => {
    // over the caps: closed before a byte is read or written (no socket object, no timer)
    const place = gate.enter(connection.peer?.address ?? '?');
    if (typeof place === 'string') {
      addon.closeFd(connection.fd);
      gate.reportRefusal(place, (line) => log(`serve: ${line}`));
      return;
    }
    let socket: StreamSocket | null = null;
    let peer = connection.peer ? formatEndpoint(connection.peer.address, connection.peer.port) : '?';
    let handedOver = false;
    try {
      socket = new StreamSocket(connection.fd);
      peer = socket.peer;
      identifying.add(socket);
      const started = Date.now();
      const name = await protocol.identify!(socket, { timeoutMs: o.timeoutMs });
      const entry = await findServerSession(name, protocol.name, log, 'serve: ');
      // a session this process cannot serve (its DNS): refused here, after the peer's response
      const problem = entry ? await servedSessionProblem(entry.config) : null;
      const leftMs = o.timeoutMs - (Date.now() - started);
      if (signal.aborted || socket.closed) return;
      if (entry && !problem && leftMs > 0) {
        identifying.delete(socket);
        handedOver = true;
        sessions.handOver(socket.release(), { host: name, session: entry.config.name, leftMs }, peer, place);
        return;
      }
      // an unknown session is refused where vtund refuses it, after the peer's response, and one
      // it cannot serve once the peer proved it knows the password (the handshake ends here, in
      // this process: it costs no child)
      await protocol.authenticate(socket, {
        timeoutMs: o.timeoutMs,
        signal,
        resume: { name, leftMs },
        lookup: () => (problem ? entry : null),
        admit: async () => (problem ? formatConfigProblem(problem) : 'no such session'),
      });
      socket.close(); // (not reached: authenticate throws for an unknown session)
    } catch (error) {
      if (!signal.aborted) logFailure(`denied connection from ${peer}: ${errorText(error)}`, error);
      if (socket && !socket.closed) await socket.closeLingering().catch(() => socket?.close());
    } finally {
      if (socket) identifying.delete(socket);
      if (!handedOver) {
        if (!socket) addon.closeFd(connection.fd);
        place();
      }
    }
  };

  listener.accept(
    (connection) => void onConnection(connection).catch((error) => logFailure(errorText(error), error)),
    (error) => logFailure(error.message, error),
  );
  await aborted(signal);
  log('serve: stopping');
  notifier.stopping('stopping');
  listener.close();
  gate.dispose();
  for (const s of identifying) s.close();
  await sessions.stop();
  notifier.stopWatchdog();
  return ExitCode.ok;
}
