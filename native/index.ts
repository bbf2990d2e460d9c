// The JS face of the C++ addon (native/src). Parts:
//  - the TUN/TAP device: open/persist/owner ioctls and non-blocking batch read/write (tun.cc);
//  - the packet engine (native/src/engine, docs/engine.md): native threads that move packets
//    between a device fd and a transport socket, off the JS event loop, with a per-protocol
//    transform: VTun's framing, compression and encryption (Pump, pump.cc) and WireGuard's
//    transport data messages for many peers (WgEngine, wg_engine_napi.cc).
// Errors thrown by the addon are Error objects with `code` (errno name, e.g. "EPERM"),
// `errno` (number) and `syscall` (e.g. "TUNSETIFF").
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export interface TunOpenFlags {
  tap: boolean;
  multiQueue: boolean;
  vnetHdr: boolean;
}

export interface TunFlags extends TunOpenFlags {
  noPi: boolean;
}

export type CompressionSpec = { kind: 'none' } | { kind: 'zlib'; level: number } | { kind: 'lzo'; level: number };

export interface PumpOptions {
  /** tun/tap fd, or a pipe/socketpair/pty fd for VTun's pipe and tty types. */
  deviceFd: number;
  /** 'packet': one read is one packet (tun/tap); 'stream': byte chunks (pipe/tty). */
  deviceKind: 'packet' | 'stream';
  /** Connected TCP socket, or UDP socket (connected unless natHack). The pump owns it from start(). */
  netFd: number;
  transport: 'tcp' | 'udp';
  /** VTun nat_hack on this side: UDP socket not connected; connect to the first datagram's source. */
  natHack: boolean;
  compression: CompressionSpec;
  /** VTun cipher number: 0 none, 999 legacy Blowfish (flag "E"), 1..16 as in docs/vtun-protocol.md §10.2. */
  cipher: number;
  /** Key for the cipher (16 or 32 bytes); empty when cipher is 0. */
  key: Buffer;
  /** Hold data frames back for this long after start (the vtund `up {}` race, docs/vtun-protocol.md §6.5). */
  sendDelayMs: number;
  /** Shaping of what this side sends, kbit/s; 0 = unlimited. */
  speedKbps: number;
  /** Bytes already read from the TCP socket after the handshake (start of the frame stream). */
  initialRx?: Buffer;
  /** Packets per batch (recvmmsg/sendmmsg and device reads); default 32. */
  batchSize?: number;
}

export interface PumpStats {
  rxBytes: number; // payload bytes written to the device (after decryption/decompression)
  txBytes: number; // payload bytes read from the device
  rxPackets: number;
  txPackets: number;
  rxFrames: number; // every frame received from the peer, control frames included
  txFrames: number;
  rxWireBytes: number;
  txWireBytes: number;
  badFrames: number; // oversized, garbled or undecryptable frames that were dropped
  echoRequestsReceived: number;
  echoRepliesReceived: number;
  /** ECHO_REQ frames sent (the initial one, sendControl('echo_req')). */
  echoRequestsSent: number;
  /** Decoded packets not written to the device: tun/tap not up yet (EIO) or its queue full. */
  deviceDownDrops: number;
  /** UDP frames not sent: nat_hack before the peer's first datagram, or ICMP errors on send. */
  txDropped: number;
  /** Datagrams on the connected UDP socket from another source (queued before connect()): dropped.
   * (Optional in the type so that fakes of the pump need not report it; the addon always does.) */
  foreignDrops?: number;
  /** Offloads at work (docs/engine.md): TSO/USO super-packets read from the tun and cut, coalesced
   * super-packets written to it, sends that carried several datagrams (UDP GSO), reads that
   * brought several (UDP GRO). Optional so that fakes need not report them. */
  tunSuperReads?: number;
  tunSuperWrites?: number;
  udpGsoSends?: number;
  udpGroReads?: number;
  /** Rounds that moved device packets: reads then sent at once (tx), writes (rx). A lone packet
   * after idle is a batch of one: nothing waits for a batch to fill. Optional for fakes. */
  txBatches?: number;
  rxBatches?: number;
  /** tx rounds sent by the tx thread itself (the device drained, the send thread idle): a lone
   * packet skips the hand-off to the send thread. Optional for fakes. */
  inlineSends?: number;
  /** Of those, rounds cut from the tun's super-packets (a bulk TCP flow) when the send thread was
   * idle: sent on the tx thread too. Optional for fakes. */
  cutInlineSends?: number;
  /** Rounds the rx thread's answers of the kernel (echo replies, ACKs) went out in: read, sealed and
   * sent by the rx thread right after its write to the tun. Optional for fakes. */
  rxThreadSends?: number;
  /** The single loop (docs/engine.md, "Latency"): tx rounds the rx thread ran because its wait found
   * the tun readable (at light load one thread serves both directions), and hand-overs of the tun
   * between it and the tx thread. Optional for fakes. */
  singleLoopRounds?: number;
  loopSwitches?: number;
  /** The lone-packet path (docs/engine.md, "Latency"): packets the single loop read, sealed and
   * sent, and datagrams (data or control) it received, without a round. Optional for fakes. */
  loneTx?: number;
  loneRx?: number;
  /** The lone-packet path runs in its compact form (docs/engine.md, "The lone-packet path"): to a
   * tun with virtio_net_hdr, once only the peer can send. Optional for fakes. */
  loneCompact?: boolean;
  /** Milliseconds since the last frame from the peer; -1 before the first one. */
  msSinceRx: number;
  /** Milliseconds since the last ECHO_REP from the peer; -1 before the first one. */
  msSinceEchoReply: number;
  /** Threads running: started, not stopped, not ended. */
  running: boolean;
}

export type PumpEndReason =
  | 'peer_closed' // CONN_CLOSE frame
  | 'eof' // TCP EOF or reset
  | 'device_error' // write to the device failed (vtund ends the session too)
  | 'network_error' // send/recv failed (e.g. ICMP port unreachable on UDP)
  | 'codec_error' // decompression failed
  | 'stopped'; // stop() was called

export interface PumpEvent {
  type: 'ended';
  reason: PumpEndReason;
  message: string;
}

