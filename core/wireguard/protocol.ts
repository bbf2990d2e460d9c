// WireGuard through the session's protocol interface (core/session/protocol.ts, an
// InterfaceProtocol): open() takes the session's tun and one UDP socket (ListenPort, or the one
// systemd passed), starts the interface (interface.ts: the native engine and the handshakes of
// every peer) and serves wg(8)'s userspace API on /run/wireguard/IFNAME.sock for as long as the
// link lives. A reload changes keys and peers in place (reconfigure); SaveConfig = true writes the
// running peers back to the file when the interface goes down, as wg-quick does.
import net from 'node:net';
import { writeSecretFile } from '../auth/secret.js';
import type { SessionConfig } from '../config/types.js';
import { TundError, errnoOf } from '../errors.js';
import { lookupHost } from '../net.js';
import type { Address } from '../socket.js';
import type { InterfaceProtocol, Link, LinkContext, LinkCounters, LinkEnd, PeerStatus } from '../session/protocol.js';
import { native } from '../../native/index.js';
import type { KeySource, WgQuickConfig } from './conf.js';
import { setRequestFor, WgInterface, type WgInterfaceOptions, type WgInterfaceSpec } from './interface.js';
import { keyToBase64, wipeDeviceKeys } from './keys.js';
import { renderWgQuick } from './render.js';
import { wgKeysFromSecret } from './session-config.js';
import { scaledTimers, WG_TIMERS, type WgTimerConfig } from './timers.js';
import type { WgEndpoint } from './types.js';
import { UapiServer } from './uapi-server.js';
import { dialHub, readProxyCredentials } from '../websocket/dial.js';
import type { WsEndpoint } from '../vpnws/url.js';

/** A stream connection that no peer has authenticated is closed after this long (the engine's default). */
const STREAM_PENDING_DEADLINE_MS = 10_000;

/** Test seam: every WireGuard timer multiplied by this factor (rekey tests). Never set it in production. */
function timersFromEnvironment(): WgTimerConfig {
  const factor = Number(process.env.TUND_TEST_WG_TIMER_SCALE ?? '');
  return Number.isFinite(factor) && factor > 0 && factor !== 1 ? scaledTimers(factor) : WG_TIMERS;
}

/** A peer's Endpoint as an address: names resolved now, as wg(8) does when it is configured. */
async function resolveEndpoint(e: WgEndpoint): Promise<WgEndpoint> {
  if (net.isIP(e.host) !== 0) return e;
  try {
    return { host: await lookupHost(e.host), port: e.port };
  } catch (error) {
    throw new TundError(`cannot resolve the peer endpoint "${e.host}": ${errnoOf(error) ?? String(error)}`);
  }
}

/**
 * The interface a configuration describes, with its keys and resolved endpoints. The keys are
 * copies (wgKeysFromSecret) for one hand-over: the caller wipes them (wipeDeviceKeys) after it.
 */
async function interfaceSpec(config: SessionConfig, secret: Buffer, listenPort: number): Promise<WgInterfaceSpec> {
  const wg = config.wireguard!;
  // the names first: a lookup that fails leaves no key copy behind
  const endpoints = await Promise.all(wg.peers.map((p) => (p.endpoint ? resolveEndpoint(p.endpoint) : null)));
  const keys = wgKeysFromSecret(config, secret);
  return {
    privateKey: keys.privateKey,
    listenPort,
    fwMark: wg.interface.fwMark,
    peers: wg.peers.map((p, i) => ({
      publicKey: Buffer.from(p.publicKey, 'base64'),
      presharedKey: keys.presharedKeys[i] ?? null,
      endpoint: endpoints[i] ?? null,
      allowedIps: p.allowedIps,
      persistentKeepalive: p.persistentKeepalive,
    })),
  };
}

/** The interface's UDP socket: ListenPort (0: any free port) on every address, IPv6 and IPv4. */
function bindSocket(port: number): { fd: number; local: Address } {
  const addon = native();
  let fd: number;
  try {
    fd = addon.udpSocketListen('::', port);
  } catch (error) {
    // no IPv6 on this host: IPv4 only
    if (errnoOf(error) !== 'EAFNOSUPPORT' && errnoOf(error) !== 'EADDRNOTAVAIL') throw bindError(error, port);
    try {
      fd = addon.udpSocketListen('0.0.0.0', port);
    } catch (error4) {
      throw bindError(error4, port);
    }
  }
  try {
    return { fd, local: localOf(fd) };
  } catch (error) {
    closeQuietly(fd);
    throw bindError(error, port);
  }
}

