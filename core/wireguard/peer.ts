// One WireGuard peer's handshake state machine and every timer of the protocol (whitepaper 6,
// wireguard-go device/timers.go), as pure logic over an injected clock (timers.ts) and dataplane
// (dataplane.ts). The crypto of the handshake is the native wg_noise through the addon; the
// per-packet work is the dataplane's. This class decides WHEN to handshake, keep alive, retry,
// give up and erase keys:
//
//  - handshake on demand: a packet waits without a usable keypair (needHandshake);
//  - retransmission: no response REKEY_TIMEOUT (+ jitter up to 334 ms) after an initiation: retry,
//    up to REKEY_ATTEMPT_TIME / REKEY_TIMEOUT retries, then drop the waiting packets and erase the
//    key material 3 x REJECT_AFTER_TIME later;
//  - rekey: the initiator's keypair sent data after REKEY_AFTER_TIME, or any keypair sent more
//    than REKEY_AFTER_MESSAGES; once, received data near the end of an initiator's keypair
//    (REJECT_AFTER_TIME - KEEPALIVE_TIMEOUT - REKEY_TIMEOUT);
//  - passive keepalive: data received and nothing sent back for KEEPALIVE_TIMEOUT;
//  - new handshake after data sent and nothing received for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT;
//  - persistent keepalive: nothing sent or received for the configured interval;
//  - keypair confirmation: the initiator's keypair is current at once; the responder's is "next"
//    until the dataplane sees the initiator's first packet under it (keypairConfirmed);
//  - erase all keys 3 x REJECT_AFTER_TIME after the last new keypair.
// Activity-driven timers are evaluated every pollIntervalMs from the dataplane's timestamps
// (the engine stamps packets natively); deadlines the logic sets itself fire on time.
import { native, type NativeWgCookieGenerator, type NativeWgHandshake, type NativeWgIdentity, type NativeWgInitiation, type WgKeypair } from '../../native/index.js';
import type { PeerId, WgDataplane } from './dataplane.js';
import type { IndexTable } from './indices.js';
import { keyToBase64 } from './keys.js';
import { WG_TIMERS, maxHandshakeRetries, type Clock, type TimerHandle, type WgTimerConfig } from './timers.js';
import type { WgEndpoint } from './types.js';

export interface WgPeerOptions {
  publicKey: Buffer;
  presharedKey?: Buffer | null;
  /** Seconds; 0 = off. */
  persistentKeepalive?: number;
  identity: NativeWgIdentity;
  indices: IndexTable;
  dataplane: WgDataplane;
  clock: Clock;
  timers?: WgTimerConfig;
  /** [0, 1) for the retransmission jitter; Math.random by default. */
  random?: () => number;
  /** One line per protocol event worth a log line (no secrets). */
  log?: (message: string) => void;
}

export interface KeypairInfo {
  localIndex: number;
  remoteIndex: number;
  initiator: boolean;
  createdMs: number;
}

export interface WgPeerStatus {
  publicKey: PeerId;
  /** Wall-clock ms of the last completed handshake, null before the first. */
  lastHandshakeWallMs: number | null;
  handshakeInFlight: boolean;
  handshakeAttempts: number;
  keypairs: { previous: KeypairInfo | null; current: KeypairInfo | null; next: KeypairInfo | null };
  persistentKeepalive: number;
}

const maxOf = (...values: (number | null)[]): number | null => {
  let m: number | null = null;
  for (const v of values) if (v !== null && (m === null || v > m)) m = v;
  return m;
};

/** TAI64N of a wall-clock time in ms, whitened to 2^24 ns as wireguard-go does. */
function tai64nAt(wallMs: number): Buffer {
  const seconds = Math.floor(wallMs / 1000);
  const nanos = ((wallMs - seconds * 1000) * 1e6) & ~0xffffff;
  return native().wg.tai64n(seconds, nanos >>> 0);
}