/**
 * The VTun packet pump: the engine with VTun's transform (native/src/pump.cc,
 * native/src/engine/vtun_transform.h). Behaviour:
 * - start() sets both fds non-blocking, sends one ECHO_REQ (unless natHack) and starts a tx thread
 *   (device -> net) and an rx thread (net -> device). Throws if called twice, or after stop()
 *   (a pump runs once); stop() before start() leaves nothing running.
 * - natHack (UDP): the socket stays unconnected until the first datagram that is a valid frame
 *   (ECHO_REQ, ECHO_REP, or a data frame that decodes) arrives; then it is connected to that
 *   source. Garbage, a stranger's CONN_CLOSE or undecodable data pick nothing and end nothing
 *   (counted in badFrames). A connected UDP socket drops datagrams from other sources (foreignDrops).
 * - Every ECHO_REQ from the peer is answered with ECHO_REP natively; ECHO_REP/any frame updates
 *   msSinceRx (keep-alive policy stays in JS: sendControl('echo_req'), stats().msSinceRx).
 * - Exactly one 'ended' event per pump: peer_closed (CONN_CLOSE), eof (TCP EOF/RST),
 *   device_error, network_error, codec_error, or 'stopped' when stop() ends a running pump.
 *   After peer_closed, device_error and codec_error the pump itself sends one CONN_CLOSE (as
 *   vtund); after the event the threads are gone, JS still calls stop() to free the socket.
 * - Oversized frames (> 2148 bytes), `00 00` headers, BAD frames, UDP datagrams whose length does
 *   not match the header, and undecryptable frames are dropped and counted in badFrames.
 * - A tun/tap write that fails with EIO while the interface is down (our own `up` has not run yet,
 *   docs/vtun-protocol.md §6.5) drops the packet (deviceDownDrops) instead of ending the session as vtund would;
 *   a decoded 1-byte packet for a tun/tap (vtund's "rsyn" carrier, docs/vtun-protocol.md §10.5.4, which any tun/tap
 *   would refuse with EINVAL) is dropped and counted in badFrames.
 * - Data frames are held back (the device is not read) for sendDelayMs after start(); speedKbps
 *   stops reading the device while this second's output exceeds speedKbps*1024/8 + 400 bytes.
 * - Events arrive through a ThreadSafeFunction that keeps the event loop alive until stop().
 */
export interface NativePump {
  start(): void;
  /** Queue a control frame to the peer: ECHO_REQ or CONN_CLOSE (sent by the tx thread; a CONN_CLOSE
   * queued right before stop() is still flushed). No-op before start() and after the pump ended. */
  sendControl(kind: 'echo_req' | 'conn_close'): void;
  stats(): PumpStats;
  /** Stops and joins the threads and closes netFd (the device fd is left to its owner); sends
   * nothing itself. Idempotent; also done when the object is garbage-collected. A pump that never
   * started (or whose start() threw) closes nothing: netFd is still the caller's to close. */
  stop(): void;
}

/** Options of VtunCodec: the same fields as PumpOptions. */
export interface VtunCodecOptions {
  compression: CompressionSpec;
  /** 0 none, 999 legacy Blowfish (flag "E"), 1..16 (docs/vtun-protocol.md §10.2). */
  cipher: number;
  /** 16 or 32 bytes as the cipher needs (vtunKey); empty for cipher 0. */
  key: Buffer;
}

/**
 * The VTun module chain (compression -> encryption), synchronous, same C++ code as the pump.
 * Stateful like one pump: encode() is this side's sending direction (one zlib stream, one
 * CBC/CFB/OFB stream with its side-band on the first frame), decode() the receiving direction.
 */
export interface NativeVtunCodec {
  /** One packet (1..2048 bytes) -> the frame payload (no 2-byte header). Throws RangeError otherwise. */
  encode(packet: Buffer): Buffer;
  /** A frame payload -> the packet, or null when the frame is dropped (bad padding, garbled cipher
   * text, wrong size). Throws when decompression fails (the pump ends with 'codec_error'). */
  decode(payload: Buffer): Buffer | null;
}

/** A UDP endpoint. IPv4 addresses come back without the IPv4-mapped prefix. */
export interface WgEndpoint {
  address: string;
  port: number;
}

/** The whitepaper's limits (section 6.1); tests shorten them. */
export interface WgLimits {
  /** Default 120000: past this age (initiator) the engine asks for a handshake ('rekey_time'). */
  rekeyAfterTimeMs?: number;
  /** Default 180000: a keypair this old neither sends nor receives. */
  rejectAfterTimeMs?: number;
  /** Default 10000 and 5000: with rejectAfterTimeMs, when a receiving initiator asks early. */
  keepaliveTimeoutMs?: number;
  rekeyTimeoutMs?: number;
  /** Default 2^60: past this send counter the engine asks for a handshake ('rekey_messages'). */
  rekeyAfterMessages?: number | bigint;
  /** Default 2^64 - 2^13 - 1: no message is sent or accepted with a counter at or past it. */
  rejectAfterMessages?: number | bigint;
}

export interface WgEngineOptions {
  /** A tun fd (IFF_TUN | IFF_NO_PI). The engine never closes it. */
  deviceFd: number;
  /** A bound, unconnected UDP socket; an AF_INET6 one bound to '::' serves IPv4 peers too. The
   * engine owns it from start() and closes it at stop(). Not used with transport 'tcp'. */
  netFd?: number;
  /** 'udp' (default): netFd carries every peer's datagrams. 'tcp': the messages go over TCP
   * connections JS hands in with addConnection(), each message after a 2-byte big-endian length
   * (tund peers only; docs/engine.md, "Stream transports"). */
  transport?: 'udp' | 'tcp' | 'websocket';
  /** websocket: accepted upgrades must ask for this path ("" or absent: any) */
  path?: string;
  /** websocket: accepted connections speak TLS (wss) with this certificate chain and key, and
   * with clientCaFile require a client certificate signed by it (PEM files) */
  certFile?: string;
  keyFile?: string;
  clientCaFile?: string;
  /** tcp, websocket: connections no peer's endpoint names, at most (default 64; more are refused) ... */
  maxPendingConnections?: number;
  /** ... and for how long each (default 10000 ms; then it is closed). */
  pendingDeadlineMs?: number;
  /** Padding of sealed packets stops at the MTU (default 1420). */
  mtu?: number;
  /** Packets per batch (device reads, recvmmsg, sendmmsg); default 64 (a whole TSO super-packet
   * per round). */
  batchSize?: number;
  /** Packets kept per peer while it has no usable keypair (default 128, oldest dropped). */
  maxStagedPackets?: number;
  /** At most one 'handshake_needed' per peer per interval (default 1000 ms). */
  handshakeEventIntervalMs?: number;
  limits?: WgLimits;
  /** The device's public key (or later setPublicKey): from then on type-1/2 messages are vetted
   * natively (wg_cookie's CookieChecker): a wrong mac1 is dropped; under load (the event queue at
   * least 1/8 full, or forceUnderLoad) one without a fresh mac2 gets a cookie reply and a source
   * sending too many is rate limited. Without it every well-formed message goes up. */
  publicKey?: Buffer;
}

export interface WgKeypairInfo {
  localIndex: number;
  remoteIndex: number;
  /** The next send counter: messages sent under this keypair (REKEY_AFTER_MESSAGES). */
  sendCounter: bigint;
  ageMs: number;
  initiator: boolean;
}

