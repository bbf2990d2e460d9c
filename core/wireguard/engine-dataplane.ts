// The WgDataplane contract (dataplane.ts) on the native engine (NativeWgEngine): what a session's
// handshake logic (device.ts, peer.ts) drives. Peers are named by their base64 public key in JS
// and by a number in the engine; endpoints are { host, port } in JS and { address, port } in the
// engine. Activity comes from the engine's per-peer "ms since" counters, turned into times on the
// same monotonic clock (the native one, timers.ts systemClock).
import type { NativeWgEngine, WgEvent, WgKeypair, WgEndpoint as NativeEndpoint } from '../../native/index.js';
import { noActivity, type PeerActivity, type PeerId, type WgDataplane, type WgDataplaneEvents } from './dataplane.js';
import type { Clock } from './timers.js';
import type { WgEndpoint } from './types.js';

const toNative = (e: WgEndpoint): NativeEndpoint => ({ address: e.host, port: e.port });
const fromNative = (e: NativeEndpoint): WgEndpoint => ({ host: e.address, port: e.port });


export class EngineDataplane implements WgDataplane {
  private readonly numbers = new Map<PeerId, number>();
  private readonly names = new Map<number, PeerId>();
  private nextNumber = 1;

  constructor(
    private readonly engine: NativeWgEngine,
    private readonly clock: Clock,
  ) {}

  /** Adds the peer to the engine (its endpoint and allowed IPs); returns the engine's number. */
  addPeer(peer: PeerId, endpoint: WgEndpoint | null, allowedIps: string[]): number {
    const existing = this.numbers.get(peer);
    if (existing !== undefined) return existing;
    const n = this.nextNumber++;
    this.engine.addPeer(n, { endpoint: endpoint ? toNative(endpoint) : null, allowedIps });
    this.numbers.set(peer, n);
    this.names.set(n, peer);
    return n;
  }

  removePeer(peer: PeerId): void {
    const n = this.numbers.get(peer);
    if (n === undefined) return;
    this.engine.removePeer(n);
    this.numbers.delete(peer);
    this.names.delete(n);
  }

  setAllowedIps(peer: PeerId, prefixes: string[]): void {
    this.withPeer(peer, (n) => this.engine.setAllowedIps(n, prefixes));
  }

  allowedIps(peer: PeerId): string[] {
    return this.withPeer(peer, (n) => this.engine.allowedIps(n)) ?? [];
  }

  /** The peer's traffic totals (wire bytes, as wg show counts them). */
  transfer(peer: PeerId): { rxBytes: number; txBytes: number } {
    const s = this.withPeer(peer, (n) => this.engine.peerStats(n));
    return { rxBytes: s?.rxBytes ?? 0, txBytes: s?.txBytes ?? 0 };
  }

  /** Hands an engine event to the handshake logic. Returns the 'ended' event, which is the caller's. */
  dispatch(event: WgEvent, to: WgDataplaneEvents): Extract<WgEvent, { type: 'ended' }> | null {
    switch (event.type) {
      case 'message':
        to.handshakeMessage(event.data, fromNative(event.from));
        return null;
      case 'handshake_needed': {
        const peer = this.names.get(event.peer);
        if (peer !== undefined) to.needHandshake(peer);
        return null;
      }
      case 'keypair_confirmed': {
        const peer = this.names.get(event.peer);
        if (peer !== undefined) to.keypairConfirmed(peer, event.localIndex);
        return null;
      }
      case 'ended':
        return event;
      case 'connection_closed':
        return null; // (the interface's stream links act on it)
    }
  }

  // ---- WgDataplane

  sendHandshake(_peer: PeerId, endpoint: WgEndpoint, message: Buffer): void {
    this.engine.send(message, toNative(endpoint));
  }

  installKeypair(peer: PeerId, keypair: WgKeypair): void {
    this.withPeer(peer, (n) => this.engine.installKeypair(n, keypair));
  }

  clearKeypairs(peer: PeerId): void {
    this.withPeer(peer, (n) => this.engine.clearKeypairs(n));
  }

  dropStaged(peer: PeerId): void {
    this.withPeer(peer, (n) => this.engine.dropStaged(n));
  }

  sendKeepalive(peer: PeerId): void {
    this.withPeer(peer, (n) => this.engine.sendKeepalive(n));
  }

  setEndpoint(peer: PeerId, endpoint: WgEndpoint): void {
    this.withPeer(peer, (n) => this.engine.setEndpoint(n, toNative(endpoint)));
  }

  endpoint(peer: PeerId): WgEndpoint | null {
    const e = this.withPeer(peer, (n) => this.engine.peerStats(n)?.endpoint ?? null);
    return e ? fromNative(e) : null;
  }

  activity(peer: PeerId): PeerActivity {
    const s = this.withPeer(peer, (n) => this.engine.peerStats(n));
    if (!s) return noActivity();
    const now = this.clock.now();
    const at = (msSince: number) => (msSince < 0 ? null : now - msSince);
    return {
      lastSentMs: at(s.msSinceTx),
      lastReceivedMs: at(s.msSinceRx),
      lastDataSentMs: at(s.msSinceTxData),
      lastDataReceivedMs: at(s.msSinceRxData),
      firstDataReceivedSinceSentMs: at(s.msSinceFirstRxDataSinceTx),
      firstDataSentSinceReceivedMs: at(s.msSinceFirstTxDataSinceRx),
      sendCounter: s.current?.sendCounter ?? 0n,
      rxBytes: s.rxBytes,
      txBytes: s.txBytes,
    };
  }

  private withPeer<T>(peer: PeerId, act: (n: number) => T): T | undefined {
    const n = this.numbers.get(peer);
    return n === undefined ? undefined : act(n);
  }
}
