// The protocols a session can speak, by [Session] Protocol (a wg-quick file is WireGuard). Each is
// imported when a session asks for it: a session process loads only its own protocol's modules
// (docs/benchmark.md, "Memory").
import { TundError } from '../errors.js';
import type { AnyProtocol, Protocol } from './protocol.js';

const PROTOCOLS: Record<string, () => Promise<AnyProtocol>> = {
  vtun: async () => (await import('../vtun/protocol.js')).vtunProtocol,
  'vpn-ws': async () => (await import('../vpnws/protocol.js')).vpnwsProtocol,
  wireguard: async () => (await import('../wireguard/protocol.js')).wireguardProtocol,
};

export async function protocolFor(name: string): Promise<AnyProtocol> {
  const load = Object.hasOwn(PROTOCOLS, name) ? PROTOCOLS[name] : undefined;
  if (!load) throw new TundError(`unknown protocol "${name}" (expected ${Object.keys(PROTOCOLS).join(', ')})`);
  return load();
}

/** A protocol with connections that a server accepts (`tund serve`, systemd Accept=yes). */
export async function connectionProtocolFor(name: string): Promise<Protocol> {
  const protocol = await protocolFor(name);
  if (protocol.kind === 'interface') throw new TundError(`${name} sessions have no connections to accept: run them as "tund NAME"`);
  return protocol;
}