/** Per-peer counters and timestamps; msSince* are -1 before the first such event. */
export interface WgPeerStats {
  /** Wire bytes of transport messages (what `wg show` calls transfer). */
  rxBytes: number;
  txBytes: number;
  /** Data packets (keepalives not included). */
  rxPackets: number;
  txPackets: number;
  keepalivesReceived: number;
  keepalivesSent: number;
  /** Since the last transport message sent (data or keepalive) / the last data packet sent. */
  msSinceTx: number;
  msSinceTxData: number;
  /** Since the last authenticated transport message received (data or keepalive) / data packet. */
  msSinceRx: number;
  msSinceRxData: number;
  /** Since the first data packet received after the last message sent (reset by every send), and
   * the first data packet sent after the last authenticated message received (reset by every
   * receive): the passive keepalive and new-handshake timers of the whitepaper. */
  msSinceFirstRxDataSinceTx: number;
  msSinceFirstTxDataSinceRx: number;
  /** Where the peer's messages go: set by JS, then following its authenticated packets (roaming). */
  endpoint: WgEndpoint | null;
  current: WgKeypairInfo | null;
  previous: WgKeypairInfo | null;
  next: WgKeypairInfo | null;
  /** Packets waiting for a keypair, and those dropped because too many waited. */
  staged: number;
  stagedDrops: number;
  replayDrops: number;
  authFailures: number;
  /** Authenticated packets whose inner source is not in the peer's allowed IPs. */
  sourceDrops: number;
  expiredDrops: number;
  /** Packets for the peer while it had no endpoint. */
  noEndpointDrops: number;
}

export interface WgEngineStats {
  rxBytes: number; // packet bytes written to the device
  txBytes: number; // packet bytes read from the device
  rxPackets: number;
  txPackets: number;
  rxMessages: number; // datagrams received
  txMessages: number;
  rxWireBytes: number;
  txWireBytes: number;
  /** Every datagram dropped as malformed, forged, replayed, expired, misrouted or unknown. */
  badMessages: number;
  deviceDownDrops: number;
  /** Datagrams not sent (ICMP errors, unreachable endpoints, JS queue full). */
  txDropped: number;
  /** Events (handshake messages, peer events) dropped because JS had 1024 unread. */
  eventDrops: number;
  /** Offloads at work (docs/engine.md): TSO/USO super-packets read from the tun and cut, coalesced
   * super-packets written to it, sends that carried several datagrams (UDP GSO), reads that
   * brought several (UDP GRO). Optional so that fakes need not report them. */
  tunSuperReads?: number;
  tunSuperWrites?: number;
  udpGsoSends?: number;
  udpGroReads?: number;
  /** Rounds that moved device packets: reads then sent at once (tx), writes (rx). A lone packet
   * after idle is a batch of one: nothing waits for a batch to fill. Optional for fakes. */
  txBatches?: number;
  rxBatches?: number;
  /** tx rounds sent by the tx thread itself (the device drained, the send thread idle): a lone
   * packet skips the hand-off to the send thread. Optional for fakes. */
  inlineSends?: number;
  /** Of those, rounds cut from the tun's super-packets (a bulk TCP flow) when the send thread was
   * idle: sent on the tx thread too. Optional for fakes. */
  cutInlineSends?: number;
  /** Rounds the rx thread's answers of the kernel (echo replies, ACKs) went out in: read, sealed and
   * sent by the rx thread right after its write to the tun. Optional for fakes. */
  rxThreadSends?: number;
  /** The single loop (docs/engine.md, "Latency"): tx rounds the rx thread ran because its wait found
   * the tun readable (at light load one thread serves both directions), and hand-overs of the tun
   * between it and the tx thread. Optional for fakes. */
  singleLoopRounds?: number;
  loopSwitches?: number;
  /** The lone-packet path (docs/engine.md, "Latency"): packets the single loop read, sealed and
   * sent, and datagrams (data or control) it received, without a round. Optional for fakes. */
  loneTx?: number;
  loneRx?: number;
  loneCompact?: boolean;
  /** Device packets that are not IP or whose destination is in no peer's allowed IPs. */
  noRoute: number;
  unknownIndex: number;
  authFailures: number;
  replayDrops: number;
  expiredDrops: number;
  sourceDrops: number;
  invalidPackets: number;
  shortMessages: number;
  unknownTypes: number;
  /** Handshake/cookie messages (types 1-3) handed up as 'message' events / dropped before. */
  handshakeMessages: number;
  handshakeDrops: number;
  cookieReplies: number;
  running: boolean;
  /** transport 'tcp': the connections open now, taken, refused (pre-authentication cap), closed
   * (of them: pending past the deadline). */
  connections?: { open: number; accepted: number; refused: number; closed: number; expired: number };
}

export type WgEvent =
  | { type: 'ended'; reason: 'device_error' | 'network_error' | 'stopped'; message: string }
  /** A handshake initiation (type 1) or response (2) past the mac checks (once a public key is
   * set), or a cookie reply (3), as received. */
  | { type: 'message'; data: Buffer; from: WgEndpoint }
  /** The peer has packets (or a keepalive) to send and no usable keypair ('no_keypair',
   * 'expired'), or its current keypair is due for renewal ('rekey_messages', 'rekey_time').
   * At most one per peer per handshakeEventIntervalMs; JS applies REKEY_TIMEOUT itself. */
  | { type: 'handshake_needed'; peer: number; reason: 'no_keypair' | 'expired' | 'rekey_messages' | 'rekey_time' }
  /** The first packet under a responder's `next` keypair (localIndex) arrived: it is current now. */
  | { type: 'keypair_confirmed'; peer: number; localIndex: number }
  /** transport 'tcp': a connection ended (the peer closed it, a broken stream, the pending
   * deadline, a send that made no progress); `remote` is the endpoint its messages carried. */
  | { type: 'connection_closed'; remote: WgEndpoint; message: string };

/**
 * WireGuard's transport on the native engine (native/src/engine/wg_transform.h): one tun and one
 * UDP socket serve any number of peers. Type-4 messages are sealed and opened on the engine's
 * threads (cryptokey routing by allowed IPs, replay window, roaming, staging); handshake and
 * cookie messages go up as 'message' events and JS sends its own with send()/sendToPeer().
 * JS owns the handshake, the timers and the policy; peers are numbered by JS (1..2^32-1).
 * Methods throw an Error for an unknown peer or a bad argument; all may be called before start().
 */
