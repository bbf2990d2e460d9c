// The text of a new session file (tund new): a wg-quick file for WireGuard, the default, or a
// tund.conf(5) file for VTun, the migration path. Pure: the caller brings the key and writes.
import net from 'node:net';
import { formatEndpoint, type Endpoint } from '../net.js';
import type { WgQuickConfig, WgQuickPeer } from '../wireguard/conf.js';
import { renderWgQuick } from '../wireguard/render.js';
import { renderSessionConfig, type DraftEntry } from './render.js';

/** The peer of a new WireGuard file, or one `tund peer add` appends. */
export type NewPeer = Omit<WgQuickPeer, 'line' | 'webSocket'> & { webSocket?: WgQuickPeer['webSocket'] };

export interface NewWireguardSession {
  name: string;
  file: string;
  privateKey: Buffer;
  listenPort: number | null;
  /** ADDRESS/LEN, as given */
  addresses: string[];
  /** DNS servers and search domains, as wg-quick's DNS = takes them */
  dns: string[];
  mtu: number | null;
  peers: NewPeer[];
}

export function newWireguardText(s: NewWireguardSession): string {
  const config: WgQuickConfig = {
    file: s.file,
    name: s.name,
    interface: {
      line: 0,
      privateKey: { kind: 'inline', key: s.privateKey, line: 0 },
      listenPort: s.listenPort,
      fwMark: 0,
      addresses: s.addresses,
      // wg-quick's rule: an IP address is a server, anything else a search domain
      dns: s.dns.filter((d) => net.isIP(d) !== 0),
      dnsSearch: s.dns.filter((d) => net.isIP(d) === 0),
      mtu: s.mtu,
      table: { kind: 'auto' },
      preUp: [],
      postUp: [],
      preDown: [],
      postDown: [],
      saveConfig: false,
      transport: 'udp',
      webSocket: { path: null, certificate: null, certificateKey: null, clientCa: null, ca: null, proxy: null, proxyUser: null, proxySecretFile: '' },
    },
    peers: s.peers.map((p) => ({ ...p, webSocket: p.webSocket ?? null, line: 0 })),
  };
  const header = [
    `# tund session ${s.name}: WireGuard, a wg-quick(8) file (tund.conf(5), WIREGUARD).`,
    '# It holds the private key: keep it mode 0600. Add peers with "tund peer add".',
  ];
  return `${header.join('\n')}\n${renderWgQuick(config)}`;
}

export interface NewVtunSession {
  name: string;
  /** a client dials it; without one the session is a server */
  endpoint: Endpoint | null;
  listenPort: number | null;
  address: string | null;
  /** the other end's tunnel address */
  peerAddress: string | null;
  mtu: number | null;
}

export function newVtunText(s: NewVtunSession): string {
  const session: DraftEntry[] = s.endpoint
    ? [{ key: 'Role', value: 'client' }, { key: 'Endpoint', value: formatEndpoint(s.endpoint.host, s.endpoint.port) }]
    : [{ key: 'Role', value: 'server' }, { key: 'Listen', value: String(s.listenPort ?? 5000) }];
  const device: DraftEntry[] = [{ key: 'Mode', value: 'tun' }];
  if (s.address) device.push({ key: 'Address', value: s.address });
  if (s.peerAddress) device.push({ key: 'Peer', value: s.peerAddress });
  if (s.mtu !== null) device.push({ key: 'MTU', value: String(s.mtu) });
  return renderSessionConfig({
    header: [
      `tund session ${s.name}: VTun 3.0, for peers that speak only VTun (vtund); tund.conf(5).`,
      'VTun has no integrity or replay protection: prefer WireGuard ("tund new" without --protocol).',
      `The shared secret is in ${s.name}.secret: set it with "tunauth passwd ${s.name}".`,
    ],
    sections: [
      { name: 'Session', entries: session },
      { name: 'Device', entries: device },
    ],
  });
}
