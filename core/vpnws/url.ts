// The addresses of a vpn-ws tunnel as a config file gives them: the hub's ws:// or wss:// URL
// (Endpoint =) and an HTTP CONNECT proxy (Proxy =), parsed into what the native connection needs:
// where to connect, the Host header and TLS server name, the request path. Problems read after
// the value, as every config value's do: `Endpoint "..." PROBLEM`.
//
// Credentials never come from the URL: vpn-ws takes `wss://user:pass@host/`, but a config file
// is not the place for a password (it would show in `tund --check` output, backups, logs); the
// password comes from a secret file.
import net from 'node:net';
import path from 'node:path';
import type { Parsed } from '../config/values.js';
import { isHostname } from '../config/values.js';

export interface WsEndpoint {
  secure: boolean;
  /** host name or IP address (IPv6 without brackets) */
  host: string;
  port: number;
  /** origin-form request target: path and query, at least "/" */
  path: string;
  /** the Host header: host, [v6] and :port unless it is the scheme's default */
  hostHeader: string;
  /** SNI and certificate name: the host (IP addresses are matched, not sent as SNI) */
  serverName: string;
}

export interface ProxyEndpoint {
  host: string;
  port: number;
}

const bad = <T>(problem: string): Parsed<T> => ({ ok: false, problem });

function hostOf(url: URL): string {
  return url.hostname.replace(/^\[|\]$/g, '');
}

function checkHost(host: string): string | undefined {
  if (host === '') return 'has no host';
  if (net.isIP(host) === 0 && !isHostname(host)) return `has an invalid host "${host}"`;
  return undefined;
}

function parseUrl(value: string): URL | undefined {
  try {
    return new URL(value);
  } catch {
    return undefined;
  }
}

/** `ws://host[:port]/path` or `wss://...`; default ports 80 and 443, default path "/". */
export function parseWsEndpoint(value: string): Parsed<WsEndpoint> {
  const expected = '(expected ws://HOST[:PORT]/PATH or wss://HOST[:PORT]/PATH)';
  const url = parseUrl(value);
  if (!url) return bad(`is not a URL ${expected}`);
  if (url.protocol !== 'ws:' && url.protocol !== 'wss:') {
    const hint = url.protocol === 'https:' ? ' (use wss:// for TLS)' : url.protocol === 'http:' ? ' (use ws://)' : '';
    return bad(`has the scheme "${url.protocol.slice(0, -1)}"${hint} ${expected}`);
  }
  if (url.username !== '' || url.password !== '') {
    return bad('has credentials in it (a password belongs in a secret file, never in the URL)');
  }
  if (url.hash !== '') return bad(`has a fragment "${url.hash}" ${expected}`);
  const host = hostOf(url);
  const hostProblem = checkHost(host);
  if (hostProblem) return bad(`${hostProblem} ${expected}`);
  const secure = url.protocol === 'wss:';
  const port = url.port === '' ? (secure ? 443 : 80) : Number(url.port);
  const bracketed = net.isIPv6(host) ? `[${host}]` : host;
  return {
    ok: true,
    value: {
      secure,
      host,
      port,
      path: `${url.pathname || '/'}${url.search}`,
      hostHeader: url.port === '' ? bracketed : `${bracketed}:${port}`,
      serverName: host,
    },
  };
}

/**
 * The path a listening side answers upgrades on (vpn-ws Path, WireGuard WebSocketPath): origin
 * form, no query, no spaces, such as /vpn.
 */
export function parseRequestPath(v: string): Parsed<string> {
  if (!/^\/[\x21-\x7e]*$/.test(v) || v.includes('?') || v.includes('#')) return { ok: false, problem: 'is not a request path (expected /PATH, such as /vpn)' };
  return { ok: true, value: v };
}

/** The URL again, as it reads in a config file and the log: `wss://host:port/path`. */
export function formatWsEndpoint(endpoint: WsEndpoint): string {
  return `${endpoint.secure ? 'wss' : 'ws'}://${endpoint.hostHeader}${endpoint.path}`;
}

/** `http://host:port` of an HTTP proxy that allows CONNECT (no credentials, no path). */
export function parseProxyEndpoint(value: string): Parsed<ProxyEndpoint> {
  const expected = '(expected http://HOST:PORT)';
  const url = parseUrl(value);
  if (!url) return bad(`is not a URL ${expected}`);
  if (url.protocol !== 'http:') return bad(`has the scheme "${url.protocol.slice(0, -1)}" (only http:// proxies, which tunnel with CONNECT) ${expected}`);
  if (url.username !== '' || url.password !== '') return bad('has credentials in it (proxy credentials never go in the URL)');
  if ((url.pathname !== '/' && url.pathname !== '') || url.search !== '' || url.hash !== '') return bad(`has a path ${expected}`);
  const host = hostOf(url);
  const hostProblem = checkHost(host);
  if (hostProblem) return bad(`${hostProblem} ${expected}`);
  return { ok: true, value: { host, port: url.port === '' ? 80 : Number(url.port) } };
}

/** A user name for HTTP basic auth (the hub's User, the proxy's ProxyUser). */
export function parseBasicAuthUser(v: string): Parsed<string> {
  if (!/^[\x21-\x7e]+$/.test(v) || v.includes(':')) return { ok: false, problem: 'is not a user name for HTTP basic auth (printable, no ":" and no spaces)' };
  return { ok: true, value: v };
}

/**
 * The file with the proxy's password (ProxySecretFile, vpn-ws and WireGuard alike): absolute, or
 * beside the config file; by default NAME.proxy-secret there.
 */
export function proxySecretFile(configFile: string, name: string, value: string | undefined): string {
  const dir = path.dirname(path.resolve(configFile));
  if (value === undefined) return path.join(dir, `${name}.proxy-secret`);
  return path.isAbsolute(value) ? value : path.join(dir, value);
}

/** The CONNECT target for a hub: host:port, an IPv6 address in brackets. */
export function connectAuthority(endpoint: WsEndpoint): string {
  return `${net.isIPv6(endpoint.host) ? `[${endpoint.host}]` : endpoint.host}:${endpoint.port}`;
}