export interface NativeWgEngine {
  start(): void;
  /** Joins the threads, closes netFd; emits 'ended' with reason 'stopped' unless it had ended.
   * Before a start() that succeeded: closes and emits nothing (netFd is still the caller's). */
  stop(): void;
  addPeer(id: number, options?: { endpoint?: WgEndpoint | null; allowedIps?: string[] }): void;
  /** Forgets the peer, its keypairs (indices), allowed IPs and staged packets. */
  removePeer(id: number): void;
  /** Also sends what waited for an endpoint (staged packets, once a keypair allows). */
  setEndpoint(id: number, endpoint: WgEndpoint | null): void;
  /** Replaces the peer's prefixes ("198.18.0.0/24", "2001:2::/64", an address alone = /32, /128);
   * host bits are cleared; a prefix another peer had moves to this one. Every bad one is reported. */
  setAllowedIps(id: number, prefixes: string[]): void;
  allowedIps(id: number): string[];
  /** Keys from a finished handshake (NativeWgHandshake.deriveKeypair), rotated as wireguard-go
   * does: an initiator's keypair is current at once (staged packets go out), a responder's waits
   * as `next` until the peer's first packet under it ('keypair_confirmed'). */
  installKeypair(id: number, keypair: WgKeypair): void;
  /** Erases every keypair of the peer and drops its staged packets. */
  clearKeypairs(id: number): void;
  /** Drops the peer's staged packets (its handshake attempts gave up). */
  dropStaged(id: number): void;
  /** The device's public key: mac1 of handshake messages must be ours from now on. */
  setPublicKey(publicKey: Buffer): void;
  /** Tests and the interop suite: act as if (not) under load; null measures again. */
  forceUnderLoad(underLoad: boolean | null): void;
  /** An empty transport message (staged like a packet when no keypair: 'handshake_needed'). */
  sendKeepalive(id: number): void;
  /** Any message as it is to any endpoint through the engine's socket; false if 4096 wait. */
  send(data: Buffer, to: WgEndpoint): boolean;
  /** A message as it is to the peer's current endpoint (throws when it has none). */
  sendToPeer(id: number, data: Buffer): void;
  peers(): number[];
  /** null for an unknown peer. Cheap: counters and timestamps read under the peer's lock. */
  peerStats(id: number): WgPeerStats | null;
  stats(): WgEngineStats;
  /** transport 'tcp': a connected TCP socket; 'websocket': an accepted one, which the engine
   * upgrades (the engine owns it from now on). null when taken; why it was refused (and closed)
   * otherwise. */
  addConnection(fd: number): string | null;
  /** transport 'websocket': a connection wsDial dialed and upgraded (taken from the object), named
   * by `name` (the peer's endpoint; null or absent: the address the socket is connected to). */
  addDialed(connection: NativeWsConnection, name?: WgEndpoint | null): string | null;
}

// ---- vpn-ws building blocks (ws_frame, l2switch, http_upgrade, tls, fast_random): thin bindings
// of the C++ classes the engine runs on its threads, for tests and the control plane.

/** Which end of a WebSocket this side is: a client masks what it sends, a server never does. */
export type WsRole = 'client' | 'server';
export type WsOpcode = 'continuation' | 'text' | 'binary' | 'close' | 'ping' | 'pong';

export type WsEvent =
  | { type: 'message'; opcode: 'text' | 'binary'; data: Buffer; /** it came in several frames */ reassembled: boolean }
  | { type: 'ping' | 'pong'; data: Buffer }
  /** the peer's close frame; code 1005 when it sent none */
  | { type: 'close'; code: number; reason: string }
  /** a protocol violation: send a close with `code` (1002, 1007, 1009) and drop the connection */
  | { type: 'error'; code: number; message: string };

export interface WsReaderCounters {
  frames: number;
  messages: number;
  bytes: number;
  pings: number;
  pongs: number;
}

/**
 * WebSocket frame parser (RFC 6455), incremental: push() bytes in any pieces, get every complete
 * event. Messages bigger than maxMessage, unmasked frames to a server, masked frames to a client,
 * reserved bits, unknown opcodes, fragmented or long control frames, bad close codes and
 * non-UTF-8 text end it with one 'error' event (repeated on every later call).
 */
export interface NativeWsReader {
  push(bytes: Buffer): WsEvent[];
  /** One read() from a non-blocking fd straight into the parser's buffer; [] on EAGAIN, null at end of stream. */
  readFrom(fd: number): WsEvent[] | null;
  counters(): WsReaderCounters;
  buffered(): number;
}

export interface NativeWsEncoder {
  /** One frame (masked with a fresh key by a client). */
  frame(payload: Buffer, opcode?: WsOpcode, fin?: boolean): Buffer;
  /** A close frame; code 0 = no body; the reason is cut to 123 bytes on a character boundary. */
  close(code?: number, reason?: string): Buffer;
  /** buf holds the payload at [14, 14 + len): writes the header in front, masks in place; returns where the frame starts. */
  frameInPlace(buf: Buffer, len: number, opcode?: WsOpcode): number;
}

export type L2Drop =
  | 'too_short' | 'bad_source' | 'spoofed' | 'zero_destination' | 'loop' | 'hairpin'
  | 'broadcast_disabled' | 'multicast_disabled' | 'no_destination' | 'unknown_port';

export interface L2SwitchOptions {
  broadcast?: boolean;
  multicast?: boolean;
  /** learned MACs are forgotten after this long without a frame (default 300000) */
  agingMs?: number;
  maxMacsPerPort?: number;
  maxMacs?: number;
}

export interface L2Decision {
  /** null when forwarded */
  drop: L2Drop | null;
  ports: number[];
  /** a first frame gave a plain peer its MAC */
  registered: boolean;
}

export interface L2PortInfo {
  id: number;
  kind: 'peer' | 'tap';
  bridge: boolean;
  mac: string | null;
  lostMac: boolean;
  macs: string[];
  counters: { rxFrames: number; rxBytes: number; rxDropped: number; txFrames: number; txBytes: number; txDropped: number; learnLimited: number };
}

/** The hub's layer-2 switch (native/src/l2switch.h): ports, MAC table, forwarding decisions. */
export interface NativeL2Switch {
  addPort(options: { kind?: 'peer' | 'tap'; bridge?: boolean }): number;
  removePort(id: number): boolean;
  setPortMac(id: number, mac: string): { ok: boolean; displaced: number };
  forward(id: number, frame: Buffer, nowMs: number): L2Decision;
  age(nowMs: number): number;
  noteTxDropped(id: number, bytes: number): void;
  port(id: number): L2PortInfo | null;
  ports(): number[];
  lookup(mac: string, nowMs: number): number;
  drops(): Record<L2Drop, number>;
  macCount(): number;
}

export interface WsClientRequestOptions {
  path: string;
  host: string;
  key: string;
  mac?: string;
  bridge?: boolean;
  user?: string;
  password?: string;
  userAgent?: string;
}

export type HttpResponseResult =
  | { status: 'need_more' }
  | { status: 'error'; problem: string }
  | { status: 'ok' | 'refused'; code: number; reason: string; headers: Array<[string, string]>; consumed: number; problem?: string };

export interface WsUpgradePolicy {
  /** '' or absent: any path */
  path?: string;
  /** basic-auth users and passwords (tests); absent: no authentication */
  credentials?: Record<string, string>;
  maxBytes?: number;
  maxHeaders?: number;
}

export type WsUpgradeRequestResult =
  | { status: 'need_more' }
  | {
      status: 'ok';
      consumed: number;
      upgrade: { method: string; path: string; query: string; host: string; key: string; mac: string | null; bridge: boolean; user: string | null; headers: Array<[string, string]> };
      /** the 101 response to send */
      response: string;
    }
  | { status: 'refused'; refusal: { status: number; reason: string; detail: string }; response: string };

