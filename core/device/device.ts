// The device as a small interface that reads and writes batches of packets, shaped like
// wireguard-go's tun.Device. The real one is TunDevice (tun.ts, over the addon); FakeTun (fake.ts)
// has the same shape for unit tests.

export type DeviceKind = 'tun' | 'tap';

export interface Device {
  readonly name: string;
  readonly kind: DeviceKind;
  /** The file descriptor, handed to the native packet pump. -1 for fakes. */
  readonly fd: number;
  /**
   * Reads up to bufs.length - offset packets into bufs[offset..], one packet per buffer, and
   * stores each length in sizes[offset + i]. Returns the number read; 0 when nothing is ready.
   */
  readBatch(bufs: Buffer[], sizes: Int32Array, offset: number): number;
  /** Writes bufs[offset..] as one packet each; returns how many were written. */
  writeBatch(bufs: Buffer[], offset: number): number;
  mtu(): number;
  /** How many packets one readBatch can return at most (wireguard-go's BatchSize). */
  batchSize(): number;
  close(): void;
}
