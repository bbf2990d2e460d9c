// A wg-quick file as a tund session: the [Interface] and [Peer]s (conf.ts) stay whole in
// SessionConfig.wireguard, and the parts the session owns are derived from them as wg-quick(8)
// would act on them:
//   device: a tun named after the session, Address, MTU (default 1420, as wg-quick without a route
//           to measure), brought up;
//   routes: every peer's AllowedIPs through the device (Table = auto: the main table; a default
//           route 0.0.0.0/0 or ::/0 makes it a full tunnel in its own table, the peers' endpoints
//           kept outside); Table = off: none; Table = N: table N. DNS servers and search domains;
//   hooks:  PreUp, PostUp, PreDown, PostDown with %i replaced by the interface name; a failing
//           PreUp or PostUp aborts the start as in wg-quick.
// The keys (PrivateKey/PrivateKeyFile, PresharedKey/PresharedKeyFile, credentials) are read as the
// session's secret (wgSecret) and handed to the protocol (wgKeysFromSecret).
import { DEFAULT_HANDSHAKE_LIMITS, type SessionConfig } from '../config/types.js';
import { ConfigFailure, type ConfigProblem } from '../errors.js';
import { readWgKeys, type WgQuickConfig } from './conf.js';
import { KEY_BYTES } from './keys.js';

/** wg-quick's MTU without a route to measure (1500 - 80). */
export const WG_DEFAULT_MTU = 1420;

const isDefaultRoute = (prefix: string) => prefix === '0.0.0.0/0' || prefix === '::/0';

/** The SessionConfig of a parsed wg-quick file, or the problems that keep it from running. */
export function sessionConfigFromWgQuick(wg: WgQuickConfig): { config: SessionConfig | null; problems: ConfigProblem[] } {
  const problems: ConfigProblem[] = [];
  const i = wg.interface;
  const allowed = [...new Set(wg.peers.flatMap((p) => p.allowedIps))];
  const full = allowed.some(isDefaultRoute);
  let table: SessionConfig['route']['table'] = full ? 'auto' : 'off';
  if (i.table.kind === 'table') {
    const t = i.table.table;
    if (typeof t === 'number') table = t;
    else if (t === 'main' && !full) table = 'off';
    else {
      problems.push({ file: wg.file, line: i.line, message: `Table = ${t}: tund takes auto, off or a table number${full ? ' (a full tunnel needs its own table)' : ''}` });
    }
  }
  const mode = i.table.kind === 'off' || allowed.length === 0 ? 'none' : full ? 'full' : 'split';
  const ifname = wg.name;
  const hook = (commands: string[]) => commands.map((c) => c.replaceAll('%i', ifname));
  const dialed = wg.peers.find((p) => p.endpoint !== null);
  if (problems.length > 0) return { config: null, problems };
  const config: SessionConfig = {
    name: wg.name,
    file: wg.file,
    session: {
      protocol: 'wireguard',
      // for status only: a side that dials a peer reads as a client
      role: dialed ? 'client' : 'server',
      endpoint: dialed?.endpoint ? { host: dialed.endpoint.host, port: dialed.endpoint.port } : null,
      listen: { host: '::', port: i.listenPort ?? 0 },
      host: wg.name,
      // (a WebSocket rides on TCP: the session's transport as VTun's status names it)
      transport: i.transport === 'udp' ? 'udp' : 'tcp',
      cipher: 'no',
      compression: { kind: 'none' },
      keepalive: { enabled: false, interval: 0, count: 0 },
      // the interface comes back after a failure of its device or socket
      persist: 'yes',
      multi: 'yes',
      timeout: 30,
      natHack: false,
      speed: { out: 0, in: 0 },
      sslAuth: false,
      secretFile: wg.file,
      // WireGuard answers a handshake with one message and no state (cookies under load), so
      // VTun's pre-authentication caps do not apply; the defaults only fill the shape
      handshakeLimits: { ...DEFAULT_HANDSHAKE_LIMITS },
      vpnws: { url: null, path: null, proxy: null, user: null, ca: null, certificate: null, privateKey: null, clientCa: null, ownDevice: false, proxyUser: null, proxySecretFile: '' },
    },
    device: {
      mode: 'tun',
      name: ifname,
      addresses: i.addresses,
      peer: null,
      mtu: i.mtu ?? WG_DEFAULT_MTU,
      multiQueue: false,
      mac: null,
      bridge: null,
      program: null,
    },
    route: {
      mode,
      allowedIps: mode === 'split' ? allowed : [],
      exclude: [],
      table,
      metric: null,
      dns: i.dns,
      dnsDomains: i.dnsSearch,
    },
    hooks: { up: hook(i.postUp), down: hook(i.preDown), preUp: hook(i.preUp), postDown: hook(i.postDown), abortOnFailure: true },
    wireguard: wg,
  };
  return { config, problems };
}

/**
 * The keys of a WireGuard session as one secret: the private key, then 32 bytes per peer in file
 * order (its preshared key, zeros for none). A reload that finds other bytes re-applies the keys.
 */
export async function wgSecret(config: SessionConfig): Promise<Buffer> {
  const wg = config.wireguard!;
  const keys = await readWgKeys(wg);
  if (!keys.privateKey) {
    for (const k of keys.presharedKeys) k?.fill(0);
    throw new ConfigFailure(
      [{ file: wg.file, line: wg.interface.line, message: '[Interface] has no PrivateKey (expected "PrivateKey = ..." or "PrivateKeyFile = PATH")' }],
      'make one with "tunauth genkey --output FILE" and name it in PrivateKeyFile',
    );
  }
  const secret = Buffer.concat([keys.privateKey, ...keys.presharedKeys.map((k) => k ?? Buffer.alloc(KEY_BYTES))]);
  keys.privateKey.fill(0);
  for (const k of keys.presharedKeys) k?.fill(0);
  return secret;
}

/** The private key and the peers' preshared keys (null: none) back out of wgSecret's bytes. */
export function wgKeysFromSecret(config: SessionConfig, secret: Buffer): { privateKey: Buffer; presharedKeys: (Buffer | null)[] } {
  const peers = config.wireguard!.peers;
  if (secret.length !== KEY_BYTES * (1 + peers.length)) throw new Error('internal error: the WireGuard secret does not match the configuration');
  const at = (n: number) => Buffer.from(secret.subarray(n * KEY_BYTES, (n + 1) * KEY_BYTES));
  return {
    privateKey: at(0),
    presharedKeys: peers.map((_, n) => {
      const k = at(n + 1);
      return k.every((b) => b === 0) ? null : k;
    }),
  };
}
