// Text forms of WireGuard configuration:
//  - renderShowconf: a device's state exactly as `wg showconf IFNAME` prints it (the format
//    `wg setconf`/`wg syncconf` read back);
//  - renderWgQuick: a parsed wg-quick file written back (SaveConfig, tund new, tund peer add),
//    tund's additions (PrivateKeyFile, PresharedKeyFile) included, comments not kept.
import type { KeySource, WgQuickConfig, WgQuickPeer } from './conf.js';
import { keyToBase64 } from './keys.js';
import { formatEndpoint } from '../net.js';
import type { WgDeviceState } from './types.js';
import { formatWsEndpoint } from '../vpnws/url.js';


export function renderShowconf(state: WgDeviceState): string {
  const lines = ['[Interface]'];
  if (state.listenPort) lines.push(`ListenPort = ${state.listenPort}`);
  if (state.fwMark) lines.push(`FwMark = 0x${state.fwMark.toString(16)}`);
  if (state.privateKey) lines.push(`PrivateKey = ${keyToBase64(state.privateKey)}`);
  lines.push('');
  state.peers.forEach((p, i) => {
    lines.push('[Peer]', `PublicKey = ${keyToBase64(p.publicKey)}`);
    if (p.presharedKey && p.presharedKey.some((b) => b !== 0)) lines.push(`PresharedKey = ${keyToBase64(p.presharedKey)}`);
    if (p.allowedIps.length > 0) lines.push(`AllowedIPs = ${p.allowedIps.join(', ')}`);
    if (p.endpoint) lines.push(`Endpoint = ${formatEndpoint(p.endpoint.host, p.endpoint.port)}`);
    if (p.persistentKeepalive) lines.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
    if (i < state.peers.length - 1) lines.push('');
  });
  return `${lines.join('\n')}\n`;
}

function keyLines(src: KeySource | null, inlineKey: string, fileKey: string): string[] {
  if (!src) return [];
  return src.kind === 'inline' ? [`${inlineKey} = ${keyToBase64(src.key)}`] : [`${fileKey} = ${src.path}`];
}

export function renderWgQuick(config: WgQuickConfig): string {
  const i = config.interface;
  const lines = ['[Interface]'];
  lines.push(...keyLines(i.privateKey, 'PrivateKey', 'PrivateKeyFile'));
  if (i.listenPort !== null) lines.push(`ListenPort = ${i.listenPort}`);
  if (i.fwMark) lines.push(`FwMark = 0x${i.fwMark.toString(16)}`);
  if (i.addresses.length) lines.push(`Address = ${i.addresses.join(', ')}`);
  if (i.dns.length || i.dnsSearch.length) lines.push(`DNS = ${[...i.dns, ...i.dnsSearch].join(', ')}`);
  if (i.mtu !== null) lines.push(`MTU = ${i.mtu}`);
  if (i.table.kind !== 'auto') lines.push(`Table = ${i.table.kind === 'off' ? 'off' : i.table.table}`);
  for (const [key, list] of [['PreUp', i.preUp], ['PostUp', i.postUp], ['PreDown', i.preDown], ['PostDown', i.postDown]] as const) {
    for (const command of list) lines.push(`${key} = ${command}`);
  }
  if (i.saveConfig) lines.push('SaveConfig = true');
  if (i.transport !== 'udp') lines.push(`Transport = ${i.transport}`);
  const w = i.webSocket;
  const proxy = w.proxy ? `http://${formatEndpoint(w.proxy.host, w.proxy.port)}` : null;
  for (const [key, value] of [['WebSocketPath', w.path], ['Certificate', w.certificate], ['CertificateKey', w.certificateKey], ['ClientCA', w.clientCa], ['CA', w.ca], ['Proxy', proxy], ['ProxyUser', w.proxyUser], ['ProxySecretFile', w.proxyUser !== null ? w.proxySecretFile : null]] as const) {
    if (value !== null) lines.push(`${key} = ${value}`);
  }
  for (const p of config.peers) lines.push('', ...peerLines(p));
  return `${lines.join('\n')}\n`;
}

/** One [Peer] section (tund peer add appends it to a file). */
export function renderWgQuickPeer(peer: Omit<WgQuickPeer, 'line' | 'webSocket'> & { webSocket?: WgQuickPeer['webSocket'] }): string {
  return `${peerLines(peer).join('\n')}\n`;
}

function peerLines(p: Omit<WgQuickPeer, 'line' | 'webSocket'> & { webSocket?: WgQuickPeer['webSocket'] }): string[] {
  const lines = ['[Peer]', `PublicKey = ${p.publicKey}`];
  lines.push(...keyLines(p.presharedKey, 'PresharedKey', 'PresharedKeyFile'));
  if (p.allowedIps.length) lines.push(`AllowedIPs = ${p.allowedIps.join(', ')}`);
  if (p.webSocket) lines.push(`Endpoint = ${formatWsEndpoint(p.webSocket)}`);
  else if (p.endpoint) lines.push(`Endpoint = ${formatEndpoint(p.endpoint.host, p.endpoint.port)}`);
  if (p.persistentKeepalive) lines.push(`PersistentKeepalive = ${p.persistentKeepalive}`);
  return lines;
}
