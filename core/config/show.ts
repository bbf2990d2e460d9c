// `tund showconf`: the effective configuration of a session as tund.conf(5) text, every key with
// the value the session uses (defaults filled in), as `wg showconf` prints an interface. Keys that
// do not apply are left out (a client's Transport: the server chooses it). Reading the output back
// gives the same configuration. The secret itself lives in SecretFile and is never printed.
import { formatEndpoint } from '../net.js';
import { formatWsEndpoint } from '../vpnws/url.js';
import { renderSessionConfig, type DraftEntry } from './render.js';
import type { Compression, SessionConfig } from './types.js';

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

function compression(c: Compression): string {
  return c.kind === 'none' ? 'no' : `${c.kind}:${c.level}`;
}

/** The vpn-ws keys (tund.conf(5) VPN-WS): the URL as written, the TLS files, proxy, user, path. */
function showVpnWs(c: SessionConfig, session: DraftEntry[], entry: (key: string, value: string | number) => DraftEntry): void {
  const s = c.session;
  const v = s.vpnws;
  if (s.role === 'client' && v.url) session.push(entry('Endpoint', formatWsEndpoint(v.url)));
  if (s.role === 'server') session.push(entry('Listen', formatEndpoint(s.listen.host, s.listen.port)));
  if (s.role === 'server' && v.path !== null) session.push(entry('Path', v.path));
  if (s.role === 'client' && v.proxy) session.push(entry('Proxy', `http://${formatEndpoint(v.proxy.host, v.proxy.port)}`));
  if (s.role === 'client' && v.proxyUser !== null) session.push(entry('ProxyUser', v.proxyUser), entry('ProxySecretFile', v.proxySecretFile));
  if (s.role === 'client' && v.user !== null) session.push(entry('User', v.user));
  if (s.role === 'client' && v.ca !== null) session.push(entry('CA', v.ca));
  if (v.certificate !== null) session.push(entry('Certificate', v.certificate));
  if (v.privateKey !== null) session.push(entry('PrivateKey', v.privateKey));
  if (s.role === 'server' && v.clientCa !== null) session.push(entry('ClientCA', v.clientCa));
}

/** The URL a WireGuard session over WebSocket dials (its first peer with one), or null. */
function wgWebSocketUrl(c: SessionConfig): string | null {
  const url = c.wireguard?.peers.find((p) => p.webSocket)?.webSocket;
  return url ? formatWsEndpoint(url) : null;
}

export function showConfig(c: SessionConfig): string {
  const s = c.session;
  const d = c.device;
  const r = c.route;
  const entry = (key: string, value: string | number): DraftEntry => ({ key, value: String(value) });
  const session: DraftEntry[] = [entry('Protocol', s.protocol), entry('Role', s.role)];
  const vpnws = s.protocol === 'vpn-ws';
  if (vpnws) showVpnWs(c, session, entry);
  // each role has its own address key; the other one would only be warned about
  else if (s.role === 'client') session.push(entry('Endpoint', wgWebSocketUrl(c) ?? formatEndpoint(s.endpoint!.host, s.endpoint!.port)));
  else session.push(entry('Listen', formatEndpoint(s.listen.host, s.listen.port)));
  if (!vpnws) session.push(entry('Host', s.host));
  // what a VTun server decides for both ends; a client's file names only what it requires of the
  // server (tund.conf(5), A client's requirements), so only those are printed for a client
  // (NatHack needs udp written down, even in a client's file)
  const required = s.explicit ?? { encrypt: false, compress: false, transport: false, mode: false };
  const server = s.role === 'server';
  if (!vpnws) {
    // (WireGuard over WebSocket: session.transport says tcp, what it rides on)
    const transport = c.wireguard?.interface.transport ?? s.transport;
    if (server || s.natHack || required.transport || transport === 'websocket') session.push(entry('Transport', transport));
    if (server || required.encrypt) session.push(entry('Encrypt', s.cipher));
    if (server || required.compress) session.push(entry('Compress', compression(s.compression)));
  }
  const keepalive = entry('Keepalive', s.keepalive.enabled ? `${s.keepalive.interval}:${s.keepalive.count}` : 'no');
  if (s.role === 'client' && !vpnws) keepalive.comment = 'the server chooses Multi, and what this file does not require of it';
  session.push(keepalive, entry('Persist', s.persist));
  if (s.role === 'server' && !vpnws) session.push(entry('Multi', s.multi));
  session.push(entry('Timeout', s.timeout));
  if (!vpnws) session.push(entry('NatHack', yesNo(s.natHack)), entry('Speed', `${s.speed.out}:${s.speed.in}`), entry('SslAuth', yesNo(s.sslAuth)));
  session.push({ key: 'SecretFile', value: s.secretFile, comment: 'the secret itself is never shown' });
  // a VTun client's Mode, like its Encrypt, is a requirement on the server only when its file sets it
  const modeRequired = vpnws || s.role === 'server' || (s.explicit?.mode ?? false);
  const device: DraftEntry[] = [...(modeRequired ? [entry('Mode', d.mode)] : []), entry('Name', d.name)];
  for (const a of d.addresses) device.push(entry('Address', a));
  if (d.peer !== null) device.push(entry('Peer', d.peer));
  if (d.mtu !== null) device.push(entry('MTU', d.mtu));
  if (d.mode === 'tun' || d.mode === 'tap') device.push(entry('MultiQueue', yesNo(d.multiQueue)));
  if (d.mac !== null) device.push(entry('MAC', d.mac));
  if (d.bridge !== null) device.push(entry('Bridge', d.bridge));
  if (d.program !== null) device.push(entry('Program', d.program));
  // a vpn-ws hub has its own TAP only when the file has a [Device] section
  if (vpnws && s.role === 'server' && !s.vpnws.ownDevice) device.length = 0;
  const route: DraftEntry[] = [entry('Mode', r.mode)];
  if (r.mode !== 'none') {
    for (const p of r.allowedIps) route.push(entry('AllowedIPs', p));
    for (const p of r.exclude) route.push(entry('Exclude', p));
    route.push(entry('Table', r.table));
    if (r.metric !== null) route.push(entry('Metric', r.metric));
  }
  for (const a of r.dns) route.push(entry('DNS', a));
  for (const a of r.dnsDomains) route.push(entry('DNSDomains', a));
  const hooks: DraftEntry[] = [...c.hooks.up.map((h) => entry('Up', h)), ...c.hooks.down.map((h) => entry('Down', h))];
  return renderSessionConfig({
    header: [`session "${c.name}": the effective configuration of ${c.file}`, 'every key with the value the session uses (defaults filled in); see tund.conf(5)'],
    sections: [
      { name: 'Session', entries: session },
      { name: 'Device', entries: device },
      { name: 'Route', entries: route },
      { name: 'Hooks', entries: hooks },
    ],
  });
}
