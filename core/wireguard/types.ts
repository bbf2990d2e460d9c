// The state of a WireGuard device as wg(8) sees it: what `wg showconf` prints and what the
// userspace API's `get=1` returns. Filled by whoever runs the device (the session), read by
// render.ts (showconf text) and uapi.ts (the protocol).

export interface WgEndpoint {
  /** An IP address (IPv6 without brackets) or, in a config file, a host name. */
  host: string;
  port: number;
}

export interface WgPeerState {
  publicKey: Buffer;
  /** null: none (32 zero bytes on the wire). */
  presharedKey: Buffer | null;
  endpoint: WgEndpoint | null;
  /** ADDRESS/LEN, network form, in the order the peer holds them. */
  allowedIps: string[];
  /** Seconds; 0 = off. */
  persistentKeepalive: number;
  /** Wall-clock time of the last completed handshake, or null for never. */
  lastHandshake: { seconds: number; nanoseconds: number } | null;
  rxBytes: number;
  txBytes: number;
}

export interface WgDeviceState {
  /** null: no private key set. */
  privateKey: Buffer | null;
  /** The port the device listens on (0: not yet bound). */
  listenPort: number;
  /** 0 = off. */
  fwMark: number;
  peers: WgPeerState[];
}
