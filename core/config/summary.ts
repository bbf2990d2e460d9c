// One line about a session configuration, for `tund check` and `tund import-vtun`.
import { formatEndpoint } from '../net.js';
import type { SessionConfig } from './types.js';

export function summarize(c: SessionConfig): string {
  const s = c.session;
  const where = s.role === 'client' ? `to ${formatEndpoint(s.endpoint!.host, s.endpoint!.port)}` : `on ${formatEndpoint(s.listen.host, s.listen.port)}`;
  const dev = c.device.mode === 'pipe' || c.device.mode === 'tty' ? `${c.device.mode} program` : `${c.device.mode} device ${c.device.name}`;
  return `${s.role}, ${s.protocol} over ${s.transport} ${where}, ${dev}`;
}
