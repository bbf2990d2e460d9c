// A client's WebSocket connection (a vpn-ws client to its hub, a WireGuard interface over
// Transport = websocket to its peer): name resolution here, everything else on a worker thread of
// the addon (native/src/vpnws_dial.h: TCP connect, HTTP CONNECT through a proxy, TLS, the
// WebSocket upgrade). What comes back is a connection the engine takes as it is: no byte of the
// tunnel is ever read by JS. Shared by both protocols, so it lives outside their directories.
import net from 'node:net';
import { native, type NativeWsConnection, type WsDialError } from '../../native/index.js';
import { readSecretFile } from '../config/load.js';
import type { SessionConfig } from '../config/types.js';
import { TundError } from '../errors.js';
import { ExitCode } from '../exit.js';
import { lookupHost } from '../net.js';
import { connectAuthority, formatWsEndpoint, type ProxyEndpoint, type WsEndpoint } from '../vpnws/url.js';

export interface DialOptions {
  endpoint: WsEndpoint;
  proxy: ProxyEndpoint | null;
  /** wss://: a CA file instead of the system CAs, a client certificate and its key */
  caFile: string | null;
  certFile: string | null;
  keyFile: string | null;
  /** X-vpn-ws-MAC (the TAP's MAC) and X-vpn-ws-bridge */
  mac: string | null;
  bridge: boolean;
  /** HTTP basic auth, from a secret file */
  credentials: { user: string; password: string } | null;
  /** Proxy-Authorization: Basic for the proxy (readProxyCredentials) */
  proxyCredentials?: { user: string; password: string } | null;
  timeoutMs: number;
  /** TCP_USER_TIMEOUT: unacknowledged data for this long ends the connection (absent: the kernel's) */
  userTimeoutMs?: number;
  signal?: AbortSignal;
  /** SO_MARK of the socket (WireGuard's FwMark; 0 or absent: none) */
  fwMark?: number;
}

/** A dial that failed, with the step (connect, proxy, tls, upgrade, timeout, cancelled). */
export class DialFailure extends TundError {
  constructor(
    readonly step: string,
    readonly code: string | undefined,
    message: string,
    exitCode: number = ExitCode.failure,
  ) {
    super(message, { exitCode });
  }
}

async function resolve(host: string, what: string): Promise<string> {
  if (net.isIP(host)) return host;
  try {
    return await lookupHost(host);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code ?? 'ENOTFOUND';
    throw new DialFailure('connect', code, `cannot resolve ${what} "${host}" (${code})`);
  }
}

/**
 * The proxy's credentials (ProxyUser, ProxySecretFile) of a session, read for each dial so that a
 * new password needs no restart; the file passes the secret-file rule (0600, no link). null: none.
 */
export async function readProxyCredentials(session: string, user: string | null, file: string): Promise<{ user: string; password: string } | null> {
  if (user === null) return null;
  const secret = await readSecretFile(session, file, {
    missing: `no proxy password file for ProxyUser = ${user} (expected ${file})`,
    hint: `write the proxy's password into it: install -m 600 /dev/stdin ${file}`,
  });
  const password = secret.toString('utf8');
  secret.fill(0);
  return { user, password };
}

/** A session's proxy user and password file (vpn-ws client, WireGuard over WebSocket), or null. */
export function proxyCredentialFile(config: SessionConfig): { user: string; file: string } | null {
  const w = config.wireguard?.interface.webSocket;
  if (w) return config.wireguard!.interface.transport === 'websocket' && w.proxy && w.proxyUser !== null ? { user: w.proxyUser, file: w.proxySecretFile } : null;
  const v = config.session.vpnws;
  return config.session.protocol === 'vpn-ws' && config.session.role === 'client' && v.proxy && v.proxyUser !== null ? { user: v.proxyUser, file: v.proxySecretFile } : null;
}

export const describeHub = (endpoint: WsEndpoint): string => formatWsEndpoint(endpoint);

/** Connects, upgrades and returns the connection (which the caller hands to a WsLink or closes). */
export async function dialHub(o: DialOptions): Promise<NativeWsConnection> {
  const target = o.proxy ?? o.endpoint;
  const address = await resolve(target.host, o.proxy ? 'the proxy' : 'the hub');
  if (o.signal?.aborted) throw new DialFailure('cancelled', 'ECANCELED', 'stopped');
  const where = o.proxy ? `${describeHub(o.endpoint)} through the proxy ${o.proxy.host}:${o.proxy.port}` : describeHub(o.endpoint);
  return new Promise<NativeWsConnection>((resolvePromise, reject) => {
    const handle = native().wsDial(
      {
        address,
        port: target.port,
        fwMark: o.fwMark ?? 0,
        proxyAuthority: o.proxy ? connectAuthority(o.endpoint) : '',
        proxyUser: o.proxy ? (o.proxyCredentials?.user ?? '') : '',
        proxyPassword: o.proxy ? (o.proxyCredentials?.password ?? '') : '',
        tls: o.endpoint.secure
          ? { serverName: o.endpoint.serverName, caFile: o.caFile ?? '', certFile: o.certFile ?? '', keyFile: o.keyFile ?? '' }
          : undefined,
        path: o.endpoint.path,
        host: o.endpoint.hostHeader,
        mac: o.mac ?? '',
        bridge: o.bridge,
        user: o.credentials?.user ?? '',
        password: o.credentials?.password ?? '',
        timeoutMs: o.timeoutMs,
        userTimeoutMs: o.userTimeoutMs ?? 0,
      },
      (error: WsDialError | null, connection: NativeWsConnection | null) => {
        o.signal?.removeEventListener('abort', onAbort);
        handle.release();
        if (connection) {
          if (o.signal?.aborted) {
            connection.close();
            reject(new DialFailure('cancelled', 'ECANCELED', 'stopped'));
            return;
          }
          resolvePromise(connection);
          return;
        }
        const step = error?.step ?? 'connect';
        reject(new DialFailure(step, error?.code, `cannot connect to ${where}: ${step === 'timeout' || step === 'cancelled' ? '' : `${step}: `}${error?.message ?? 'failed'}`));
      },
    );
    const onAbort = () => handle.cancel();
    o.signal?.addEventListener('abort', onAbort, { once: true });
    if (o.signal?.aborted) handle.cancel();
  });
}