export class WgPeer {
  readonly id: PeerId;
  readonly publicKey: Buffer;
  private readonly timers: WgTimerConfig;
  private readonly clock: Clock;
  private readonly dataplane: WgDataplane;
  private readonly indices: IndexTable;
  private readonly random: () => number;
  private readonly log: (message: string) => void;
  private readonly handshake: NativeWgHandshake;
  private readonly cookies: NativeWgCookieGenerator;

  private keypairs: WgPeerStatus['keypairs'] = { previous: null, current: null, next: null };
  /** The local index of the handshake in progress (ours until a keypair takes it over). */
  private handshakeIndex: number | null = null;
  private lastHandshakeSentMs: number | null = null;
  private lastHandshakeReceivedMs: number | null = null;
  private lastHandshakeWallMs: number | null = null;
  private handshakeAttempts = 0;
  private retransmitAt: number | null = null;
  private sentLastMinuteHandshake = false;
  private zeroAt: number | null = null;
  /** The received-data time a passive keepalive was already sent for. */
  private keepaliveDoneFor: number | null = null;
  /** "No reply" watch: data sent at noReplyRef, handshake at noReplyDeadline unless something comes back. */
  private noReplyRef: number | null = null;
  private noReplyDeadline = 0;
  private noReplyFiredAt: number | null = null;
  private persistentKeepalive: number;
  private persistentRequestedAt: number | null = null;
  private timer: TimerHandle | null = null;
  private timerAt = Infinity;
  private running = false;

  constructor(options: WgPeerOptions) {
    this.publicKey = Buffer.from(options.publicKey);
    this.id = keyToBase64(this.publicKey);
    this.timers = options.timers ?? WG_TIMERS;
    this.clock = options.clock;
    this.dataplane = options.dataplane;
    this.indices = options.indices;
    this.random = options.random ?? Math.random;
    this.log = options.log ?? (() => {});
    this.persistentKeepalive = options.persistentKeepalive ?? 0;
    const wg = native().wg;
    this.handshake = new wg.Handshake(options.identity, this.publicKey, options.presharedKey ?? null);
    this.cookies = new wg.CookieGenerator(this.publicKey);
    if (!this.handshake.valid) this.log(`peer ${this.id}: its public key gives an all-zero shared secret; no handshake can succeed`);
  }

  // ---- lifecycle and configuration

  start(): void {
    if (this.running) return;
    this.running = true;
    // as wireguard-go when the device comes up: a persistent keepalive goes out at once (and so
    // the first handshake), so a peer behind NAT is reachable without waiting for traffic
    if (this.persistentKeepalive > 0) this.requestKeepalive();
    this.schedule(this.clock.now());
  }

  /** Stops the timers and erases the peer's keys. */
  stop(): void {
    this.running = false;
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.timerAt = Infinity;
    this.zeroAll();
  }

  setPresharedKey(psk: Buffer | null): void {
    this.handshake.setPresharedKey(psk);
  }

  /** A new device private key: the handshake in progress and the keys made with the old one go. */
  setIdentity(identity: NativeWgIdentity): void {
    this.handshake.setIdentity(identity);
    this.zeroAll();
  }

  setPersistentKeepalive(seconds: number): void {
    const was = this.persistentKeepalive;
    this.persistentKeepalive = seconds;
    if (seconds > 0 && was === 0 && this.running) this.requestKeepalive();
    if (this.running) this.schedule(this.clock.now());
  }

  status(): WgPeerStatus {
    return {
      publicKey: this.id,
      lastHandshakeWallMs: this.lastHandshakeWallMs,
      handshakeInFlight: this.retransmitAt !== null,
      handshakeAttempts: this.handshakeAttempts,
      keypairs: { ...this.keypairs },
      persistentKeepalive: this.persistentKeepalive,
    };
  }

  // ---- events from the dataplane and the device

  /** A packet waits for this peer without a usable keypair. */
  needHandshake(): void {
    this.sendInitiation(false);
  }

