// One running WireGuard interface: the native engine moving the packets of every peer (one tun,
// one UDP socket), the handshake logic in JS driving it (device.ts, peer.ts over
// engine-dataplane.ts), and the interface's configuration as wg(8) sees it. It answers the
// userspace API (UapiProvider: get and set, so `wg show` / `wg set` / `wg syncconf` work on it)
// and a reload is a set request too (setRequestFor): one path changes a running interface.
//
// Readiness ("a packet sent now is delivered now"): every peer this side dials (an Endpoint was
// configured or set) has completed a handshake and is not retrying one; an interface that only
// answers (no peer endpoints) is ready at once.
import { native, type NativeWgEngine, type NativeWsConnection, type WgEngineOptions, type WgEvent } from '../../native/index.js';
import type { PeerId } from './dataplane.js';
import { StreamLinks, type Dialer } from './stream-links.js';
import { WgHandshakeDevice } from './device.js';
import { EngineDataplane } from './engine-dataplane.js';
import { keyToBase64, publicKeyOf, wipeDeviceKeys } from './keys.js';
import { systemClock, WG_TIMERS, type Clock, type WgTimerConfig } from './timers.js';
import type { WgDeviceState, WgEndpoint, WgPeerState } from './types.js';
import { applySetRequest } from './uapi-apply.js';
import { EINVAL, type UapiProvider, type UapiSetRequest } from './uapi.js';

const EOPNOTSUPP = 95;

export interface WgPeerSpec {
  publicKey: Buffer;
  presharedKey: Buffer | null;
  /** an IP address (names are resolved before) */
  endpoint: WgEndpoint | null;
  allowedIps: string[];
  persistentKeepalive: number;
}

export interface WgInterfaceSpec {
  privateKey: Buffer;
  listenPort: number;
  fwMark: number;
  peers: WgPeerSpec[];
}

export interface WgInterfaceOptions extends WgInterfaceSpec {
  /** the tun (IFF_NO_PI); the interface never closes it */
  deviceFd: number;
  /**
   * udp: a bound UDP socket, the interface's from the call on: closed at stop() (by the engine
   * once start() has handed it over, else here) or when the constructor throws
   */
  netFd: number;
  /**
   * Transport = tcp or websocket (stream-links.ts): the TCP port to listen on (null: none) or the
   * listening socket systemd passed, the dial back-off, the pre-authentication limits; websocket:
   * the engine's upgrade options (path, TLS) and the dialer.
   */
  streams?: {
    kind: 'tcp' | 'websocket';
    listenPort: number | null;
    passedListenFd?: number | null;
    backoff?: { first: number; base: number; max: number };
    pendingDeadlineMs?: number;
    webSocket?: {
      path: string;
      certFile: string;
      keyFile: string;
      clientCaFile: string;
      /** dials and upgrades (core/websocket/dial.ts): the engine takes the connection */
      dial: (peer: string, endpoint: WgEndpoint, o: Parameters<Dialer>[2]) => Promise<NativeWsConnection>;
    };
  };
  mtu: number;
  timers?: WgTimerConfig;
  clock?: Clock;
  /** one line of the session's log (with a hint: its line too) */
  log: (message: string, hint?: string) => void;
  /** test seam: the engine (default: the addon's WgEngine) */
  createEngine?: (options: WgEngineOptions, onEvent: (event: WgEvent) => void) => NativeWgEngine;
}

export interface WgInterfaceEnd {
  reason: 'device_error' | 'network_error' | 'stopped';
  message: string;
}

/** One peer as status shows it (wg show's fields). */
export interface WgPeerReport {
  publicKey: string;
  endpoint: WgEndpoint | null;
  /** wall-clock ms of the last completed handshake, null before the first */
  latestHandshakeMs: number | null;
  rxBytes: number;
  txBytes: number;
  allowedIps: string[];
  persistentKeepalive: number;
}

interface PeerConfig {
  publicKey: Buffer;
  /** the interface's own copy, for get() (wg show, SaveConfig, a reload's comparison); zeroed when the peer or the interface goes */
  presharedKey: Buffer | null;
  persistentKeepalive: number;
  /** this side sends the first handshake (an Endpoint was configured or set) */
  dials: boolean;
}

