// The protocols a session can speak, by [Session] Protocol (a wg-quick file is WireGuard).
import { TundError } from '../errors.js';
import { vpnwsProtocol } from '../vpnws/protocol.js';
import { vtunProtocol } from '../vtun/protocol.js';
import { wireguardProtocol } from '../wireguard/protocol.js';
import type { AnyProtocol, Protocol } from './protocol.js';

const PROTOCOLS: Record<string, AnyProtocol> = { vtun: vtunProtocol, 'vpn-ws': vpnwsProtocol, wireguard: wireguardProtocol };

export function protocolFor(name: string): AnyProtocol {
  const protocol = PROTOCOLS[name];
  if (!protocol) throw new TundError(`unknown protocol "${name}" (expected ${Object.keys(PROTOCOLS).join(', ')})`);
  return protocol;
}

/** A protocol with connections that a server accepts (`tund serve`, systemd Accept=yes). */
export function connectionProtocolFor(name: string): Protocol {
  const protocol = protocolFor(name);
  if (protocol.kind === 'interface') throw new TundError(`${name} sessions have no connections to accept: run them as "tund NAME"`);
  return protocol;
}