  /** A new stream connection to the peer (Transport = tcp): an initiation sent on the old one may
   * be lost with it, so one goes now on the new one (not only after REKEY_TIMEOUT). */
  transportRenewed(): void {
    this.lastHandshakeSentMs = null;
    this.sendInitiation(false);
  }

  /** The dataplane promoted the NEXT keypair with this index to current (its first packet came). */
  keypairConfirmed(localIndex: number): void {
    const next = this.keypairs.next;
    if (!next || next.localIndex !== localIndex) return;
    this.indices.free(this.keypairs.previous?.localIndex);
    this.keypairs = { previous: this.keypairs.current, current: next, next: null };
    this.handshakeComplete();
  }

  /** An initiation for this peer (read by the device's identity). True when answered. */
  handleInitiation(initiation: NativeWgInitiation, from: WgEndpoint): boolean {
    const now = this.clock.now();
    const consumed = this.handshake.consumeInitiation(initiation, now);
    if (typeof consumed === 'string') {
      this.log(`peer ${this.id}: initiation refused (${consumed})`);
      return false;
    }
    this.lastHandshakeReceivedMs = now;
    this.dataplane.setEndpoint(this.id, from);
    this.indices.free(this.handshakeIndex);
    this.handshakeIndex = this.indices.allocate(this.id);
    const response = this.handshake.createResponse(this.handshakeIndex);
    if (typeof response === 'string') {
      this.log(`peer ${this.id}: cannot create a response (${response})`);
      return false;
    }
    const keypair = this.handshake.deriveKeypair();
    if (!keypair) return false;
    this.cookies.addMacs(response, now);
    this.lastHandshakeSentMs = now;
    this.installKeypair(keypair, now);
    this.dataplane.sendHandshake(this.id, from, response);
    this.schedule(now);
    return true;
  }

  /** A response addressed to one of our indices. True when it completed the handshake. */
  handleResponse(message: Buffer, from: WgEndpoint): boolean {
    const now = this.clock.now();
    const refused = this.handshake.consumeResponse(message);
    if (refused !== null) {
      this.log(`peer ${this.id}: response refused (${refused})`);
      return false;
    }
    this.lastHandshakeReceivedMs = now;
    this.dataplane.setEndpoint(this.id, from);
    const keypair = this.handshake.deriveKeypair();
    if (!keypair) return false;
    this.installKeypair(keypair, now);
    this.handshakeComplete();
    // confirms the new keypair for the responder at once (and sends what waited for it)
    this.dataplane.sendKeepalive(this.id);
    this.schedule(now);
    return true;
  }

  /** A cookie reply to our last handshake message. */
  handleCookieReply(message: Buffer): boolean {
    const ok = this.cookies.consumeReply(message, this.clock.now());
    if (ok) this.log(`peer ${this.id}: got a cookie (the peer is under load); the next handshake carries it`);
    return ok;
  }

  // ---- internals

  private jitter(): number {
    return Math.floor(this.random() * this.timers.rekeyTimeoutJitterMaxMs);
  }

  /** wireguard-go's SendHandshakeInitiation: at most one initiation per REKEY_TIMEOUT. */
  private sendInitiation(isRetry: boolean): void {
    if (!this.running) return;
    if (!isRetry) this.handshakeAttempts = 0;
    const now = this.clock.now();
    if (this.lastHandshakeSentMs !== null && now - this.lastHandshakeSentMs < this.timers.rekeyTimeoutMs) return;
    const endpoint = this.dataplane.endpoint(this.id);
    if (!endpoint) {
      this.log(`peer ${this.id}: no endpoint to send a handshake to (set Endpoint, or wait for the peer)`);
      return;
    }
    this.indices.free(this.handshakeIndex);
    this.handshakeIndex = this.indices.allocate(this.id);
    const message = this.handshake.createInitiation(this.handshakeIndex, tai64nAt(this.clock.wallNow()));
    if (typeof message === 'string') {
      this.log(`peer ${this.id}: cannot create an initiation (${message})`);
      this.indices.free(this.handshakeIndex);
      this.handshakeIndex = null;
      return;
    }
    this.cookies.addMacs(message, now);
    this.lastHandshakeSentMs = now;
    this.retransmitAt = now + this.timers.rekeyTimeoutMs + this.jitter();
    this.dataplane.sendHandshake(this.id, endpoint, message);
    this.schedule(now);
  }

