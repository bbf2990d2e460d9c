// The options that describe one WireGuard peer, shared by `tund new` (its first peer) and
// `tund peer add`: the same names, the same validators (the file parser's, per key), one place
// that turns them into a [Peer]. Each command declares them as its own fields (so they come after
// its own options in help): `endpoint = peerOptions.endpoint()`.
import { Option } from 'clipanion';
import * as t from 'typanion';
import { placeholder } from './spec.js';
import { isWgSetting } from './wg-validators.js';
import type { NewPeer } from '../config/new-session.js';
import { parseEndpoint, parsePrefix } from '../net.js';

export const peerOptions = {
  endpoint: () => placeholder('HOST:PORT', Option.String('--endpoint', {
    description: 'Where the peer listens (its ListenPort): this side starts the handshake; IPv6 as [ADDR]:PORT',
    validator: isWgSetting('Peer', 'Endpoint', 'HOST:PORT such as 198.18.0.1:51820'),
  })),
  allowedIps: () => placeholder('CIDR', Option.Array('--allowed-ips', [], {
    description: "The peer's addresses inside the tunnel, routed to it (repeatable, or comma-separated; 0.0.0.0/0 for everything)",
    validator: t.isArray(isWgSetting('Peer', 'AllowedIPs', 'CIDR[,CIDR...] such as 198.19.0.2/32')),
  })),
  persistentKeepalive: () => placeholder('SECONDS', Option.String('--persistent-keepalive', {
    description: 'Send a keepalive to the peer every SECONDS (1-65535; 25 keeps a NAT mapping open)',
    validator: isWgSetting('Peer', 'PersistentKeepalive', 'seconds, 1-65535'),
  })),
  presharedKeyFile: () => placeholder('FILE', Option.String('--preshared-key-file', {
    description: 'A preshared key for this peer, from a file (tunauth genpsk --output FILE; never on the command line)',
    validator: isWgSetting('Peer', 'PresharedKeyFile', 'a path'),
  })),
};

/** The values of the peer options, as a command holds them. */
export interface PeerOptionValues {
  endpoint: string | undefined;
  allowedIps: string[];
  persistentKeepalive: string | undefined;
  presharedKeyFile: string | undefined;
}

/** The peer options that were given, by name (tund new: they need --peer). */
export function peerOptionsGiven(v: PeerOptionValues): string[] {
  return [
    v.endpoint !== undefined ? '--endpoint' : '',
    v.allowedIps.length > 0 ? '--allowed-ips' : '',
    v.persistentKeepalive !== undefined ? '--persistent-keepalive' : '',
    v.presharedKeyFile !== undefined ? '--preshared-key-file' : '',
  ].filter(Boolean);
}

/** The [Peer] of PUBLICKEY with the options given (validated already). */
export function peerFromOptions(publicKey: string, v: PeerOptionValues): NewPeer {
  const endpoint = v.endpoint === undefined ? null : parseEndpoint(v.endpoint, null);
  const allowed = v.allowedIps.flatMap((a) => a.split(',').map((p) => p.trim()));
  const canonical = allowed.map((a) => {
    const p = parsePrefix(a);
    return p.ok ? p.cidr : a;
  });
  return {
    publicKey,
    presharedKey: v.presharedKeyFile === undefined ? null : { kind: 'file', path: v.presharedKeyFile, line: 0 },
    endpoint: endpoint?.ok ? { host: endpoint.host, port: endpoint.port } : null,
    allowedIps: [...new Set(canonical)],
    persistentKeepalive: v.persistentKeepalive === undefined || v.persistentKeepalive.toLowerCase() === 'off' ? 0 : Number(v.persistentKeepalive),
  };
}
