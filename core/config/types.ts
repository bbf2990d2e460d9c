// The typed form of a session file /etc/tund/NAME.conf (tund.conf(5)). The parser (parse.ts)
// turns text into this, validating every key with its own validator and reporting every problem
// as `file:line: problem` at once. Each tool reads the section it owns:
//   [Session] tund, [Device] tunctl/tund, [Route] tunroute, [Hooks] tund.
import type { ProxyEndpoint, WsEndpoint } from '../vpnws/url.js';

import type { WgQuickConfig } from '../wireguard/conf.js';

export type Role = 'client' | 'server';
export type Transport = 'tcp' | 'udp';
/** `ether` in vtund.conf is `tap` here; `pipe` and `tty` are VTun's byte-stream types. */
export type DeviceMode = 'tun' | 'tap' | 'pipe' | 'tty';
export type MultiPolicy = 'yes' | 'no' | 'killold';
export type PersistPolicy = 'no' | 'yes' | 'keep';

/** VTun cipher names as in vtund.conf, `no`, or `yes` (= blowfish128ecb). */
export type VtunCipherName =
  | 'no'
  | 'oldblowfish128ecb'
  | 'blowfish128ecb' | 'blowfish128cbc' | 'blowfish128cfb' | 'blowfish128ofb'
  | 'blowfish256ecb' | 'blowfish256cbc' | 'blowfish256cfb' | 'blowfish256ofb'
  | 'aes128ecb' | 'aes128cbc' | 'aes128cfb' | 'aes128ofb'
  | 'aes256ecb' | 'aes256cbc' | 'aes256cfb' | 'aes256ofb';

export type Compression = { kind: 'none' } | { kind: 'zlib'; level: number } | { kind: 'lzo'; level: number };

export interface Keepalive {
  enabled: boolean;
  interval: number; // seconds (vtund default 30)
  count: number; // failures before the link is declared dead (vtund default 4)
}

/** Where a value came from, for error messages from later checks. */
export interface Located<T> {
  value: T;
  line: number;
}

export type ProtocolName = 'vtun' | 'vpn-ws' | 'wireguard';

export interface SessionSection {
  protocol: ProtocolName;
  role: Role;
  /** client: the server to connect to. */
  endpoint: { host: string; port: number } | null;
  /** server: address and port to listen on when tund listens itself (default 0.0.0.0:5000). */
  listen: { host: string; port: number };
  /** VTun host (session) name sent in `HOST:`; default the session NAME. */
  host: string;
  transport: Transport;
  cipher: VtunCipherName;
  compression: Compression;
  keepalive: Keepalive;
  persist: PersistPolicy;
  multi: MultiPolicy;
  /** connect / handshake timeout in seconds (default 30). */
  timeout: number;
  /** VTun nat_hack on this side (UDP only). */
  natHack: boolean;
  /** speed limit in kbit/s: what this side sends (out) and, for a server, what it tells the client (in). 0 = off. */
  speed: { out: number; in: number };
  /** Debian's sslauth: yes = Blowfish challenge (default), no = XOR variant. */
  sslAuth: boolean;
  /** Protocol = vpn-ws (docs/vpn-ws.md); the fields are null when not set. */
  vpnws: VpnWsSection;
  /** Path of the secret (password) file; default CONFIG_DIR/NAME.secret. Must be mode 0600. */
  secretFile: string;
  /**
   * Server: connections that have not finished their handshake, at most this many at once
   * (total) and from one source address (perSource); more are closed at once (issue 13, fix 2).
   */
  handshakeLimits: HandshakeLimits;
  /**
   * Keys the file sets itself (not defaults). A client holds a server to these: what the server
   * offers in the handshake must match (no downgrade by a fake server, core/vtun/requirements.ts).
   * Absent in configs built by hand (tests): nothing is required.
   */
  explicit?: ExplicitKeys;
}

export interface HandshakeLimits {
  total: number;
  perSource: number;
}

/** Defaults of MaxHandshakes and MaxHandshakesPerSource (tund.conf(5)). */
export const DEFAULT_HANDSHAKE_LIMITS: HandshakeLimits = { total: 64, perSource: 8 };

/** Which of the negotiable keys a session file sets. */
export interface ExplicitKeys {
  encrypt: boolean;
  compress: boolean;
  transport: boolean;
  mode: boolean;
}

export interface VpnWsSection {
  /** client: the hub's ws:// or wss:// URL (Endpoint =) */
  url: WsEndpoint | null;
  /** server: the only request path accepted (null: any) */
  path: string | null;
  /** client: an HTTP proxy to CONNECT through */
  proxy: ProxyEndpoint | null;
  /** client: HTTP basic auth user; the password is the secret file's content */
  user: string | null;
  /** client: CA file instead of the system CAs */
  ca: string | null;
  /** client: a client certificate; server: the hub's certificate chain (with privateKey) */
  certificate: string | null;
  privateKey: string | null;
  /** server: client certificates must be signed by one of these CAs */
  clientCa: string | null;
  /** server: the hub has its own TAP on the switch (the file has a [Device] section) */
  ownDevice: boolean;
  /** client: Proxy-Authorization: Basic for the proxy; the password is ProxySecretFile's content */
  proxyUser: string | null;
  proxySecretFile: string;
}

export interface DeviceSection {
  mode: DeviceMode;
  /** Interface name; default the session NAME. */
  name: string;
  /** Addresses with prefix, e.g. 198.19.0.1/32 (repeatable). */
  addresses: string[];
  /** Point-to-point peer address for tun mode (ip addr add A peer P). */
  peer: string | null;
  mtu: number | null;
  multiQueue: boolean;
  /** tap: the Ethernet address to give the device (lower case, unicast); null = the kernel's choice. */
  mac: string | null;
  /** tap: the Linux bridge the device joins (it must exist); null = none. */
  bridge: string | null;
  /** pipe/tty: the program whose stdin/stdout (pipe) or controlling pty (tty) carries the data. */
  program: string | null;
}

export interface RouteSection {
  mode: 'none' | 'split' | 'full';
  /** split: prefixes routed into the tunnel (repeatable). */
  allowedIps: string[];
  /** full: prefixes kept outside the tunnel (repeatable). */
  exclude: string[];
  /** policy routing table: 'auto' picks one from 51820 upward, 'off' uses main, or a number. */
  table: 'auto' | 'off' | number;
  metric: number | null;
  dns: string[];
  dnsDomains: string[];
}

export interface HooksSection {
  /** Commands run (via /bin/sh -c) after the device is up / before it goes down. From import-vtun. */
  up: string[];
  down: string[];
  /** WireGuard (wg-quick's PreUp / PostDown): before the device is made / after it is gone. */
  preUp?: string[];
  postDown?: string[];
  /**
   * A failing PreUp or Up (PostUp) command aborts bringing the session up, as wg-quick does (what
   * was set up is taken back, exit 1); otherwise, as vtund, a failure is only logged.
   */
  abortOnFailure?: boolean;
}

export interface SessionConfig {
  /** Session NAME (file stem). */
  name: string;
  /** Path of the file it was read from. */
  file: string;
  session: SessionSection;
  device: DeviceSection;
  route: RouteSection;
  hooks: HooksSection;
  /** A WireGuard session (a wg-quick file): its [Interface] and [Peer]s; the sections above are derived from it. */
  wireguard?: WgQuickConfig;
}
