// `tund serve`: the VTun server for many sessions on one port, as `vtund -s` / inetd + `vtund -i`.
// The listener runs the first step of every handshake itself (VTun: greeting out, HOST line in)
// under the HandshakeGate's caps and the one deadline, and starts a child process (`tund serve
// --inetd --handed-over NAME`, the socket as its stdin) only for a peer that named a session that
// exists; the child resumes the handshake from there (serveConnection) and tells us on fd 3 when
// it is over, which gives the connection's place in the gate back. A connection over a cap is
// closed before a byte is read; an idle or unknown peer costs no process. Each session still runs
// in its own process: a peer that breaks one cannot touch another.
// Under systemd socket activation fd 3 is either the connection itself (Accept=yes: served here,
// one process per connection, no caps) or the listening socket (Accept=no: listened on as above).
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, fstatSync, writeSync } from 'node:fs';
import { native } from '../../native/index.js';
import type { HandshakeLimits } from '../config/types.js';
import { TundError, UsageFailure } from '../errors.js';
import { ExitCode } from '../exit.js';
import { formatEndpoint } from '../net.js';
import { StreamListener, StreamSocket, type Accepted } from '../socket.js';
import { listenFds } from '../systemd/listen-fds.js';
import { Notifier } from '../systemd/notify.js';
import { HandshakeGate } from './handshake-gate.js';
import { processContext, type ProcessIo } from './process.js';
import { CAP_NET_ADMIN, dropCapabilities } from './privileges.js';
import type { Protocol } from './protocol.js';
import { connectionProtocolFor } from './protocols.js';
import { aborted, errorText } from './session.js';
import { findServerSession, serveConnection } from './server.js';

export interface ServeOptions {
  /** --listen ADDR:PORT (default 0.0.0.0:5000), ignored under socket activation */
  listen: { host: string; port: number } | null;
  /** serve the one connection on stdin (inetd) */
  inetd: boolean;
  /** the whole handshake, ms */
  timeoutMs: number;
  /** the caps on connections that have not finished their handshake (MaxHandshakes, MaxHandshakesPerSource) */
  limits: HandshakeLimits;
  /** (a child, with inetd) the listener identified the peer's session already: NAME, and ms left */
  handedOver: { name: string; leftMs: number } | null;
  /** how to start a child for one connection (its stdin is the connection): argv without argv[0] */
  childArgs: string[];
  /** log each child */
  verbose: boolean;
}

/** How long stopping children may take before they are killed. */
const CHILD_STOP_MS = 5000;