function bindError(error: unknown, port: number): TundError {
  if (errnoOf(error) === 'EADDRINUSE') {
    return new TundError(`UDP port ${port} is in use`, { hint: 'another WireGuard interface or program listens there: change ListenPort' });
  }
  return new TundError(`cannot open the UDP socket on port ${port}: ${error instanceof Error ? error.message : String(error)}`);
}

function localOf(fd: number): Address {
  const n = native().socketNames(fd);
  return { address: n.localAddress ?? '::', port: n.localPort ?? 0 };
}

function closeQuietly(fd: number): void {
  try {
    native().closeFd(fd);
  } catch {
    // the error that brought us here is the one to report
  }
}

/** Takes back what a failed open() made, newest first; each step best effort, logged when it fails. */
function rollback(undo: (() => void)[], log: (message: string) => void): void {
  for (const step of [...undo].reverse()) {
    try {
      step();
    } catch (error) {
      log(`rollback: ${error instanceof Error ? error.message : String(error)}`);
    }
  }
}

/** The pre-authentication deadline of stream connections, scaled with the test timers. */
function pendingDeadlineMs(): number {
  const factor = Number(process.env.TUND_TEST_WG_TIMER_SCALE ?? '');
  return Number.isFinite(factor) && factor > 0 ? Math.max(100, Math.round(STREAM_PENDING_DEADLINE_MS * factor)) : STREAM_PENDING_DEADLINE_MS;
}

/** Each peer's endpoint as configured and resolved at the start, by its public key (base64). */
function configuredEndpoints(wg: WgQuickConfig, spec: WgInterfaceSpec): Map<string, WgEndpoint> {
  const map = new Map<string, WgEndpoint>();
  wg.peers.forEach((p, i) => {
    const e = spec.peers[i]?.endpoint;
    if (e) map.set(p.publicKey, e);
  });
  return map;
}

/** Transport = tcp or websocket: what the interface's stream links and the engine need. */
function streamOptions(wg: WgQuickConfig, kind: 'tcp' | 'websocket', passedListenFd: number | null, configured: Map<string, WgEndpoint>): NonNullable<WgInterfaceOptions['streams']> {
  const base = { kind, listenPort: wg.interface.listenPort, passedListenFd, pendingDeadlineMs: pendingDeadlineMs() };
  if (kind === 'tcp') return base;
  const w = wg.interface.webSocket;
  const urls = new Map(wg.peers.filter((p) => p.webSocket).map((p) => [p.publicKey, p.webSocket!]));
  return {
    ...base,
    webSocket: {
      path: w.path ?? '',
      certFile: w.certificate ?? '',
      keyFile: w.certificateKey ?? '',
      clientCaFile: w.clientCa ?? '',
      dial: async (peer, endpoint, o) =>
        dialHub({
          endpoint: webSocketDialTarget(urls.get(peer) ?? null, configured.get(peer) ?? null, endpoint),
          proxy: w.proxy,
          caFile: w.ca,
          certFile: w.certificate,
          keyFile: w.certificateKey,
          mac: null,
          bridge: false,
          credentials: null,
          proxyCredentials: w.proxy ? await readProxyCredentials(wg.name, w.proxyUser, w.proxySecretFile) : null,
          timeoutMs: o.timeoutMs,
          signal: o.signal,
          fwMark: o.fwMark,
        }),
    },
  };
}

/**
 * Where to dial a WebSocket peer. `wg set ... endpoint` says where the peer is now, so the dial
 * goes there; the URL keeps naming the service. A URL with a host name is dialed by that name
 * (resolved again for each dial) while the peer is still at the address the name had at the
 * start; once wg set moved it, the connection goes to the new address and the upgrade still says
 * the URL's Host, TLS server name and path (as curl --connect-to does). A URL with an address
 * follows the endpoint entirely (webSocketUrlFor).
 */
function webSocketDialTarget(url: WsEndpoint | null, configured: WgEndpoint | null, now: WgEndpoint): WsEndpoint {
  if (!url || net.isIP(url.host) !== 0) return webSocketUrlFor(url, now);
  if (configured && configured.host === now.host && configured.port === now.port) return url;
  return { ...url, host: now.host, port: now.port };
}

/**
 * A peer's URL at the endpoint it has now (wg set may have moved it; a peer set without a URL gets
 * ws://ENDPOINT/). A URL that names a host stays as it is (what SaveConfig writes; the dial goes
 * to a moved peer's address by webSocketDialTarget).
 */