export type TlsStatus = 'ok' | 'want_read' | 'want_write' | 'closed' | 'error';

export type TlsContextOptions =
  | { role: 'client'; serverName: string; verify?: boolean; caFile?: string; certFile?: string; keyFile?: string }
  | { role: 'server'; certFile: string; keyFile: string; clientCaFile?: string };

export interface NativeTlsSession {
  handshake(): TlsStatus;
  read(max?: number): { status: TlsStatus; data?: Buffer };
  write(data: Buffer): { status: TlsStatus; written: number };
  shutdown(): TlsStatus;
  pending(): number;
  error(): string;
  peerSubject(): string;
  peerIssuer(): string;
  protocol(): string;
  cipher(): string;
}

/** What wsDial needs: where to connect (an IP address: the hub, or the proxy with
 * proxyAuthority), TLS for wss://, and the upgrade's fields. Secrets only in memory. */
export interface WsDialParams {
  address: string;
  port: number;
  /** SO_MARK of the socket, before it connects (WireGuard's FwMark) */
  fwMark?: number;
  proxyAuthority?: string;
  proxyUser?: string;
  proxyPassword?: string;
  tls?: { serverName: string; verify?: boolean; caFile?: string; certFile?: string; keyFile?: string };
  /** request target and Host header */
  path: string;
  host: string;
  /** X-vpn-ws-MAC, X-vpn-ws-bridge: on */
  mac?: string;
  bridge?: boolean;
  /** HTTP basic auth */
  user?: string;
  password?: string;
  timeoutMs?: number;
  /** TCP_USER_TIMEOUT of the connection (absent or 0: the kernel's) */
  userTimeoutMs?: number;
}

/** A dial that failed: which step, and the errno name when there was one. */
export interface WsDialError extends Error {
  step: 'connect' | 'proxy' | 'tls' | 'upgrade' | 'timeout' | 'cancelled';
  code?: string;
}

/** A connection past its upgrade (vpnws_dial.h), until a WsLink takes it or close(). */
export interface NativeWsConnection {
  readonly fd: number;
  readonly status: number;
  readonly tlsProtocol: string;
  readonly tlsCipher: string;
  /** the server certificate's subject ("CN=hub.test"), "" without TLS */
  readonly peerSubject: string;
  readonly headers: Record<string, string>;
  close(): void;
}

export interface WsLinkOptions {
  deviceFd: number;
  /** the connection's fd (ignored: the connection's own is taken) or a plain socket */
  netFd: number;
  connection?: NativeWsConnection;
  tlsSession?: NativeTlsSession;
  initialRx?: Buffer;
  role?: 'client' | 'server';
  /** the largest frame either way: device MTU + 14 (+ 4 for a VLAN tag); default 1518 */
  maxMessage?: number;
  batchSize?: number;
}

export interface WsLinkStats {
  rxBytes: number;
  txBytes: number;
  rxPackets: number;
  txPackets: number;
  rxFrames: number;
  txFrames: number;
  rxWireBytes: number;
  txWireBytes: number;
  badFrames: number;
  deviceDownDrops: number;
  txDropped: number;
  pingsSent: number;
  pongsReceived: number;
  pingsReceived: number;
  /** the peer's close code, 0 before it sent one */
  peerCloseCode: number;
  msSinceTraffic: number;
  msSinceRx: number;
  running: boolean;
}

export type WsLinkEvent = { type: 'ended'; reason: string; message: string };

export interface WsHubOptions {
  /** a listening, non-blocking TCP socket (the caller closes it after stop()) */
  listenFd: number;
  /** the hub's own TAP, or absent */
  tapFd?: number;
  /** only this request path ("" or absent: any) */
  path?: string;
  /** TLS: certificate chain and key (PEM); clientCaFile asks clients for certificates */
  certFile?: string;
  keyFile?: string;
  clientCaFile?: string;
  maxMessage?: number;
  /** per-client queue bounds (a full queue drops and counts) */
  queueFrames?: number;
  queueBytes?: number;
  handshakeTimeoutMs?: number;
  broadcast?: boolean;
  multicast?: boolean;
}

export interface WsHubClient {
  id: number;
  remote: string;
  macs: string[];
  bridge: boolean;
  tlsSubject: string;
  user: string;
  path: string;
  /** ms since the epoch */
  connectedMs: number;
  rxFrames: number;
  rxBytes: number;
  rxDropped: number;
  txFrames: number;
  txBytes: number;
  txDropped: number;
  rxWireBytes: number;
  txWireBytes: number;
  queued: number;
}

export interface WsHubStats {
  accepted: number;
  refused: number;
  closed: number;
  tlsFailures: number;
  tapRxFrames: number;
  tapTxFrames: number;
  tapTxDropped: number;
  switchDrops: number;
  clients: number;
  running: boolean;
}

export type WsHubEvent = { type: 'connected' | 'closed' | 'refused' | 'ended'; id: number; remote: string; message: string };

/** The vpn-ws hub (native/src/vpnws_hub.h): its own thread, many clients, the switch, a TAP. */
export interface NativeWsHub {
  start(): void;
  stop(): void;
  clients(): WsHubClient[];
  stats(): WsHubStats;
}

/** A vpn-ws link on the engine (engine/ws_transform.h): TAP frames as WebSocket messages. */
export interface NativeWsLink {
  start(): void;
  /** As NativePump.stop(); before a start() that succeeded the socket it took from its connection
   * is not closed (connection.close() no longer can): the caller closes connection.fd. */
  stop(): void;
  ping(): void;
  close(code?: number): void;
  stats(): WsLinkStats;
}