export async function runServe(o: ServeOptions, io: ProcessIo): Promise<number> {
  const protocol = await connectionProtocolFor('vtun');
  const proc = processContext(io, { controlSocket: true });
  const ctx = proc.ctx;
  try {
    if (o.inetd) {
      if (!fstatSync(0).isSocket()) {
        throw new UsageFailure('serve --inetd: stdin is not a socket', 'inetd (or systemd with StandardInput=socket) passes the connection as stdin; to listen, run "tund serve"');
      }
      dropCapabilities([CAP_NET_ADMIN], io.warn);
      if (!o.handedOver) return await serveConnection(0, ctx, { protocol, timeoutMs: o.timeoutMs });
      return await serveConnection(0, ctx, { protocol, timeoutMs: o.timeoutMs, resume: o.handedOver, handshakeOver: tellListener });
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

/** The fd on which a handed-over child tells the listener that its handshake is over. */
const HANDSHAKE_OVER_FD = 3;
/** Longest a child's report is waited for (its own deadline ends its handshake long before; it only bounds the timer). */
const HANDSHAKE_WAIT_MS = 2 ** 31 - 1;

/** (child) One byte on fd 3, then closed: the listener gives the connection's place back. */
function tellListener(): void {
  try {
    writeSync(HANDSHAKE_OVER_FD, 'x');
    closeSync(HANDSHAKE_OVER_FD);
  } catch {
    // not started by a listener (run by hand), or told already
  }
}

/** Accepts until stopped: caps, the first handshake step, one child per identified peer; SIGTERM to the children on stop. */
async function runListener(listener: StreamListener, protocol: Protocol, o: ServeOptions, signal: AbortSignal, log: (line: string) => void): Promise<number> {
  log(`serve: listening on ${listener.label} (MaxHandshakes = ${o.limits.total}, MaxHandshakesPerSource = ${o.limits.perSource})`);
  const notifier = new Notifier();
  notifier.ready(`listening on ${listener.label}`);
  notifier.startWatchdog();
  const gate = new HandshakeGate(o.limits);
  const children = new Set<ChildProcess>();
  const identifying = new Set<StreamSocket>();
  // children must not talk to systemd in our name
  const env = { ...process.env };
  for (const k of ['NOTIFY_SOCKET', 'WATCHDOG_USEC', 'WATCHDOG_PID', 'LISTEN_FDS', 'LISTEN_PID', 'LISTEN_FDNAMES']) delete env[k];
  const addon = native();

  /** Starts the child that resumes the handshake of `name` on the socket; it owns `place` from now on. */
  const handOver = (socket: StreamSocket, name: string, leftMs: number, peer: string, place: () => void) => {
    const fd = socket.release();
    // the child's fd 3: one end of a socket pair; it writes a byte (or goes) when its handshake is over
    let pair: [number, number] | null = null;
    let child: ChildProcess;
    try {
      addon.setNonBlocking(fd, false); // the child's stdin, as inetd passes it
      pair = addon.socketPair('stream') as [number, number];
      const args = [...o.childArgs, '--handed-over', name, '--handshake-left', String(Math.max(1, Math.round(leftMs)))];
      // with our node flags (bin/tund's V8 settings for long-lived sessions), as we were started
      child = spawn(process.execPath, [...process.execArgv, ...args], { stdio: [fd, 'inherit', 'inherit', pair[1]], env });
    } catch (error) {
      log(`serve: cannot start a session process for ${peer}: ${(error as Error).message}`);
      addon.closeFd(fd);
      if (pair) for (const end of pair) addon.closeFd(end);
      place();
      return;
    }
    addon.closeFd(fd); // the child has its own copies
    addon.closeFd(pair[1]);
    children.add(child);
    if (o.verbose) log(`serve: connection from ${peer} for "${name}": pid ${child.pid}`);
    // the place is the child's until it says its handshake is over, or goes
    const over = new StreamSocket(pair[0]);
    over
      .read(1, HANDSHAKE_WAIT_MS)
      .catch(() => null)
      .finally(() => {
        over.close();
        place();
      });
    child.on('error', (error) => log(`serve: session process for ${peer}: ${error.message}`));
    child.on('exit', () => {
      children.delete(child);
      over.close();
      place();
    });
  };

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
      const entry = await findServerSession(name, protocol.name, (m) => log(`serve: ${m}`));
      const leftMs = o.timeoutMs - (Date.now() - started);
      if (signal.aborted || socket.closed) return;
      if (entry && leftMs > 0) {
        identifying.delete(socket);
        handedOver = true;
        handOver(socket, name, leftMs, peer, place);
        return;
      }
      // an unknown session is refused where vtund refuses it, after the peer's response (the
      // handshake ends here, in this process: it costs no child)
      await protocol.authenticate(socket, {
        timeoutMs: o.timeoutMs,
        signal,
        resume: { name, leftMs },
        lookup: () => null,
        admit: async () => 'no such session',
      });
      socket.close(); // (not reached: authenticate throws for an unknown session)
    } catch (error) {
      if (!signal.aborted) log(`serve: denied connection from ${peer}: ${errorText(error)}`);
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
    (connection) => void onConnection(connection).catch((error) => log(`serve: ${errorText(error)}`)),
    (error) => log(`serve: ${error.message}`),
  );
  await aborted(signal);
  log('serve: stopping');
  notifier.stopping('stopping');
  listener.close();
  gate.dispose();
  for (const s of identifying) s.close();
  for (const c of children) c.kill('SIGTERM');
  await Promise.race([
    Promise.all([...children].map((c) => new Promise((r) => (c.exitCode !== null || c.signalCode !== null ? r(null) : c.once('exit', r))))),
    new Promise((r) => setTimeout(r, CHILD_STOP_MS)),
  ]);
  for (const c of children) c.kill('SIGKILL');
  notifier.stopWatchdog();
  return ExitCode.ok;
}