function webSocketUrlFor(url: WsEndpoint | null, endpoint: WgEndpoint): WsEndpoint {
  if (url && (net.isIP(url.host) === 0 || (url.host === endpoint.host && url.port === endpoint.port))) return url;
  const host = net.isIPv6(endpoint.host) ? `[${endpoint.host}]` : endpoint.host;
  const secure = url?.secure ?? false;
  return { secure, host: endpoint.host, port: endpoint.port, path: url?.path ?? '/', hostHeader: `${host}:${endpoint.port}`, serverName: endpoint.host };
}

export const wireguardProtocol: InterfaceProtocol = {
  kind: 'interface',
  name: 'wireguard',
  notice: null,

  async open(ctx: LinkContext): Promise<Link> {
    const config = ctx.config;
    const wg = config.wireguard;
    if (!wg) throw new TundError(`${config.name}: not a WireGuard session`);
    const spec = await interfaceSpec(config, ctx.secret, wg.interface.listenPort ?? 0);
    const kind = wg.interface.transport;
    const tcp = kind !== 'udp';
    let device: Awaited<ReturnType<LinkContext['device']>>;
    let socket: { fd: number; local: Address };
    let iface: WgInterface;
    try {
      device = await ctx.device('tun');
      // everything the interface needs is made before the socket: nothing can fail between its
      // bind and its hand-over to the interface
      const streams = kind !== 'udp' ? { streams: streamOptions(wg, kind, ctx.passedListenFd ?? null, configuredEndpoints(wg, spec)) } : {};
      const timers = timersFromEnvironment();
      // the engine closes its socket when it stops: a socket systemd passed is kept for the next link
      // (Transport = tcp, websocket: the interface listens and dials itself, stream-links.ts)
      socket = tcp
        ? { fd: -1, local: ctx.passedListenFd != null ? localOf(ctx.passedListenFd) : { address: '::', port: wg.interface.listenPort ?? 0 } }
        : ctx.passedUdpFd !== null
          ? { local: localOf(ctx.passedUdpFd), fd: native().dupFd(ctx.passedUdpFd) }
          : bindSocket(spec.listenPort);
      // the socket is the interface's from here, also when this throws (interface.ts closes it)
      iface = new WgInterface({
        ...spec,
        listenPort: socket.local.port,
        deviceFd: device.device.fd,
        netFd: socket.fd,
        ...streams,
        mtu: config.device.mtu ?? 1420,
        timers,
        log: ctx.log,
      });
    } finally {
      // the interface made its own copies (and the addon its): the spec's keys go, also when it threw
      wipeDeviceKeys(spec);
    }
    // Each later step's undo, taken back in reverse when a step fails (as core/route/ does), so a
    // failed start leaves nothing open and the next attempt meets the same cause, not our own
    // leftovers (a socket still bound to ListenPort). The tun is the session's: it closes it.
    const undo: (() => void)[] = [() => iface.stop()];
    let uapi: UapiServer;
    try {
      uapi = await UapiServer.listen({ name: device.device.name, provider: iface, log: ctx.log });
      undo.push(() => uapi.close());
      try {
        iface.start();
      } catch (error) {
        if (error instanceof TundError) throw error;
        throw new TundError(`cannot start the packet engine: ${(error as Error).message}`);
      }
    } catch (error) {
      rollback(undo, ctx.log);
      throw error;
    }
    const carrier = kind === 'websocket' ? (wg.interface.webSocket.certificate ? 'wss' : 'ws') : 'TCP';
    const listens = wg.interface.listenPort !== null || ctx.passedListenFd != null;
    const over = tcp ? (listens ? `listening on ${carrier} port ${socket.local.port}` : `over ${kind === 'websocket' ? 'WebSocket' : 'TCP'}`) : `listening on UDP port ${socket.local.port}`;
    ctx.log(`WireGuard interface ${device.device.name} ${over}, ${spec.peers.length} peer${spec.peers.length === 1 ? '' : 's'}`);
    return new WireGuardLink(iface, uapi, socket.local, wg, ctx.log);
  },
};

class WireGuardLink implements Link {
  readonly ended: Promise<LinkEnd>;

  constructor(
    private readonly iface: WgInterface,
    private readonly uapi: UapiServer,
    readonly localEnd: Address,
    private wg: WgQuickConfig,
    private readonly log: (message: string) => void,
  ) {
    this.ended = iface.ended.then((end) => {
      uapi.close();
      return { reason: end.reason, message: end.message };
    });
  }

  watchReadiness(listener: (ready: boolean) => void): void {
    this.iface.watchReadiness(listener);
  }