export interface NativeAddon {
  /**
   * Keeps only these capabilities (numbers, linux/capability.h). bounding: the bounding set was
   * narrowed too; dropped: false when a seccomp filter refused capset.
   */
  keepCapabilities(keep: number[]): { bounding: boolean; dropped: boolean };
  /** A full memory-reducing V8 collection and malloc_trim(0): what set-up left behind (src/memory.cc). */
  releaseMemory(): void;
  /** src/control_crypto.cc, through core/crypto.ts: OpenSSL's RAND_bytes, MD5, CRYPTO_memcmp. */
  randomBytes(n: number): Buffer;
  md5(data: Buffer): Buffer;
  timingSafeEqual(a: Buffer, b: Buffer): boolean;
  tunOpen(name: string, flags: TunOpenFlags): { fd: number; name: string };
  tunSetPersist(fd: number, persist: boolean): void;
  tunSetOwner(fd: number, uid: number): void;
  tunSetGroup(fd: number, gid: number): void;
  tunGetFlags(fd: number): TunFlags;
  setNonBlocking(fd: number, on: boolean): void;
  closeFd(fd: number): void;
  dupFd(fd: number): number;
  /** Reads up to bufs.length - offset packets into bufs[offset..]; sizes[i] gets each length. 0 = nothing ready. */
  readBatch(fd: number, bufs: Buffer[], sizes: Int32Array, offset: number): number;
  /** Writes bufs[offset..] as one packet each; returns how many were written (stops at EAGAIN). */
  writeBatch(fd: number, bufs: Buffer[], offset: number): number;
  /** MTU of an interface by name (SIOCGIFMTU). */
  interfaceMtu(name: string): number;
  Pump: new (options: PumpOptions, onEvent: (event: PumpEvent) => void) => NativePump;
  WgEngine: new (options: WgEngineOptions, onEvent: (event: WgEvent) => void) => NativeWgEngine;
  VtunCodec: new (options: VtunCodecOptions) => NativeVtunCodec;
  /** VTun key derivation (docs/vtun-protocol.md §10.1): 16 -> MD5(password); 32 -> MD5(first floor(len/2) bytes) || MD5(rest). */
  vtunKey(password: Buffer, bytes: 16 | 32): Buffer;
  /** socketpair(AF_UNIX, kind): two connected fds (close-on-exec); e.g. VTun's `pipe` type, tests. */
  socketPair(kind: 'stream' | 'dgram' | 'seqpacket'): [number, number];
  // auth.cc: session set-up helpers (not the packet path).
  /** Blowfish-ECB over whole 8-byte blocks with OpenSSL's BF_ecb_encrypt (VTun challenge, docs/vtun-protocol.md §4.6). */
  blowfishEcb(key: Buffer, data: Buffer, encrypt: boolean): Buffer;
  /** getsockopt(SO_ACCEPTCONN): true for a listening socket (systemd Accept=no), false for a connected one. */
  socketAcceptsConnections(fd: number): boolean;
  /** An IPv4 or IPv6 (addr contains ':') UDP socket bound to addr:port (VTun UDP port exchange); returns
   * the fd. SO_REUSEPORT (sockets of the same user may share the port), never SO_REUSEADDR (which
   * would let another local user bind beside it and take its datagrams). */
  udpSocketBind(addr: string, port: number): number;
  /** connect() a UDP socket from udpSocketBind to addr:port, then discard the datagrams other
   * sources had queued on it before. */
  udpSocketConnect(fd: number, addr: string, port: number): void;
  /** A UDP socket bound to addr:port alone (no SO_REUSEPORT: a port in use fails with EADDRINUSE);
   * port 0 picks a free one (socketNames tells which). A WireGuard interface's socket. */
  udpSocketListen(addr: string, port: number): number;
  /** setsockopt(SO_MARK): WireGuard's FwMark on the interface's socket (0 clears it). */
  socketSetMark(fd: number, mark: number): void;
  // socket.cc: TCP sockets owned by the addon (core/socket.ts) and flock(2) (core/lock.ts).
  /** A non-blocking TCP socket whose connect() to addr:port has started; watch it for writable, then socketError(). */
  /** mark: SO_MARK before the connect (0 or absent: none) */
  socketConnect(addr: string, port: number, mark?: number): number;
  /** A non-blocking TCP socket listening on addr:port (SO_REUSEADDR; "::" accepts IPv4 too). */
  socketListen(addr: string, port: number, backlog: number): number;
  /** The next waiting connection (non-blocking, close-on-exec), or null when none waits. */
  socketAccept(fd: number): { fd: number; address: string | null; port: number | null } | null;
  /** 1..max bytes, an empty Buffer at end of stream, or null when nothing is there yet. */
  socketRecv(fd: number, max: number): Buffer | null;
  /** Bytes sent (0 when the send buffer is full); never raises SIGPIPE. */
  socketSend(fd: number, data: Buffer): number;
  /** shutdown(SHUT_WR): nothing more to send (the peer reads EOF after what was sent). */
  socketShutdown(fd: number): void;
  /** The pending socket error (SO_ERROR) as an errno name, or null. */
  socketError(fd: number): string | null;
  /** Both ends of a socket as the kernel has them (remote null when not connected). */
  socketNames(fd: number): { localAddress: string | null; localPort: number | null; remoteAddress: string | null; remotePort: number | null };
  /** One sendmsg of data (not empty) with passFd attached (SCM_RIGHTS); bytes sent, 0 when the send buffer is full. */
  socketSendFd(fd: number, data: Buffer, passFd: number): number;
  /** One recvmsg of up to max bytes: the data (empty at end of stream) and the fd that came with it (close-on-exec), or null when nothing waits. */
  socketRecvFd(fd: number, max: number): { data: Buffer; fd: number | null } | null;
  /** flock(fd, LOCK_EX | LOCK_NB) when lock, else LOCK_UN: true when done, false when another open file holds the lock. */
  lockFile(fd: number, lock: boolean): boolean;
  /** A poll handle on the JS event loop; while started, callback(readable, writable, error) runs on readiness. */
  FdWatcher: new (fd: number, callback: (readable: boolean, writable: boolean, error: string | null) => void) => NativeFdWatcher;
  // pty.cc: VTun's `tty` type.
  /** A new pseudo-terminal: the master fd (non-blocking, close-on-exec, O_NOCTTY) and the slave's
   * path (/dev/pts/N), granted and unlocked. raw = true puts the line discipline in raw mode. */
  openPty(raw?: boolean): { master: number; slavePath: string };
  // ws_addon.cc, l2switch_addon.cc, tls_addon.cc: vpn-ws building blocks.
  WsReader: new (options: { role: WsRole; maxMessage: number; readAhead?: number }) => NativeWsReader;
  WsEncoder: new (options: { role: WsRole }) => NativeWsEncoder;
  L2Switch: new (options?: L2SwitchOptions) => NativeL2Switch;
  /** The client's upgrade request (throws TypeError on a field that would break it). */
  httpClientRequest(options: WsClientRequestOptions): string;
  /** Parses the response to an upgrade and checks it (101, Upgrade, Connection, Sec-WebSocket-Accept). */
  httpParseUpgradeResponse(head: Buffer, key: string): HttpResponseResult;
  httpConnectRequest(authority: string, user?: string, password?: string): string;
  /** 'ok' for a 2xx response to CONNECT. */
  httpParseConnectResponse(head: Buffer): HttpResponseResult;
  /** The hub's side: parses an upgrade request with limits, applies path and basic auth. */
  httpParseUpgradeRequest(head: Buffer, policy?: WsUpgradePolicy): WsUpgradeRequestResult;
  wsAccept(key: string): string;
  wsNewKey(): string;
  /** Bytes from FastRandom (ChaCha20 keystream keyed from getrandom). */
  fastRandomBytes(n: number): Buffer;
  TlsContext: new (options: TlsContextOptions) => object;
  TlsSession: new (context: object, fd: number) => NativeTlsSession;
  /** vpnws_napi.cc: the client's dial on a worker thread, and the link on the engine. */
  wsDial(params: WsDialParams, callback: (error: WsDialError | null, connection: NativeWsConnection | null) => void): {
    cancel(): void;
    release(): void;
  };
  WsLink: new (options: WsLinkOptions, onEvent: (event: WsLinkEvent) => void) => NativeWsLink;
  WsHub: new (options: WsHubOptions, onEvent: (event: WsHubEvent) => void) => NativeWsHub;
  /** Empty Buffer: nothing ready; null: end of stream. */
  fdRead(fd: number, max?: number): Buffer | null;
  fdWrite(fd: number, data: Buffer): number;
  /** WireGuard: primitives, handshake and cookies (wg_addon.cc). */
  wg: NativeWireGuard;
  // offload_napi.cc: the packet engine's offload surgery (engine/offload.h), for unit tests.
  /** One tun read (virtio_net_hdr + packet) -> the packets a transform gets: a TSO/USO super-packet
   * cut at gso_size (lengths, IPv4 IDs, sequence numbers, checksums fixed), or the packet with its
   * partial checksum completed. Throws on what the device would drop. */
  offloadSegment(read: Buffer, cap?: number): Buffer[];
  /** One batch of packets for the device -> the writes (virtio_net_hdr + bytes) it becomes, with
   * the indices of the packets in each: consecutive segments of one TCP flow coalesced, and with
   * `udp` (a tun that took USO) consecutive datagrams of one UDP flow; `trustChecksums`: the
   * packets were authenticated (WireGuard), their checksums are not verified before merging. */
  offloadCoalesce(packets: Buffer[], udp?: boolean, trustChecksums?: boolean): { write: Buffer; members: number[] }[];
  /** An IPv4/IPv6 TCP or UDP packet whose checksum verifies. */
  offloadChecksumValid(packet: Buffer): boolean;
}

