// A model of the native engine's WireGuard behaviour (the contract in dataplane.ts), in JS, for
// tests of the control logic: keypair slots (previous/current/next) with confirmation, staging
// with needHandshake, reject-after limits, activity timestamps, roaming, and the native cookie
// checker on the receive path. Transport packets are really sealed and opened with each keypair's
// keys (the addon's ChaCha20-Poly1305), so two devices only talk when their handshake agreed.
// FakeLink joins two of them with a latency and drop rules, on the injected clock.
import { native, type NativeWgAead, type NativeWgCookieChecker, type WgKeypair } from '../../native/index.js';
import { noActivity, type PeerActivity, type PeerId, type WgDataplane, type WgDataplaneEvents } from './dataplane.js';
import type { Clock, WgTimerConfig } from './timers.js';
import type { WgEndpoint } from './types.js';

interface FakeKeypair {
  localIndex: number;
  remoteIndex: number;
  initiator: boolean;
  createdMs: number;
  send: NativeWgAead;
  recv: NativeWgAead;
  sendCounter: bigint;
}

interface FakePeer {
  endpoint: WgEndpoint | null;
  previous: FakeKeypair | null;
  current: FakeKeypair | null;
  next: FakeKeypair | null;
  staged: number[];
  activity: PeerActivity;
  sentKeepalives: number;
  sentHandshakes: Buffer[];
  droppedStaged: number;
}

export type FakeWirePacket =
  | { kind: 'handshake'; message: Buffer; from: WgEndpoint }
  | { kind: 'transport'; receiverIndex: number; counter: bigint; sealed: Buffer; from: WgEndpoint };

const STAGED_MAX = 128;

export class FakeDataplane implements WgDataplane {
  events: WgDataplaneEvents | null = null;
  /** Where our packets go (set by FakeLink). */
  transmit: ((to: WgEndpoint, packet: FakeWirePacket) => void) | null = null;
  /** The receive path's "under load" (cookie replies for type 1/2 without a valid mac2). */
  underLoad = false;
  readonly counters = { cookieRepliesSent: 0, transportDropped: 0, handshakesVetoed: 0 };
  private readonly peers = new Map<PeerId, FakePeer>();
  private checker: NativeWgCookieChecker | null = null;

  constructor(
    private readonly clock: Clock,
    private readonly timers: WgTimerConfig,
    /** This dataplane's own address (the source of what it sends). */
    public address: WgEndpoint,
  ) {}

  /** The receive path checks mac1 against our public key (as the engine's CookieChecker). */
  setLocalPublicKey(publicKey: Buffer): void {
    this.checker = new (native().wg.CookieChecker)(publicKey);
  }

  addPeer(id: PeerId, endpoint: WgEndpoint | null = null): void {
    this.peers.set(id, {
      endpoint,
      previous: null,
      current: null,
      next: null,
      staged: [],
      activity: noActivity(),
      sentKeepalives: 0,
      sentHandshakes: [],
      droppedStaged: 0,
    });
  }

  private peer(id: PeerId): FakePeer {
    const p = this.peers.get(id);
    if (!p) throw new Error(`fake dataplane: no peer ${id}`);
    return p;
  }

  /** Test view of a peer. */
  inspect(id: PeerId): Readonly<FakePeer> {
    return this.peer(id);
  }

  // ---- WgDataplane

  sendHandshake(id: PeerId, endpoint: WgEndpoint, message: Buffer): void {
    this.peer(id).sentHandshakes.push(Buffer.from(message));
    this.transmit?.(endpoint, { kind: 'handshake', message: Buffer.from(message), from: this.address });
  }

  installKeypair(id: PeerId, kp: WgKeypair): void {
    const p = this.peer(id);
    const wg = native().wg;
    const k: FakeKeypair = {
      localIndex: kp.localIndex,
      remoteIndex: kp.remoteIndex,
      initiator: kp.initiator,
      createdMs: this.clock.now(),
      send: new wg.Aead(kp.sendKey),
      recv: new wg.Aead(kp.recvKey),
      sendCounter: 0n,
    };
    if (kp.initiator) {
      if (p.next) {
        p.previous = p.next;
        p.next = null;
      } else {
        p.previous = p.current;
      }
      p.current = k;
      this.flushStaged(id);
    } else {
      p.next = k;
      p.previous = null;
    }
  }

  clearKeypairs(id: PeerId): void {
    const p = this.peer(id);
    p.previous = p.current = p.next = null;
    p.staged = [];
  }

  dropStaged(id: PeerId): void {
    const p = this.peer(id);
    p.droppedStaged += p.staged.length;
    p.staged = [];
  }

  sendKeepalive(id: PeerId): void {
    this.peer(id).sentKeepalives++;
    this.send(id, 0);
  }

  setEndpoint(id: PeerId, endpoint: WgEndpoint): void {
    this.peer(id).endpoint = { ...endpoint };
  }