  private installKeypair(keypair: WgKeypair, now: number): void {
    const info: KeypairInfo = { localIndex: keypair.localIndex, remoteIndex: keypair.remoteIndex, initiator: keypair.initiator, createdMs: now };
    const k = this.keypairs;
    if (keypair.initiator) {
      if (k.next) {
        this.indices.free(k.current?.localIndex);
        this.indices.free(k.previous?.localIndex);
        this.keypairs = { previous: k.next, current: info, next: null };
      } else {
        this.indices.free(k.previous?.localIndex);
        this.keypairs = { previous: k.current, current: info, next: null };
      }
    } else {
      this.indices.free(k.next?.localIndex);
      this.indices.free(k.previous?.localIndex);
      this.keypairs = { previous: null, current: k.current, next: info };
    }
    // the handshake's index now names the keypair
    this.handshakeIndex = null;
    this.dataplane.installKeypair(this.id, keypair);
    keypair.sendKey.fill(0);
    keypair.recvKey.fill(0);
    // a fresh session: the key material is erased if no newer one comes in time
    this.zeroAt = now + 3 * this.timers.rejectAfterTimeMs;
  }

  private handshakeComplete(): void {
    this.retransmitAt = null;
    this.handshakeAttempts = 0;
    this.sentLastMinuteHandshake = false;
    this.lastHandshakeWallMs = this.clock.wallNow();
  }

  private requestKeepalive(): void {
    this.persistentRequestedAt = this.clock.now();
    this.dataplane.sendKeepalive(this.id);
  }

  private zeroAll(): void {
    this.dataplane.clearKeypairs(this.id);
    for (const k of [this.keypairs.previous, this.keypairs.current, this.keypairs.next]) this.indices.free(k?.localIndex);
    this.indices.free(this.handshakeIndex);
    this.handshakeIndex = null;
    this.keypairs = { previous: null, current: null, next: null };
    this.handshake.clear();
  }

  /** (Re)arms the one timer of this peer: the earliest deadline, or the next poll. */
  private schedule(now: number, deadline = Infinity): void {
    if (!this.running) return;
    let at = Math.min(deadline, now + this.timers.pollIntervalMs);
    if (this.retransmitAt !== null) at = Math.min(at, this.retransmitAt);
    if (this.zeroAt !== null) at = Math.min(at, this.zeroAt);
    at = Math.max(at, now);
    if (this.timer && this.timerAt <= at) return;
    if (this.timer) this.clock.clearTimer(this.timer);
    this.timerAt = at;
    this.timer = this.clock.setTimer(() => {
      this.timer = null;
      this.timerAt = Infinity;
      this.evaluate();
    }, at - now);
  }