  peers(): PeerStatus[] {
    return this.iface.peers().map((p) => ({
      endpoint: p.endpoint ? { address: p.endpoint.host, port: p.endpoint.port } : null,
      latestHandshake: p.latestHandshakeMs === null ? null : new Date(p.latestHandshakeMs).toISOString(),
      parameters: null,
      keepalive: p.persistentKeepalive > 0 ? { interval_s: p.persistentKeepalive, count: 0, last_echo: null } : null,
      publicKey: p.publicKey,
      allowedIps: p.allowedIps,
      transfer: { rx_bytes: p.rxBytes, tx_bytes: p.txBytes },
    }));
  }

  counters(): LinkCounters {
    const c = this.iface.counters();
    return {
      counters: { rx_bytes: c.rxBytes, tx_bytes: c.txBytes, rx_packets: c.rxPackets, tx_packets: c.txPackets },
      msSinceRx: c.msSinceRx,
      handshakes: { drops: c.handshakeDrops, cookieReplies: c.cookieReplies },
    };
  }

  async reconfigure(config: SessionConfig, secret: Buffer): Promise<string> {
    const running = this.iface.get();
    let spec: WgInterfaceSpec;
    let errno: number;
    try {
      spec = await interfaceSpec(config, secret, config.wireguard!.interface.listenPort ?? running.listenPort);
      try {
        // the request's keys are the spec's (or zeros): set() copies what it keeps
        errno = this.iface.set(setRequestFor(spec, running));
      } finally {
        wipeDeviceKeys(spec);
      }
    } finally {
      wipeDeviceKeys(running);
    }
    if (errno !== 0) throw new TundError(`the running interface refused the new configuration (errno ${errno}; see the log line before)`);
    this.wg = config.wireguard!;
    const before = new Set(running.peers.map((p) => keyToBase64(p.publicKey)));
    const after = new Set(spec.peers.map((p) => keyToBase64(p.publicKey)));
    const added = [...after].filter((k) => !before.has(k)).length;
    const removed = [...before].filter((k) => !after.has(k)).length;
    return `peers and keys applied in place (${after.size} peer${after.size === 1 ? '' : 's'}: ${added} added, ${removed} removed); handshakes of the others kept`;
  }

  async close(reason: string): Promise<void> {
    // a reload brings the interface down to come up with the file as it is now: nothing to save
    if (this.wg.interface.saveConfig && reason !== 'reload') this.saveConfig();
    this.uapi.close();
    this.iface.stop();
    await this.ended;
  }

  /** SaveConfig = true: the running peers (as `wg set` left them) go back into the file. */
  private saveConfig(): void {
    // an interface that ended on its own has wiped its keys: writing them would lose the real ones
    if (this.iface.hasEnded) {
      this.log(`SaveConfig: the interface ended before it could be saved; ${this.wg.file} is left as it is`);
      return;
    }
    const state = this.iface.get();
    const wg = this.wg;
    const keep = (source: KeySource | null, live: Buffer | null): KeySource | null => {
      if (!live) return null;
      if (source && source.kind === 'file') return source; // a key file stays a key file
      return { kind: 'inline', key: live, line: source?.line ?? 0 };
    };
    const saved: WgQuickConfig = {
      ...wg,
      interface: { ...wg.interface, privateKey: keep(wg.interface.privateKey, state.privateKey) },
      peers: state.peers.map((p) => {
        const id = keyToBase64(p.publicKey);
        const was = wg.peers.find((c) => c.publicKey === id);
        return {
          line: was?.line ?? 0,
          publicKey: id,
          presharedKey: keep(was?.presharedKey ?? null, p.presharedKey),
          endpoint: p.endpoint,
          // a WebSocket peer keeps its URL (at the endpoint it has now)
          webSocket: was?.webSocket && p.endpoint ? webSocketUrlFor(was.webSocket, p.endpoint) : null,
          allowedIps: p.allowedIps,
          persistentKeepalive: p.persistentKeepalive,
        };
      }),
    };
    // the rendered text holds the keys in base64: a string, which cannot be wiped; its Buffer can
    let text: Buffer | null = null;
    try {
      text = Buffer.from(renderWgQuick(saved));
      writeSecretFile(wg.file, text);
      this.log(`SaveConfig: wrote the running configuration to ${wg.file}`);
    } catch (error) {
      this.log(`SaveConfig: cannot write ${wg.file}: ${error instanceof Error ? error.message : String(error)}`);
    } finally {
      text?.fill(0);
      wipeDeviceKeys(state);
    }
  }
}
