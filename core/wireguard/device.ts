// The JS side of one WireGuard device: its static identity, its index table and its peers'
// handshake state machines (peer.ts). It implements WgDataplaneEvents, so the dataplane hands it
// the handshake messages that passed the native mac checks and its two per-peer events:
//   type 1 -> the identity opens it, which names the peer -> that peer answers;
//   type 2, type 3 -> the receiver index names the peer -> that peer consumes it.
// Unknown peers, unknown indices and refused messages are dropped (counted, never thrown).
import { native, type NativeWgIdentity } from '../../native/index.js';
import type { PeerId, WgDataplane, WgDataplaneEvents } from './dataplane.js';
import { IndexTable } from './indices.js';
import { keyToBase64 } from './keys.js';
import { WgPeer } from './peer.js';
import { WG_TIMERS, type Clock, type WgTimerConfig } from './timers.js';
import type { WgEndpoint } from './types.js';

export interface WgHandshakeDeviceOptions {
  privateKey: Buffer;
  dataplane: WgDataplane;
  clock: Clock;
  timers?: WgTimerConfig;
  random?: () => number;
  /** Random 32-bit indices (tests make them predictable). */
  indexRandom?: () => number;
  log?: (message: string) => void;
}

export interface WgPeerConfig {
  publicKey: Buffer;
  presharedKey?: Buffer | null;
  persistentKeepalive?: number;
}

export interface WgDeviceCounters {
  /** Handshake messages dropped: not for us, unknown peer or index, refused. */
  handshakeDropped: number;
}

export class WgHandshakeDevice implements WgDataplaneEvents {
  readonly indices: IndexTable;
  private identityObject: NativeWgIdentity;
  private readonly peers = new Map<PeerId, WgPeer>();
  private running = false;
  readonly counters: WgDeviceCounters = { handshakeDropped: 0 };

  constructor(private readonly options: WgHandshakeDeviceOptions) {
    this.indices = new IndexTable(options.indexRandom);
    this.identityObject = new (native().wg.Identity)(options.privateKey);
  }

  get identity(): NativeWgIdentity {
    return this.identityObject;
  }

  get publicKey(): Buffer {
    return this.identityObject.publicKey;
  }

  addPeer(config: WgPeerConfig): WgPeer {
    const id = keyToBase64(config.publicKey);
    const existing = this.peers.get(id);
    if (existing) return existing;
    const peer = new WgPeer({
      publicKey: config.publicKey,
      presharedKey: config.presharedKey ?? null,
      persistentKeepalive: config.persistentKeepalive ?? 0,
      identity: this.identityObject,
      indices: this.indices,
      dataplane: this.options.dataplane,
      clock: this.options.clock,
      timers: this.options.timers ?? WG_TIMERS,
      random: this.options.random,
      log: this.options.log,
    });
    this.peers.set(id, peer);
    if (this.running) peer.start();
    return peer;
  }

  removePeer(id: PeerId): void {
    this.peers.get(id)?.stop();
    this.peers.delete(id);
  }

  peer(id: PeerId): WgPeer | undefined {
    return this.peers.get(id);
  }

  listPeers(): WgPeer[] {
    return [...this.peers.values()];
  }

  setPrivateKey(privateKey: Buffer): void {
    this.identityObject = new (native().wg.Identity)(privateKey);
    for (const p of this.peers.values()) p.setIdentity(this.identityObject);
  }

  start(): void {
    this.running = true;
    for (const p of this.peers.values()) p.start();
  }

  stop(): void {
    this.running = false;
    for (const p of this.peers.values()) p.stop();
  }

  // ---- WgDataplaneEvents

  needHandshake(peer: PeerId): void {
    this.peers.get(peer)?.needHandshake();
  }

  transportRenewed(peer: PeerId): void {
    this.peers.get(peer)?.transportRenewed();
  }

  keypairConfirmed(peer: PeerId, localIndex: number): void {
    this.peers.get(peer)?.keypairConfirmed(localIndex);
  }

  handshakeMessage(message: Buffer, from: WgEndpoint): void {
    const wg = native().wg;
    const type = wg.messageType(message);
    let handled = false;
    if (type === 1) {
      const initiation = this.identityObject.readInitiation(message);
      if (typeof initiation !== 'string') {
        const peer = this.peers.get(keyToBase64(initiation.peerPublicKey));
        handled = peer?.handleInitiation(initiation, from) ?? false;
      }
    } else if (type === 2 || type === 3) {
      const receiver = message.readUInt32LE(type === 2 ? 8 : 4);
      const owner = this.indices.lookup(receiver);
      const peer = owner === undefined ? undefined : this.peers.get(owner);
      if (peer) handled = type === 2 ? peer.handleResponse(message, from) : peer.handleCookieReply(message);
    }
    if (!handled) this.counters.handshakeDropped++;
  }
}
