// The VTun 3.0 authentication phase (docs/vtun-protocol.md §4 and §6.3): 50-byte NUL-padded
// blocks, greeting, HOST, challenge, response, OK FLAGS or ERR; then, for UDP, the 2-byte port
// exchange. Both roles. Everything here works on a socket through a BlockChannel that reads only
// what each message needs, so that the bytes the peer sends right after the handshake (its first
// frames) stay on the connection for the packet pump.
//
// tund marks its greeting (server) and its challenge response (client) with a second line, "tund",
// after the line end. vtund never sees it: its server cuts client messages at the first line end
// (§4.3) and its client checks only the greeting's "VTUN" prefix (§4.4). It tells the other side
// that this peer's device is up before its link starts, so frames may flow at once: vtund brings
// its device up in parallel with the link and would end the session on the first early packet
// (§6.5), so towards a peer without the mark the link holds data back for a moment.
import { checkResponse, challengeResponse, decodeLetters, encodeLetters, randomChallenge } from './challenge.js';
import { FlagsError, buildFlags, parseFlags, type VtunFlags } from './flags.js';

export const BLOCK_SIZE = 50;
/** What Debian's vtund 3.0.4 sends; clients only check the "VTUN" prefix. */
export const GREETING = 'VTUN server ver 3.X 05/14/2022\n';
export const ERR_TEXT = 'ERR\n';
/** The second line tund adds to its greeting and challenge response (see above). */
export const TUND_MARK = 'tund';

/** Does a message carry tund's mark (a line "tund" after the first line)? */
export function hasTundMark(text: string): boolean {
  return text.split(/\r?\n/).slice(1).includes(TUND_MARK);
}
/** "HOST: " + name + "\n" must fit in 48 characters. */
export const MAX_HOST_LENGTH = 41;

export type HandshakeFailureKind = 'timeout' | 'closed' | 'protocol' | 'denied' | 'unknown_session' | 'auth' | 'refused';

export class HandshakeError extends Error {
  constructor(
    readonly kind: HandshakeFailureKind,
    message: string,
  ) {
    super(message);
    this.name = 'HandshakeError';
  }
}

/** Text -> 50-byte block: at most 48 characters, NUL padding (bytes 48 and 49 always NUL). */
export function encodeBlock(text: string): Buffer {
  const bytes = Buffer.from(text, 'latin1');
  if (bytes.length > BLOCK_SIZE - 2) throw new RangeError(`handshake message too long (${bytes.length} > ${BLOCK_SIZE - 2})`);
  const block = Buffer.alloc(BLOCK_SIZE);
  bytes.copy(block);
  return block;
}

/** 50-byte block -> text up to the first NUL (the last byte is forced to NUL, as vtund does). */
export function decodeBlock(block: Buffer): string {
  const b = Buffer.from(block.subarray(0, BLOCK_SIZE));
  b[BLOCK_SIZE - 1] = 0;
  const nul = b.indexOf(0);
  return b.subarray(0, nul < 0 ? b.length : nul).toString('latin1');
}

/** Server parsing of client lines (3.3): cut at CR/LF, split at runs of spaces/colons. */
export function tokenize(text: string): string[] {
  const cut = text.search(/[\r\n]/);
  const line = cut < 0 ? text : text.slice(0, cut);
  return line.split(/[ :]+/).filter((t) => t !== '');
}

/** `<` + exactly 32 letters before the next `>` -> 16 bytes, else null. */
export function parseChallengeText(text: string): Buffer | null {
  const lt = text.indexOf('<');
  if (lt < 0) return null;
  const rest = text.slice(lt + 1);
  const gt = rest.indexOf('>');
  const letters = gt < 0 ? rest : rest.slice(0, gt);
  if (letters.length !== 32) return null;
  return decodeLetters(letters);
}

/** What a BlockChannel reads from and writes to: a StreamSocket (core/socket.ts). */
export interface HandshakeSocket {
  /** Up to max bytes once some arrived; an empty Buffer at end of stream; null after timeoutMs. */
  read(max: number, timeoutMs: number): Promise<Buffer | null>;
  write(data: Buffer): Promise<void>;
}

/** The most a handshake read may ask for (the 2-byte port, the 50-byte blocks need far less). */
export const HANDSHAKE_READ_LIMIT = 64 * 1024;

