// `tund showconf`: the effective configuration of a session as tund.conf(5) text, every key with
// the value the session uses (defaults filled in), as `wg showconf` prints an interface. Keys that
// do not apply are left out (a client's Transport: the server chooses it). Reading the output back
// gives the same configuration. The secret itself lives in SecretFile and is never printed.
import { formatEndpoint } from '../net.js';
import { renderSessionConfig, type DraftEntry } from './render.js';
import type { Compression, SessionConfig } from './types.js';

const yesNo = (b: boolean) => (b ? 'yes' : 'no');

function compression(c: Compression): string {
  return c.kind === 'none' ? 'no' : `${c.kind}:${c.level}`;
}

export function showConfig(c: SessionConfig): string {
  const s = c.session;
  const d = c.device;
  const r = c.route;
  const entry = (key: string, value: string | number): DraftEntry => ({ key, value: String(value) });
  const session: DraftEntry[] = [entry('Protocol', s.protocol), entry('Role', s.role)];
  // each role has its own address key; the other one would only be warned about
  if (s.role === 'client') session.push(entry('Endpoint', formatEndpoint(s.endpoint!.host, s.endpoint!.port)));
  else session.push(entry('Listen', formatEndpoint(s.listen.host, s.listen.port)));
  session.push(entry('Host', s.host));
  // what a VTun server decides for both ends; a client's own values are not used
  // (NatHack needs udp written down, even in a client's file)
  if (s.role === 'server' || s.natHack) session.push(entry('Transport', s.transport));
  if (s.role === 'server') session.push(entry('Encrypt', s.cipher), entry('Compress', compression(s.compression)));
  const keepalive = entry('Keepalive', s.keepalive.enabled ? `${s.keepalive.interval}:${s.keepalive.count}` : 'no');
  if (s.role === 'client') keepalive.comment = 'Transport, Encrypt, Compress and Multi are the server\'s choice';
  session.push(keepalive, entry('Persist', s.persist));
  if (s.role === 'server') session.push(entry('Multi', s.multi));
  session.push(
    entry('Timeout', s.timeout),
    entry('NatHack', yesNo(s.natHack)),
    entry('Speed', `${s.speed.out}:${s.speed.in}`),
    entry('SslAuth', yesNo(s.sslAuth)),
    { key: 'SecretFile', value: s.secretFile, comment: 'the secret itself is never shown' },
  );
  const device: DraftEntry[] = [entry('Mode', d.mode), entry('Name', d.name)];
  for (const a of d.addresses) device.push(entry('Address', a));
  if (d.peer !== null) device.push(entry('Peer', d.peer));
  if (d.mtu !== null) device.push(entry('MTU', d.mtu));
  if (d.mode === 'tun' || d.mode === 'tap') device.push(entry('MultiQueue', yesNo(d.multiQueue)));
  if (d.program !== null) device.push(entry('Program', d.program));
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
