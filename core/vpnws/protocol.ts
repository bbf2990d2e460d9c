// vpn-ws through the session's protocol interface (core/session/protocol.ts, docs/vpn-ws.md).
// The client dials: the TAP device first (its MAC goes into X-vpn-ws-MAC), then connect, proxy,
// TLS and upgrade on a worker thread of the addon (dial.ts), then the link on the engine
// (link.ts). The hub serves many connections in one native loop (hub.ts, serveAll) and does not
// take connections one by one through authenticate().
import fs from 'node:fs';
import { TundError } from '../errors.js';
import { ExitCode } from '../exit.js';
import type { AcceptOptions, Authenticated, Link, LinkContext, Protocol } from '../session/protocol.js';
import type { StreamSocket } from '../socket.js';
import { describeHub, dialHub, readProxyCredentials } from '../websocket/dial.js';
import { startHub } from './hub.js';
import { vpnwsKeepalive, WsClientLink } from './link.js';

/** Ethernet header (14) and a VLAN tag (4) on top of the device MTU. */
const FRAME_OVERHEAD = 18;

/** The basic-auth password: the secret file's content without its final line end. */
export function basicAuthPassword(secret: Buffer): string {
  return secret.toString('utf8').replace(/\r?\n$/, '');
}

function macOf(ifname: string): string | null {
  try {
    return fs.readFileSync(`/sys/class/net/${ifname}/address`, 'utf8').trim().toLowerCase();
  } catch {
    return null;
  }
}

export const vpnwsProtocol: Protocol = {
  name: 'vpn-ws',
  notice: null,

  async dial(ctx: LinkContext): Promise<Link> {
    const s = ctx.config.session;
    const url = s.vpnws.url;
    if (!url) throw new TundError(`${ctx.config.name}: a vpn-ws client needs [Session] Endpoint = ws://... or wss://...`, { exitCode: ExitCode.badConfig });
    const device = await ctx.device('tap');
    const ifname = device.info.ifname;
    const mtu = device.info.mtu ?? 1500;
    const keepalive = vpnwsKeepalive(s.keepalive);
    ctx.handshaking(s.vpnws.proxy ? { address: s.vpnws.proxy.host, port: s.vpnws.proxy.port } : { address: url.host, port: url.port });
    const connection = await dialHub({
      endpoint: url,
      proxy: s.vpnws.proxy,
      caFile: s.vpnws.ca,
      certFile: s.vpnws.certificate,
      keyFile: s.vpnws.privateKey,
      mac: macOf(ifname),
      bridge: ctx.config.device.bridge !== null,
      credentials: s.vpnws.user !== null ? { user: s.vpnws.user, password: basicAuthPassword(ctx.secret) } : null,
      proxyCredentials: s.vpnws.proxy ? await readProxyCredentials(ctx.config.name, s.vpnws.proxyUser, s.vpnws.proxySecretFile) : null,
      timeoutMs: s.timeout * 1000,
      userTimeoutMs: keepalive.pingIdleMs * keepalive.deadAfterPings,
      signal: ctx.signal,
    });
    const parameters = connection.tlsProtocol ? `${connection.tlsProtocol}${connection.peerSubject ? ` ${connection.peerSubject}` : ''}` : 'ws';
    ctx.log(`connected to ${describeHub(url)}${s.vpnws.proxy ? ` through ${s.vpnws.proxy.host}:${s.vpnws.proxy.port}` : ''} (${parameters})`);
    let link: WsClientLink;
    try {
      link = new WsClientLink({
        deviceFd: device.device.fd,
        connection,
        maxMessage: mtu + FRAME_OVERHEAD,
        endpoint: { address: url.host, port: url.port },
        localEnd: null,
        parameters,
        latestHandshake: new Date().toISOString(),
        ...keepalive,
      });
      link.start();
    } catch (error) {
      connection.close();
      throw new TundError(`cannot start the vpn-ws link: ${(error as Error).message}`);
    }
    return link;
  },

  async authenticate(socket: StreamSocket, _options: AcceptOptions): Promise<Authenticated> {
    socket.close();
    throw new TundError('a vpn-ws hub serves its connections itself (serveAll), not one by one');
  },

  serveAll: startHub,
};