/** A counter for WireGuard's nonce (4 zero bytes || 64-bit little-endian counter). */
export type WgCounter = number | bigint;

/**
 * The reusable ChaCha20-Poly1305 of one key (wg_crypto.h ChaCha20Poly1305): the transport's AEAD,
 * its contexts built once. seal/open copy; sealInPlace encrypts buf[0:len] in place and appends
 * the tag (buf needs len + 16 bytes), openInPlace opens buf[0:len] (ciphertext || tag) in place;
 * both return the output length, or -1 (open: the tag did not verify, the output is zeroed).
 */
export interface NativeWgAead {
  seal(counter: WgCounter, plaintext: Buffer, aad?: Buffer): Buffer;
  open(counter: WgCounter, sealed: Buffer, aad?: Buffer): Buffer | null;
  sealInPlace(counter: WgCounter, buf: Buffer, len: number, aad?: Buffer): number;
  openInPlace(counter: WgCounter, buf: Buffer, len: number, aad?: Buffer): number;
  /** The engine's seal: buf[offset, offset + len) in place, no AAD, the 64 bytes before offset as
   * scratch (wiped); returns len + 16. */
  sealWithScratch(counter: WgCounter, buf: Buffer, offset: number, len: number): number;
}

/** Why a handshake step failed (wg_noise.h HandshakeError). */
export type WgHandshakeError =
  | 'bad_message' // wrong type or length
  | 'decrypt' // an AEAD field did not open: not for us, or forged
  | 'bad_key' // a DH result was all zeros (low-order key)
  | 'wrong_peer' // the initiation is from another static key than this handshake's peer
  | 'wrong_state' // e.g. a response without our initiation, or for another index
  | 'replay' // the initiation's timestamp is not newer than the last one consumed
  | 'flood' // an initiation less than 20 ms after the last one consumed for this peer
  | 'crypto'; // OpenSSL failed

export type WgHandshakeState =
  | 'zeroed'
  | 'initiation_created'
  | 'initiation_consumed'
  | 'response_created'
  | 'response_consumed';

/** This side's static key (wg_noise.h StaticIdentity). `new Identity(privateKey, prologue?)`:
 * the prologue is for the Noise test vectors only (WireGuard's by default). */
export interface NativeWgIdentity {
  readonly publicKey: Buffer;
  /** Opens the ephemeral and static fields of a type-1 message (148 bytes; mac1/mac2 are the
   * CookieChecker's business): who is initiating. Finish with that peer's consumeInitiation. */
  readInitiation(message: Buffer): NativeWgInitiation | WgHandshakeError;
  /** The same for a bare Noise message 1 (no WireGuard framing): the Noise vectors. */
  readNoiseMessage1(body: Buffer): NativeWgInitiation | WgHandshakeError;
}

/** An initiation read by an Identity, not yet consumed (its secrets stay native). */
export interface NativeWgInitiation {
  readonly peerPublicKey: Buffer;
  readonly senderIndex: number;
}

/** The transport keys of a finished handshake. */
export interface WgKeypair {
  sendKey: Buffer;
  recvKey: Buffer;
  /** Receiver index the peer puts on its type-4 packets to us. */
  localIndex: number;
  /** Receiver index we put on our type-4 packets. */
  remoteIndex: number;
  /** We initiated: confirmed already. The responder's keypair is confirmed by the first data. */
  initiator: boolean;
}

/**
 * One peer's handshake (wg_noise.h Handshake). `new Handshake(identity, remotePublicKey,
 * presharedKey?, prologue?)`. Created messages have mac1/mac2 zero: CookieGenerator.addMacs fills
 * them. Fallible steps return the value, or the error's name.
 */
export interface NativeWgHandshake {
  /** false when DH(local static, remote static) is zero: no handshake can succeed. */
  readonly valid: boolean;
  readonly state: WgHandshakeState;
  readonly remotePublicKey: Buffer;
  readonly localIndex: number;
  readonly remoteIndex: number;
  setIdentity(identity: NativeWgIdentity): void;
  setPresharedKey(psk: Buffer | null): void;
  /** Initiator: type-1 message, timestamped now (or with a given TAI64N). */
  createInitiation(localIndex: number, timestamp?: Buffer): Buffer | WgHandshakeError;
  /** Responder: finish an initiation of this peer; refuses replays and floods. Returns its TAI64N. */
  consumeInitiation(initiation: NativeWgInitiation, nowMs?: number): Buffer | WgHandshakeError;
  /** Responder: type-2 message (after consumeInitiation). */
  createResponse(localIndex: number): Buffer | WgHandshakeError;
  /** Initiator: a type-2 message for our localIndex; null when consumed. */
  consumeResponse(message: Buffer): null | WgHandshakeError;
  /** After createResponse or consumeResponse: the keys; the handshake state is wiped. */
  deriveKeypair(): WgKeypair | null;
  clear(): void;
  /** Noise level (known-answer tests): the handshake hash, a fixed next ephemeral, any payload. */
  handshakeHash(): Buffer;
  setNextEphemeral(privateKey: Buffer): void;
  writeNoiseMessage1(payload: Buffer): Buffer | WgHandshakeError;
  consumeNoiseMessage1(initiation: NativeWgInitiation): Buffer | WgHandshakeError;
  writeNoiseMessage2(payload: Buffer): Buffer | WgHandshakeError;
  readNoiseMessage2(body: Buffer): Buffer | WgHandshakeError;
}