/**
 * Reads of exact sizes from a socket, with the timeouts of docs/vtun-protocol.md §4.7: the first byte of a read must
 * arrive within `firstByteMs`; the rest within `restMs` (vtund waits for ever there; we do not, so
 * a half-sent block cannot hold a process for ever). It asks the socket only for the bytes the
 * current read still needs, so nothing beyond the handshake is ever taken off the connection: what
 * the peer sends next (its first frames, or a flood) stays in the kernel for the packet pump.
 */
export class BlockChannel {
  private buffered: Buffer = Buffer.alloc(0);
  private detached = false;
  /**
   * One deadline for the whole handshake (Date.now() ms), set by startDeadline: no read waits
   * past it, however the peer spaces its bytes (issue 13: per-block timeouts let a stalling peer
   * hold a connection for about 4 x Timeout).
   */
  private deadline = Infinity;

  constructor(readonly socket: HandshakeSocket) {}

  /** From now on the handshake must be over within ms. */
  startDeadline(ms: number): void {
    this.deadline = Date.now() + ms;
  }

  /** The handshake is over: later reads (the UDP port exchange) have their own timeouts. */
  clearDeadline(): void {
    this.deadline = Infinity;
  }

  /** Reads exactly n bytes. */
  async read(n: number, firstByteMs: number, restMs = firstByteMs): Promise<Buffer> {
    if (this.detached) throw new HandshakeError('protocol', 'internal error: the handshake is over');
    if (n > HANDSHAKE_READ_LIMIT) throw new HandshakeError('protocol', `internal error: a handshake read of ${n} bytes (limit ${HANDSHAKE_READ_LIMIT})`);
    let waitingFirst = this.buffered.length === 0;
    let deadline = Date.now() + (waitingFirst ? firstByteMs : restMs);
    while (this.buffered.length < n) {
      const left = Math.min(deadline, this.deadline) - Date.now();
      if (left <= 0) {
        if (waitingFirst) throw new HandshakeError('timeout', 'timed out waiting for the peer');
        if (this.deadline <= deadline) throw new HandshakeError('timeout', 'timed out: the handshake took longer than the timeout');
        throw new HandshakeError('timeout', 'timed out in the middle of a handshake message');
      }
      let chunk: Buffer | null;
      try {
        chunk = await this.socket.read(n - this.buffered.length, left);
      } catch (error) {
        throw new HandshakeError('closed', (error as Error).message); // "connection error: ECONNRESET"
      }
      if (chunk === null) continue; // timed out: the loop says which timeout
      if (chunk.length === 0) throw new HandshakeError('closed', 'connection closed by the peer');
      this.buffered = this.buffered.length === 0 ? chunk : Buffer.concat([this.buffered, chunk]);
      if (waitingFirst) {
        waitingFirst = false;
        deadline = Date.now() + restMs;
      }
    }
    const out = this.buffered.subarray(0, n);
    this.buffered = this.buffered.subarray(n);
    return Buffer.from(out);
  }

  readBlock(firstByteMs: number, restMs = firstByteMs): Promise<Buffer> {
    return this.read(BLOCK_SIZE, firstByteMs, restMs);
  }

  async write(data: Buffer): Promise<void> {
    try {
      await this.socket.write(data);
    } catch (error) {
      throw new HandshakeError('closed', (error as Error).message); // "write failed: EPIPE"
    }
  }

  writeText(text: string): Promise<void> {
    return this.write(encodeBlock(text));
  }

  /**
   * The handshake is over: no more reads. Returns the bytes read but not consumed (none, since
   * reads take exactly what they need; the start of the frame stream is still on the socket).
   */
  detach(): Buffer {
    this.detached = true;
    const rest = this.buffered;
    this.buffered = Buffer.alloc(0);
    return rest;
  }
}

// ---------------------------------------------------------------------------------------------
// client

export interface ClientHandshakeOptions {
  host: string;
  password: Buffer;
  sslAuth: boolean;
  /** per server block, milliseconds */
  timeoutMs: number;
  /** add tund's mark to the response (default true; false sends exactly what vtund sends) */
  announce?: boolean;
}

export interface ClientHandshakeResult {
  flags: VtunFlags;
  flagsText: string;
  greeting: string;
  /** the server is tund (its greeting carries the mark): no hold-back needed */
  peerIsTund: boolean;
}