  endpoint(id: PeerId): WgEndpoint | null {
    return this.peer(id).endpoint;
  }

  activity(id: PeerId): PeerActivity {
    const p = this.peer(id);
    return { ...p.activity, sendCounter: p.current?.sendCounter ?? 0n };
  }

  // ---- the engine model

  private usable(k: FakeKeypair | null): k is FakeKeypair {
    return !!k && this.clock.now() - k.createdMs < this.timers.rejectAfterTimeMs && k.sendCounter < this.timers.rejectAfterMessages;
  }

  /** A packet of `bytes` bytes (0: a keepalive) from the device for the peer. */
  send(id: PeerId, bytes: number): boolean {
    const p = this.peer(id);
    if (!this.usable(p.current) || !p.endpoint) {
      p.staged.push(bytes);
      if (p.staged.length > STAGED_MAX) p.staged.shift();
      this.events?.needHandshake(id);
      return false;
    }
    this.seal(id, p, p.current, bytes);
    return true;
  }

  private seal(id: PeerId, p: FakePeer, k: FakeKeypair, bytes: number): void {
    const now = this.clock.now();
    const counter = k.sendCounter++;
    const sealed = k.send.seal(counter, Buffer.alloc(bytes, 0x61));
    const a = p.activity;
    a.lastSentMs = now;
    a.firstDataReceivedSinceSentMs = null;
    a.txBytes += bytes + 32;
    if (bytes > 0) {
      a.lastDataSentMs = now;
      a.firstDataSentSinceReceivedMs ??= now;
    }
    this.transmit?.(p.endpoint!, { kind: 'transport', receiverIndex: k.remoteIndex, counter, sealed, from: this.address });
  }

  private flushStaged(id: PeerId): void {
    const p = this.peer(id);
    const staged = p.staged;
    p.staged = [];
    for (const bytes of staged) if (this.usable(p.current) && p.endpoint) this.seal(id, p, p.current, bytes);
  }

  /** A datagram from the wire. */
  receive(packet: FakeWirePacket): void {
    if (packet.kind === 'handshake') return this.receiveHandshake(packet.message, packet.from);
    for (const [id, p] of this.peers) {
      for (const slot of ['previous', 'current', 'next'] as const) {
        const k = p[slot];
        if (!k || k.localIndex !== packet.receiverIndex) continue;
        if (!this.usable(k)) {
          this.counters.transportDropped++;
          return;
        }
        const plain = k.recv.open(packet.counter, packet.sealed);
        if (!plain) {
          this.counters.transportDropped++;
          return;
        }
        const now = this.clock.now();
        p.endpoint = { ...packet.from }; // roaming
        const a = p.activity;
        a.lastReceivedMs = now;
        a.firstDataSentSinceReceivedMs = null;
        a.rxBytes += plain.length + 32;
        if (plain.length > 0) {
          a.lastDataReceivedMs = now;
          a.firstDataReceivedSinceSentMs ??= now;
        }
        if (slot === 'next') {
          p.previous = p.current;
          p.current = k;
          p.next = null;
          this.events?.keypairConfirmed(id, k.localIndex);
          this.flushStaged(id);
        }
        return;
      }
    }
    this.counters.transportDropped++;
  }

  private receiveHandshake(message: Buffer, from: WgEndpoint): void {
    const type = native().wg.messageType(message);
    if (type === 1 || type === 2) {
      if (!this.checker) return;
      const vet = this.checker.vet(message, from.host, from.port, this.underLoad, this.clock.now());
      if (vet.verdict === 'cookie_reply') {
        this.counters.cookieRepliesSent++;
        this.transmit?.(from, { kind: 'handshake', message: vet.reply!, from: this.address });
        return;
      }
      if (vet.verdict !== 'accept') {
        this.counters.handshakesVetoed++;
        return;
      }
    }
    if (type >= 1 && type <= 3) this.events?.handshakeMessage(message, from);
  }
}

/** Joins dataplanes by address, delivering after `latencyMs` on the clock; drop() decides losses. */
export class FakeLink {
  latencyMs = 1;
  drop: (from: WgEndpoint, to: WgEndpoint, packet: FakeWirePacket) => boolean = () => false;
  delivered = 0;
  dropped = 0;
  private readonly members: FakeDataplane[] = [];

  constructor(private readonly clock: Clock) {}

  attach(dp: FakeDataplane): void {
    this.members.push(dp);
    dp.transmit = (to, packet) => {
      if (this.drop(dp.address, to, packet)) {
        this.dropped++;
        return;
      }
      const target = this.members.find((m) => m.address.host === to.host && m.address.port === to.port);
      if (!target) {
        this.dropped++;
        return;
      }
      this.clock.setTimer(() => {
        this.delivered++;
        target.receive(packet);
      }, this.latencyMs);
    };
  }
}