/** How often readiness and the handshake state are looked at besides the events (retries, expiry). */
const READINESS_POLL_MS = 1000;

export class WgInterface implements UapiProvider {
  readonly ended: Promise<WgInterfaceEnd>;
  private resolveEnd!: (end: WgInterfaceEnd) => void;
  private readonly engine: NativeWgEngine;
  private readonly dataplane: EngineDataplane;
  private readonly handshakes: WgHandshakeDevice;
  private readonly clock: Clock;
  private privateKey: Buffer;
  private listenPort: number;
  private fwMark: number;
  private readonly peerConfigs = new Map<PeerId, PeerConfig>();
  private readonly readinessListeners: ((ready: boolean) => void)[] = [];
  private ready: boolean | null = null;
  private poll: NodeJS.Timeout | null = null;
  private finished = false;
  private readonly links: StreamLinks | null;
  /**
   * The UDP socket until the engine has it: the native engine closes its socket only when it
   * stops after a start (docs/engine.md, Lifecycle), so one it never ran with is closed here.
   */
  private netFd: number | null;

  constructor(private readonly o: WgInterfaceOptions) {
    this.netFd = o.netFd >= 0 && !o.streams ? o.netFd : null;
    this.ended = new Promise((resolve) => (this.resolveEnd = resolve));
    this.clock = o.clock ?? systemClock();
    const timers = o.timers ?? WG_TIMERS;
    this.privateKey = Buffer.from(o.privateKey);
    this.listenPort = o.listenPort;
    this.fwMark = o.fwMark;
    const create = o.createEngine ?? ((options, onEvent) => new (native().WgEngine)(options, onEvent));
    let engine: NativeWgEngine | null = null;
    try {
      engine = this.engine = this.createEngine(create, timers);
      this.dataplane = new EngineDataplane(this.engine, this.clock);
      this.links = o.streams
        ? new StreamLinks({
            kind: o.streams.kind,
            addConnection: (fd) => this.engine.addConnection(fd),
            ...(o.streams.webSocket ? { dialer: this.webSocketDialer(o.streams.webSocket.dial) } : {}),
            fwMark: () => this.fwMark,
            connected: (peer) => this.handshakes.transportRenewed(peer),
            log: o.log,
            backoff: o.streams.backoff,
          })
        : null;
      this.handshakes = new WgHandshakeDevice({ privateKey: this.privateKey, dataplane: this.dataplane, clock: this.clock, timers, log: o.log });
      for (const p of o.peers) this.addPeer(p);
    } catch (error) {
      // nothing runs yet: the engine object (an unstarted one holds its callback, and through it
      // this interface, until stopped), the socket and the key copies go
      engine?.stop();
      this.releaseNetFd();
      this.wipeKeys();
      throw error;
    }
  }

  private createEngine(create: NonNullable<WgInterfaceOptions['createEngine']>, timers: WgTimerConfig): NativeWgEngine {
    const o = this.o;
    return create(
      {
        deviceFd: o.deviceFd,
        ...(o.streams
          ? {
              transport: o.streams.kind,
              ...(o.streams.pendingDeadlineMs ? { pendingDeadlineMs: o.streams.pendingDeadlineMs } : {}),
              ...(o.streams.webSocket
                ? { path: o.streams.webSocket.path, certFile: o.streams.webSocket.certFile, keyFile: o.streams.webSocket.keyFile, clientCaFile: o.streams.webSocket.clientCaFile }
                : {}),
            }
          : { netFd: o.netFd }),
        mtu: o.mtu,
        publicKey: publicKeyOf(this.privateKey),
        limits: {
          rekeyAfterTimeMs: timers.rekeyAfterTimeMs,
          rejectAfterTimeMs: timers.rejectAfterTimeMs,
          keepaliveTimeoutMs: timers.keepaliveTimeoutMs,
          rekeyTimeoutMs: timers.rekeyTimeoutMs,
          rekeyAfterMessages: timers.rekeyAfterMessages,
          rejectAfterMessages: timers.rejectAfterMessages,
        },
      },
      (event) => this.onEvent(event),
    );
  }

