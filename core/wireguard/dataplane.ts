// The contract between WireGuard's control logic in JS (peer.ts, device.ts: handshakes and
// timers) and the dataplane that moves the packets (the native engine in a session; a model of it
// in fake-dataplane.ts for tests). The per-packet work stays in the dataplane: JS never sees a
// data packet. JS reads each peer's activity periodically (every pollIntervalMs, timers.ts) and
// reacts to the few events the dataplane reports.
//
// What the dataplane does on its own, per packet (wireguard-go's send.go / receive.go):
//  - transport data (type 4): seal with the peer's CURRENT keypair (counter = its send counter,
//    incremented), open with the keypair whose local index the packet names (previous, current or
//    next), with the sliding replay window; AllowedIPs (cryptokey routing) on both paths; the
//    peer's endpoint follows the source of every authenticated packet (roaming).
//  - a keypair is not used when it is older than rejectAfterTimeMs or its counter reached
//    rejectAfterMessages (timers.ts), on either path.
//  - receiving the first packet under the NEXT keypair confirms it: previous := current,
//    current := next, next := none; the old previous is erased. Then it calls
//    WgDataplaneEvents.keypairConfirmed(peer, localIndex) and sends the staged packets.
//  - a packet for a peer without a usable current keypair is staged (a small queue per peer;
//    the oldest are dropped when it is full) and WgDataplaneEvents.needHandshake(peer) is called
//    (at most once per staged batch is enough: the JS side rate-limits handshakes itself).
//  - type 1/2 messages: mac1 (and under load mac2 and the rate limiter) are checked natively
//    (native CookieChecker.Vet); cookie replies are sent natively; what passes goes to
//    WgDataplaneEvents.handshakeMessage. Type 3 goes there too.
//  - keepalives: sendKeepalive(peer) queues an empty packet like any other (sent at once with a
//    usable current keypair, otherwise staged as above).
//  - the activity timestamps below, in the clock's monotonic milliseconds.
import type { WgKeypair } from '../../native/index.js';
import type { WgEndpoint } from './types.js';

/** A peer is named by its public key in base64 (as wg(8) prints it). */
export type PeerId = string;

export interface PeerActivity {
  /** Last authenticated packet (data or keepalive) the dataplane sent / received for the peer. */
  lastSentMs: number | null;
  lastReceivedMs: number | null;
  /** Last non-empty data packet sent / received. */
  lastDataSentMs: number | null;
  lastDataReceivedMs: number | null;
  /** The first data packet received since the last packet sent; reset by every send (null: none). */
  firstDataReceivedSinceSentMs: number | null;
  /** The first data packet sent since the last authenticated packet received; reset by every receive. */
  firstDataSentSinceReceivedMs: number | null;
  /** Messages sealed with the current keypair so far (its next counter); 0n without one. */
  sendCounter: bigint;
  /** Traffic totals (wg show's "transfer"). */
  rxBytes: number;
  txBytes: number;
}

/** A peer that has sent and received nothing yet. */
export function noActivity(): PeerActivity {
  return {
    lastSentMs: null,
    lastReceivedMs: null,
    lastDataSentMs: null,
    lastDataReceivedMs: null,
    firstDataReceivedSinceSentMs: null,
    firstDataSentSinceReceivedMs: null,
    sendCounter: 0n,
    rxBytes: 0,
    txBytes: 0,
  };
}

export interface WgDataplane {
  /** Send a handshake message (type 1, 2; macs already set) to the peer at `endpoint`. */
  sendHandshake(peer: PeerId, endpoint: WgEndpoint, message: Buffer): void;
  /**
   * A new keypair. Initiator's (keypair.initiator): it becomes CURRENT at once; the old current
   * becomes previous (if a next was pending, that next becomes previous and the old current is
   * erased); staged packets go out. Responder's: it becomes NEXT (an older next is erased), the
   * previous is erased, current stays until the initiator's first packet confirms the new one.
   */
  installKeypair(peer: PeerId, keypair: WgKeypair): void;
  /** Erase every keypair of the peer and drop its staged packets (after 3 x rejectAfterTime). */
  clearKeypairs(peer: PeerId): void;
  /** Drop the packets staged for the peer (the handshake attempts gave up). */
  dropStaged(peer: PeerId): void;
  /** Queue a keepalive (an empty transport packet) for the peer. */
  sendKeepalive(peer: PeerId): void;
  /** The endpoint learned from an authenticated handshake message (roaming; data packets update it natively). */
  setEndpoint(peer: PeerId, endpoint: WgEndpoint): void;
  /** The peer's current endpoint (configured, or learned from its packets). */
  endpoint(peer: PeerId): WgEndpoint | null;
  activity(peer: PeerId): PeerActivity;
}

/** What the dataplane reports to the JS side. */
export interface WgDataplaneEvents {
  /** A packet waits for a peer without a usable keypair. */
  needHandshake(peer: PeerId): void;
  /** The NEXT keypair with this local index received its first packet and is now current. */
  keypairConfirmed(peer: PeerId, localIndex: number): void;
  /** A handshake message (type 1/2 past the mac checks, or a type 3) from `from`. */
  handshakeMessage(message: Buffer, from: WgEndpoint): void;
}
