// `tunauth probe`: only the client side of the VTun authentication phase (docs/vtun-protocol.md §4),
// through the session engineer's handshake (core/vtun/handshake.ts), then the connection is closed
// at once. No device, no link phase. Every way it can end is a distinct outcome, so the command
// can say exactly what went wrong.
import { formatEndpoint } from '../net.js';
import { ConnectFailure, StreamSocket } from '../socket.js';
import { BlockChannel, clientHandshake, HandshakeError } from '../vtun/handshake.js';
import { decodeFlags, type DecodedFlags } from '../vtun/flags.js';

export type ProbeOutcome =
  | 'ok'
  | 'unreachable' // no route, DNS failure, host down
  | 'refused' // nothing listening (RST)
  | 'timeout' // connect or a server block did not come in time
  | 'auth_failed' // ERR after CHAL: wrong password, unknown session, or multi=no busy
  | 'closed' // the server closed the connection before the exchange ended
  | 'protocol'; // the server said something that is not VTun

export interface ProbeOptions {
  host: string;
  port: number;
  /** The VTun session name sent in `HOST:`. */
  session: string;
  password: Buffer;
  /** Debian's sslauth: true = Blowfish-ECB of the challenge (default), false = XOR variant. */
  sslAuth: boolean;
  /** Seconds for the TCP connect and for each server block. */
  timeout: number;
}

export interface ProbeResult {
  outcome: ProbeOutcome;
  /** What happened, for people (no secret in it). */
  message: string;
  /** The server's greeting, when one came. */
  greeting: string | null;
  flags: DecodedFlags | null;
  /** The server's address as connected. */
  address: string | null;
  elapsedMs: number;
}

function connectFailure(code: string, where: string): { outcome: ProbeOutcome; message: string } {
  switch (code) {
    case 'ECONNREFUSED':
      return { outcome: 'refused', message: `connection refused by ${where} (nothing listening on that port)` };
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
    case 'EAI_NONAME':
      return { outcome: 'unreachable', message: `cannot resolve the host of ${where}` };
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
    case 'EHOSTDOWN':
    case 'ENETDOWN':
    case 'EADDRNOTAVAIL':
      return { outcome: 'unreachable', message: `${where} is unreachable (${code})` };
    case 'ETIMEDOUT':
      return { outcome: 'timeout', message: `timeout connecting to ${where}` };
    default:
      return { outcome: 'unreachable', message: `cannot connect to ${where} (${code})` };
  }
}

/** Runs the handshake once; network outcomes are in the result, never thrown. */
export async function probe(opts: ProbeOptions): Promise<ProbeResult> {
  const started = process.hrtime.bigint();
  const elapsed = () => Number((process.hrtime.bigint() - started) / 1000000n);
  const where = formatEndpoint(opts.host, opts.port);
  const timeoutMs = Math.max(1, Math.round(opts.timeout * 1000));
  const result: ProbeResult = { outcome: 'ok', message: '', greeting: null, flags: null, address: null, elapsedMs: 0 };

  let socket: StreamSocket;
  try {
    socket = await StreamSocket.connect(opts.host, opts.port, timeoutMs);
  } catch (error) {
    if (!(error instanceof ConnectFailure)) throw error;
    const failure = connectFailure(error.code, where);
    if (error.code === 'ETIMEDOUT') failure.message = `timeout after ${timeoutMs / 1000} s connecting to ${where}`;
    return { ...result, ...failure, elapsedMs: elapsed() };
  }
  result.address = socket.peer;
  const channel = new BlockChannel(socket);
  try {
    const hs = await clientHandshake(channel, { host: opts.session, password: opts.password, sslAuth: opts.sslAuth, timeoutMs });
    result.greeting = hs.greeting;
    result.flags = decodeFlags(hs.flags, hs.flagsText);
    result.message = `authenticated to ${where} as session "${opts.session}"`;
  } catch (error) {
    if (!(error instanceof HandshakeError)) throw error;
    switch (error.kind) {
      case 'auth':
        result.outcome = 'auth_failed';
        result.message = 'authentication failed or session busy (the server does not say which)';
        break;
      case 'denied':
        result.outcome = 'auth_failed';
        result.message = `authentication failed: ${error.message}`;
        break;
      case 'timeout':
        result.outcome = 'timeout';
        result.message = `timeout after ${opts.timeout} s: ${where} accepted the connection but did not answer (${error.message})`;
        break;
      case 'closed':
        result.outcome = 'closed';
        result.message = `${where} closed the connection during the handshake (${error.message})`;
        break;
      default:
        result.outcome = 'protocol';
        result.message = `${where}: ${error.message}`;
    }
  } finally {
    // Close at once: after OK FLAGS the server sees EOF instead of the link's first frame.
    channel.detach();
    socket.close();
    result.elapsedMs = elapsed();
  }
  return result;
}
