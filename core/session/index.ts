// Sessions (docs/sessions.md): one lifecycle for every role, protocols plugged in through
// protocol.ts.
//   runSessionByName(name, io)   `tund NAME`: loads /etc/tund/NAME.conf, then runNamedSession;
//   runNamedSession(config, io)  one instance per NAME (a lock), then a client or a server
//                                session (listening itself or on the socket systemd passed);
//   runSession(config, ctx)      the same without the process set-up (tests, embedding);
//   serveConnection(fd, ctx, o)  one accepted connection whose session the handshake picks;
//   runServe(o, io)              `tund serve`: many server sessions on one port (serve.ts).
import { loadSessionConfig, readSecret } from '../config/load.js';
import type { SessionConfig } from '../config/types.js';
import { formatConfigProblem } from '../errors.js';
import { checkName } from '../names.js';
import { native } from '../../native/index.js';
import { listenFds } from '../systemd/listen-fds.js';
import { ClientSession } from './client.js';
import { InterfaceSession } from './interface.js';
import { instanceLock } from './lock.js';
import { capabilitiesFor, dropCapabilities } from './privileges.js';
import { processContext, type ProcessIo } from './process.js';
import { protocolFor } from './protocols.js';
import { ServerSession, serveConnection } from './server.js';
import { reporterOf, type SessionContext } from './session.js';

export type { SessionContext, ReporterFactory } from './session.js';
export { serveConnection } from './server.js';
export { runServe } from './serve.js';
export type { ProcessIo } from './process.js';

export async function runSession(config: SessionConfig, ctx: SessionContext): Promise<number> {
  const protocol = await protocolFor(config.session.protocol);
  const secret = await readSecret(config);
  if (protocol.kind === 'interface') {
    const reporter = await reporterOf(ctx, config.name, config.session.role);
    return new InterfaceSession(protocol, config, secret, ctx, reporter).run();
  }
  if (config.session.role === 'server' && ctx.passedFd && !ctx.passedFd.listening) {
    // systemd Accept=yes handed us one connection for this session
    return serveConnection(ctx.passedFd.fd, ctx, { protocol, timeoutMs: config.session.timeout * 1000, only: { config, secret } });
  }
  const reporter = await reporterOf(ctx, config.name, config.session.role);
  const session = config.session.role === 'client' ? new ClientSession(protocol, config, secret, ctx, reporter) : new ServerSession(protocol, config, secret, ctx, reporter);
  return session.run();
}

/** The sockets systemd passed to a server session: a TCP one (listening or connected) and a UDP one. */
function passedSockets(name: string, warn: (m: string) => void): Pick<SessionContext, 'passedFd' | 'passedUdpFd'> {
  // one call: it reads LISTEN_* and then clears them
  const passed = listenFds();
  const stream = passed.find((f) => f.kind === 'tcp-listen' || f.kind === 'tcp-connected' || f.kind === 'unknown');
  const passedFd = stream ? { fd: stream.fd, listening: native().socketAcceptsConnections(stream.fd) } : null;
  const dgram = passed.find((f) => f.kind === 'udp');
  // VTun's UDP socket has the TCP socket's port (docs/vtun-protocol.md §6.3): the unit passes both on one port
  if (dgram && !passedFd?.listening) warn(`${name}: ignoring the UDP socket systemd passed (fd ${dgram.fd}): it needs a ListenStream= socket on the same port`);
  return { passedFd, passedUdpFd: dgram && passedFd?.listening ? dgram.fd : null };
}

/**
 * The sockets systemd passed to a session of an interface protocol: WireGuard takes one
 * ListenDatagram= socket (Transport = udp) or one listening ListenStream= socket (tcp, websocket).
 */
function passedInterfaceSockets(name: string, warn: (m: string) => void): Pick<SessionContext, 'passedFd' | 'passedUdpFd' | 'passedListenFd'> {
  const passed = listenFds();
  const dgram = passed.find((f) => f.kind === 'udp');
  const stream = passed.find((f) => f.kind === 'tcp-listen');
  for (const other of passed.filter((f) => f !== dgram && f !== stream)) {
    warn(`${name}: ignoring the socket systemd passed as fd ${other.fd} (a WireGuard session takes one ListenDatagram= or one listening ListenStream= socket)`);
  }
  return { passedFd: null, passedUdpFd: dgram ? dgram.fd : null, passedListenFd: stream ? stream.fd : null };
}

/**
 * `tund NAME`: refuses to start when the session already runs (before it touches the network or a
 * device), then runs it until SIGTERM/SIGINT. A connection systemd accepted (Accept=yes) is not
 * an instance: several may run at once, Multi decides.
 */
export async function runNamedSession(config: SessionConfig, io: ProcessIo): Promise<number> {
  native(); // load the addon now: a broken build fails here, not in the middle of a handshake
  const sockets =
    (await protocolFor(config.session.protocol)).kind === 'interface'
      ? passedInterfaceSockets(config.name, io.warn)
      : config.session.role === 'server'
        ? passedSockets(config.name, io.warn)
        : { passedFd: null, passedUdpFd: null };
  const lock = sockets.passedFd && !sockets.passedFd.listening ? null : instanceLock(config.name);
  const proc = processContext(io, { controlSocket: true });
  // from here on the session needs CAP_NET_ADMIN (and a low port's CAP_NET_BIND_SERVICE), nothing else
  dropCapabilities(capabilitiesFor(config, config.session.role === 'server' && !sockets.passedFd), io.warn);
  try {
    return await runSession(config, { ...proc.ctx, ...sockets, reloadConfig: async () => (await loadSessionConfig(config.name)).config });
  } finally {
    proc.dispose();
    lock?.release();
  }
}

/** `tund NAME`: reads the session's files (their warnings through io.warn), then runs it. */
export async function runSessionByName(name: string, io: ProcessIo): Promise<number> {
  checkName(name, 'session');
  const loaded = await loadSessionConfig(name);
  for (const w of loaded.warnings) io.warn(formatConfigProblem(w));
  return runNamedSession(loaded.config, io);
}