export async function clientHandshake(ch: BlockChannel, o: ClientHandshakeOptions): Promise<ClientHandshakeResult> {
  if (o.host.length === 0 || o.host.length > MAX_HOST_LENGTH || /[ :\r\n\0]/.test(o.host)) {
    throw new HandshakeError('protocol', `session name "${o.host}" cannot be sent in a HOST line`);
  }
  // no whole-handshake deadline on this side: the bound protects a server from unauthenticated
  // peers; a client waits per message, since a `tund serve` server starts a process first
  const greeting = decodeBlock(await ch.readBlock(o.timeoutMs));
  if (!greeting.startsWith('VTUN')) throw new HandshakeError('protocol', `not a VTun server (greeting "${printable(greeting)}")`);
  await ch.writeText(`HOST: ${o.host}\n`);
  const chal = decodeBlock(await ch.readBlock(o.timeoutMs));
  if (!chal.startsWith('OK')) {
    throw new HandshakeError('denied', `server refused before the challenge ("${printable(chal)}")`);
  }
  const challenge = parseChallengeText(chal);
  if (!challenge) throw new HandshakeError('protocol', `malformed challenge "${printable(chal)}"`);
  const response = challengeResponse(challenge, o.password, o.sslAuth);
  await ch.writeText(`CHAL: <${encodeLetters(response)}>\n${o.announce === false ? '' : `${TUND_MARK}\n`}`);
  const final = decodeBlock(await ch.readBlock(o.timeoutMs));
  if (!final.startsWith('OK')) {
    throw new HandshakeError('auth', `authentication failed (server said "${printable(final)}")`);
  }
  try {
    const flags = parseFlags(final);
    const lt = final.indexOf('<');
    const gt = final.indexOf('>', lt);
    ch.clearDeadline();
    return { flags, flagsText: final.slice(lt, gt + 1), greeting: greeting.split('\n')[0]!, peerIsTund: hasTundMark(greeting) };
  } catch (error) {
    throw new HandshakeError('protocol', `server sent flags that cannot be parsed ("${printable(final)}": ${(error as FlagsError).message})`);
  }
}

// ---------------------------------------------------------------------------------------------
// server

export interface ServerSessionEntry {
  password: Buffer;
  sslAuth: boolean;
  flags: VtunFlags;
}

export interface ServerHandshakeOptions {
  timeoutMs: number;
  /** Finds the session for a HOST name; null when unknown. Called after the response arrived. */
  lookup(host: string): Promise<ServerSessionEntry | null> | ServerSessionEntry | null;
  /**
   * Called after a correct response, before OK FLAGS (the `multi` policy, docs/vtun-protocol.md §4.9). Return a
   * string to refuse (the reason, logged), or nothing to accept.
   */
  authorize?(host: string, entry: ServerSessionEntry): Promise<string | void> | string | void;
  /** Test seam: the challenge to send. */
  challenge?: Buffer;
  /** add tund's mark to the greeting (default true; false sends exactly what vtund sends) */
  announce?: boolean;
  /** the greeting went out and the HOST line came in already (in `tund serve`), `leftMs` before the deadline */
  resume?: { host: string; leftMs: number };
}

export interface ServerHandshakeResult {
  host: string;
  entry: ServerSessionEntry;
  flagsText: string;
  /** the client is tund (its response carries the mark): no hold-back needed */
  peerIsTund: boolean;
}

/** How long the ERR block may take to go out. */
const REFUSE_WRITE_MS = 1000;

/** Sends the ERR block (best effort, at most REFUSE_WRITE_MS) and rethrows as a HandshakeError. */
async function refuse(ch: BlockChannel, error: unknown): Promise<never> {
  // (the bound's timer goes as soon as the write is done or failed: a connection closed under a
  // stopping `tund serve` fails its write at once, and a pending timer would hold the process)
  let timer: NodeJS.Timeout | undefined;
  try {
    await Promise.race([ch.writeText(ERR_TEXT), new Promise((r) => (timer = setTimeout(r, REFUSE_WRITE_MS)))]);
  } catch {
    // the peer is gone; nothing to tell it
  } finally {
    clearTimeout(timer);
  }
  if (error instanceof HandshakeError) throw error;
  throw new HandshakeError('protocol', String((error as Error)?.message ?? error));
}

export interface ServerGreetingOptions {
  timeoutMs: number;
  /** add tund's mark to the greeting (default true; false sends exactly what vtund sends) */
  announce?: boolean;
}

