// The vpn-ws hub as one link of a server session (docs/vpn-ws.md): the native hub
// (native/src/vpnws_hub.h) takes the session's listening socket and, if the session has a
// [Device] section, its own TAP device, and serves every client on one thread; JS logs what
// happens and reads the clients for status. The session stays `listening` while the hub runs.
import { native, type NativeWsHub, type WsHubClient, type WsHubEvent } from '../../native/index.js';
import { TundError } from '../errors.js';
import type { HubClientInfo } from '../status/types.js';
import type { Link, LinkContext, LinkCounters, LinkEnd, PeerStatus } from '../session/protocol.js';

/** Messages up to 64 KiB Ethernet frames between tund ends (vpn-ws clients send at most 1500). */
const HUB_MAX_MESSAGE = 65535 + 18;

export class HubLink implements Link {
  readonly ended: Promise<LinkEnd>;
  readonly localEnd = null;
  private resolveEnd!: (end: LinkEnd) => void;
  private done = false;
  private lastClients: WsHubClient[] = [];

  constructor(
    private readonly hub: NativeWsHub,
    private readonly log: (line: string) => void,
  ) {
    this.ended = new Promise((resolve) => (this.resolveEnd = resolve));
  }

  onEvent(e: WsHubEvent): void {
    if (e.type === 'ended') {
      this.finish({ reason: 'device_error', message: e.message });
      return;
    }
    this.log(`client ${e.remote}: ${e.type}${e.message ? ` (${e.message})` : ''}`);
  }

  /** the hub itself is not a peer: the session stays `listening` */
  watchReadiness(listener: (ready: boolean) => void): void {
    listener(false);
  }

  peers(): PeerStatus[] {
    return [];
  }

  clients(): HubClientInfo[] {
    if (!this.done) {
      try {
        this.lastClients = this.hub.clients();
      } catch {
        // stopped meanwhile
      }
    }
    return this.lastClients.map((c) => ({
      id: c.id,
      remote: c.remote,
      macs: c.macs,
      bridge: c.bridge,
      tls_subject: c.tlsSubject || null,
      user: c.user || null,
      path: c.path,
      connected_since: new Date(c.connectedMs).toISOString(),
      rx_bytes: c.rxBytes,
      tx_bytes: c.txBytes,
      rx_packets: c.rxFrames,
      tx_packets: c.txFrames,
      rx_dropped: c.rxDropped,
      tx_dropped: c.txDropped,
    }));
  }

  counters(): LinkCounters {
    const all = this.clients();
    const sum = (k: 'rx_bytes' | 'tx_bytes' | 'rx_packets' | 'tx_packets') => all.reduce((n, c) => n + c[k], 0);
    return { counters: { rx_bytes: sum('rx_bytes'), tx_bytes: sum('tx_bytes'), rx_packets: sum('rx_packets'), tx_packets: sum('tx_packets') }, msSinceRx: -1 };
  }

  async close(reason: string): Promise<void> {
    this.finish({ reason: 'stopped', message: reason });
  }

  private finish(end: LinkEnd): void {
    if (this.done) return;
    this.clients();
    this.done = true;
    try {
      this.hub.stop();
    } catch {
      // stopped already
    }
    this.resolveEnd(end);
  }
}

/** Starts the hub on the session's listening socket (and its TAP when it has a [Device] section). */
export async function startHub(listenFd: number, ctx: LinkContext): Promise<Link> {
  const s = ctx.config.session;
  const device = s.vpnws.ownDevice ? await ctx.device('tap') : null;
  let link: HubLink | null = null;
  let hub: NativeWsHub;
  try {
    hub = new (native().WsHub)(
      {
        listenFd,
        tapFd: device ? device.device.fd : -1,
        path: s.vpnws.path ?? '',
        certFile: s.vpnws.certificate ?? '',
        keyFile: s.vpnws.privateKey ?? '',
        clientCaFile: s.vpnws.clientCa ?? '',
        maxMessage: HUB_MAX_MESSAGE,
        handshakeTimeoutMs: s.timeout * 1000,
      },
      (e) => link?.onEvent(e),
    );
  } catch (error) {
    throw new TundError(`${ctx.config.name}: cannot start the vpn-ws hub: ${(error as Error).message}`);
  }
  link = new HubLink(hub, ctx.log);
  hub.start();
  const tls = s.vpnws.certificate ? `TLS${s.vpnws.clientCa ? ', client certificates' : ''}` : 'plain HTTP';
  ctx.log(`vpn-ws hub running (${tls}, path ${s.vpnws.path ?? 'any'}${device ? `, own TAP ${device.info.ifname}` : ''})`);
  return link;
}
