// The protocols a session can speak, by [Session] Protocol.
import { TundError } from '../errors.js';
import { vpnwsProtocol } from '../vpnws/protocol.js';
import { vtunProtocol } from '../vtun/protocol.js';
import type { Protocol } from './protocol.js';

const PROTOCOLS: Record<string, Protocol> = { vtun: vtunProtocol, 'vpn-ws': vpnwsProtocol };

export function protocolFor(name: string): Protocol {
  const protocol = PROTOCOLS[name];
  if (!protocol) throw new TundError(`unknown protocol "${name}" (expected ${Object.keys(PROTOCOLS).join(', ')})`);
  return protocol;
}
