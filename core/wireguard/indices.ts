// The device's table of local indices: the random 32-bit "sender index" each handshake announces
// and the peer puts as "receiver index" on every message back (types 2, 3 and 4). One table per
// device, so that an index names one peer; indices are random so they reveal nothing.
import { randomUint32 } from '../crypto.js';
import type { PeerId } from './dataplane.js';

export class IndexTable {
  private readonly owners = new Map<number, PeerId>();

  constructor(private readonly random: () => number = randomUint32) {}

  /** A new index for the peer, not in use by any peer. */
  allocate(peer: PeerId): number {
    for (;;) {
      const index = this.random() >>> 0;
      if (!this.owners.has(index)) {
        this.owners.set(index, peer);
        return index;
      }
    }
  }

  free(index: number | null | undefined): void {
    if (index !== null && index !== undefined) this.owners.delete(index);
  }

  lookup(index: number): PeerId | undefined {
    return this.owners.get(index);
  }

  get size(): number {
    return this.owners.size;
  }
}