/**
 * The server's first step: greeting out, the client's HOST line in (under the handshake's one
 * deadline, started here). Returns the session name the client asks for. `tund serve` runs this
 * before it starts a process for the connection; serverHandshake({ host }) goes on from here.
 * On failure: ERR (best effort) and a HandshakeError.
 */
export async function serverGreeting(ch: BlockChannel, o: ServerGreetingOptions): Promise<string> {
  ch.startDeadline(o.timeoutMs);
  try {
    await ch.writeText(o.announce === false ? GREETING : `${GREETING}${TUND_MARK}\n`);
    const hostTokens = tokenize(decodeBlock(await ch.readBlock(o.timeoutMs)));
    if (hostTokens[0] !== 'HOST' || hostTokens.length < 2) {
      throw new HandshakeError('protocol', `expected "HOST: name", got "${printable(hostTokens.join(' '))}"`);
    }
    return hostTokens[1]!;
  } catch (error) {
    return refuse(ch, error);
  }
}

/**
 * Runs the server side. On any failure it sends the ERR block (best effort) and throws a
 * HandshakeError whose message says why (for the log; the client only ever sees ERR).
 * With `resume`, the greeting and the HOST line were exchanged already (serverGreeting, in
 * another process): it goes on with the challenge, under what is left of the deadline.
 */
export async function serverHandshake(ch: BlockChannel, o: ServerHandshakeOptions): Promise<ServerHandshakeResult> {
  const host = o.resume ? o.resume.host : await serverGreeting(ch, o);
  if (o.resume) ch.startDeadline(o.resume.leftMs);
  try {
    const challenge = o.challenge ?? randomChallenge();
    await ch.writeText(`OK CHAL: <${encodeLetters(challenge)}>\n`);
    const chalText = decodeBlock(await ch.readBlock(o.timeoutMs));
    const chalTokens = tokenize(chalText);
    if (chalTokens[0] !== 'CHAL' || chalTokens.length < 2) {
      throw new HandshakeError('protocol', `expected "CHAL: <response>", got "${printable(chalTokens.join(' '))}"`);
    }
    const response = parseChallengeText(chalTokens[1]!);
    if (!response) throw new HandshakeError('protocol', `malformed challenge response from "${printable(host)}"`);
    const entry = await o.lookup(host);
    if (!entry) throw new HandshakeError('unknown_session', `unknown session "${printable(host)}"`);
    if (!checkResponse(challenge, response, entry.password, entry.sslAuth)) {
      throw new HandshakeError('auth', `authentication failed for session "${printable(host)}" (wrong password)`);
    }
    const refusal = await o.authorize?.(host, entry);
    if (typeof refusal === 'string') throw new HandshakeError('refused', refusal);
    const flagsText = buildFlags(entry.flags);
    await ch.writeText(`OK FLAGS: ${flagsText}\n`);
    ch.clearDeadline();
    return { host, entry, flagsText, peerIsTund: hasTundMark(chalText) };
  } catch (error) {
    return refuse(ch, error);
  }
}

// ---------------------------------------------------------------------------------------------
// UDP port exchange (5.3)

/** Our UDP port as vtund on Debian (little-endian on x86) sends it. */
export function encodePort(port: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16LE(port);
  return b;
}

/**
 * The peer's 2 bytes -> port. Debian sends little-endian, upstream big-endian; vtund always
 * announces the port its UDP socket shares with its TCP socket, so pick the reading that equals
 * the peer's TCP port, else little-endian.
 */
export function decodePort(bytes: Buffer, peerTcpPort: number): number {
  const le = bytes.readUInt16LE(0);
  const be = bytes.readUInt16BE(0);
  if (le === peerTcpPort) return le;
  if (be === peerTcpPort) return be;
  return le;
}

export async function exchangeUdpPort(ch: BlockChannel, ourPort: number, peerTcpPort: number, timeoutMs: number): Promise<number> {
  await ch.write(encodePort(ourPort));
  const bytes = await ch.read(2, timeoutMs);
  return decodePort(bytes, peerTcpPort);
}

/** For log lines: control characters escaped, at most 60 characters. */
export function printable(text: string): string {
  const s = text.replace(/[\x00-\x1f\x7f-\xff"\\]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
  return s.length > 60 ? `${s.slice(0, 60)}...` : s;
}