  /** Every timer, from the deadlines we keep and the dataplane's activity. */
  evaluate(): void {
    if (!this.running) return;
    const t = this.timers;
    const now = this.clock.now();
    let deadline = Infinity;
    const due = (at: number) => {
      if (at > now) deadline = Math.min(deadline, at);
      return at <= now;
    };

    // erase everything 3 x REJECT_AFTER_TIME after the last new keypair (or the last give-up)
    if (this.zeroAt !== null && due(this.zeroAt)) {
      this.zeroAt = null;
      this.log(`peer ${this.id}: erasing all keys, no new one for ${(3 * t.rejectAfterTimeMs) / 1000} s`);
      this.zeroAll();
    }

    // handshake retransmission, or giving up
    if (this.retransmitAt !== null && due(this.retransmitAt)) {
      this.retransmitAt = null;
      if (this.handshakeAttempts > maxHandshakeRetries(t)) {
        this.log(`peer ${this.id}: handshake did not complete after ${this.handshakeAttempts + 1} attempts, giving up`);
        this.dataplane.dropStaged(this.id);
        this.zeroAt ??= now + 3 * t.rejectAfterTimeMs;
      } else {
        this.handshakeAttempts++;
        this.sendInitiation(true);
      }
    }

    const a = this.dataplane.activity(this.id);
    const lastSent = maxOf(a.lastSentMs, this.lastHandshakeSentMs);
    const lastReceived = maxOf(a.lastReceivedMs, this.lastHandshakeReceivedMs);

    // passive keepalive: data came in and we sent nothing back for KEEPALIVE_TIMEOUT
    const rx = a.firstDataReceivedSinceSentMs;
    if (rx !== null && rx !== this.keepaliveDoneFor && (this.lastHandshakeSentMs === null || rx > this.lastHandshakeSentMs)) {
      if (due(rx + t.keepaliveTimeoutMs)) {
        this.keepaliveDoneFor = rx;
        this.dataplane.sendKeepalive(this.id);
      }
    }

    // data went out and nothing came back for KEEPALIVE_TIMEOUT + REKEY_TIMEOUT: new handshake
    if (this.noReplyRef !== null && lastReceived !== null && lastReceived > this.noReplyRef) this.noReplyRef = null;
    if (this.noReplyRef === null) {
      const tx = a.firstDataSentSinceReceivedMs;
      // (sent in the same millisecond as the last receive counts as after it: a handshake
      // response and the packets it releases)
      const unanswered = (at: number | null) => at !== null && (lastReceived === null || at >= lastReceived);
      if (unanswered(tx) && (this.noReplyFiredAt === null || tx! > this.noReplyFiredAt)) {
        this.armNoReply(tx!);
      } else if (this.noReplyFiredAt !== null && unanswered(a.lastDataSentMs) && a.lastDataSentMs! > this.noReplyFiredAt) {
        // still no reply after the last try: the data sent since is seen now (within a poll)
        this.armNoReply(now);
      }
    }
    if (this.noReplyRef !== null && due(this.noReplyDeadline)) {
      this.noReplyRef = null;
      this.noReplyFiredAt = now;
      this.log(`peer ${this.id}: no reply for ${(t.keepaliveTimeoutMs + t.rekeyTimeoutMs) / 1000} s, new handshake`);
      this.sendInitiation(false);
    }

    // persistent keepalive: nothing sent or received for the interval
    if (this.persistentKeepalive > 0) {
      const base = maxOf(lastSent, lastReceived, this.persistentRequestedAt) ?? now;
      if (due(base + this.persistentKeepalive * 1000)) this.requestKeepalive();
    }

    // keep the current keypair fresh (wireguard-go's keepKeyFreshSending / keepKeyFreshReceiving)
    const current = this.keypairs.current;
    if (current) {
      const rekeyAt = current.createdMs + t.rekeyAfterTimeMs;
      if (a.sendCounter > t.rekeyAfterMessages || (current.initiator && a.lastDataSentMs !== null && a.lastDataSentMs > rekeyAt)) {
        this.sendInitiation(false);
      }
      const lastMinute = current.createdMs + t.rejectAfterTimeMs - t.keepaliveTimeoutMs - t.rekeyTimeoutMs;
      if (!this.sentLastMinuteHandshake && current.initiator && a.lastDataReceivedMs !== null && a.lastDataReceivedMs > lastMinute) {
        this.sentLastMinuteHandshake = true;
        this.sendInitiation(false);
      }
    }

    this.schedule(this.clock.now(), deadline);
  }

  private armNoReply(ref: number): void {
    this.noReplyRef = ref;
    this.noReplyDeadline = ref + this.timers.keepaliveTimeoutMs + this.timers.rekeyTimeoutMs + this.jitter();
  }
}
