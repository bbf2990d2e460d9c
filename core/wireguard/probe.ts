// `tunauth probe` for WireGuard: one handshake initiation to a peer's endpoint from an ephemeral
// UDP port, and how (and how fast) it answered. No device, no keypair kept: the response is
// consumed to check that it authenticates, and nothing else is sent (no keepalive), so the peer
// keeps using its current session with a running tund (it only drops its "previous" keypair).
// A cookie reply (the peer is under load) is answered once with an initiation carrying mac2.
import dgram from 'node:dgram';
import dns from 'node:dns/promises';
import net from 'node:net';
import { randomInt } from 'node:crypto';
import { native } from '../../native/index.js';
import { formatEndpoint } from '../net.js';
import { WG_TIMERS } from './timers.js';
import type { WgEndpoint } from './types.js';

export type WgProbeOutcome =
  | 'ok' // a response that authenticates
  | 'no_answer' // nothing within the timeout (wrong key on the other side, a firewall, nobody there)
  | 'refused' // ICMP port unreachable: nothing listens on that port
  | 'unreachable' // the name does not resolve, or no route
  | 'bad_response'; // an answer that does not authenticate (a preshared key mismatch)

export interface WgProbeOptions {
  privateKey: Buffer;
  peerPublicKey: Buffer;
  presharedKey: Buffer | null;
  endpoint: WgEndpoint;
  timeoutMs: number;
}

export interface WgProbeResult {
  outcome: WgProbeOutcome;
  /** For people; no secret in it. */
  message: string;
  /** The endpoint as resolved and contacted (IP:PORT), when it resolved. */
  address: string | null;
  /** From the first initiation sent to the answer (or to giving up). */
  elapsedMs: number;
  /** Initiations sent. */
  initiations: number;
  /** The peer answered with a cookie reply first (under load). */
  cookie: boolean;
}

const round = (ms: number) => Math.round(ms * 10) / 10;

export async function probeWireGuard(options: WgProbeOptions): Promise<WgProbeResult> {
  const wg = native().wg;
  const start = performance.now();
  const result = (outcome: WgProbeOutcome, message: string, address: string | null, extra: Partial<WgProbeResult> = {}): WgProbeResult => ({
    outcome,
    message,
    address,
    elapsedMs: round(performance.now() - start),
    initiations: 0,
    cookie: false,
    ...extra,
  });

  let host = options.endpoint.host;
  if (net.isIP(host) === 0) {
    try {
      host = (await dns.lookup(host)).address;
    } catch (error) {
      return result('unreachable', `cannot resolve "${options.endpoint.host}" (${(error as NodeJS.ErrnoException).code ?? String(error)})`, null);
    }
  }
  const target = { host, port: options.endpoint.port };
  const address = formatEndpoint(target.host, target.port);

  const identity = new wg.Identity(options.privateKey);
  const handshake = new wg.Handshake(identity, options.peerPublicKey, options.presharedKey);
  const cookies = new wg.CookieGenerator(options.peerPublicKey);
  // a new sender index per initiation: a late response to an earlier one is ignored, not
  // mistaken for a bad one (the handshake state belongs to the latest initiation)
  let index = randomInt(0, 2 ** 32);
  const sentIndices = new Set<number>();
  const socket = dgram.createSocket(net.isIPv6(host) ? 'udp6' : 'udp4');

  return new Promise<WgProbeResult>((resolve) => {
    let initiations = 0;
    let cookie = false;
    let firstSent = 0;
    let done = false;
    const timers: NodeJS.Timeout[] = [];
    const finish = (outcome: WgProbeOutcome, message: string) => {
      if (done) return;
      done = true;
      for (const t of timers) clearTimeout(t);
      socket.close();
      handshake.clear();
      resolve({ ...result(outcome, message, address), elapsedMs: round(performance.now() - (firstSent || start)), initiations, cookie });
    };
    const sendInitiation = () => {
      index = randomInt(0, 2 ** 32);
      sentIndices.add(index);
      const message = handshake.createInitiation(index);
      if (typeof message === 'string') return finish('bad_response', `cannot create an initiation (${message}): is the peer's public key valid?`);
      cookies.addMacs(message);
      initiations++;
      if (!firstSent) firstSent = performance.now();
      socket.send(message);
    };

    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNREFUSED') return finish('refused', `${address} refused (ICMP port unreachable: nothing listens there)`);
      if (error.code === 'ENETUNREACH' || error.code === 'EHOSTUNREACH') return finish('unreachable', `${address} is unreachable (${error.code})`);
      finish('unreachable', `${address}: ${error.code ?? error.message}`);
    });
    socket.on('message', (msg) => {
      const type = wg.messageType(msg);
      if (type === 3 && sentIndices.has(msg.readUInt32LE(4)) && !cookie) {
        if (cookies.consumeReply(msg)) {
          cookie = true;
          // the responder refused our initiation for now; the next one carries mac2. A new
          // timestamp must be later than the whitened one of the first (2^24 ns): wait 20 ms.
          timers.push(setTimeout(sendInitiation, 20));
        }
      } else if (type === 2 && msg.readUInt32LE(8) === index) {
        const refused = handshake.consumeResponse(msg);
        if (refused === null) {
          finish('ok', `answered in ${round(performance.now() - firstSent)} ms${cookie ? ' (under load: after a cookie reply)' : ''}`);
        } else {
          finish('bad_response', `answered, but the response does not authenticate (${refused}): the preshared keys differ`);
        }
      }
    });
    socket.connect(target.port, target.host, () => {
      sendInitiation();
      // retry as WireGuard does, every REKEY_TIMEOUT, while the timeout lasts
      for (let at = WG_TIMERS.rekeyTimeoutMs; at < options.timeoutMs; at += WG_TIMERS.rekeyTimeoutMs) {
        timers.push(setTimeout(() => !done && sendInitiation(), at));
      }
      timers.push(
        setTimeout(
          () => finish('no_answer', `no answer from ${address} within ${options.timeoutMs / 1000} s (does the peer know this public key? a firewall?)`),
          options.timeoutMs,
        ),
      );
    });
  });
}
