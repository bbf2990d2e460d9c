// FakeTun: a Device that lives in memory, for unit tests. The test plays the kernel: inject()
// queues packets for the program to read (what the kernel would route into the device), and
// written() / takeWritten() return what the program wrote (what it hands back to the kernel).
// Like the real device it never blocks: readBatch returns 0 when nothing is queued, and writeBatch
// stops early when the (optional) write capacity is exhausted, as EAGAIN would make it.
import { TundError } from '../errors.js';
import type { Device, DeviceKind } from './device.js';

export interface FakeTunOptions {
  name?: string;
  kind?: DeviceKind;
  mtu?: number;
  batchSize?: number;
  /** How many packets writeBatch accepts before it behaves as if the queue were full. */
  writeCapacity?: number;
}

export class FakeTun implements Device {
  readonly name: string;
  readonly kind: DeviceKind;
  readonly fd = -1;
  private readonly mtuValue: number;
  private readonly batch: number;
  private readonly inbound: Buffer[] = [];
  private readonly outbound: Buffer[] = [];
  private capacity: number;
  private isClosed = false;

  constructor(options: FakeTunOptions = {}) {
    this.name = options.name ?? 'fake0';
    this.kind = options.kind ?? 'tun';
    this.mtuValue = options.mtu ?? 1500;
    this.batch = options.batchSize ?? 32;
    this.capacity = options.writeCapacity ?? Number.POSITIVE_INFINITY;
  }

  get closed(): boolean {
    return this.isClosed;
  }

  /** Packets waiting to be read. */
  get pending(): number {
    return this.inbound.length;
  }

  /** Queue packets for readBatch (copies them). */
  inject(...packets: Buffer[]): void {
    this.check();
    for (const p of packets) this.inbound.push(Buffer.from(p));
  }

  /** Everything written so far (not removed). */
  written(): Buffer[] {
    return [...this.outbound];
  }

  /** Everything written so far, removed from the fake. */
  takeWritten(): Buffer[] {
    return this.outbound.splice(0, this.outbound.length);
  }

  /** Allow `n` more packets to be written (after a simulated full queue). */
  setWriteCapacity(n: number): void {
    this.capacity = n;
  }

  readBatch(bufs: Buffer[], sizes: Int32Array, offset: number): number {
    this.check();
    checkOffset(offset, bufs.length);
    if (sizes.length < bufs.length) throw new RangeError('readBatch: sizes is shorter than bufs');
    let n = 0;
    for (let i = offset; i < bufs.length && this.inbound.length > 0; i++) {
      const packet = this.inbound.shift()!;
      const buf = bufs[i]!;
      // A real read truncates a packet that does not fit the buffer.
      const copied = packet.copy(buf, 0, 0, Math.min(packet.length, buf.length));
      sizes[i] = copied;
      n++;
    }
    return n;
  }

  writeBatch(bufs: Buffer[], offset: number): number {
    this.check();
    checkOffset(offset, bufs.length);
    let n = 0;
    for (let i = offset; i < bufs.length && this.capacity > 0; i++) {
      const packet = bufs[i]!;
      if (packet.length > this.mtuValue + (this.kind === 'tap' ? 14 : 0)) {
        if (n > 0) break;
        throw new TundError(`${this.name}: packet of ${packet.length} bytes exceeds the MTU (${this.mtuValue})`);
      }
      this.outbound.push(Buffer.from(packet));
      this.capacity--;
      n++;
    }
    return n;
  }

  mtu(): number {
    this.check();
    return this.mtuValue;
  }

  batchSize(): number {
    return this.batch;
  }

  close(): void {
    this.isClosed = true;
    this.inbound.length = 0;
  }

  private check(): void {
    if (this.isClosed) throw new TundError(`${this.name}: device is closed`);
  }
}

function checkOffset(offset: number, length: number): void {
  if (!Number.isInteger(offset) || offset < 0 || offset > length) throw new RangeError('offset out of range');
}