  /** Closes the UDP socket if the engine never took it (once; best effort: the caller's error comes first). */
  private releaseNetFd(): void {
    const fd = this.netFd;
    this.netFd = null;
    if (fd === null) return;
    try {
      native().closeFd(fd);
    } catch (error) {
      this.o.log(`cannot close the UDP socket: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private webSocketDialer(dial: NonNullable<NonNullable<WgInterfaceOptions['streams']>['webSocket']>['dial']): Dialer {
    return async (peer, endpoint, o) => {
      const connection = await dial(peer, endpoint, o);
      // named by the peer's endpoint, not by whom the socket reached (an HTTP proxy, another
      // address of the peer's name): messages to the peer go out on it
      const name = { address: endpoint.host, port: endpoint.port };
      return { hand: () => this.engine.addDialed(connection, name), close: () => connection.close() };
    };
  }

  start(): void {
    if (this.fwMark && !this.links) native().socketSetMark(this.o.netFd, this.fwMark);
    const streams = this.o.streams;
    if (this.links && streams && (streams.passedListenFd != null || streams.listenPort !== null)) {
      this.links.listen(streams.listenPort ?? 0, streams.passedListenFd ?? null);
    }
    this.engine.start();
    this.netFd = null; // the engine's now: it closes it when it stops
    this.handshakes.start();
    for (const [id, p] of this.peerConfigs) {
      const endpoint = p.dials ? this.dataplane.endpoint(id) : null;
      if (endpoint) this.links?.dial(id, endpoint);
    }
    // a peer we dial gets its handshake now: "connected" then means the tunnel works
    for (const [id, p] of this.peerConfigs) if (p.dials) this.handshakes.needHandshake(id);
    this.poll = setInterval(() => this.checkReadiness(), READINESS_POLL_MS);
    this.poll.unref();
    this.checkReadiness();
  }

  /**
   * Stops the handshakes and the engine, and closes the socket (the engine's, or here when it
   * never started: a start that failed half-way leaves nothing open); `ended` resolves.
   */
  stop(): void {
    this.links?.stop();
    this.handshakes.stop();
    this.engine.stop();
    this.releaseNetFd();
    this.finish({ reason: 'stopped', message: 'stopped' });
  }

  // ---- readiness

  watchReadiness(listener: (ready: boolean) => void): void {
    this.readinessListeners.push(listener);
    listener(this.isReady());
  }

  isReady(): boolean {
    for (const [id, p] of this.peerConfigs) {
      if (!p.dials) continue;
      const s = this.handshakes.peer(id)?.status();
      if (!s || s.lastHandshakeWallMs === null || s.handshakeAttempts > 0) return false;
    }
    return true;
  }

  private checkReadiness(): void {
    if (this.finished) return;
    const now = this.isReady();
    if (now === this.ready) return;
    this.ready = now;
    for (const l of this.readinessListeners) l(now);
  }

  // ---- status

  peers(): WgPeerReport[] {
    return [...this.peerConfigs.entries()].map(([id, p]) => {
      const transfer = this.dataplane.transfer(id);
      return {
        publicKey: id,
        endpoint: this.dataplane.endpoint(id),
        latestHandshakeMs: this.handshakes.peer(id)?.status().lastHandshakeWallMs ?? null,
        rxBytes: transfer.rxBytes,
        txBytes: transfer.txBytes,
        allowedIps: this.dataplane.allowedIps(id),
        persistentKeepalive: p.persistentKeepalive,
      };
    });
  }

  /**
   * Packet counters of the device side, ms since anything authenticated came from any peer (-1:
   * never), and the handshake messages refused (by the engine's cookie gate before JS sees them,
   * or by the handshake logic here) with the cookie replies the gate sent under load.
   */
  counters(): { rxBytes: number; txBytes: number; rxPackets: number; txPackets: number; msSinceRx: number; handshakeDrops: number; cookieReplies: number } {
    const s = this.engine.stats();
    let msSinceRx = -1;
    for (const id of this.engine.peers()) {
      const since = this.engine.peerStats(id)?.msSinceRx ?? -1;
      if (since >= 0 && (msSinceRx < 0 || since < msSinceRx)) msSinceRx = since;
    }
    const handshakeDrops = s.handshakeDrops + this.handshakes.counters.handshakeDropped;
    return { rxBytes: s.rxBytes, txBytes: s.txBytes, rxPackets: s.rxPackets, txPackets: s.txPackets, msSinceRx, handshakeDrops, cookieReplies: s.cookieReplies };
  }

  // ---- the userspace API

  get(): WgDeviceState {
    return {
      privateKey: Buffer.from(this.privateKey),
      listenPort: this.listenPort,
      fwMark: this.fwMark,
      peers: this.peers().map((r): WgPeerState => {
        const p = this.peerConfigs.get(r.publicKey)!;
        return {
          publicKey: Buffer.from(p.publicKey),
          presharedKey: p.presharedKey ? Buffer.from(p.presharedKey) : null,
          endpoint: r.endpoint,
          allowedIps: r.allowedIps,
          persistentKeepalive: p.persistentKeepalive,
          lastHandshake: r.latestHandshakeMs === null ? null : { seconds: Math.floor(r.latestHandshakeMs / 1000), nanoseconds: (r.latestHandshakeMs % 1000) * 1e6 },
          rxBytes: r.rxBytes,
          txBytes: r.txBytes,
        };
      }),
    };
  }

  /**
   * Applies a set request as wireguard-go does (uapi-apply.ts); 0 or a positive errno. The keys of
   * the request stay the caller's; the copies made here are zeroed before it returns.
   */
  set(request: UapiSetRequest): number {
    if (this.finished) return EINVAL;
    const current = this.get();
    const next = applySetRequest(current, request);
    try {
      if (!next.privateKey) {
        this.o.log('uapi: refusing to remove the private key (a tund interface always has one; set another instead)');
        return EINVAL;
      }
      if (next.listenPort !== this.listenPort) {
        this.o.log(`uapi: the listen port cannot change while the session runs (it is ${this.listenPort}); change ListenPort and restart the session`);
        return EOPNOTSUPP;
      }
      try {
        this.applyState(current, next, request);
      } catch (error) {
        this.o.log(`uapi: set failed: ${error instanceof Error ? error.message : String(error)}`);
        return EINVAL;
      }
      this.checkReadiness();
      return 0;
    } finally {
      // applyState kept copies of its own (and the addon its): the snapshot and the new state go
      // (they share the Buffers they did not change)
      wipeDeviceKeys(current);
      wipeDeviceKeys(next);
    }
  }

  private applyState(current: WgDeviceState, next: WgDeviceState, request: UapiSetRequest): void {
    if (!next.privateKey!.equals(this.privateKey)) {
      const old = this.privateKey;
      this.privateKey = Buffer.from(next.privateKey!);
      this.handshakes.setPrivateKey(this.privateKey);
      this.engine.setPublicKey(publicKeyOf(this.privateKey));
      old.fill(0);
    }
    if (next.fwMark !== this.fwMark) {
      if (!this.links) native().socketSetMark(this.o.netFd, next.fwMark);
      this.fwMark = next.fwMark;
    }
    const wanted = new Set(next.peers.map((p) => keyToBase64(p.publicKey)));
    for (const p of current.peers) {
      const id = keyToBase64(p.publicKey);
      if (!wanted.has(id)) this.removePeer(id);
    }
    const endpointSet = new Set(request.peers.filter((c) => c.endpoint).map((c) => keyToBase64(c.publicKey)));
    for (const p of next.peers) {
      const id = keyToBase64(p.publicKey);
      const have = this.peerConfigs.get(id);
      if (!have) {
        this.addPeer({ ...p, endpoint: p.endpoint });
        if (this.handshakes.peer(id) && p.endpoint) this.handshakes.needHandshake(id);
        if (p.endpoint) this.links?.dial(id, p.endpoint);
        continue;
      }
      const peer = this.handshakes.peer(id)!;
      if (!sameKey(have.presharedKey, p.presharedKey)) {
        have.presharedKey?.fill(0);
        have.presharedKey = p.presharedKey ? Buffer.from(p.presharedKey) : null;
        peer.setPresharedKey(p.presharedKey);
      }
      if (p.endpoint && endpointSet.has(id)) {
        this.dataplane.setEndpoint(id, p.endpoint);
        have.dials = true;
        this.links?.dial(id, p.endpoint);
      }
      if (p.persistentKeepalive !== have.persistentKeepalive) {
        have.persistentKeepalive = p.persistentKeepalive;
        peer.setPersistentKeepalive(p.persistentKeepalive);
      }
      const before = this.dataplane.allowedIps(id);
      if (before.join(',') !== p.allowedIps.join(',')) this.dataplane.setAllowedIps(id, p.allowedIps);
    }
  }

  /** The peer's keys stay the caller's (its handshake copies them natively, peerConfigs here). */
  private addPeer(p: { publicKey: Buffer; presharedKey: Buffer | null; endpoint: WgEndpoint | null; allowedIps: string[]; persistentKeepalive: number }): void {
    const id = keyToBase64(p.publicKey);
    this.dataplane.addPeer(id, p.endpoint, p.allowedIps);
    this.handshakes.addPeer({ publicKey: p.publicKey, presharedKey: p.presharedKey, persistentKeepalive: p.persistentKeepalive });
    this.peerConfigs.set(id, {
      publicKey: Buffer.from(p.publicKey),
      presharedKey: p.presharedKey ? Buffer.from(p.presharedKey) : null,
      persistentKeepalive: p.persistentKeepalive,
      dials: p.endpoint !== null,
    });
  }

  private removePeer(id: PeerId): void {
    this.links?.forget(id);
    this.handshakes.removePeer(id);
    this.dataplane.removePeer(id);
    this.peerConfigs.get(id)?.presharedKey?.fill(0);
    this.peerConfigs.delete(id);
  }

  // ---- engine events

  private onEvent(event: WgEvent): void {
    if (this.finished) return;
    if (event.type === 'connection_closed') {
      this.links?.closed({ host: event.remote.address, port: event.remote.port }, event.message);
      return;
    }
    const end = this.dataplane.dispatch(event, this.handshakes);
    if (end) {
      if (end.reason !== 'stopped') this.o.log(`the packet engine ended: ${end.reason}: ${end.message}`);
      this.handshakes.stop();
      this.finish({ reason: end.reason, message: end.message });
      return;
    }
    if (event.type !== 'handshake_needed') this.checkReadiness();
  }

  private finish(end: WgInterfaceEnd): void {
    if (this.finished) return;
    this.finished = true;
    this.links?.stop();
    if (this.poll) clearInterval(this.poll);
    this.poll = null;
    this.wipeKeys();
    this.resolveEnd(end);
  }

  /** Whether the interface has ended (stopped, or its engine ended): its keys are wiped then. */
  get hasEnded(): boolean {
    return this.finished;
  }

  /** The interface's own key copies (the handshakes' are native, wiped when they stop). */
  private wipeKeys(): void {
    this.privateKey.fill(0);
    for (const p of this.peerConfigs.values()) p.presharedKey?.fill(0);
  }
}

function sameKey(a: Buffer | null, b: Buffer | null): boolean {
  return a === null || b === null ? a === b : a.equals(b);
}

/**
 * The set request that makes a running interface match `spec` (a reload), as `wg syncconf`
 * computes it: peers that are gone are removed, the others updated in place (their handshakes
 * stay); an endpoint is only set where the configuration gives one.
 */
export function setRequestFor(spec: WgInterfaceSpec, running: WgDeviceState): UapiSetRequest {
  const wanted = new Set(spec.peers.map((p) => keyToBase64(p.publicKey)));
  const request: UapiSetRequest = { privateKey: spec.privateKey, listenPort: spec.listenPort, fwMark: spec.fwMark, replacePeers: false, peers: [] };
  for (const p of running.peers) {
    if (!wanted.has(keyToBase64(p.publicKey))) request.peers.push({ publicKey: p.publicKey, remove: true, updateOnly: false, replaceAllowedIps: false, allowedIps: [] });
  }
  for (const p of spec.peers) {
    request.peers.push({
      publicKey: p.publicKey,
      remove: false,
      updateOnly: false,
      presharedKey: p.presharedKey ?? Buffer.alloc(32),
      ...(p.endpoint ? { endpoint: p.endpoint } : {}),
      persistentKeepalive: p.persistentKeepalive,
      replaceAllowedIps: true,
      allowedIps: p.allowedIps,
    });
  }
  return request;
}
