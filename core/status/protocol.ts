// The control socket protocol (runDir()/NAME.sock, AF_UNIX stream, newline-delimited JSON).
//
//   -> {"cmd":"status"}
//   <- {"type":"status","session":{...SessionSnapshot, "route":{...}|null, "dns":{...}|null}}
//   -> {"cmd":"watch"}
//   <- {"type":"history","events":[StateEvent, ...]}     (oldest first; the last one is the current state)
//   <- {"type":"event","event":StateEvent}               (one line per state change, until either side closes)
//   -> {"cmd":"reload"}                                   (what ExecReload= runs: `tunctl reload NAME`)
//   <- {"type":"reloaded","message":"..."}               once the session reloaded (as SIGHUP does)
//   <- {"type":"reload_failed","problems":["file:line: problem", ...]}   a broken file: nothing changed
//   -> anything else
//   <- {"type":"error","error":"unknown command \"x\" (expected status, watch or reload)"}
//
// Several requests may be sent on one connection; after `watch` the connection only streams.
import type { SessionSnapshot, SessionState } from './types.js';

export const CONTROL_PROTOCOL_FORMAT = 1;

/** Routes as tunroute set them up for the session (null when the session does not route). */
export interface RouteInfo {
  /** ad-hoc: only routes added with `tunroute add` */
  mode: 'none' | 'split' | 'full' | 'ad-hoc';
  prefixes: string[];
  table: number | null;
}

export interface DnsInfo {
  backend: 'resolved' | 'resolvconf' | null;
  servers: string[];
  domains: string[];
}

export interface StatusSession extends SessionSnapshot {
  route: RouteInfo | null;
  dns: DnsInfo | null;
  /** the systemd unit the session runs in (tund@NAME.service, tund-inetd@...), null outside systemd */
  unit: string | null;
}

/** One state change (OpenVPN's >STATE: line): same state names as STATUS=. */
export interface StateEvent {
  time: string; // RFC 3339 UTC
  name: string;
  state: SessionState;
  reason: string | null;
  endpoint: string | null;
  /** the STATUS= text for this state (describeState) */
  status: string;
}

export type ControlRequest = { cmd: 'status' } | { cmd: 'watch' } | { cmd: 'reload' };

export type ControlReply =
  | { type: 'status'; session: StatusSession }
  | { type: 'history'; events: StateEvent[] }
  | { type: 'event'; event: StateEvent }
  | { type: 'reloaded'; message: string }
  | { type: 'reload_failed'; problems: string[] }
  | { type: 'error'; error: string };

export const SESSION_STATES: readonly SessionState[] = [
  'starting',
  'listening',
  'connecting',
  'handshaking',
  'connected',
  'reconnecting',
  'stopping',
  'stopped',
];

/** Split a byte stream into lines; calls onLine for each complete line (without the newline). */
export function lineSplitter(onLine: (line: string) => void, maxLine = 1 << 20): (chunk: Buffer | string) => void {
  let buffered = '';
  return (chunk) => {
    buffered += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    let nl: number;
    while ((nl = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, nl);
      buffered = buffered.slice(nl + 1);
      if (line.trim() !== '') onLine(line);
    }
    if (buffered.length > maxLine) buffered = ''; // a peer that never sends a newline gets nothing
  };
}