export type WgCookieVerdict = 'drop' | 'accept' | 'cookie_reply' | 'rate_limited';

/** The receiving side of mac1/mac2 (wg_cookie.h CookieChecker, with its own RateLimiter).
 * `new CookieChecker(localPublicKey?)`. Times are monotonic ms (monotonicMs()). */
export interface NativeWgCookieChecker {
  setLocalPublicKey(publicKey: Buffer): void;
  checkMac1(message: Buffer): boolean;
  checkMac2(message: Buffer, address: string, port: number, nowMs?: number): boolean;
  /** The 64-byte type-3 reply to a type-1/2 message from address:port, or null. */
  createReply(message: Buffer, address: string, port: number, nowMs?: number): Buffer | null;
  /** The whole receive-path decision: drop (bad mac1), accept, cookie_reply (under load without a
   * valid mac2; `reply` is the datagram to send back) or rate_limited. */
  vet(message: Buffer, address: string, port: number, underLoad: boolean, nowMs?: number): { verdict: WgCookieVerdict; reply?: Buffer };
}

/** The sending side (wg_cookie.h CookieGenerator): `new CookieGenerator(remotePublicKey)`. */
export interface NativeWgCookieGenerator {
  /** Writes mac1, and mac2 while a cookie younger than 2 minutes is held, into a type-1/2 message. */
  addMacs(message: Buffer, nowMs?: number): void;
  /** A type-3 reply to our last message: true when its cookie was stored. */
  consumeReply(message: Buffer, nowMs?: number): boolean;
  hasFreshCookie(nowMs?: number): boolean;
}

/** Token bucket per source (20/s, bursts of 5, IPv6 per /64): `new RateLimiter(maxEntries?)`. */
export interface NativeWgRateLimiter {
  allow(address: string, nowMs?: number): boolean;
  readonly size: number;
}

/** WireGuard's primitives (native/src/wg_crypto.h), handshake (wg_noise.h) and cookies
 * (wg_cookie.h), through native/src/wg_addon.cc. */
export interface NativeWireGuard {
  /** 32 random bytes clamped as an X25519 private key (what `wg genkey` prints, base64). */
  generatePrivateKey(): Buffer;
  /** X25519 public key of a private key (`wg pubkey`). */
  publicKey(privateKey: Buffer): Buffer;
  /** X25519(privateKey, publicKey); null when the result is all zeros (a low-order point). */
  x25519(privateKey: Buffer, publicKey: Buffer): Buffer | null;
  /** BLAKE2s-256 of the concatenation of the parts (incremental hashing). */
  blake2s(...parts: Buffer[]): Buffer;
  /** BLAKE2s-256 of a || b through the one-shot function the handshake uses. */
  blake2sOneShot(a: Buffer, b?: Buffer): Buffer;
  /** Keyed BLAKE2s with a 16-byte output (mac1, mac2, cookies); key 1..32 bytes. */
  mac(key: Buffer, data: Buffer): Buffer;
  /** HMAC over BLAKE2s-256. */
  hmac(key: Buffer, data: Buffer): Buffer;
  /** KDF1/KDF2/KDF3 of the whitepaper: [t1..tn]. */
  kdf(n: 1 | 2 | 3, key: Buffer, input: Buffer): Buffer[];
  /** TAI64N of now (nanoseconds whitened as wireguard-go does), or of a given Unix time. */
  tai64n(seconds?: number, nanoseconds?: number): Buffer;
  /** ChaCha20-Poly1305: nonce is 12 bytes or a counter. Returns ciphertext || tag. */
  aeadSeal(key: Buffer, nonce: Buffer | WgCounter, plaintext: Buffer, aad?: Buffer): Buffer;
  /** null when the tag does not verify. */
  aeadOpen(key: Buffer, nonce: Buffer | WgCounter, sealed: Buffer, aad?: Buffer): Buffer | null;
  /** HChaCha20(key, 16-byte nonce) -> 32-byte subkey. */
  hchacha20(key: Buffer, nonce: Buffer): Buffer;
  /** XChaCha20-Poly1305 with a 24-byte nonce (cookie replies). */
  xaeadSeal(key: Buffer, nonce: Buffer, plaintext: Buffer, aad?: Buffer): Buffer;
  xaeadOpen(key: Buffer, nonce: Buffer, sealed: Buffer, aad?: Buffer): Buffer | null;
  /** backend 'evp' (default) or 'direct' (OpenSSL's ChaCha20 and Poly1305 functions without EVP,
   * as the engine seals and opens transport data; 'evp' where it is not available). */
  Aead: new (key: Buffer, backend?: WgAeadBackend) => NativeWgAead;
  /** The 'direct' backend works in this process (found in the node binary, known answer passed). */
  directAeadAvailable(): boolean;
  Identity: new (privateKey: Buffer, prologue?: string) => NativeWgIdentity;
  Handshake: new (identity: NativeWgIdentity, remotePublicKey: Buffer, presharedKey?: Buffer | null, prologue?: string) => NativeWgHandshake;
  CookieChecker: new (localPublicKey?: Buffer) => NativeWgCookieChecker;
  CookieGenerator: new (remotePublicKey: Buffer) => NativeWgCookieGenerator;
  RateLimiter: new (maxEntries?: number) => NativeWgRateLimiter;
  /** 1..4 for a well-formed message of that type (length included), else 0. */
  messageType(message: Buffer): number;
  /** The monotonic clock the native side uses, in milliseconds. */
  monotonicMs(): number;
  /** bench/wg-crypto.mjs: nanoseconds for `packets` in-place seals (or opens) of `packetSize`
   * bytes with one reusable ChaCha20Poly1305, in a native loop (the engine's hot path). */
  benchmarkAead(packetSize: number, packets: number, direction: 'seal' | 'open', backend?: WgAeadBackend): number;
}

export type WgAeadBackend = 'evp' | 'direct';

/** A libuv poll handle on one fd (socket.cc). The fd stays its owner's: close() only frees the handle. */
export interface NativeFdWatcher {
  start(readable: boolean, writable: boolean): void;
  stop(): void;
  close(): void;
}

let loaded: NativeAddon | undefined;

/** Loads the addon once. Built by `npm ci` (node-gyp) into native/build/Release. */
export function native(): NativeAddon {
  if (!loaded) {
    const here = path.dirname(fileURLToPath(import.meta.url));
    const require = createRequire(import.meta.url);
    // dist/native/index.js -> native/build/Release; also works from native/ when run by a TS loader.
    const candidates = [
      path.join(here, '..', '..', 'native', 'build', 'Release', 'tund_native.node'),
      path.join(here, 'build', 'Release', 'tund_native.node'),
    ];
    let lastError: unknown;
    for (const candidate of candidates) {
      try {
        loaded = require(candidate) as NativeAddon;
        break;
      } catch (error) {
        lastError = error;
      }
    }
    if (!loaded) {
      throw new Error(`cannot load the native addon (run "npm ci" to build it): ${String(lastError)}`);
    }
  }
  return loaded;
}
