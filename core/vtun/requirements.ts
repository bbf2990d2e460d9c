// A VTun client's own settings are requirements, not wishes (issue 13, fix 1). The server decides
// the link's parameters and says so in OK FLAGS (docs/vtun-protocol.md §5), and VTun's handshake
// never proves that the server knows the password: anything that can answer on the endpoint can
// answer `OK FLAGS: <TuK>` and receive the client's traffic in clear. So a client refuses a server
// whose offer differs from what its file sets (Encrypt, Compress, Transport, [Device] Mode). A real
// vtund or tund server offers exactly its own config, which matches the client's when the two are
// set up alike, so nothing changes between honest peers. Encrypt or Compress unset (or `no`)
// requires nothing of that key: today's behaviour, with the accepted offer logged.
import type { SessionConfig } from '../config/types.js';
import { CIPHER_NUMBERS, cipherName, type VtunFlags, type VtunType } from './flags.js';

function compressionText(c: VtunFlags['compression']): string {
  return c.kind === 'none' ? 'no' : `${c.kind}:${c.level}`;
}

function modeOf(type: VtunType): string {
  return type === 'ether' ? 'tap' : type;
}

/**
 * The reasons an offer falls short of the client's config, one per key, in the order
 * Encrypt, Compress, Transport, Mode; empty when the offer is acceptable.
 */
export function offerProblems(config: SessionConfig, offer: VtunFlags): string[] {
  const s = config.session;
  const explicit = s.explicit ?? { encrypt: false, compress: false, transport: false, mode: false };
  const problems: string[] = [];
  if (explicit.encrypt && s.cipher !== 'no') {
    const wanted = CIPHER_NUMBERS[s.cipher];
    if (offer.cipher !== wanted) {
      problems.push(offer.cipher === 0
        ? `server offered no encryption; this session requires ${s.cipher}`
        : `server offered encryption ${cipherName(offer.cipher)}; this session requires ${s.cipher}`);
    }
  }
  // Compress = no asks for nothing: a server that compresses offers more, not less
  if (explicit.compress && s.compression.kind !== 'none') {
    const wanted = compressionText(s.compression);
    const got = compressionText(offer.compression);
    if (wanted !== got) problems.push(got === 'no' ? `server offered no compression; this session requires ${wanted}` : `server offered compression ${got}; this session requires ${wanted === 'no' ? 'none' : wanted}`);
  }
  if (explicit.transport && offer.transport !== s.transport) {
    problems.push(`server offered transport ${offer.transport}; this session requires ${s.transport}`);
  }
  if (explicit.mode && modeOf(offer.type) !== config.device.mode) {
    problems.push(`server offered device type ${modeOf(offer.type)}; this session requires Mode = ${config.device.mode}`);
  }
  return problems;
}

/** The log line of a client without Encrypt: what it accepted, in words. */
export function acceptedOfferText(offer: VtunFlags): string {
  const cipher = offer.cipher === 0 ? 'no encryption' : `encryption ${cipherName(offer.cipher)}`;
  const compression = offer.compression.kind === 'none' ? 'no compression' : `compression ${compressionText(offer.compression)}`;
  return `${cipher}, ${compression}, transport ${offer.transport}, device type ${modeOf(offer.type)}`;
}
