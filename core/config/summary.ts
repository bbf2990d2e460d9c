// The one-line description of a session that `tund check` and `tund import-vtun` print.
import { formatEndpoint } from '../net.js';
import type { SessionConfig } from './types.js';

/**
 * "server, vtun over udp on 0.0.0.0:5000, tun device office". A VTun client does not choose its
 * transport: the server's flags do (its own Transport is not used), so a client's line says so.
 */
export function summarize(c: SessionConfig): string {
  const s = c.session;
  if (c.wireguard) {
    const peers = c.wireguard.peers.length;
    const port = c.wireguard.interface.listenPort;
    return `wireguard, device ${c.device.name}, ${port === null ? 'any UDP port' : `UDP port ${port}`}, ${peers} peer${peers === 1 ? '' : 's'}`;
  }
  const dev = c.device.mode === 'pipe' || c.device.mode === 'tty' ? `${c.device.mode} program` : `${c.device.mode} device ${c.device.name}`;
  if (s.role === 'client') return `client, ${s.protocol} to ${formatEndpoint(s.endpoint!.host, s.endpoint!.port)} (the server picks tcp or udp), ${dev}`;
  return `server, ${s.protocol} over ${s.transport} on ${formatEndpoint(s.listen.host, s.listen.port)}, ${dev}`;
}
